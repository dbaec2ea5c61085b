//! NEON plane split / merge, 16 elements per block.
//!
//! Split de-interleaves recursively: `uzp1` / `uzp2` on units of half an
//! element separate the low and high halves of 16 elements (little-endian:
//! the low half comes first), then the same on each half, down to bytes.
//! Merge interleaves back with `zip1` / `zip2`. Rotation is a shift plus a
//! shift-and-insert on the element lanes (`shl` + `sri`, `shr` + `sli`).

use core::arch::aarch64::*;

use super::{check_args, check_merge_args, merge_tail, split_tail};

type V = uint8x16_t;

#[inline(always)]
fn uzp(a: V, b: V, unit: usize) -> (V, V) {
    // SAFETY: NEON is part of the aarch64 baseline; these are register ops.
    unsafe {
        match unit {
            1 => (vuzp1q_u8(a, b), vuzp2q_u8(a, b)),
            2 => {
                let (a, b) = (vreinterpretq_u16_u8(a), vreinterpretq_u16_u8(b));
                (
                    vreinterpretq_u8_u16(vuzp1q_u16(a, b)),
                    vreinterpretq_u8_u16(vuzp2q_u16(a, b)),
                )
            }
            _ => {
                let (a, b) = (vreinterpretq_u32_u8(a), vreinterpretq_u32_u8(b));
                (
                    vreinterpretq_u8_u32(vuzp1q_u32(a, b)),
                    vreinterpretq_u8_u32(vuzp2q_u32(a, b)),
                )
            }
        }
    }
}

#[inline(always)]
fn zip(a: V, b: V, unit: usize) -> (V, V) {
    // SAFETY: as in `uzp`.
    unsafe {
        match unit {
            1 => (vzip1q_u8(a, b), vzip2q_u8(a, b)),
            2 => {
                let (a, b) = (vreinterpretq_u16_u8(a), vreinterpretq_u16_u8(b));
                (
                    vreinterpretq_u8_u16(vzip1q_u16(a, b)),
                    vreinterpretq_u8_u16(vzip2q_u16(a, b)),
                )
            }
            _ => {
                let (a, b) = (vreinterpretq_u32_u8(a), vreinterpretq_u32_u8(b));
                (
                    vreinterpretq_u8_u32(vzip1q_u32(a, b)),
                    vreinterpretq_u8_u32(vzip2q_u32(a, b)),
                )
            }
        }
    }
}

#[inline(always)]
fn rot(x: V, width: usize, left: bool) -> V {
    // SAFETY: as in `uzp`.
    unsafe {
        match (width, left) {
            (2, true) => {
                let x = vreinterpretq_u16_u8(x);
                vreinterpretq_u8_u16(vsriq_n_u16::<15>(vshlq_n_u16::<1>(x), x))
            }
            (2, false) => {
                let x = vreinterpretq_u16_u8(x);
                vreinterpretq_u8_u16(vsliq_n_u16::<15>(vshrq_n_u16::<1>(x), x))
            }
            (4, true) => {
                let x = vreinterpretq_u32_u8(x);
                vreinterpretq_u8_u32(vsriq_n_u32::<31>(vshlq_n_u32::<1>(x), x))
            }
            (4, false) => {
                let x = vreinterpretq_u32_u8(x);
                vreinterpretq_u8_u32(vsliq_n_u32::<31>(vshrq_n_u32::<1>(x), x))
            }
            (_, true) => {
                let x = vreinterpretq_u64_u8(x);
                vreinterpretq_u8_u64(vsriq_n_u64::<63>(vshlq_n_u64::<1>(x), x))
            }
            (_, false) => {
                let x = vreinterpretq_u64_u8(x);
                vreinterpretq_u8_u64(vsliq_n_u64::<63>(vshrq_n_u64::<1>(x), x))
            }
        }
    }
}

