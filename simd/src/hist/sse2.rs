//! SSE2 context histogram.
//!
//! The reference loads a symbol and a context byte and shifts and ors them
//! into an index for every increment. Here the indices of a block of 128
//! pairs are built 16 at a time: interleaving the symbol bytes with the
//! context bytes (`punpcklbw` / `punpckhbw`) yields the little-endian `u16`
//! indices `ctx << 8 | sym` directly. They are stored to a small buffer and
//! counted by scalar increments that take four indices from each `u64`, so
//! the counting loop is one load, a shift and an increment per pair. A block
//! whose 128 pairs are all the same (a constant run: padding, a plane of
//! zeros) is counted with a single add instead of 128 increments that would
//! each wait for the previous one's store.
//!
//! Order-1 counts go through the same kernel (the context slice is the data
//! slice one byte earlier). SSE2 is part of x86-64, so no detection is
//! needed; the AVX2 and AVX-512 levels use this kernel too, since wider index
//! building measured no faster (the increments are the bottleneck).

use core::arch::x86_64::*;

use super::{scalar, CTX_TABLE_LEN};

/// Pairs per block: indices buffered before counting.
const BLOCK: usize = 128;

/// Adds `counts[ctx[i] * 256 + data[i]] += 1` for every `i`; same result
/// and same panics as [`scalar::context`].
pub fn context(data: &[u8], ctx: &[u8], counts: &mut [u32]) {
    assert_eq!(data.len(), ctx.len(), "data and context lengths differ");
    let table: &mut [u32; CTX_TABLE_LEN] = counts
        .try_into()
        .expect("context table must hold 65536 counts");
    let mut idx = [0u64; BLOCK / 4];
    let mut d_blocks = data.chunks_exact(BLOCK);
    let mut c_blocks = ctx.chunks_exact(BLOCK);
    for (d, c) in (&mut d_blocks).zip(&mut c_blocks) {
        let d: &[u8; BLOCK] = d.try_into().expect("whole blocks");
        let c: &[u8; BLOCK] = c.try_into().expect("whole blocks");
        // SAFETY: SSE2 is part of the x86-64 baseline, so every x86-64 CPU
        // runs `index_block`.
        if unsafe { index_block(d, c, &mut idx) } {
            table[usize::from(c[0]) << 8 | usize::from(d[0])] += BLOCK as u32;
        } else {
            for &w in &idx {
                table[(w & 0xFFFF) as usize] += 1;
                table[(w >> 16 & 0xFFFF) as usize] += 1;
                table[(w >> 32 & 0xFFFF) as usize] += 1;
                table[(w >> 48) as usize] += 1;
            }
        }
    }
    scalar::context(d_blocks.remainder(), c_blocks.remainder(), table);
}

/// Writes the `ctx << 8 | sym` indices of one block to `idx` (in an order
/// of its own: counting does not care) and returns whether all pairs of the
/// block are equal.
#[inline]
#[target_feature(enable = "sse2")]
fn index_block(d: &[u8; BLOCK], c: &[u8; BLOCK], idx: &mut [u64; BLOCK / 4]) -> bool {
    let out = idx.as_mut_ptr().cast::<__m128i>();
    let d0 = _mm_set1_epi8(d[0] as i8);
    let c0 = _mm_set1_epi8(c[0] as i8);
    let mut same = _mm_set1_epi8(-1);
    for k in 0..BLOCK / 16 {
        // SAFETY: `d` and `c` hold BLOCK bytes, so the 16 bytes at 16 * k
        // are in bounds (unaligned loads); `idx` holds BLOCK / 4 u64s = 2 *
        // BLOCK bytes, so the two 16-byte stores at 32 * k are in bounds.
        unsafe {
            let dv = _mm_loadu_si128(d.as_ptr().add(16 * k).cast());
            let cv = _mm_loadu_si128(c.as_ptr().add(16 * k).cast());
            let eq = _mm_and_si128(_mm_cmpeq_epi8(dv, d0), _mm_cmpeq_epi8(cv, c0));
            same = _mm_and_si128(same, eq);
            _mm_storeu_si128(out.add(2 * k), _mm_unpacklo_epi8(dv, cv));
            _mm_storeu_si128(out.add(2 * k + 1), _mm_unpackhi_epi8(dv, cv));
        }
    }
    _mm_movemask_epi8(same) == 0xFFFF
}
