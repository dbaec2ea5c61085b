//! AVX2 cut search: eight consecutive 32-bit hashes per 256-bit register
//! (the AVX-512 search's structure on half the lanes; lane shifts across
//! the register are a `vpermd` and a mask), the tail of fewer than eight
//! elements in scalar.

use core::arch::x86_64::*;

use super::{scalar, shift, KEY, MUL, PREFETCH};

/// See [`scalar::find_cut`].
pub(crate) fn find_cut(data: &[u8], width: usize, warm: usize) -> Option<usize> {
    // SAFETY: only the AVX2 and later tables hold this function, and a
    // table is only built for CPUs that pass its feature check.
    unsafe { by_width!(width, find_w(data, warm)) }
}

/// Eight elements at `p`, each zero-extended to 64 bits and folded to 32
/// (low half xor high half), one per 32-bit lane.
///
/// # Safety
/// `p` must be valid for reading `8 * W` bytes; AVX2.
#[inline(always)]
unsafe fn load<const W: usize>(p: *const u8) -> __m256i {
    // SAFETY: the caller guarantees `8 * W` readable bytes; every load
    // below reads exactly that many, unaligned.
    unsafe {
        match W {
            1 => _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.cast())),
            2 => _mm256_cvtepu16_epi32(_mm_loadu_si128(p.cast())),
            4 => _mm256_loadu_si256(p.cast()),
            _ => {
                let a = _mm256_castsi256_ps(_mm256_loadu_si256(p.cast()));
                let b = _mm256_castsi256_ps(_mm256_loadu_si256(p.add(32).cast()));
                // Per 128-bit half: the low (then high) dwords of two
                // elements of `a`, then of two of `b`; the 64-bit permute
                // puts the pairs back in element order.
                let lo = _mm256_castps_si256(_mm256_shuffle_ps::<0b10_00_10_00>(a, b));
                let hi = _mm256_castps_si256(_mm256_shuffle_ps::<0b11_01_11_01>(a, b));
                _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_xor_si256(lo, hi))
            }
        }
    }
}

/// `v` moved up by `S` lanes, zeros below.
#[inline]
#[target_feature(enable = "avx2")]
fn lanes_up<const S: i32>(v: __m256i) -> __m256i {
    let idx = _mm256_sub_epi32(
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        _mm256_set1_epi32(S),
    );
    let keep = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(-1));
    _mm256_and_si256(_mm256_permutevar8x32_epi32(v, idx), keep)
}

#[target_feature(enable = "avx2")]
fn find_w<const W: usize>(data: &[u8], warm: usize) -> Option<usize> {
    let n = data.len() / W;
    let s = shift(W);
    let key = _mm256_set1_epi32(KEY as i32);
    let mul = _mm256_set1_epi32(MUL as i32);
    let top = _mm256_set1_epi32((!0u32 << s) as i32);
    let zero = _mm256_setzero_si256();
    // Lane j: the previous block's last hash is shifted left by j + 1.
    let counts = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8);
    let last = _mm256_set1_epi32(7);
    // The previous block's last hash in every lane.
    let mut prev = zero;
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: elements i..i + 8 lie inside `data` (i + 8 <= n).
        let x = unsafe { load::<W>(data.as_ptr().add(i * W)) };
        // A prefetch is only a hint; past the end it reads nothing.
        _mm_prefetch::<_MM_HINT_T0>(data.as_ptr().wrapping_add(i * W + PREFETCH).cast());
        let e = _mm256_mullo_epi32(_mm256_xor_si256(x, key), mul);
        // Lane j: sum over k <= j of e_k << (j - k).
        let p = _mm256_add_epi32(e, _mm256_slli_epi32::<1>(lanes_up::<1>(e)));
        let p = _mm256_add_epi32(p, _mm256_slli_epi32::<2>(lanes_up::<2>(p)));
        let p = _mm256_add_epi32(p, _mm256_slli_epi32::<4>(lanes_up::<4>(p)));
        let h = _mm256_add_epi32(p, _mm256_sllv_epi32(prev, counts));
        let cut = _mm256_cmpeq_epi32(_mm256_and_si256(h, top), zero);
        let mut hit = _mm256_movemask_ps(_mm256_castsi256_ps(cut)) as u32;
        if hit != 0 {
            if i < warm {
                let below = warm - i;
                hit = if below >= 8 { 0 } else { hit & (0xFF << below) };
            }
            if hit != 0 {
                return Some(i + hit.trailing_zeros() as usize);
            }
        }
        prev = _mm256_permutevar8x32_epi32(h, last);
        i += 8;
    }
    let h = _mm_cvtsi128_si32(_mm256_castsi256_si128(prev)) as u32;
    scalar::find_w::<W>(&data[i * W..], warm.saturating_sub(i), h).map(|j| i + j)
}
