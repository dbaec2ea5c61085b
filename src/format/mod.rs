//! The frame format: header, blocks (shared models + chunk table), chunk
//! payloads, end block. Specified byte by byte in `docs/FORMAT.md`.
//!
//! Everything here parses untrusted bytes: every length and offset is
//! checked before use and every failure is a typed [`crate::Error`].
#![forbid(unsafe_code)]

pub mod frame;
mod reader;

pub use reader::Reader;

/// Where payload writers append bytes: a `Vec`, or a fixed slot of a
/// frame being written in place ([`SlotWriter`]). The methods mirror
/// `Vec`'s, so a writer generic over it reads like one using a `Vec`.
pub trait ByteSink {
    /// Appends one byte.
    fn push(&mut self, b: u8);
    /// Appends `bytes`.
    fn extend_from_slice(&mut self, bytes: &[u8]);
    /// Bytes appended so far.
    fn len(&self) -> usize;
    /// Whether nothing was appended.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Drops the bytes after the first `len`.
    fn truncate(&mut self, len: usize);
    /// Makes room for `additional` more bytes where that means anything
    /// (a `Vec` grows once rather than by doubling).
    fn reserve(&mut self, _additional: usize) {}
}

impl ByteSink for Vec<u8> {
    fn push(&mut self, b: u8) {
        Vec::push(self, b);
    }
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        Vec::extend_from_slice(self, bytes);
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
    fn reserve(&mut self, additional: usize) {
        Vec::reserve(self, additional);
    }
}

/// A [`ByteSink`] over a fixed slice: bytes past its end are counted and
/// dropped, so a writer that overruns it is seen ([`SlotWriter::fits`])
/// rather than written out of bounds. Over an empty slice it only counts:
/// the size of a serialisation without writing it.
pub struct SlotWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SlotWriter<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> SlotWriter<'a> {
        SlotWriter { buf, len: 0 }
    }

    /// Whether every byte appended was written.
    pub fn fits(&self) -> bool {
        self.len <= self.buf.len()
    }

    /// Appends `n` bytes: the slot's room for them to be written into, or
    /// `None` (they are only counted) where they do not fit.
    pub fn next_mut(&mut self, n: usize) -> Option<&mut [u8]> {
        let start = self.len;
        self.len = start.saturating_add(n);
        self.buf.get_mut(start..self.len)
    }

    /// The bytes written, out of the slot.
    pub fn into_written(self) -> &'a mut [u8] {
        let n = self.len.min(self.buf.len());
        &mut self.buf[..n]
    }
}

impl ByteSink for SlotWriter<'_> {
    fn push(&mut self, b: u8) {
        if let Some(d) = self.next_mut(1) {
            d[0] = b;
        }
    }
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        if let Some(d) = self.next_mut(bytes.len()) {
            d.copy_from_slice(bytes);
        }
    }
    fn len(&self) -> usize {
        self.len
    }
    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

/// Appends `v` as an unsigned LEB128 varint (the inverse of
/// [`Reader::varint64`] and, for values below 2^32, [`Reader::varint`]).
pub fn put_varint(out: &mut (impl ByteSink + ?Sized), mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_writer_writes_like_a_vec_and_counts_what_does_not_fit() {
        let mut slot = [0u8; 8];
        let mut w = SlotWriter::new(&mut slot);
        let mut v = Vec::new();
        for out in [&mut w as &mut dyn ByteSink, &mut v] {
            out.push(1);
            put_varint(out, 300);
            out.extend_from_slice(&[7, 8]);
        }
        assert!(w.fits());
        assert_eq!(w.len(), v.len());
        // Past the end: counted, not written, and seen.
        w.extend_from_slice(&[9; 6]);
        assert_eq!(w.len(), 11);
        assert!(!w.fits());
        w.push(5);
        w.truncate(3);
        assert!(w.fits());
        w.push(6);
        assert_eq!(w.into_written(), &[1, 0xAC, 0x02, 6][..]);
        assert_eq!(v, [1, 0xAC, 0x02, 7, 8]);
    }

    #[test]
    fn slot_writer_of_no_room_counts_what_a_vec_holds() {
        let (mut c, mut v) = (SlotWriter::new(&mut []), Vec::new());
        for out in [&mut c as &mut dyn ByteSink, &mut v] {
            out.push(1);
            put_varint(out, 1 << 20);
            out.extend_from_slice(&[7; 9]);
            out.truncate(4);
            out.push(2);
        }
        assert_eq!(c.len(), v.len());
        assert_eq!(c.len(), 5);
    }
}
