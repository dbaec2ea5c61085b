//! AVX-512 VBMI2 escape kernels: a step's escapes as a mask register,
//! bytes compressed (`vpcompressb`) and expanded (`vpexpandb`) by it in
//! registers, whole vectors stored into the outputs' slack.

use core::arch::x86_64::*;

use super::{check_split, ESCAPE, STEP};

/// The mask of the first `len` (at most [`STEP`]) lanes.
#[inline(always)]
fn lanes(len: usize) -> __mmask64 {
    if len >= STEP {
        !0
    } else {
        (1 << len) - 1
    }
}

/// The step of the short plane `short` from element `at` (lanes `m`,
/// the rest zero) and its escape mask.
///
/// # Safety
/// `m` must cover only lanes within `short` from `at`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn short_step(short: &[u8], at: usize, m: __mmask64) -> (__m512i, __mmask64) {
    // SAFETY: the load is masked to lanes within `short` (the caller's
    // guarantee).
    let s = unsafe { _mm512_maskz_loadu_epi8(m, short.as_ptr().add(at).cast()) };
    (
        s,
        _mm512_cmpeq_epi8_mask(s, _mm512_set1_epi8(ESCAPE as i8)) & m,
    )
}

/// See [`super::scalar::split`].
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
    // SAFETY: only the VBMI2 form of the AVX-512 table holds this
    // function, and it is only built for CPUs with F, BW and VBMI2.
    unsafe { split_vbmi2(high, low, ctx, short, hi, lo, esc_ctx) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2")]
fn split_vbmi2(
    high: &[u8],
    low: &[u8],
    ctx: &[u8],
    short: &mut [u8],
    hi: &mut [u8],
    lo: &mut [u8],
    esc_ctx: &mut [u8],
) -> usize {
    let n = high.len();
    let esc = _mm512_set1_epi8(ESCAPE as i8);
    let mut j = 0;
    for at in (0..n).step_by(STEP) {
        let m = lanes(n - at);
        // SAFETY: every load and store is masked to the `n - at` lanes
        // left of the planes (all of length `n`: `check_split`); the
        // compressed stores write 64 bytes from `j`, at most the escapes
        // so far, inside the outputs' `n + SLACK` bytes.
        unsafe {
            let h = _mm512_maskz_loadu_epi8(m, high.as_ptr().add(at).cast());
            let l = _mm512_maskz_loadu_epi8(m, low.as_ptr().add(at).cast());
            let c = _mm512_maskz_loadu_epi8(m, ctx.as_ptr().add(at).cast());
            let k = (_mm512_test_epi8_mask(h, h) | _mm512_cmpeq_epi8_mask(l, esc)) & m;
            _mm512_mask_storeu_epi8(
                short.as_mut_ptr().add(at).cast(),
                m,
                _mm512_mask_mov_epi8(l, k, esc),
            );
            _mm512_storeu_si512(
                hi.as_mut_ptr().add(j).cast(),
                _mm512_maskz_compress_epi8(k, h),
            );
            _mm512_storeu_si512(
                lo.as_mut_ptr().add(j).cast(),
                _mm512_maskz_compress_epi8(k, l),
            );
            _mm512_storeu_si512(
                esc_ctx.as_mut_ptr().add(j).cast(),
                _mm512_maskz_compress_epi8(k, c),
            );
            j += k.count_ones() as usize;
        }
    }
    j
}

/// See [`super::scalar::find`].
pub(crate) fn find(short: &[u8], ctx: &[u8], limit: usize, esc_ctx: &mut [u8]) -> Option<usize> {
    super::check_find(short, ctx, limit, esc_ctx);
    // SAFETY: as in `split`.
    unsafe { find_vbmi2(short, ctx, limit, esc_ctx) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2")]
fn find_vbmi2(short: &[u8], ctx: &[u8], limit: usize, esc_ctx: &mut [u8]) -> Option<usize> {
    let n = short.len();
    let mut j = 0;
    for at in (0..n).step_by(STEP) {
        let m = lanes(n - at);
        // SAFETY: the loads are masked to the `n - at` lanes left of
        // `short` and `ctx` (both `n` long); the store writes 64 bytes from
        // `j <= limit` (checked first), inside `esc_ctx`'s `limit + SLACK`.
        unsafe {
            let (_, k) = short_step(short, at, m);
            let count = k.count_ones() as usize;
            if j + count > limit {
                return None;
            }
            let c = _mm512_maskz_loadu_epi8(m, ctx.as_ptr().add(at).cast());
            _mm512_storeu_si512(
                esc_ctx.as_mut_ptr().add(j).cast(),
                _mm512_maskz_compress_epi8(k, c),
            );
            j += count;
        }
    }
    Some(j)
}

/// See [`super::scalar::expand`].
pub(crate) fn expand(high: &mut [u8], low: &mut [u8], hi: &[u8], lo: &[u8]) {
    super::check_expand(high, low, hi, lo);
    // SAFETY: as in `split`.
    let j = unsafe { expand_vbmi2(high, low, hi, lo) };
    assert_eq!(
        j,
        hi.len(),
        "escape expand: fewer escapes than escaped bytes"
    );
}

/// The body of [`expand`]: returns the escaped bytes placed.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi2")]
fn expand_vbmi2(high: &mut [u8], low: &mut [u8], hi: &[u8], lo: &[u8]) -> usize {
    let n = low.len();
    let mut j = 0;
    for at in (0..n).step_by(STEP) {
        let m = lanes(n - at);
        // SAFETY: the plane loads and stores are masked to the `n - at`
        // lanes left (`high` and `low` are both `n` long); the escaped
        // bytes' loads to the step's `count` lanes from `j`, with `j +
        // count <= hi.len() == lo.len()` checked first.
        unsafe {
            let (s, k) = short_step(low, at, m);
            let count = k.count_ones() as usize;
            assert!(
                j + count <= hi.len(),
                "escape expand: more escapes than escaped bytes"
            );
            let e = lanes(count);
            let h = _mm512_maskz_loadu_epi8(e, hi.as_ptr().add(j).cast());
            let l = _mm512_maskz_loadu_epi8(e, lo.as_ptr().add(j).cast());
            _mm512_mask_storeu_epi8(
                high.as_mut_ptr().add(at).cast(),
                m,
                _mm512_maskz_expand_epi8(k, h),
            );
            _mm512_mask_storeu_epi8(
                low.as_mut_ptr().add(at).cast(),
                m,
                _mm512_mask_expand_epi8(s, k, l),
            );
            j += count;
        }
    }
    j
}
