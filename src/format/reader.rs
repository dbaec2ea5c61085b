//! A bounds-checked little-endian cursor over untrusted bytes.

use crate::error::{Error, Result};

/// Reads fixed-width little-endian integers, varints and byte runs, failing
/// with [`Error::Truncated`] instead of reading past the end.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::truncated(what, n, self.remaining()));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.bytes(1, what)?[0])
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.bytes(4, what)?.try_into().unwrap()))
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.bytes(8, what)?.try_into().unwrap()))
    }

    /// An unsigned LEB128 varint of at most 64 bits (10 bytes).
    pub fn varint64(&mut self, what: &'static str) -> Result<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8(what)?;
            let bits = u64::from(b & 0x7F);
            if i == 9 && bits > 1 {
                return Err(Error::corrupt(format!("{what}: varint overflow")));
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::corrupt(format!(
            "{what}: varint longer than 10 bytes"
        )))
    }

    /// An unsigned LEB128 varint of at most 32 bits (5 bytes).
    pub fn varint(&mut self, what: &'static str) -> Result<u32> {
        let mut v = 0u64;
        for i in 0..5 {
            let b = self.u8(what)?;
            v |= u64::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                return u32::try_from(v)
                    .map_err(|_| Error::corrupt(format!("{what}: varint overflow")));
            }
        }
        Err(Error::corrupt(format!(
            "{what}: varint longer than 5 bytes"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let mut r = Reader::new(&[1, 2, 0, 0, 0, 0x81, 0x01, 9]);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u32("b").unwrap(), 2);
        assert_eq!(r.varint("c").unwrap(), 129);
        assert!(matches!(
            r.u32("d"),
            Err(Error::Truncated {
                needed: 4,
                available: 1,
                ..
            })
        ));
        assert!(Reader::new(&[0xFF; 6]).varint("v").is_err());
        assert!(Reader::new(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
            .varint("v")
            .is_err());
    }
}