/// Bytes `0..w` (least significant first) of 16 elements held in `r[..w]`.
#[inline(always)]
fn deinterleave<const W: usize>(r: [V; W]) -> [V; W] {
    let mut cur = r;
    let mut unit = W / 2;
    // Each pass splits every group of `2 * unit`-byte elements into its low
    // and high `unit`-byte halves, keeping element order: after the pass,
    // registers `0 .. W/2` hold low halves, `W/2 .. W` high halves, grouped
    // so that the next pass sees whole groups again.
    while unit >= 1 {
        let groups = W / (2 * unit); // independent groups of 2*unit-byte elements
        let mut next = cur;
        let per = 2 * unit; // registers per group
        for g in 0..groups {
            for k in 0..unit {
                let (lo, hi) = uzp(cur[g * per + 2 * k], cur[g * per + 2 * k + 1], unit);
                next[g * per + k] = lo;
                next[g * per + unit + k] = hi;
            }
        }
        cur = next;
        unit /= 2;
    }
    cur
}

/// The inverse of [`deinterleave`].
#[inline(always)]
fn interleave<const W: usize>(b: [V; W]) -> [V; W] {
    let mut cur = b;
    let mut unit = 1;
    while unit < W {
        let groups = W / (2 * unit);
        let mut next = cur;
        let per = 2 * unit;
        for g in 0..groups {
            for k in 0..unit {
                let (a, c) = zip(cur[g * per + k], cur[g * per + unit + k], unit);
                next[g * per + 2 * k] = a;
                next[g * per + 2 * k + 1] = c;
            }
        }
        cur = next;
        unit *= 2;
    }
    cur
}

fn split_w<const W: usize>(src: &[u8], rotate: bool, dst: &mut [u8]) -> usize {
    let n = src.len() / W;
    let blocks = n / 16;
    for b in 0..blocks {
        // SAFETY: block `b < n / 16` covers source bytes `16 * W * b ..
        // 16 * W * (b + 1)`, inside `src`.
        let mut r: [V; W] =
            std::array::from_fn(|k| unsafe { vld1q_u8(src.as_ptr().add(16 * W * b + 16 * k)) });
        if rotate {
            r = r.map(|v| rot(v, W, true));
        }
        let bytes = deinterleave(r);
        for p in 0..W {
            // SAFETY: plane `p` elements `16 b .. 16 b + 16` lie inside `dst`.
            unsafe { vst1q_u8(dst.as_mut_ptr().add(p * n + 16 * b), bytes[W - 1 - p]) };
        }
    }
    blocks * 16
}

fn merge_w<const W: usize>(planes: &[&[u8]], rotate: bool, dst: &mut [u8]) -> usize {
    let n = dst.len() / W;
    let blocks = n / 16;
    for b in 0..blocks {
        // SAFETY: plane `W - 1 - k` elements `16 b .. 16 b + 16` lie in
        // that plane (`n` bytes).
        let bytes: [V; W] =
            std::array::from_fn(|k| unsafe { vld1q_u8(planes[W - 1 - k].as_ptr().add(16 * b)) });
        let mut r = interleave(bytes);
        if rotate {
            r = r.map(|v| rot(v, W, false));
        }
        for (k, v) in r.iter().enumerate() {
            // SAFETY: as in `split_w`, for `dst`.
            unsafe { vst1q_u8(dst.as_mut_ptr().add(16 * W * b + 16 * k), *v) };
        }
    }
    blocks * 16
}

/// See [`super::scalar::split`].
pub(crate) fn split(src: &[u8], width: usize, rotate: bool, dst: &mut [u8]) {
    check_args(src, width, dst);
    let done = match width {
        2 => split_w::<2>(src, rotate, dst),
        4 => split_w::<4>(src, rotate, dst),
        8 => split_w::<8>(src, rotate, dst),
        _ => return super::scalar::split(src, width, rotate, dst),
    };
    split_tail(src, width, rotate, dst, done);
}

/// See [`super::scalar::merge_from`].
pub(crate) fn merge(planes: &[&[u8]], rotate: bool, dst: &mut [u8]) {
    check_merge_args(planes, dst);
    let done = match planes.len() {
        2 => merge_w::<2>(planes, rotate, dst),
        4 => merge_w::<4>(planes, rotate, dst),
        8 => merge_w::<8>(planes, rotate, dst),
        _ => return super::scalar::merge_from(planes, rotate, dst),
    };
    merge_tail(planes, rotate, dst, done);
}
