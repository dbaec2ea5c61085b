//! The reference cut search: one element at a time.

use super::{element_hash, shift};

/// The first element index `i >= warm` of `data` (as `width`-byte elements;
/// a partial last element is ignored) whose rolling hash ends a piece, see
/// [`super`]. Panics unless `width` is 1, 2, 4 or 8.
pub fn find_cut(data: &[u8], width: usize, warm: usize) -> Option<usize> {
    by_width!(width, find_w(data, warm, 0))
}

/// One element's hash (`W`-byte little-endian, zero-extended).
#[inline(always)]
pub(crate) fn element<const W: usize>(e: &[u8]) -> u32 {
    let mut b = [0u8; 8];
    b[..W].copy_from_slice(&e[..W]);
    element_hash(u64::from_le_bytes(b))
}

/// The search with the hash `h` before `data[0]`.
#[inline(always)]
pub(crate) fn find_w<const W: usize>(data: &[u8], warm: usize, h: u32) -> Option<usize> {
    let n = data.len() / W;
    let warm = warm.min(n);
    let s = shift(W);
    let h = data[..warm * W]
        .chunks_exact(W)
        .fold(h, |h, e| (h << 1).wrapping_add(element::<W>(e)));
    let mut h = h;
    data[warm * W..]
        .chunks_exact(W)
        .position(|e| {
            h = (h << 1).wrapping_add(element::<W>(e));
            h >> s == 0
        })
        .map(|j| warm + j)
}
