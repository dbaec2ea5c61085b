//! Field rotation fused with byte-plane split and merge.
//!
//! An element is a little-endian word of `width` bytes (1, 2, 4 or 8). With
//! `rotate`, the word is first rotated left by one bit, which moves the sign
//! bit of an IEEE float to the bottom so the exponent starts at the top bit:
//! bf16 and fp32 get their whole 8-bit exponent in the top byte, fp16 its
//! 5-bit exponent plus the top 3 mantissa bits, fp64 the top 8 of its 11
//! exponent bits. Plane 0 holds the most significant byte of every
//! (rotated) word, plane `width - 1` the least significant; plane `p` of an
//! `n`-element buffer is `dst[p * n .. (p + 1) * n]`.
//!
//! `merge` is the exact inverse of `split`.

pub mod scalar;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "x86_64")]
mod generic;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
#[cfg(target_arch = "x86_64")]
pub(crate) mod sse2;

/// Element widths the plane kernels accept.
pub const WIDTHS: [usize; 4] = [1, 2, 4, 8];

/// Checks the shared contract of split and merge; panics on caller bugs.
#[inline]
pub(crate) fn check_args(src: &[u8], width: usize, dst: &[u8]) {
    assert!(WIDTHS.contains(&width), "plane width must be 1, 2, 4 or 8");
    assert_eq!(
        src.len() % width,
        0,
        "length must be a whole number of elements"
    );
    assert_eq!(
        src.len(),
        dst.len(),
        "source and destination lengths differ"
    );
}

/// Checks the contract of a merge from separate planes (one per byte of
/// an element, each `dst.len() / planes.len()` bytes); panics on caller bugs.
#[inline]
pub(crate) fn check_merge_args(planes: &[&[u8]], dst: &[u8]) {
    let width = planes.len();
    assert!(WIDTHS.contains(&width), "plane width must be 1, 2, 4 or 8");
    assert_eq!(
        dst.len() % width,
        0,
        "length must be a whole number of elements"
    );
    assert!(
        planes.iter().all(|p| p.len() == dst.len() / width),
        "plane and destination lengths differ"
    );
}

/// The `width` planes of a split buffer `src` (plane `p` is
/// `src[p * n .. (p + 1) * n]`), as the merge kernels take them; entries
/// from `width` on are empty.
pub fn plane_slices(src: &[u8], width: usize) -> [&[u8]; 8] {
    let n = src.len() / width.max(1);
    std::array::from_fn(|p| {
        if p < width {
            &src[p * n..(p + 1) * n]
        } else {
            &[][..]
        }
    })
}

/// A split through a vector `kernel` that returns how many leading
/// elements it split (none for width 1); [`split_tail`] does the rest.
/// Checks the arguments first and sends width 1 to [`scalar::split`].
///
/// # Safety
///
/// The CPU must support every feature `kernel` is compiled with.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) unsafe fn split_with(
    src: &[u8],
    width: usize,
    rotate: bool,
    dst: &mut [u8],
    kernel: unsafe fn(&[u8], usize, bool, &mut [u8]) -> usize,
) {
    check_args(src, width, dst);
    if width == 1 {
        return scalar::split(src, width, rotate, dst);
    }
    // SAFETY: the caller vouches for the CPU; `check_args` established the
    // length contract the vector kernels rely on (`src.len() ==
    // dst.len()`, a multiple of `width`).
    let done = unsafe { kernel(src, width, rotate, dst) };
    split_tail(src, width, rotate, dst, done);
}

/// As [`split_with`], for a merge from separate planes: `kernel` returns
/// how many leading elements it merged, [`merge_tail`] does the rest, and
/// one plane goes to [`scalar::merge_from`].
///
/// # Safety
///
/// The CPU must support every feature `kernel` is compiled with.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) unsafe fn merge_with(
    planes: &[&[u8]],
    rotate: bool,
    dst: &mut [u8],
    kernel: unsafe fn(&[&[u8]], bool, &mut [u8]) -> usize,
) {
    check_merge_args(planes, dst);
    if planes.len() == 1 {
        return scalar::merge_from(planes, rotate, dst);
    }
    // SAFETY: the caller vouches for the CPU; `check_merge_args`
    // established the length contract the vector kernels rely on (every
    // plane `dst.len() / planes.len()` bytes).
    let done = unsafe { kernel(planes, rotate, dst) };
    merge_tail(planes, rotate, dst, done);
}

/// Splits elements `from..n` the way [`scalar::split`] does: the part of a
/// buffer a vector kernel leaves over.
#[allow(dead_code)]
pub(crate) fn split_tail(src: &[u8], width: usize, rotate: bool, dst: &mut [u8], from: usize) {
    let n = src.len() / width;
    let r = rotate as u32;
    for i in from..n {
        let mut b = [0u8; 8];
        b[..width].copy_from_slice(&src[i * width..(i + 1) * width]);
        let w = u64::from_le_bytes(b);
        let w = (w << r | ((w >> (8 * width as u32 - 1)) & u64::from(r))) & mask(width);
        for p in 0..width {
            dst[p * n + i] = (w >> (8 * (width - 1 - p))) as u8;
        }
    }
}

/// Merges elements `from..n` the way [`scalar::merge_from`] does.
#[allow(dead_code)]
pub(crate) fn merge_tail(planes: &[&[u8]], rotate: bool, dst: &mut [u8], from: usize) {
    let width = planes.len();
    let n = dst.len() / width;
    let r = rotate as u32;
    for i in from..n {
        let mut w = 0u64;
        for plane in planes {
            w = w << 8 | u64::from(plane[i]);
        }
        let w = (w >> r | w << ((8 * width as u32 - 1) * r)) & mask(width);
        dst[i * width..(i + 1) * width].copy_from_slice(&w.to_le_bytes()[..width]);
    }
}

fn mask(width: usize) -> u64 {
    u64::MAX >> (64 - 8 * width)
}
