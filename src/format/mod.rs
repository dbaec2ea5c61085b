//! The frame format: header, blocks (shared models + chunk table), chunk
//! payloads, end block. Specified byte by byte in `docs/FORMAT.md`.
//!
//! Everything here parses untrusted bytes: every length and offset is
//! checked before use and every failure is a typed [`crate::Error`].
#![forbid(unsafe_code)]

pub mod frame;
mod reader;

pub use reader::Reader;

/// Appends `v` as an unsigned LEB128 varint (the inverse of
/// [`Reader::varint64`] and, for values below 2^32, [`Reader::varint`]).
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
