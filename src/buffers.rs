//! Byte buffers reused between the chunks a frame writer codes.
//!
//! Coding a chunk needs a few buffers about as large as the chunk: its
//! planes and the streams of the codes it tries. Fresh allocations of that
//! size come from pages the allocator has just mapped (or handed back to
//! the kernel after the previous chunk), and every first touch of a 4 KiB
//! page is a page fault: measured at 14% (`default`) to 25% (`fast`) of
//! compress time on 2 MiB chunks. A [`Buffers`] keeps the ones a chunk is
//! done with for the next chunk. It holds at most `limit` buffers, so what
//! it keeps is bounded by the working set of coding `limit` chunks' worth
//! of planes, and it is dropped with its writer.

use std::sync::Mutex;

/// Buffers smaller than this are left to the allocator.
const MIN_KEPT: usize = 64 << 10;

/// A bounded pool of byte buffers.
#[derive(Debug)]
pub(crate) struct Buffers {
    free: Mutex<Vec<Vec<u8>>>,
    limit: usize,
}

impl Buffers {
    /// A pool that keeps at most `limit` buffers.
    pub(crate) fn new(limit: usize) -> Buffers {
        Buffers {
            free: Mutex::new(Vec::new()),
            limit,
        }
    }

    /// The smallest kept buffer with room for `cap` bytes, if any.
    fn take(&self, cap: usize) -> Option<Vec<u8>> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let i = (0..free.len())
            .filter(|&i| free[i].capacity() >= cap)
            .min_by_key(|&i| free[i].capacity())?;
        Some(free.swap_remove(i))
    }

    /// An empty buffer with room for at least `cap` bytes.
    pub(crate) fn empty(&self, cap: usize) -> Vec<u8> {
        match self.take(cap) {
            Some(mut b) => {
                b.clear();
                b
            }
            None => Vec::with_capacity(cap),
        }
    }

    /// A buffer of `len` bytes whose contents are unspecified (zeros or
    /// bytes of an earlier use), for callers that overwrite all of it.
    pub(crate) fn filled(&self, len: usize) -> Vec<u8> {
        match self.take(len) {
            Some(mut b) => {
                reuse(&mut b, len);
                b
            }
            None => vec![0u8; len],
        }
    }

    /// Keeps `buf` for a later [`Buffers::empty`] or [`Buffers::filled`]
    /// (or drops it when the pool is full or `buf` is small).
    pub(crate) fn give(&self, buf: Vec<u8>) {
        if buf.capacity() < MIN_KEPT {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < self.limit {
            free.push(buf);
        }
    }
}

/// Sets `v` to `len` elements of unspecified content (old values, or
/// defaults where it grows), for buffers each use overwrites whole: only
/// the part never used before is written (zeroing a whole scratch buffer
/// per chunk showed in profiles).
pub(crate) fn reuse<T: Copy + Default>(v: &mut Vec<T>, len: usize) {
    if v.len() < len {
        v.resize(len, T::default());
    }
    v.truncate(len);
}

/// The first `len` elements of `v`, grown to hold them and never shrunk,
/// of unspecified content: for scratch whose length changes from use to
/// use, which [`reuse`] would zero again each time it grows back (it
/// truncates, so the bytes past a short use count as new).
pub(crate) fn grown<T: Copy + Default>(v: &mut Vec<T>, len: usize) -> &mut [T] {
    if v.len() < len {
        v.resize(len, T::default());
    }
    &mut v[..len]
}

/// `dst` cut into consecutive pieces of the given lengths, in order (they
/// tile the start of `dst`).
///
/// Panics if `dst` is shorter than the lengths together.
pub(crate) fn tile<T>(dst: &mut [T], lens: impl IntoIterator<Item = usize>) -> Vec<&mut [T]> {
    let mut pieces = Vec::new();
    let mut rest = dst;
    for len in lens {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
        pieces.push(head);
        rest = tail;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_the_smallest_fit_and_stays_bounded() {
        let b = Buffers::new(2);
        b.give(vec![7u8; 1 << 20]);
        b.give(vec![9u8; 200 << 10]);
        b.give(vec![1u8; 300 << 10]); // over the limit: dropped
        b.give(vec![1u8; 10]); // small: dropped
        let f = b.filled(150 << 10);
        assert_eq!(f.len(), 150 << 10);
        assert_eq!(f.capacity(), 200 << 10);
        let e = b.empty(500 << 10);
        assert!(e.is_empty() && e.capacity() == 1 << 20);
        let fresh = b.filled(100 << 10);
        assert!(fresh.iter().all(|&x| x == 0));
    }

    #[test]
    fn tiles_cover_the_start_in_order() {
        let mut v: Vec<u8> = (0..10).collect();
        let t = tile(&mut v, [3, 0, 4]);
        assert_eq!(t.len(), 3);
        assert_eq!(
            (&*t[0], &*t[1], &*t[2]),
            (&[0, 1, 2][..], &[][..], &[3, 4, 5, 6][..])
        );
    }
}
