//! AVX2 XXH3-64: the eight accumulator lanes in two 256-bit registers.

use core::arch::x86_64::*;

use super::{Lanes, Xxh3Progress, PRIME32_1};

#[derive(Clone, Copy)]
struct Acc(__m256i, __m256i);

#[inline(always)]
unsafe fn stripe_half(acc: __m256i, input: *const u8, key: *const u8) -> __m256i {
    let d = _mm256_loadu_si256(input.cast());
    let dk = _mm256_xor_si256(d, _mm256_loadu_si256(key.cast()));
    let product = _mm256_mul_epu32(dk, _mm256_srli_epi64::<32>(dk));
    // Lane i receives the data of lane i ^ 1.
    let swapped = _mm256_shuffle_epi32::<0b01_00_11_10>(d);
    _mm256_add_epi64(acc, _mm256_add_epi64(product, swapped))
}

#[inline(always)]
unsafe fn scramble_half(acc: __m256i, key: *const u8) -> __m256i {
    let a = _mm256_xor_si256(acc, _mm256_srli_epi64::<47>(acc));
    let a = _mm256_xor_si256(a, _mm256_loadu_si256(key.cast()));
    let prime = _mm256_set1_epi64x(PRIME32_1 as i64);
    let lo = _mm256_mul_epu32(a, prime);
    let hi = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), prime);
    _mm256_add_epi64(lo, _mm256_slli_epi64::<32>(hi))
}

// SAFETY: AVX2 only; reached through `hash`, compiled for it and handed
// out only by dispatch tables of CPUs with AVX2.
unsafe impl Lanes for Acc {
    #[inline(always)]
    unsafe fn load(acc: &[u64; 8]) -> Acc {
        let p = acc.as_ptr().cast::<__m256i>();
        Acc(_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)))
    }
    #[inline(always)]
    unsafe fn stripe(self, input: *const u8, key: *const u8) -> Acc {
        Acc(
            stripe_half(self.0, input, key),
            stripe_half(self.1, input.add(32), key.add(32)),
        )
    }
    #[inline(always)]
    unsafe fn scramble(self, key: *const u8) -> Acc {
        Acc(
            scramble_half(self.0, key),
            scramble_half(self.1, key.add(32)),
        )
    }
    #[inline(always)]
    unsafe fn to_array(self) -> [u64; 8] {
        let mut out = [0u64; 8];
        let p = out.as_mut_ptr().cast::<__m256i>();
        _mm256_storeu_si256(p, self.0);
        _mm256_storeu_si256(p.add(1), self.1);
        out
    }
}

/// XXH3-64 of `data` (seed 0).
pub(crate) fn hash(data: &[u8]) -> u64 {
    // SAFETY: only tables of CPUs with AVX2 hold this function.
    unsafe { hash_avx2(data) }
}

#[target_feature(enable = "avx2")]
unsafe fn hash_avx2(data: &[u8]) -> u64 {
    // SAFETY: compiled for AVX2, which the caller guarantees.
    unsafe { super::hash_with::<Acc>(data) }
}

/// XXH3-128 of `data` (seed 0).
pub(crate) fn hash128(data: &[u8]) -> u128 {
    // SAFETY: as in `hash`.
    unsafe { hash128_avx2(data) }
}

#[target_feature(enable = "avx2")]
unsafe fn hash128_avx2(data: &[u8]) -> u128 {
    // SAFETY: compiled for the level, which the caller guarantees.
    unsafe { super::hash128_with::<Acc>(data) }
}

/// See [`crate::Kernels::xxh3_advance`].
pub(crate) fn advance(st: &mut Xxh3Progress, buf: &[u8], ready: usize) {
    // SAFETY: as in `hash`.
    unsafe { advance_avx2(st, buf, ready) }
}

#[target_feature(enable = "avx2")]
unsafe fn advance_avx2(st: &mut Xxh3Progress, buf: &[u8], ready: usize) {
    // SAFETY: compiled for the level, which the caller guarantees.
    unsafe { super::advance_with::<Acc>(st, buf, ready) }
}

/// See [`crate::Kernels::xxh3_finish`].
pub(crate) fn finish(st: Xxh3Progress, buf: &[u8]) -> u64 {
    // SAFETY: as in `hash`.
    unsafe { finish_avx2(st, buf) }
}

#[target_feature(enable = "avx2")]
unsafe fn finish_avx2(st: Xxh3Progress, buf: &[u8]) -> u64 {
    // SAFETY: compiled for the level, which the caller guarantees.
    unsafe { super::finish_with::<Acc>(st, buf) }
}
