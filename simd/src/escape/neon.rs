//! NEON escape kernels: eight bytes at a time, the escape mask of a group
//! from a compare (`cmeq`, the lanes' bits added up with `addv`), bytes
//! compressed and expanded by `tbl` with a control from the same tables as
//! the AVX2 form, eight-byte stores into the outputs' slack; the last
//! elements (fewer than eight) by the scalar reference.

use core::arch::aarch64::*;

use super::{check_split, group_at, scalar, COMPRESS, ESCAPE, EXPAND, GROUP};

/// Lane `i` holds bit `i`: the escape lanes of a compare, and-ed with it and
/// added up, give the group's mask.
const BITS: [u8; GROUP] = [1, 2, 4, 8, 16, 32, 64, 128];

/// The 8-bit mask of the lanes of `k` (each 0 or 0xff).
#[inline(always)]
fn mask8(k: uint8x8_t) -> usize {
    // SAFETY: NEON is part of the aarch64 baseline; `BITS` is 8 bytes.
    unsafe { usize::from(vaddv_u8(vand_u8(k, vld1_u8(BITS.as_ptr())))) }
}

/// `v` shuffled by row `mask` of `table`.
#[inline(always)]
fn shuffle(v: uint8x8_t, table: &[[u8; GROUP]; 256], mask: usize) -> uint8x8_t {
    // SAFETY: the table row is 8 bytes; NEON is baseline.
    unsafe { vtbl1_u8(v, vld1_u8(table[mask].as_ptr())) }
}

/// See [`scalar::split`].
pub(crate) fn split(
    high: &[u8],
    low: &[u8],
    ctx: &[u8],
    short: &mut [u8],
    hi: &mut [u8],
    lo: &mut [u8],
    esc_ctx: &mut [u8],
) -> usize {
    check_split(high, low, ctx, short, [hi, lo, esc_ctx]);
    let n = high.len();
    let whole = n - n % GROUP;
    let mut j = 0;
    for at in (0..whole).step_by(GROUP) {
        // SAFETY: 8 bytes from `at < whole <= n` of planes of length `n`
        // (`check_split`); the compressed stores write 8 bytes from `j`,
        // at most the escapes so far, inside the outputs' `n + SLACK`.
        unsafe {
            let h = vld1_u8(high.as_ptr().add(at));
            let l = vld1_u8(low.as_ptr().add(at));
            let c = vld1_u8(ctx.as_ptr().add(at));
            let k = vorr_u8(vmvn_u8(vceqz_u8(h)), vceq_u8(l, vdup_n_u8(ESCAPE)));
            vst1_u8(short.as_mut_ptr().add(at), vorr_u8(l, k));
            let m = mask8(k);
            vst1_u8(hi.as_mut_ptr().add(j), shuffle(h, &COMPRESS, m));
            vst1_u8(lo.as_mut_ptr().add(j), shuffle(l, &COMPRESS, m));
            vst1_u8(esc_ctx.as_mut_ptr().add(j), shuffle(c, &COMPRESS, m));
            j += m.count_ones() as usize;
        }
    }
    // The last elements by the scalar reference: the outputs' room from
    // `j` (at most `whole` escapes so far) still covers them and `SLACK`.
    let m = scalar::split(
        &high[whole..],
        &low[whole..],
        &ctx[whole..],
        &mut short[whole..],
        &mut hi[j..],
        &mut lo[j..],
        &mut esc_ctx[j..],
    );
    j + m
}

/// See [`scalar::find`].
pub(crate) fn find(short: &[u8], ctx: &[u8], limit: usize, esc_ctx: &mut [u8]) -> Option<usize> {
    super::check_find(short, ctx, limit, esc_ctx);
    let n = short.len();
    let whole = n - n % GROUP;
    let mut j = 0;
    for at in (0..whole).step_by(GROUP) {
        // SAFETY: 8 bytes from `at < whole <= n` of `short` and `ctx` (both
        // `n` long); the store writes 8 bytes from `j <= limit` (checked
        // first), inside `esc_ctx`'s `limit + SLACK`.
        unsafe {
            let s = vld1_u8(short.as_ptr().add(at));
            let m = mask8(vceq_u8(s, vdup_n_u8(ESCAPE)));
            if j + m.count_ones() as usize > limit {
                return None;
            }
            let c = vld1_u8(ctx.as_ptr().add(at));
            vst1_u8(esc_ctx.as_mut_ptr().add(j), shuffle(c, &COMPRESS, m));
            j += m.count_ones() as usize;
        }
    }
    let m = scalar::find(&short[whole..], &ctx[whole..], limit - j, &mut esc_ctx[j..])?;
    Some(j + m)
}

/// See [`scalar::expand`].
pub(crate) fn expand(high: &mut [u8], low: &mut [u8], hi: &[u8], lo: &[u8]) {
    super::check_expand(high, low, hi, lo);
    let n = low.len();
    let whole = n - n % GROUP;
    let mut j = 0;
    for at in (0..whole).step_by(GROUP) {
        // SAFETY: 8 bytes from `at < whole <= n` of `high` and `low` (both
        // `n` long); escaped bytes are read 8 at a time from `j` only where
        // `j + 8 <= hi.len() == lo.len()`, else from a copy.
        unsafe {
            let s = vld1_u8(low.as_ptr().add(at));
            let k = vceq_u8(s, vdup_n_u8(ESCAPE));
            let m = mask8(k);
            assert!(
                j + m.count_ones() as usize <= hi.len(),
                "escape expand: more escapes than escaped bytes"
            );
            let (h8, l8) = if j + GROUP <= hi.len() {
                (vld1_u8(hi.as_ptr().add(j)), vld1_u8(lo.as_ptr().add(j)))
            } else {
                let (h, l) = (group_at(hi, j), group_at(lo, j));
                (vld1_u8(h.as_ptr()), vld1_u8(l.as_ptr()))
            };
            vst1_u8(high.as_mut_ptr().add(at), shuffle(h8, &EXPAND, m));
            vst1_u8(
                low.as_mut_ptr().add(at),
                vbsl_u8(k, shuffle(l8, &EXPAND, m), s),
            );
            j += m.count_ones() as usize;
        }
    }
    let placed = scalar::expand_counted(&mut high[whole..], &mut low[whole..], &hi[j..], &lo[j..]);
    assert_eq!(
        j + placed,
        hi.len(),
        "escape expand: fewer escapes than escaped bytes"
    );
}
