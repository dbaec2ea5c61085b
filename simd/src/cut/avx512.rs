//! AVX-512 cut search: sixteen consecutive 32-bit hashes per 512-bit
//! register, the tail of fewer than sixteen elements in scalar.

use core::arch::x86_64::*;

use super::{scalar, shift, KEY, MUL, PREFETCH};

/// See [`scalar::find_cut`].
pub(crate) fn find_cut(data: &[u8], width: usize, warm: usize) -> Option<usize> {
    // SAFETY: only the AVX-512 table holds this function, and a table is
    // only built for CPUs that pass its feature check (F, BW, VL, DQ).
    unsafe { by_width!(width, find_w(data, warm)) }
}

/// Sixteen elements at `p`, each zero-extended to 64 bits and folded to 32
/// (low half xor high half), one per 32-bit lane.
///
/// # Safety
/// `p` must be valid for reading `16 * W` bytes; AVX-512 F.
#[inline(always)]
unsafe fn load<const W: usize>(p: *const u8) -> __m512i {
    // SAFETY: the caller guarantees `16 * W` readable bytes; every load
    // below reads exactly that many, unaligned.
    unsafe {
        match W {
            1 => _mm512_cvtepu8_epi32(_mm_loadu_si128(p.cast())),
            2 => _mm512_cvtepu16_epi32(_mm256_loadu_si256(p.cast())),
            4 => _mm512_loadu_si512(p.cast()),
            _ => {
                let a = _mm512_loadu_si512(p.cast());
                let b = _mm512_loadu_si512(p.add(64).cast());
                let lo =
                    _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                let hi =
                    _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
                _mm512_xor_si512(
                    _mm512_permutex2var_epi32(a, lo, b),
                    _mm512_permutex2var_epi32(a, hi, b),
                )
            }
        }
    }
}

#[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
fn find_w<const W: usize>(data: &[u8], warm: usize) -> Option<usize> {
    let n = data.len() / W;
    let s = shift(W);
    let key = _mm512_set1_epi32(KEY as i32);
    let mul = _mm512_set1_epi32(MUL as i32);
    let top = _mm512_set1_epi32((!0u32 << s) as i32);
    let zero = _mm512_setzero_si512();
    // Lane j: the previous block's last hash is shifted left by j + 1.
    let counts = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    let last = _mm512_set1_epi32(15);
    // The previous block's last hash in every lane.
    let mut prev = zero;
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: elements i..i + 16 lie inside `data` (i + 16 <= n).
        let x = unsafe { load::<W>(data.as_ptr().add(i * W)) };
        // A prefetch is only a hint; past the end it reads nothing.
        _mm_prefetch::<_MM_HINT_T0>(data.as_ptr().wrapping_add(i * W + PREFETCH).cast());
        let e = _mm512_mullo_epi32(_mm512_xor_si512(x, key), mul);
        // Lane j: sum over k <= j of e_k << (j - k).
        let p = _mm512_add_epi32(
            e,
            _mm512_slli_epi32::<1>(_mm512_alignr_epi32::<15>(e, zero)),
        );
        let p = _mm512_add_epi32(
            p,
            _mm512_slli_epi32::<2>(_mm512_alignr_epi32::<14>(p, zero)),
        );
        let p = _mm512_add_epi32(
            p,
            _mm512_slli_epi32::<4>(_mm512_alignr_epi32::<12>(p, zero)),
        );
        let p = _mm512_add_epi32(p, _mm512_slli_epi32::<8>(_mm512_alignr_epi32::<8>(p, zero)));
        let h = _mm512_add_epi32(p, _mm512_sllv_epi32(prev, counts));
        let mut hit = _mm512_testn_epi32_mask(h, top);
        if hit != 0 {
            if i < warm {
                let below = warm - i;
                hit = if below >= 16 {
                    0
                } else {
                    hit & (0xFFFF << below) as u16
                };
            }
            if hit != 0 {
                return Some(i + hit.trailing_zeros() as usize);
            }
        }
        prev = _mm512_permutexvar_epi32(last, h);
        i += 16;
    }
    let h = _mm_cvtsi128_si32(_mm512_castsi512_si128(prev)) as u32;
    scalar::find_w::<W>(&data[i * W..], warm.saturating_sub(i), h).map(|j| i + j)
}
