//! AVX-512 cut search: eight consecutive hashes per 512-bit register
//! (`vpmullq` from AVX-512 DQ), the tail of fewer than eight elements in
//! scalar.

use core::arch::x86_64::*;

use super::{scalar, shift, KEY, MUL, PREFETCH};

/// See [`scalar::find_cut`].
pub(crate) fn find_cut(data: &[u8], width: usize, warm: usize) -> Option<usize> {
    // SAFETY: only the AVX-512 table holds this function, and a table is
    // only built for CPUs that pass its feature check (F, BW, VL, DQ).
    unsafe { by_width!(width, find_w(data, warm)) }
}

/// Eight elements at `p`, zero-extended to 64-bit lanes.
///
/// # Safety
/// `p` must be valid for reading `8 * W` bytes; AVX-512 F.
#[inline(always)]
unsafe fn load<const W: usize>(p: *const u8) -> __m512i {
    // SAFETY: the caller guarantees `8 * W` readable bytes; every load
    // below reads exactly that many, unaligned.
    unsafe {
        match W {
            1 => _mm512_cvtepu8_epi64(_mm_loadl_epi64(p.cast())),
            2 => _mm512_cvtepu16_epi64(_mm_loadu_si128(p.cast())),
            4 => _mm512_cvtepu32_epi64(_mm256_loadu_si256(p.cast())),
            _ => _mm512_loadu_si512(p.cast()),
        }
    }
}

#[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
fn find_w<const W: usize>(data: &[u8], warm: usize) -> Option<usize> {
    let n = data.len() / W;
    let s = shift(W);
    let key = _mm512_set1_epi64(KEY as i64);
    let mul = _mm512_set1_epi64(MUL as i64);
    let top = _mm512_set1_epi64((!0u64 << s) as i64);
    let zero = _mm512_setzero_si512();
    // Lane j: the previous block's last hash is shifted left by j + 1.
    let counts = _mm512_set_epi64(8, 7, 6, 5, 4, 3, 2, 1);
    let last = _mm512_set1_epi64(7);
    // The previous block's last hash in every lane.
    let mut prev = zero;
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: elements i..i + 8 lie inside `data` (i + 8 <= n).
        let x = unsafe { load::<W>(data.as_ptr().add(i * W)) };
        // A prefetch is only a hint; past the end it reads nothing.
        _mm_prefetch::<_MM_HINT_T0>(data.as_ptr().wrapping_add(i * W + PREFETCH).cast());
        let e = _mm512_mullo_epi64(_mm512_xor_si512(x, key), mul);
        // Lane j: sum over k <= j of e_k << (j - k).
        let p = _mm512_add_epi64(e, _mm512_slli_epi64::<1>(_mm512_alignr_epi64::<7>(e, zero)));
        let p = _mm512_add_epi64(p, _mm512_slli_epi64::<2>(_mm512_alignr_epi64::<6>(p, zero)));
        let p = _mm512_add_epi64(p, _mm512_slli_epi64::<4>(_mm512_alignr_epi64::<4>(p, zero)));
        let h = _mm512_add_epi64(p, _mm512_sllv_epi64(prev, counts));
        let mut hit = _mm512_testn_epi64_mask(h, top);
        if hit != 0 {
            if i < warm {
                let below = warm - i;
                hit = if below >= 8 {
                    0
                } else {
                    hit & (0xFF << below) as u8
                };
            }
            if hit != 0 {
                return Some(i + hit.trailing_zeros() as usize);
            }
        }
        prev = _mm512_permutexvar_epi64(last, h);
        i += 8;
    }
    let h = _mm_cvtsi128_si64(_mm512_castsi512_si128(prev)) as u64;
    scalar::find_w::<W>(&data[i * W..], warm.saturating_sub(i), h).map(|j| i + j)
}
