//! AVX2 escape kernels: a step's escapes as a `movemask`, bytes compressed
//! and expanded eight at a time by `pshufb` with a control from a table
//! indexed by the eight mask bits (2 KiB each way), eight-byte stores into
//! the outputs' slack.

use core::arch::x86_64::*;

use super::{check_split, group_at, scalar, COMPRESS, ESCAPE, EXPAND, GROUP};

/// Eight bytes from `p`.
///
/// # Safety
/// `p` must be valid for reading 8 bytes.
#[inline(always)]
unsafe fn load8(p: *const u8) -> __m128i {
    // SAFETY: the caller's guarantee; an unaligned 64-bit load.
    unsafe { _mm_loadl_epi64(p.cast()) }
}

/// Writes the bytes of `v` at the set bits of `mask` (8 bits) packed to
/// the front of `out`: 8 bytes stored.
///
/// # Safety
/// `out` must be valid for writing 8 bytes; SSSE3.
#[inline(always)]
unsafe fn compress8(v: __m128i, mask: u32, out: *mut u8) {
    // SAFETY: the table row is 8 bytes; the store writes 8 bytes at `out`
    // (the caller's guarantee).
    unsafe {
        let ctl = _mm_loadl_epi64(COMPRESS[mask as usize].as_ptr().cast());
        _mm_storel_epi64(out.cast(), _mm_shuffle_epi8(v, ctl));
    }
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
    // SAFETY: only tables of AVX2 CPUs hold this function.
    unsafe { split_avx2(high, low, ctx, short, hi, lo, esc_ctx) }
}

#[target_feature(enable = "avx2")]
fn split_avx2(
    high: &[u8],
    low: &[u8],
    ctx: &[u8],
    short: &mut [u8],
    hi: &mut [u8],
    lo: &mut [u8],
    esc_ctx: &mut [u8],
) -> usize {
    let n = high.len();
    let whole = n - n % 32;
    let (zero, esc) = (_mm256_setzero_si256(), _mm256_set1_epi8(ESCAPE as i8));
    let mut j = 0;
    for at in (0..whole).step_by(32) {
        // SAFETY: 32 bytes from `at < whole <= n` of planes of length `n`
        // (`check_split`); the compressed stores write 8 bytes from `j`,
        // at most the escapes so far, inside the outputs' `n + SLACK`.
        unsafe {
            let h = _mm256_loadu_si256(high.as_ptr().add(at).cast());
            let l = _mm256_loadu_si256(low.as_ptr().add(at).cast());
            let k = _mm256_or_si256(
                _mm256_xor_si256(_mm256_cmpeq_epi8(h, zero), _mm256_set1_epi8(-1)),
                _mm256_cmpeq_epi8(l, esc),
            );
            _mm256_storeu_si256(short.as_mut_ptr().add(at).cast(), _mm256_or_si256(l, k));
            let mask = _mm256_movemask_epi8(k) as u32;
            for g in 0..4 {
                let m = (mask >> (8 * g)) & 0xff;
                let from = at + GROUP * g;
                compress8(load8(high.as_ptr().add(from)), m, hi.as_mut_ptr().add(j));
                compress8(load8(low.as_ptr().add(from)), m, lo.as_mut_ptr().add(j));
                compress8(
                    load8(ctx.as_ptr().add(from)),
                    m,
                    esc_ctx.as_mut_ptr().add(j),
                );
                j += m.count_ones() as usize;
            }
        }
    }
    // The last elements (fewer than 32): the scalar reference, appended.
    let (h, l, c) = (&high[whole..], &low[whole..], &ctx[whole..]);
    // The last elements by the scalar reference: the outputs' room from
    // `j` (at most `whole` escapes so far) still covers them and `SLACK`.
    let m = scalar::split(
        h,
        l,
        c,
        &mut short[whole..],
        &mut hi[j..],
        &mut lo[j..],
        &mut esc_ctx[j..],
    );
    j + m
}

/// The escape mask of 32 bytes of a short plane at `p`, and the bytes.
///
/// # Safety
/// `p` must be valid for reading 32 bytes; AVX2.
#[inline(always)]
unsafe fn escapes32(p: *const u8) -> (__m256i, u32) {
    // SAFETY: the caller's guarantee; an unaligned 256-bit load.
    unsafe {
        let s = _mm256_loadu_si256(p.cast());
        let k = _mm256_cmpeq_epi8(s, _mm256_set1_epi8(ESCAPE as i8));
        (s, _mm256_movemask_epi8(k) as u32)
    }
}

