//! SSE2 plane split / merge, 16 elements per block (SSE2 has no `pshufb`).
//!
//! Split de-interleaves bytes: one pass takes the `W` registers of a block
//! as one `16 W`-byte array and moves its even bytes to the first half and
//! its odd bytes to the second half (`pand` / `psrlw` + `packuswb` on each
//! pair of registers). That is a rotation right of the byte index by one
//! bit, so after `log2 W` passes byte `b` of element `e` (index `e W + b`)
//! sits at `16 b + e`: register `b` holds byte `b` of all 16 elements, in
//! element order. Merge runs the inverse pass (`punpcklbw` / `punpckhbw`,
//! a rotation left by one bit) as often. Four merge passes equal
//! `log2 W` split passes (the index has `4 + log2 W` bits) and cost less
//! for `W >= 4`, so split uses them there. Rotation is two shifts and an
//! `or` on the element lanes.

use core::arch::x86_64::*;

use super::{merge_with, split_with};

type V = __m128i;

/// One split pass: even bytes of all registers, then odd bytes.
#[inline]
#[target_feature(enable = "sse2")]
fn unzip<const W: usize>(r: [V; W]) -> [V; W] {
    let low = _mm_set1_epi16(0x00FF);
    let mut next = r;
    for k in 0..W / 2 {
        let (a, b) = (r[2 * k], r[2 * k + 1]);
        next[k] = _mm_packus_epi16(_mm_and_si128(a, low), _mm_and_si128(b, low));
        next[W / 2 + k] = _mm_packus_epi16(_mm_srli_epi16::<8>(a), _mm_srli_epi16::<8>(b));
    }
    next
}

/// One merge pass: the inverse of [`unzip`].
#[inline]
#[target_feature(enable = "sse2")]
fn zip<const W: usize>(r: [V; W]) -> [V; W] {
    let mut next = r;
    for k in 0..W / 2 {
        let (a, b) = (r[k], r[W / 2 + k]);
        next[2 * k] = _mm_unpacklo_epi8(a, b);
        next[2 * k + 1] = _mm_unpackhi_epi8(a, b);
    }
    next
}

#[inline]
#[target_feature(enable = "sse2")]
fn rotl1<const W: usize>(x: V) -> V {
    match W {
        2 => _mm_or_si128(_mm_slli_epi16::<1>(x), _mm_srli_epi16::<15>(x)),
        4 => _mm_or_si128(_mm_slli_epi32::<1>(x), _mm_srli_epi32::<31>(x)),
        _ => _mm_or_si128(_mm_slli_epi64::<1>(x), _mm_srli_epi64::<63>(x)),
    }
}

#[inline]
#[target_feature(enable = "sse2")]
fn rotr1<const W: usize>(x: V) -> V {
    match W {
        2 => _mm_or_si128(_mm_srli_epi16::<1>(x), _mm_slli_epi16::<15>(x)),
        4 => _mm_or_si128(_mm_srli_epi32::<1>(x), _mm_slli_epi32::<31>(x)),
        _ => _mm_or_si128(_mm_srli_epi64::<1>(x), _mm_slli_epi64::<63>(x)),
    }
}

/// Splits the whole blocks; returns the elements done.
#[target_feature(enable = "sse2")]
fn split_w<const W: usize, const ROT: bool>(src: &[u8], dst: &mut [u8]) -> usize {
    let n = src.len() / W;
    let blocks = n / 16;
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
    for b in 0..blocks {
        // SAFETY: block `b < n / 16` is source bytes `16 W b .. 16 W (b + 1)`,
        // inside `src` (`src.len() == W n`).
        let mut r: [V; W] =
            std::array::from_fn(|k| unsafe { _mm_loadu_si128(s.add(16 * W * b + 16 * k).cast()) });
        if ROT {
            r = r.map(|v| rotl1::<W>(v));
        }
        if W == 2 {
            r = unzip(r);
        } else {
            // Four merge passes rotate the index left by 4 bits, which for
            // `4 + log2 W` bits is the same as `log2 W` split passes, at a
            // third of the instructions (two unpacks per pair instead of
            // two masks, two packs and two shifts).
            for _ in 0..4 {
                r = zip(r);
            }
        }
        for (p, v) in r.iter().rev().enumerate() {
            // SAFETY: plane `p` elements `16 b .. 16 b + 16` lie inside `dst`
            // (`dst.len() == src.len() == W n`, `16 b + 16 <= n`).
            unsafe { _mm_storeu_si128(d.add(p * n + 16 * b).cast(), *v) };
        }
    }
    blocks * 16
}

/// Merges the whole blocks; returns the elements done.
#[target_feature(enable = "sse2")]
fn merge_w<const W: usize, const ROT: bool>(planes: &[&[u8]], dst: &mut [u8]) -> usize {
    let n = dst.len() / W;
    let blocks = n / 16;
    let d = dst.as_mut_ptr();
    for b in 0..blocks {
        // SAFETY: plane `W - 1 - k` elements `16 b .. 16 b + 16` lie in
        // that plane (`n` bytes).
        let mut r: [V; W] = std::array::from_fn(|k| unsafe {
            _mm_loadu_si128(planes[W - 1 - k].as_ptr().add(16 * b).cast())
        });
        let mut pass = 1;
        while pass < W {
            r = zip(r);
            pass *= 2;
        }
        for (k, v) in r.iter().enumerate() {
            let v = if ROT { rotr1::<W>(*v) } else { *v };
            // SAFETY: as in `split_w`, for `dst`.
            unsafe { _mm_storeu_si128(d.add(16 * W * b + 16 * k).cast(), v) };
        }
    }
    blocks * 16
}

/// See [`super::scalar::split`].
pub(crate) fn split(src: &[u8], width: usize, rotate: bool, dst: &mut [u8]) {
    // SAFETY: SSE2 is part of the x86-64 baseline, so every x86-64 CPU
    // runs these.
    unsafe { split_with(src, width, rotate, dst, split_sse2) }
}

/// The vector part of [`split`]: the elements done (none for width 1).
#[target_feature(enable = "sse2")]
fn split_sse2(src: &[u8], width: usize, rotate: bool, dst: &mut [u8]) -> usize {
    match (width, rotate) {
        (2, false) => split_w::<2, false>(src, dst),
        (2, true) => split_w::<2, true>(src, dst),
        (4, false) => split_w::<4, false>(src, dst),
        (4, true) => split_w::<4, true>(src, dst),
        (8, false) => split_w::<8, false>(src, dst),
        (8, true) => split_w::<8, true>(src, dst),
        _ => 0,
    }
}

/// See [`super::scalar::merge_from`].
pub(crate) fn merge(planes: &[&[u8]], rotate: bool, dst: &mut [u8]) {
    // SAFETY: as in `split`.
    unsafe { merge_with(planes, rotate, dst, merge_sse2) }
}

/// The vector part of [`merge`]: the elements done (none for width 1).
#[target_feature(enable = "sse2")]
fn merge_sse2(planes: &[&[u8]], rotate: bool, dst: &mut [u8]) -> usize {
    match (planes.len(), rotate) {
        (2, false) => merge_w::<2, false>(planes, dst),
        (2, true) => merge_w::<2, true>(planes, dst),
        (4, false) => merge_w::<4, false>(planes, dst),
        (4, true) => merge_w::<4, true>(planes, dst),
        (8, false) => merge_w::<8, false>(planes, dst),
        (8, true) => merge_w::<8, true>(planes, dst),
        _ => 0,
    }
}
