//! NEON context histogram: indices built 16 at a time with `zip1` / `zip2`,
//! counted by [`super::indexed`]. The same structure as the SSE2 kernel,
//! tested under qemu against the reference; not timed on ARM hardware.

use core::arch::aarch64::*;

use super::indexed::{self, Indices, BLOCK};

/// Adds `counts[ctx[i] * 256 + data[i]] += 1` for every `i`; same result
/// and same panics as [`super::scalar::context`].
pub fn context(data: &[u8], ctx: &[u8], counts: &mut [u32]) {
    indexed::context(data, ctx, counts, index_block);
}

/// Writes the `c << 8 | d` indices of one block to `idx` and returns how
/// many equal `r`.
#[inline(always)]
fn index_block(d: &[u8; BLOCK], c: &[u8; BLOCK], r: u16, idx: &mut Indices) -> usize {
    let out = idx.as_mut_ptr().cast::<u8>();
    let [r_sym, r_ctx] = r.to_le_bytes();
    // SAFETY: NEON is part of the aarch64 baseline. `d` and `c` hold BLOCK
    // bytes, so the 16 bytes at 16 * k are in bounds; `idx` holds 2 * BLOCK
    // bytes, so the two 16-byte stores at 32 * k are in bounds.
    unsafe {
        let rd = vdupq_n_u8(r_sym);
        let rc = vdupq_n_u8(r_ctx);
        // Per byte lane, the number of pairs equal to `r` (at most 8).
        let mut same = vdupq_n_u8(0);
        for k in 0..BLOCK / 16 {
            let dv = vld1q_u8(d.as_ptr().add(16 * k));
            let cv = vld1q_u8(c.as_ptr().add(16 * k));
            same = vsubq_u8(same, vandq_u8(vceqq_u8(dv, rd), vceqq_u8(cv, rc)));
            vst1q_u8(out.add(32 * k), vzip1q_u8(dv, cv));
            vst1q_u8(out.add(32 * k + 16), vzip2q_u8(dv, cv));
        }
        usize::from(vaddlvq_u8(same))
    }
}
