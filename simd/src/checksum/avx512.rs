//! AVX-512 XXH3-64: the eight accumulator lanes in one 512-bit register.

use core::arch::x86_64::*;

use super::{Lanes, Xxh3Progress, PRIME32_1};

#[derive(Clone, Copy)]
struct Acc(__m512i);

// SAFETY: AVX-512 F only; reached through `hash`, compiled for it and
// handed out only by the AVX-512 dispatch table.
unsafe impl Lanes for Acc {
    #[inline(always)]
    unsafe fn load(acc: &[u64; 8]) -> Acc {
        Acc(_mm512_loadu_si512(acc.as_ptr().cast()))
    }
    #[inline(always)]
    unsafe fn stripe(self, input: *const u8, key: *const u8) -> Acc {
        let d = _mm512_loadu_si512(input.cast());
        let dk = _mm512_xor_si512(d, _mm512_loadu_si512(key.cast()));
        let product = _mm512_mul_epu32(dk, _mm512_srli_epi64::<32>(dk));
        // Lane i receives the data of lane i ^ 1.
        let swapped = _mm512_shuffle_epi32::<_MM_PERM_BADC>(d);
        Acc(_mm512_add_epi64(self.0, _mm512_add_epi64(product, swapped)))
    }
    #[inline(always)]
    unsafe fn scramble(self, key: *const u8) -> Acc {
        let a = _mm512_xor_si512(self.0, _mm512_srli_epi64::<47>(self.0));
        let a = _mm512_xor_si512(a, _mm512_loadu_si512(key.cast()));
        let prime = _mm512_set1_epi64(PRIME32_1 as i64);
        let lo = _mm512_mul_epu32(a, prime);
        let hi = _mm512_mul_epu32(_mm512_srli_epi64::<32>(a), prime);
        Acc(_mm512_add_epi64(lo, _mm512_slli_epi64::<32>(hi)))
    }
    #[inline(always)]
    unsafe fn to_array(self) -> [u64; 8] {
        let mut out = [0u64; 8];
        _mm512_storeu_si512(out.as_mut_ptr().cast(), self.0);
        out
    }
}

/// XXH3-64 of `data` (seed 0).
pub(crate) fn hash(data: &[u8]) -> u64 {
    // SAFETY: only the AVX-512 table holds this function, and a table is
    // only built for CPUs that pass its feature check.
    unsafe { hash_avx512(data) }
}

#[target_feature(enable = "avx512f")]
unsafe fn hash_avx512(data: &[u8]) -> u64 {
    // SAFETY: compiled for AVX-512 F, which the caller guarantees.
    unsafe { super::hash_with::<Acc>(data) }
}

/// XXH3-128 of `data` (seed 0).
pub(crate) fn hash128(data: &[u8]) -> u128 {
    // SAFETY: as in `hash`.
    unsafe { hash128_avx512(data) }
}

#[target_feature(enable = "avx512f")]
unsafe fn hash128_avx512(data: &[u8]) -> u128 {
    // SAFETY: compiled for the level, which the caller guarantees.
    unsafe { super::hash128_with::<Acc>(data) }
}

/// See [`crate::Kernels::xxh3_advance`].
pub(crate) fn advance(st: &mut Xxh3Progress, buf: &[u8], ready: usize) {
    // SAFETY: as in `hash`.
    unsafe { advance_avx512(st, buf, ready) }
}

#[target_feature(enable = "avx512f")]
unsafe fn advance_avx512(st: &mut Xxh3Progress, buf: &[u8], ready: usize) {
    // SAFETY: compiled for the level, which the caller guarantees.
    unsafe { super::advance_with::<Acc>(st, buf, ready) }
}

/// See [`crate::Kernels::xxh3_finish`].
pub(crate) fn finish(st: Xxh3Progress, buf: &[u8]) -> u64 {
    // SAFETY: as in `hash`.
    unsafe { finish_avx512(st, buf) }
}

#[target_feature(enable = "avx512f")]
unsafe fn finish_avx512(st: Xxh3Progress, buf: &[u8]) -> u64 {
    // SAFETY: compiled for the level, which the caller guarantees.
    unsafe { super::finish_with::<Acc>(st, buf) }
}