/// See [`scalar::find`].
pub(crate) fn find(short: &[u8], ctx: &[u8], limit: usize, esc_ctx: &mut [u8]) -> Option<usize> {
    super::check_find(short, ctx, limit, esc_ctx);
    // SAFETY: only tables of AVX2 CPUs hold this function.
    unsafe { find_avx2(short, ctx, limit, esc_ctx) }
}

#[target_feature(enable = "avx2")]
fn find_avx2(short: &[u8], ctx: &[u8], limit: usize, esc_ctx: &mut [u8]) -> Option<usize> {
    let n = short.len();
    let whole = n - n % 32;
    let mut j = 0;
    for at in (0..whole).step_by(32) {
        // SAFETY: 32 bytes from `at < whole <= n` of `short` and `ctx`
        // (both `n` long); the stores write 8 bytes from `j <= limit`
        // (checked first), inside `esc_ctx`'s `limit + SLACK`.
        unsafe {
            let (_, mask) = escapes32(short.as_ptr().add(at));
            if j + mask.count_ones() as usize > limit {
                return None;
            }
            for g in 0..4 {
                let m = (mask >> (8 * g)) & 0xff;
                let c = load8(ctx.as_ptr().add(at + GROUP * g));
                compress8(c, m, esc_ctx.as_mut_ptr().add(j));
                j += m.count_ones() as usize;
            }
        }
    }
    let m = scalar::find(&short[whole..], &ctx[whole..], limit - j, &mut esc_ctx[j..])?;
    Some(j + m)
}

/// See [`scalar::expand`].
pub(crate) fn expand(high: &mut [u8], low: &mut [u8], hi: &[u8], lo: &[u8]) {
    super::check_expand(high, low, hi, lo);
    // SAFETY: only tables of AVX2 CPUs hold this function.
    unsafe { expand_avx2(high, low, hi, lo) }
}

#[target_feature(enable = "avx2")]
fn expand_avx2(high: &mut [u8], low: &mut [u8], hi: &[u8], lo: &[u8]) {
    let n = low.len();
    let whole = n - n % 32;
    let mut j = 0;
    for at in (0..whole).step_by(32) {
        // SAFETY: 32 bytes from `at < whole <= n` of `high` and `low`
        // (both `n` long); escaped bytes are read 8 at a time from `j`
        // only where `j + 8 <= hi.len() == lo.len()`, else from a copy.
        unsafe {
            let (s, mask) = escapes32(low.as_ptr().add(at));
            assert!(
                j + mask.count_ones() as usize <= hi.len(),
                "escape expand: more escapes than escaped bytes"
            );
            let mut hv = [_mm_setzero_si128(); 4];
            let mut lv = [_mm_setzero_si128(); 4];
            for g in 0..4 {
                let m = (mask >> (8 * g)) & 0xff;
                let (h8, l8) = if j + GROUP <= hi.len() {
                    (load8(hi.as_ptr().add(j)), load8(lo.as_ptr().add(j)))
                } else {
                    (
                        load8(group_at(hi, j).as_ptr()),
                        load8(group_at(lo, j).as_ptr()),
                    )
                };
                let ctl = _mm_loadl_epi64(EXPAND[m as usize].as_ptr().cast());
                hv[g] = _mm_shuffle_epi8(h8, ctl);
                lv[g] = _mm_shuffle_epi8(l8, ctl);
                j += m.count_ones() as usize;
            }
            let join = |v: [__m128i; 4]| {
                _mm256_setr_m128i(
                    _mm_unpacklo_epi64(v[0], v[1]),
                    _mm_unpacklo_epi64(v[2], v[3]),
                )
            };
            let k = _mm256_cmpeq_epi8(s, _mm256_set1_epi8(ESCAPE as i8));
            _mm256_storeu_si256(high.as_mut_ptr().add(at).cast(), join(hv));
            _mm256_storeu_si256(
                low.as_mut_ptr().add(at).cast(),
                _mm256_blendv_epi8(s, join(lv), k),
            );
        }
    }
    let placed = scalar::expand_counted(&mut high[whole..], &mut low[whole..], &hi[j..], &lo[j..]);
    assert_eq!(
        j + placed,
        hi.len(),
        "escape expand: fewer escapes than escaped bytes"
    );
}
