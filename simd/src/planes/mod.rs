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
