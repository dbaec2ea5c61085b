//! AVX2 plane split / merge: the shared shuffle-and-transpose kernel
//! ([`super::generic`]) on 256-bit vectors, 32 elements per block.

use core::arch::x86_64::*;

use super::generic::{self, Lanes};
use super::{merge_with, split_with};

// SAFETY: the methods use AVX2 only; they are called from `#[target_feature
// (enable = "avx2")]` functions reachable only through AVX2-checked tables.
unsafe impl Lanes for __m256i {
    const LANES: usize = 2;
    #[inline(always)]
    unsafe fn load_lanes(p: *const u8, stride: usize) -> Self {
        let lo = _mm_loadu_si128(p as *const __m128i);
        let hi = _mm_loadu_si128(p.add(stride) as *const __m128i);
        _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(lo), hi)
    }
    #[inline(always)]
    unsafe fn store_lanes(self, p: *mut u8, stride: usize) {
        _mm_storeu_si128(p as *mut __m128i, _mm256_castsi256_si128(self));
        _mm_storeu_si128(
            p.add(stride) as *mut __m128i,
            _mm256_extracti128_si256::<1>(self),
        );
    }
    #[inline(always)]
    unsafe fn load(p: *const u8) -> Self {
        _mm256_loadu_si256(p as *const __m256i)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut u8) {
        _mm256_storeu_si256(p as *mut __m256i, self)
    }
    #[inline(always)]
    unsafe fn splat(m: &[u8; 16]) -> Self {
        _mm256_broadcastsi128_si256(_mm_loadu_si128(m.as_ptr() as *const __m128i))
    }
    #[inline(always)]
    unsafe fn shuffle(self, m: Self) -> Self {
        _mm256_shuffle_epi8(self, m)
    }
    #[inline(always)]
    unsafe fn unpack(self, b: Self, unit_bits: u32, hi: bool) -> Self {
        match (unit_bits, hi) {
            (16, false) => _mm256_unpacklo_epi16(self, b),
            (16, true) => _mm256_unpackhi_epi16(self, b),
            (32, false) => _mm256_unpacklo_epi32(self, b),
            (32, true) => _mm256_unpackhi_epi32(self, b),
            (_, false) => _mm256_unpacklo_epi64(self, b),
            (_, true) => _mm256_unpackhi_epi64(self, b),
        }
    }
    #[inline(always)]
    unsafe fn rotl1(self, width: usize) -> Self {
        match width {
            2 => _mm256_or_si256(_mm256_slli_epi16::<1>(self), _mm256_srli_epi16::<15>(self)),
            4 => _mm256_or_si256(_mm256_slli_epi32::<1>(self), _mm256_srli_epi32::<31>(self)),
            _ => _mm256_or_si256(_mm256_slli_epi64::<1>(self), _mm256_srli_epi64::<63>(self)),
        }
    }
    #[inline(always)]
    unsafe fn rotr1(self, width: usize) -> Self {
        match width {
            2 => _mm256_or_si256(_mm256_srli_epi16::<1>(self), _mm256_slli_epi16::<15>(self)),
            4 => _mm256_or_si256(_mm256_srli_epi32::<1>(self), _mm256_slli_epi32::<31>(self)),
            _ => _mm256_or_si256(_mm256_srli_epi64::<1>(self), _mm256_slli_epi64::<63>(self)),
        }
    }
}

/// See [`super::scalar::split`].
pub(crate) fn split(src: &[u8], width: usize, rotate: bool, dst: &mut [u8]) {
    // SAFETY: only the AVX2 and AVX-512 dispatch tables hold this function,
    // and `Kernels::for_isa` builds them after checking AVX2 support.
    unsafe { split_with(src, width, rotate, dst, split_avx2) }
}

/// See [`super::scalar::merge_from`].
pub(crate) fn merge(planes: &[&[u8]], rotate: bool, dst: &mut [u8]) {
    // SAFETY: as in `split`.
    unsafe { merge_with(planes, rotate, dst, merge_avx2) }
}

#[target_feature(enable = "avx2")]
unsafe fn split_avx2(src: &[u8], width: usize, rotate: bool, dst: &mut [u8]) -> usize {
    type V = __m256i;
    match (width, rotate) {
        (2, false) => generic::split::<V, 2, false>(src, dst),
        (2, true) => generic::split::<V, 2, true>(src, dst),
        (4, false) => generic::split::<V, 4, false>(src, dst),
        (4, true) => generic::split::<V, 4, true>(src, dst),
        (8, false) => generic::split::<V, 8, false>(src, dst),
        (8, true) => generic::split::<V, 8, true>(src, dst),
        _ => 0,
    }
}

#[target_feature(enable = "avx2")]
unsafe fn merge_avx2(planes: &[&[u8]], rotate: bool, dst: &mut [u8]) -> usize {
    type V = __m256i;
    match (planes.len(), rotate) {
        (2, false) => generic::merge::<V, 2, false>(planes, dst),
        (2, true) => generic::merge::<V, 2, true>(planes, dst),
        (4, false) => generic::merge::<V, 4, false>(planes, dst),
        (4, true) => generic::merge::<V, 4, true>(planes, dst),
        (8, false) => generic::merge::<V, 8, false>(planes, dst),
        (8, true) => generic::merge::<V, 8, true>(planes, dst),
        _ => 0,
    }
}
