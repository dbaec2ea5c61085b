//! SSE2 context histogram: indices built 16 at a time with
//! `punpcklbw` / `punpckhbw`, counted by [`super::indexed`].
//!
//! Order-1 counts go through the same kernel (the context slice is the data
//! slice one byte earlier). SSE2 is part of x86-64, so no detection is
//! needed; the AVX2 and AVX-512 levels use this kernel too: building the
//! indices 32 or 64 at a time measured no faster, since the increments are
//! the bottleneck (docs/KERNELS.md).

use core::arch::x86_64::*;

use super::indexed::{self, Indices, BLOCK};

/// Adds `counts[ctx[i] * 256 + data[i]] += 1` for every `i`; same result
/// and same panics as [`super::scalar::context`].
pub fn context(data: &[u8], ctx: &[u8], counts: &mut [u32]) {
    indexed::context(data, ctx, counts, |d, c, r, idx| {
        // SAFETY: SSE2 is part of the x86-64 baseline, so every x86-64 CPU
        // runs `index_block`.
        unsafe { index_block(d, c, r, idx) }
    });
}

/// Writes the `c << 8 | d` indices of one block to `idx` and returns how
/// many equal `r`.
#[inline]
#[target_feature(enable = "sse2")]
fn index_block(d: &[u8; BLOCK], c: &[u8; BLOCK], r: u16, idx: &mut Indices) -> usize {
    let out = idx.as_mut_ptr().cast::<__m128i>();
    let [r_sym, r_ctx] = r.to_le_bytes();
    let rd = _mm_set1_epi8(r_sym as i8);
    let rc = _mm_set1_epi8(r_ctx as i8);
    // Per byte lane, the number of pairs equal to `r` (at most 8).
    let mut same = _mm_setzero_si128();
    for k in 0..BLOCK / 16 {
        // SAFETY: `d` and `c` hold BLOCK bytes, so the 16 bytes at 16 * k
        // are in bounds (unaligned loads); `idx` holds 2 * BLOCK bytes, so
        // the two 16-byte stores at 32 * k are in bounds.
        unsafe {
            let dv = _mm_loadu_si128(d.as_ptr().add(16 * k).cast());
            let cv = _mm_loadu_si128(c.as_ptr().add(16 * k).cast());
            let eq = _mm_and_si128(_mm_cmpeq_epi8(dv, rd), _mm_cmpeq_epi8(cv, rc));
            same = _mm_sub_epi8(same, eq);
            _mm_storeu_si128(out.add(2 * k), _mm_unpacklo_epi8(dv, cv));
            _mm_storeu_si128(out.add(2 * k + 1), _mm_unpackhi_epi8(dv, cv));
        }
    }
    // Two sums of eight lanes each, one per 64-bit half.
    let sums = _mm_sad_epu8(same, _mm_setzero_si128());
    let lo = _mm_cvtsi128_si32(sums);
    let hi = _mm_cvtsi128_si32(_mm_unpackhi_epi64(sums, sums));
    (lo + hi) as usize
}
