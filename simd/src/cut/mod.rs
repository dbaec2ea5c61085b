//! Content-defined cut search for dedup: a rolling hash over the elements
//! of a slice, and the first element where its top bits are all zero.
//!
//! Each `W`-byte element (`W` = 1, 2, 4 or 8, little-endian, zero-extended
//! to 64 bits, then folded to 32: low half xor high half) contributes
//! `e = (x ^ 0x9E3779B9) * 0x85EBCA6B` (32-bit, wrapping); the hash after
//! element `i` is `h_i = (h_{i-1} << 1) + e_i` (32-bit, wrapping, `h_{-1} =
//! 0`), so it remembers only the last [`WINDOW`] elements. Element `i` is a
//! cut when `i >= warm` and `h_i >> (20 + log2 W) == 0`.
//!
//! The vector level computes sixteen consecutive hashes at once: the
//! in-block prefix `sum_{k<=j} e_{i+k} << (j-k)` in four log-steps (lane
//! shift by 1, 2, 4, 8 with bit shift by the same amount, then add), plus
//! the previous block's last hash shifted left by `j + 1`.

/// `$f::<W>(args)` for the element width `$width` (1, 2, 4 or 8): every
/// search is generic over the width; panics on any other width.
macro_rules! by_width {
    ($width:expr, $f:ident($($arg:expr),*)) => {
        match $width {
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            4 => $f::<4>($($arg),*),
            8 => $f::<8>($($arg),*),
            _ => panic!("element widths are 1, 2, 4 or 8"),
        }
    };
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "x86_64")]
pub(crate) mod prefetched;
pub mod scalar;

/// How far ahead of their loads the x86 searches prefetch, in bytes: dedup
/// streams its input from memory, where the hardware prefetcher alone
/// left them at 40-45% of their in-cache speed (docs/KERNELS.md).
#[cfg(target_arch = "x86_64")]
const PREFETCH: usize = 1024;

/// The key xored into each element before the multiply.
pub const KEY: u32 = 0x9E37_79B9;
/// The multiplier of the element hash.
pub const MUL: u32 = 0x85EB_CA6B;
/// Elements the rolling hash remembers: a search that starts `WINDOW - 1`
/// elements before the first element that may cut finds exactly the cuts
/// of a scan over everything.
pub const WINDOW: usize = 32;

/// The hash of one element `x` (zero-extended to 64 bits).
#[inline(always)]
pub fn element_hash(x: u64) -> u32 {
    ((x as u32 ^ (x >> 32) as u32) ^ KEY).wrapping_mul(MUL)
}

/// The shift whose result must be zero at a cut: about one cut per
/// 4 KiB of `width`-byte elements.
#[inline(always)]
pub const fn shift(width: usize) -> u32 {
    20 + width.trailing_zeros()
}
