//! AVX-512 (F + BW) plane split / merge: the shared shuffle-and-transpose
//! kernel ([`super::generic`]) on 512-bit vectors, 64 elements per block.
//! `vpermb` (VBMI) is not used: in-lane `vpshufb` plus unpacks need no
//! cross-lane byte permute (see `docs/KERNELS.md`).

use core::arch::x86_64::*;

use super::generic::{self, Lanes};
use super::{merge_with, split_with};

// SAFETY: the methods use AVX-512 F and BW only; they are called from
// `#[target_feature]` functions reachable only through the AVX-512 table.
unsafe impl Lanes for __m512i {
    const LANES: usize = 4;
    #[inline(always)]
    unsafe fn load_lanes(p: *const u8, stride: usize) -> Self {
        let ld = |k: usize| _mm_loadu_si128(p.add(k * stride) as *const __m128i);
        let v = _mm512_castsi128_si512(ld(0));
        let v = _mm512_inserti32x4::<1>(v, ld(1));
        let v = _mm512_inserti32x4::<2>(v, ld(2));
        _mm512_inserti32x4::<3>(v, ld(3))
    }
    #[inline(always)]
    unsafe fn store_lanes(self, p: *mut u8, stride: usize) {
        let st = |k: usize, v: __m128i| _mm_storeu_si128(p.add(k * stride) as *mut __m128i, v);
        st(0, _mm512_castsi512_si128(self));
        st(1, _mm512_extracti32x4_epi32::<1>(self));
        st(2, _mm512_extracti32x4_epi32::<2>(self));
        st(3, _mm512_extracti32x4_epi32::<3>(self));
    }
    #[inline(always)]
    unsafe fn load(p: *const u8) -> Self {
        _mm512_loadu_si512(p as *const __m512i)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut u8) {
        _mm512_storeu_si512(p as *mut __m512i, self)
    }
    #[inline(always)]
    unsafe fn splat(m: &[u8; 16]) -> Self {
        _mm512_broadcast_i32x4(_mm_loadu_si128(m.as_ptr() as *const __m128i))
    }
    #[inline(always)]
    unsafe fn shuffle(self, m: Self) -> Self {
        _mm512_shuffle_epi8(self, m)
    }
    #[inline(always)]
    unsafe fn unpack(self, b: Self, unit_bits: u32, hi: bool) -> Self {
        match (unit_bits, hi) {
            (16, false) => _mm512_unpacklo_epi16(self, b),
            (16, true) => _mm512_unpackhi_epi16(self, b),
            (32, false) => _mm512_unpacklo_epi32(self, b),
            (32, true) => _mm512_unpackhi_epi32(self, b),
            (_, false) => _mm512_unpacklo_epi64(self, b),
            (_, true) => _mm512_unpackhi_epi64(self, b),
        }
    }
    #[inline(always)]
    unsafe fn rotl1(self, width: usize) -> Self {
        match width {
            2 => _mm512_or_si512(_mm512_slli_epi16::<1>(self), _mm512_srli_epi16::<15>(self)),
            4 => _mm512_rol_epi32::<1>(self),
            _ => _mm512_rol_epi64::<1>(self),
        }
    }
    #[inline(always)]
    unsafe fn rotr1(self, width: usize) -> Self {
        match width {
            2 => _mm512_or_si512(_mm512_srli_epi16::<1>(self), _mm512_slli_epi16::<15>(self)),
            4 => _mm512_ror_epi32::<1>(self),
            _ => _mm512_ror_epi64::<1>(self),
        }
    }
}

/// See [`super::scalar::split`].
pub(crate) fn split(src: &[u8], width: usize, rotate: bool, dst: &mut [u8]) {
    // SAFETY: only the AVX-512 dispatch table holds this function, and
    // `Kernels::for_isa` builds it after checking AVX-512 F + BW + VL.
    unsafe { split_with(src, width, rotate, dst, split_avx512) }
}

/// See [`super::scalar::merge_from`].
pub(crate) fn merge(planes: &[&[u8]], rotate: bool, dst: &mut [u8]) {
    // SAFETY: as in `split`.
    unsafe { merge_with(planes, rotate, dst, merge_avx512) }
}

#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl")]
unsafe fn split_avx512(src: &[u8], width: usize, rotate: bool, dst: &mut [u8]) -> usize {
    type V = __m512i;
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

#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl")]
unsafe fn merge_avx512(planes: &[&[u8]], rotate: bool, dst: &mut [u8]) -> usize {
    type V = __m512i;
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
