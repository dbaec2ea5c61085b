//! The delta coder's fused residual loops ([`super::split_residuals`],
//! [`super::merge_apply`]) compiled once more for AVX-512 (and the split
//! for AVX2) and called at the kernels' level: the crate is built for the
//! x86-64 baseline, where the compiler vectorises them 16 bytes at a time.
//! The same Rust at every level; the tests compare every level's output
//! with the residual's definition.

#[cfg(target_arch = "x86_64")]
use z4ai_simd::Isa;
use z4ai_simd::Kernels;

use super::Word;

/// [`super::split_residuals`] at `k`'s level.
#[allow(unsafe_code)] // calls into code compiled for the level's features
pub(super) fn split<T: Word, const FLOAT: bool, const MODE: u8>(
    k: &Kernels,
    new: &[u8],
    old: &[u8],
    planes: &mut [u8],
    ctx: &mut [u8],
) {
    match k.isa() {
        // SAFETY: a kernel level is only ever one the CPU supports
        // (`Kernels` is built after feature detection, and a forced
        // level above the CPU's is refused).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::split_avx512::<T, FLOAT, MODE>(new, old, planes, ctx) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::split_avx2::<T, FLOAT, MODE>(new, old, planes, ctx) },
        _ => super::split_residuals::<T, FLOAT, MODE>(new, old, planes, ctx),
    }
}

/// [`super::merge_apply`] at `k`'s level: AVX-512, or the baseline build
/// (the AVX2 build decoded 3-4% slower than the baseline's 16-byte code:
/// bf16 420 -> 480, 1158-1202 against 1211-1239 MB/s).
#[allow(unsafe_code)] // as `split`
pub(super) fn merge<T: Word, const FLOAT: bool, const MODE: u8>(
    k: &Kernels,
    planes: &[u8],
    old: &[u8],
    out: &mut [u8],
) {
    match k.isa() {
        // SAFETY: as in `split`.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::merge_avx512::<T, FLOAT, MODE>(planes, old, out) },
        _ => super::merge_apply::<T, FLOAT, MODE>(planes, old, out),
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::{merge_apply, split_residuals, Word};

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
    pub(super) fn split_avx512<T: Word, const FLOAT: bool, const MODE: u8>(
        new: &[u8],
        old: &[u8],
        planes: &mut [u8],
        ctx: &mut [u8],
    ) {
        split_residuals::<T, FLOAT, MODE>(new, old, planes, ctx)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn split_avx2<T: Word, const FLOAT: bool, const MODE: u8>(
        new: &[u8],
        old: &[u8],
        planes: &mut [u8],
        ctx: &mut [u8],
    ) {
        split_residuals::<T, FLOAT, MODE>(new, old, planes, ctx)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq")]
    pub(super) fn merge_avx512<T: Word, const FLOAT: bool, const MODE: u8>(
        planes: &[u8],
        old: &[u8],
        out: &mut [u8],
    ) {
        merge_apply::<T, FLOAT, MODE>(planes, old, out)
    }
}
