//! The frame format: header, blocks (shared models + chunk table), chunk
//! payloads, end block. Specified byte by byte in `docs/FORMAT.md`.
//!
//! Everything here parses untrusted bytes: every length and offset is
//! checked before use and every failure is a typed [`crate::Error`].
#![forbid(unsafe_code)]

pub mod frame;
mod reader;

pub use reader::Reader;
