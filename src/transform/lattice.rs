//! Quantization lattice: groups of elements that are integer multiples of a
//! per-group scale, as INT8/INT4 weights with per-row or group-wise scales
//! look once dequantised into bf16 / fp16 / fp32.
//!
//! Reconstruction (exact, and the only thing the format promises):
//! `x = container(f32(q) * s)` with `q` a code in -127..=127 (code -128
//! stands for negative zero), `s` an f32
//! scale, the product rounded to nearest-even in f32, then rounded to
//! nearest-even into the container (bf16, fp16; identity for fp32).
//!
//! Finding `s`: codes are estimated from the smallest non-zero magnitude
//! (usually code 1) and the group's extremes, then `s` is taken from the
//! intersection of the rounding intervals every element allows, and checked
//! bit for bit. A group that does not verify is stored raw. Each group
//! first tries the previous group's scale, so a per-row scale repeats
//! exactly across the row's groups and costs almost nothing once coded.

use crate::dtype::DType;

/// Group sizes tried, in elements.
pub const GROUPS: [usize; 3] = [128, 64, 32];

/// Result of the lattice analysis of one chunk.
pub struct Lattice {
    /// Elements per group.
    pub group: usize,
    /// Per group: 0 = lattice, 1 = raw.
    pub kinds: Vec<u8>,
    /// Scale (f32 little-endian) of each lattice group.
    pub scales: Vec<u8>,
    /// Codes (i8) of every element of the lattice groups.
    pub codes: Vec<u8>,
    /// Elements of the raw groups, verbatim.
    pub raw: Vec<u8>,
}

/// The element as f32 (exact for bf16 / fp16 / fp32).
#[inline]
fn to_f32(dtype: DType, e: &[u8]) -> f32 {
    match dtype {
        DType::BF16 => f32::from_bits(u32::from(u16::from_le_bytes([e[0], e[1]])) << 16),
        DType::F16 => f16_to_f32(u16::from_le_bytes([e[0], e[1]])),
        _ => f32::from_le_bytes([e[0], e[1], e[2], e[3]]),
    }
}

/// Code that stands for negative zero (dequantising a float code of -0.0
/// gives -0.0, which no integer code reproduces).
pub const NEG_ZERO: i8 = i8::MIN;

/// `container(f32(q) * s)` as container bits (zero-extended); code
/// [`NEG_ZERO`] gives the container's negative zero.
#[inline]
pub fn reconstruct(dtype: DType, q: i8, s: f32) -> u32 {
    if q == NEG_ZERO {
        return 1 << (8 * dtype.width() as u32 - 1);
    }
    let p = f32::from(q) * s;
    match dtype {
        DType::BF16 => u32::from(f32_to_bf16_rne(p)),
        DType::F16 => u32::from(f32_to_f16_rne(p)),
        _ => p.to_bits(),
    }
}

/// Writes the elements `container(q * s)` of one group.
pub fn write_group(dtype: DType, codes: &[u8], s: f32, out: &mut [u8]) {
    let w = dtype.width();
    for (o, &q) in out.chunks_exact_mut(w).zip(codes) {
        let b = reconstruct(dtype, q as i8, s);
        o.copy_from_slice(&b.to_le_bytes()[..w]);
    }
}

fn f32_to_bf16_rne(x: f32) -> u16 {
    let u = x.to_bits();
    if x.is_nan() {
        return ((u >> 16) | 0x40) as u16;
    }
    ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) as u16
}

/// f32 -> IEEE half, round to nearest even (handles subnormals, overflow).
fn f32_to_f16_rne(x: f32) -> u16 {
    let u = x.to_bits();
    let sign = ((u >> 16) & 0x8000) as u16;
    let a = u & 0x7FFF_FFFF;
    if a > 0x7F80_0000 {
        return sign | 0x7E00;
    }
    if a >= 0x4780_0000 {
        // >= 65536 (after rounding too): infinity
        return sign | 0x7C00;
    }
    if a < 0x3880_0000 {
        // Subnormal or zero in half: value / 2^-24, rounded to even.
        let v = f32::from_bits(a) as f64 * (1u64 << 24) as f64;
        let r = v.round_ties_even() as u16;
        return sign | r;
    }
    let e = (a >> 23) as i32 - 127 + 15;
    let m = a & 0x7F_FFFF;
    let mut h = ((e as u32) << 10) | (m >> 13);
    let rest = m & 0x1FFF;
    if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) {
        h += 1;
    }
    sign | h as u16
}

/// IEEE half -> f32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let e = (h >> 10) & 0x1F;
    let m = f32::from(h & 0x3FF);
    match e {
        0 => sign * m * 2f32.powi(-24),
        31 => {
            if m == 0.0 {
                sign * f32::INFINITY
            } else {
                f32::from_bits(0x7FC0_0000 | (u32::from(h & 0x3FF) << 13)) * sign
            }
        }
        _ => sign * (1.0 + m / 1024.0) * 2f32.powi(i32::from(e) - 15),
    }
}

/// `y` rounded half away from zero, and whether that is a code in
/// -127..=127 (NaN is not). Branch-free, so that [`verify`] vectorises
/// (`f32::round` is a libm call on baseline x86-64).
#[inline(always)]
fn code_of(y: f32) -> (i8, bool) {
    let in_range = y.abs() < 128.0;
    let y = if in_range { y } else { 0.0 };
    // Exact: |y| < 128, so the truncation and the fraction are exact.
    let t = y as i32;
    let frac = y - t as f32;
    let q = t + i32::from(frac >= 0.5) - i32::from(frac <= -0.5);
    (q as i8, in_range && q.abs() <= 127)
}

/// `y` rounded half away from zero, as `f64::round` (up to the sign of a
/// zero result) without its libm call where `|y| < 2^31`.
#[inline]
fn round_f64(y: f64) -> f64 {
    if y.abs().partial_cmp(&2147483648.0) != Some(std::cmp::Ordering::Less) {
        return y.round();
    }
    let t = y as i64;
    let frac = y - t as f64;
    (t + i64::from(frac >= 0.5) - i64::from(frac <= -0.5)) as f64
}

/// Whether every element of `xs` is `container(q * s)` for its code `q`
/// (or the container's negative zero), writing the codes to `codes`.
fn verify(dtype: DType, xs: &[u8], s: f32, codes: &mut Vec<u8>) -> bool {
    if !s.is_finite() || s < 0.0 {
        return false;
    }
    codes.clear();
    match dtype {
        DType::BF16 => verify_with::<2>(
            xs,
            s,
            codes,
            |b| f32::from_bits(b << 16),
            |p| u32::from(f32_to_bf16_rne(p)),
        ),
        DType::F16 => verify_with::<2>(
            xs,
            s,
            codes,
            |b| f16_to_f32(b as u16),
            |p| u32::from(f32_to_f16_rne(p)),
        ),
        _ => verify_with::<4>(xs, s, codes, f32::from_bits, f32::to_bits),
    }
}

/// [`verify`] for `W`-byte little-endian elements, valued by `value` from
/// their bits and rounded into the container by `round`. Blocks of 16
/// elements run without branches, so that the compiler vectorises them.
#[inline(always)]
fn verify_with<const W: usize>(
    xs: &[u8],
    s: f32,
    codes: &mut Vec<u8>,
    value: impl Fn(u32) -> f32,
    round: impl Fn(f32) -> u32,
) -> bool {
    let neg_zero = 1u32 << (8 * W as u32 - 1);
    // One element: its code, and whether the code gives it back.
    let one = |e: &[u8]| -> (u8, bool) {
        let mut le = [0u8; 4];
        le[..W].copy_from_slice(e);
        let b = u32::from_le_bytes(le);
        let y = if s == 0.0 { 0.0 } else { value(b) / s };
        let (q, is_code) = code_of(y);
        let fits = is_code && round(f32::from(q) * s) == b;
        if b == neg_zero {
            (NEG_ZERO as u8, true)
        } else {
            (q as u8, fits)
        }
    };
    const BLOCK: usize = 16;
    let mut block = [0u8; BLOCK];
    let mut blocks = xs.chunks_exact(BLOCK * W);
    for c in &mut blocks {
        let mut all = true;
        for (o, e) in block.iter_mut().zip(c.chunks_exact(W)) {
            let (q, fits) = one(e);
            *o = q;
            all &= fits;
        }
        if !all {
            return false;
        }
        codes.extend_from_slice(&block);
    }
    for e in blocks.remainder().chunks_exact(W) {
        let (q, fits) = one(e);
        if !fits {
            return false;
        }
        codes.push(q);
    }
    true
}

/// The widest ratio of largest to smallest non-zero magnitude a group can
/// show: its non-zero elements are `container(q * s)` with `1 <= |q| <=
/// 127`, each within a relative 2^-8 of `q * s` where it is a normal
/// number (bf16; fp16 and fp32 round closer), so the ratio is at most
/// `127 * (1 + 2^-8) / (1 - 2^-8)`, just under 129. Dense weights span far
/// more, and are given up at once.
const MAX_SPAN: f64 = 129.0;

/// The container's smallest normal magnitude.
fn min_normal(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => 2f64.powi(-14),
        _ => 2f64.powi(-126),
    }
}

/// Finds a scale under which every element of the group is `container(q*s)`.
fn fit_group(dtype: DType, xs: &[u8], prev: Option<f32>, codes: &mut Vec<u8>) -> Option<f32> {
    if let Some(p) = prev {
        if verify(dtype, xs, p, codes) {
            return Some(p);
        }
    }
    let w = dtype.width();
    let vals: Vec<f64> = xs
        .chunks_exact(w)
        .map(|e| f64::from(to_f32(dtype, e)))
        .collect();
    if vals.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let max = vals.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if max == 0.0 {
        // All zeros: +0 only (q * 0 gives +0).
        return verify(dtype, xs, 0.0, codes).then_some(0.0);
    }
    let min_pos = vals
        .iter()
        .filter(|v| **v != 0.0)
        .fold(f64::INFINITY, |m, v| m.min(v.abs()));
    if max > MAX_SPAN * min_pos && min_pos >= min_normal(dtype) {
        return None;
    }
    // Candidate spacings: code 1 present, adjacent codes present (smallest
    // gap between distinct values), or the extreme at a usual code maximum.
    // (The gap needs a sort, so it is found only when code 1 did not fit.)
    let min_gap = || {
        let mut sorted: Vec<f64> = vals.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        sorted.dedup();
        sorted
            .windows(2)
            .map(|p| p[1] - p[0])
            .fold(f64::INFINITY, f64::min)
    };
    let bases = [min_pos, f64::NAN, min_pos / 2.0, min_pos / 3.0]
        .into_iter()
        .chain([127.0, 7.0, 8.0, 15.0, 63.0].iter().map(|q| max / q));
    for (i, base) in bases.enumerate() {
        let base = if i == 1 { min_gap() } else { base };
        if !(base.is_finite() && base > 0.0) {
            continue;
        }
        let mut qs: Vec<f64> = vals.iter().map(|&v| round_f64(v / base)).collect();
        // With |q| <= M after rounding, the refit below moves the spacing by
        // a factor within 1 +- sqrt(n) / (2 M); from M = 256 on (n <= 128)
        // the largest code stays above 128 after it: skip the refit.
        debug_assert!(vals.len() <= 128);
        if qs.iter().any(|q| q.abs() >= 256.0) {
            continue;
        }
        // One least-squares refit of the spacing, then the codes again.
        let (num, den) = qs
            .iter()
            .zip(&vals)
            .fold((0.0, 0.0), |(n, d), (q, x)| (n + q * x, d + q * q));
        if den > 0.0 {
            let s = num / den;
            qs = vals.iter().map(|&v| round_f64(v / s)).collect();
        }
        if qs.iter().any(|q| q.abs() > 128.0) {
            continue;
        }
        // Intersect the rounding intervals: |q*s - x| <= half a container ulp.
        let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
        for (&q, &x) in qs.iter().zip(&vals) {
            if q == 0.0 {
                continue;
            }
            let h = half_ulp(dtype, x);
            let (a, b) = ((x - h) / q, (x + h) / q);
            lo = lo.max(a.min(b));
            hi = hi.min(a.max(b));
            // The interval only shrinks: once empty, it stays empty.
            if lo > hi {
                break;
            }
        }
        if lo > hi {
            continue;
        }
        let mid = ((lo + hi) / 2.0) as f32;
        let mut cand = mid;
        for step in 0u32..9 {
            // mid, then alternating neighbours: +1, -1, +2, -2 ... ulps
            let k = step.div_ceil(2);
            let up = step % 2 == 1;
            cand = f32::from_bits(if up {
                mid.to_bits() + k
            } else {
                mid.to_bits().saturating_sub(k)
            });
            if verify(dtype, xs, cand, codes) {
                return Some(cand);
            }
        }
        let _ = cand;
    }
    None
}

fn half_ulp(dtype: DType, x: f64) -> f64 {
    let mant_bits = match dtype {
        DType::BF16 => 7,
        DType::F16 => 10,
        _ => 23,
    };
    // `x` is a non-zero container value, so it is a normal f64 and its
    // exponent field is floor(log2 |x|) exactly.
    let e = ((x.to_bits() >> 52) & 0x7FF) as i64 - 1023;
    let min_e = match dtype {
        DType::F16 => -14,
        _ => -126,
    };
    // 2^(e - mant_bits) / 2, built from its exponent field.
    f64::from_bits(((e.max(min_e) - mant_bits - 1 + 1023) as u64) << 52)
}

/// Lattice-codes a chunk of whole elements (bf16, fp16 or fp32); `None` when
/// too few groups fit for it to pay.
pub fn analyse(data: &[u8], dtype: DType) -> Option<Lattice> {
    if !matches!(dtype, DType::BF16 | DType::F16 | DType::F32) {
        return None;
    }
    let w = dtype.width();
    if !data.len().is_multiple_of(w) || data.len() < 64 * w {
        return None;
    }
    let mut codes = Vec::new();
    // Cheap probe: the first groups of each size must mostly fit.
    let group = GROUPS.into_iter().find(|&g| {
        let gb = g * w;
        let probes = (data.len() / gb).min(8);
        if probes == 0 {
            return false;
        }
        // At least three quarters must fit: stop once too many have not.
        let may_miss = probes - (3 * probes).div_ceil(4);
        let (mut prev, mut missed) = (None, 0);
        for i in 0..probes {
            let s = fit_group(dtype, &data[i * gb..(i + 1) * gb], prev, &mut codes);
            prev = s.or(prev);
            missed += usize::from(s.is_none());
            if missed > may_miss {
                return false;
            }
        }
        true
    })?;
    let gb = group * w;
    // The first groups may not speak for the chunk (a zero-filled start
    // fits any group size): a quarter of the groups spread over it must fit
    // too, or the full pass below, which needs half to, is not worth trying.
    let groups = data.len() / gb;
    let spread = groups.min(16);
    let fits = (0..spread)
        .filter(|i| {
            let g = i * groups / spread;
            fit_group(dtype, &data[g * gb..(g + 1) * gb], None, &mut codes).is_some()
        })
        .count();
    if fits * 4 < spread {
        return None;
    }
    let mut out = Lattice {
        group,
        kinds: Vec::new(),
        scales: Vec::new(),
        codes: Vec::new(),
        raw: Vec::new(),
    };
    let mut prev = None;
    for g in data.chunks(gb) {
        match fit_group(dtype, g, prev, &mut codes) {
            Some(s) => {
                out.kinds.push(0);
                out.scales.extend_from_slice(&s.to_le_bytes());
                out.codes.extend_from_slice(&codes);
                prev = Some(s);
            }
            None => {
                out.kinds.push(1);
                out.raw.extend_from_slice(g);
                if out.raw.len() * 2 >= data.len() {
                    // It cannot pay any more: stop searching.
                    return None;
                }
            }
        }
    }
    // Pays only if most of the chunk is lattice.
    (out.raw.len() * 2 < data.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quantized(dtype: DType, rows: usize, cols: usize, qmax: i32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut seed = 12345u64;
        for r in 0..rows {
            let s = 0.0123f32 * (1.0 + r as f32 * 0.37) / qmax as f32;
            for _ in 0..cols {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let q = ((seed >> 33) % (2 * qmax as u64 + 1)) as i32 - qmax;
                let b = reconstruct(dtype, q as i8, s);
                out.extend_from_slice(&b.to_le_bytes()[..dtype.width()]);
            }
        }
        out
    }

    /// Every container value, or a spread of them for f32.
    fn container_values(dtype: DType) -> Vec<f64> {
        let bits: Vec<u32> = match dtype {
            DType::F32 => (0..1u32 << 16)
                .map(|i| i.wrapping_mul(0x9E37_79B9))
                .collect(),
            _ => (0..1u32 << 16).collect(),
        };
        bits.into_iter()
            .map(|b| f64::from(to_f32(dtype, &b.to_le_bytes()[..dtype.width()])))
            .filter(|x| x.is_finite() && *x != 0.0)
            .collect()
    }

    #[test]
    fn half_ulp_matches_its_definition() {
        for dtype in [DType::BF16, DType::F16, DType::F32] {
            let (mant, min_e) = match dtype {
                DType::BF16 => (7.0, -126.0),
                DType::F16 => (10.0, -14.0),
                _ => (23.0, -126.0),
            };
            for x in container_values(dtype) {
                let e = x.abs().log2().floor().max(min_e);
                assert_eq!(half_ulp(dtype, x), 2f64.powf(e - mant) / 2.0, "{dtype} {x}");
            }
        }
    }

    #[test]
    fn rounding_matches_libm() {
        let mut ys: Vec<f64> = vec![0.5, -0.5, 1.5, -2.5, 126.5, 127.5, -127.5, 127.49999, 128.0];
        ys.extend([
            f64::NAN,
            f64::INFINITY,
            -1e300,
            3e9,
            -4.5e15,
            0.49999999999999994,
        ]);
        let mut seed = 7u64;
        for _ in 0..100_000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let u = (seed >> 11) as f64 / (1u64 << 53) as f64;
            ys.push((u - 0.5) * 300.0);
            ys.push(((u - 0.5) * 600.0).round() / 2.0);
        }
        for y in ys {
            let r = y.round();
            let got = round_f64(y);
            assert!(
                got == r || (got.is_nan() && r.is_nan()),
                "{y}: {got} vs {r}"
            );
            let yf = y as f32;
            let want = Some(yf.round())
                .filter(|q| (-127.0..=127.0).contains(q))
                .map(|q| q as i8);
            let (q, is_code) = code_of(yf);
            assert_eq!(is_code.then_some(q), want, "{yf}");
        }
    }

    #[test]
    fn finds_per_row_scales_in_every_container() {
        for dtype in [DType::BF16, DType::F16, DType::F32] {
            for qmax in [7, 127] {
                let data = quantized(dtype, 8, 512, qmax);
                let l = analyse(&data, dtype).unwrap_or_else(|| panic!("{dtype} q{qmax}"));
                assert!(
                    l.raw.is_empty(),
                    "{dtype} q{qmax}: {} raw bytes",
                    l.raw.len()
                );
                let mut back = Vec::new();
                let w = dtype.width();
                for (gi, codes) in l.codes.chunks(l.group).enumerate() {
                    let s = f32::from_le_bytes(l.scales[gi * 4..gi * 4 + 4].try_into().unwrap());
                    let mut o = vec![0u8; codes.len() * w];
                    write_group(dtype, codes, s, &mut o);
                    back.extend_from_slice(&o);
                }
                assert_eq!(back, data);
            }
        }
    }

    #[test]
    fn negative_zeros_are_coded() {
        // Float codes dequantised as -0.0 * s keep the sign of zero.
        for dtype in [DType::BF16, DType::F16, DType::F32] {
            let mut data = quantized(dtype, 4, 256, 7);
            let w = dtype.width();
            for i in (0..data.len() / w).step_by(5) {
                let nz = (1u32 << (8 * w as u32 - 1)).to_le_bytes();
                data[i * w..(i + 1) * w].copy_from_slice(&nz[..w]);
            }
            let l = analyse(&data, dtype).unwrap_or_else(|| panic!("{dtype}"));
            assert!(l.raw.is_empty(), "{dtype}");
            let mut back = Vec::new();
            for (gi, codes) in l.codes.chunks(l.group).enumerate() {
                let s = f32::from_le_bytes(l.scales[gi * 4..gi * 4 + 4].try_into().unwrap());
                let mut o = vec![0u8; codes.len() * w];
                write_group(dtype, codes, s, &mut o);
                back.extend_from_slice(&o);
            }
            assert_eq!(back, data, "{dtype}");
        }
    }

    /// `verify` by its definition, one element at a time.
    fn verify_reference(dtype: DType, xs: &[u8], s: f32) -> Option<Vec<u8>> {
        if !s.is_finite() || s < 0.0 {
            return None;
        }
        let w = dtype.width();
        let neg_zero = 1u32 << (8 * w as u32 - 1);
        xs.chunks_exact(w)
            .map(|e| {
                let mut b = [0u8; 4];
                b[..w].copy_from_slice(e);
                let bits = u32::from_le_bytes(b);
                if bits == neg_zero {
                    return Some(NEG_ZERO as u8);
                }
                let q = if s == 0.0 {
                    0.0
                } else {
                    (to_f32(dtype, e) / s).round()
                };
                let q = Some(q).filter(|q| (-127.0..=127.0).contains(q))? as i8;
                (reconstruct(dtype, q, s) == bits).then_some(q as u8)
            })
            .collect()
    }

    #[test]
    fn verify_matches_its_definition() {
        for dtype in [DType::BF16, DType::F16, DType::F32] {
            let w = dtype.width();
            let data = quantized(dtype, 1, 1000, 127);
            let s = 0.0123f32 / 127.0;
            let mut codes = Vec::new();
            let mut seed = 7u64;
            let specials: [u32; 6] = match w {
                2 => [0, 0x8000, 0x7C00, 0x7E01, 0xFC00, 1],
                _ => [0, 0x8000_0000, 0x7F80_0000, 0x7FC0_0001, 0xFF80_0000, 1],
            };
            for round in 0..400 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Lengths around the 16-element blocks, every start.
                let len = 1 + (seed >> 40) as usize % 70;
                let at = (seed >> 20) as usize % (1000 - len);
                let mut xs = data[at * w..(at + len) * w].to_vec();
                if round % 3 > 0 {
                    // One element off the lattice by an ulp, or special.
                    let i = (seed >> 8) as usize % len;
                    if round % 3 == 1 {
                        xs[i * w] ^= 1;
                    } else {
                        let sp = specials[(seed >> 4) as usize % 6].to_le_bytes();
                        xs[i * w..(i + 1) * w].copy_from_slice(&sp[..w]);
                    }
                }
                let scale = match round % 5 {
                    0 => s * 1.5,
                    1 => 0.0,
                    _ => s,
                };
                let got = verify(dtype, &xs, scale, &mut codes).then(|| codes.clone());
                assert_eq!(got, verify_reference(dtype, &xs, scale), "{dtype} {round}");
            }
            // Zeros of both signs under scale 0.
            let zeros: Vec<u8> = (0..40u32)
                .flat_map(|i| (u32::from(i % 3 == 0) << (8 * w - 1)).to_le_bytes()[..w].to_vec())
                .collect();
            assert!(verify(dtype, &zeros, 0.0, &mut codes), "{dtype}");
            assert_eq!(Some(codes.clone()), verify_reference(dtype, &zeros, 0.0));
        }
    }

    #[test]
    fn lattice_groups_never_span_more_than_max_span() {
        // The span test gives up only groups that cannot fit: every group
        // that is a lattice (codes 1 and 127, the widest span, under scales
        // across the normal range) spans less than MAX_SPAN.
        let mut seed = 99u64;
        let mut checked = 0;
        for dtype in [DType::BF16, DType::F16, DType::F32] {
            let w = dtype.width();
            let (lo, hi) = match dtype {
                DType::F16 => (-14, 8),
                _ => (-120, 100),
            };
            let mut codes = Vec::new();
            for e in lo..hi {
                for _ in 0..20 {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let s = 2f32.powi(e) * (1.0 + (seed >> 40) as f32 / (1u64 << 24) as f32);
                    let group: Vec<u8> = [1i8, -127, 127, -1, 64, 0]
                        .iter()
                        .flat_map(|&q| reconstruct(dtype, q, s).to_le_bytes()[..w].to_vec())
                        .collect();
                    if !verify(dtype, &group, s, &mut codes) {
                        continue;
                    }
                    checked += 1;
                    let vals: Vec<f64> = group
                        .chunks_exact(w)
                        .map(|e| f64::from(to_f32(dtype, e)).abs())
                        .filter(|v| *v != 0.0)
                        .collect();
                    let max = vals.iter().fold(0.0f64, |m, v| m.max(*v));
                    let min = vals.iter().fold(f64::INFINITY, |m, v| m.min(*v));
                    assert!(max / min > 125.0, "{dtype} {s}: {}", max / min);
                    assert!(
                        max <= MAX_SPAN * min || min < min_normal(dtype),
                        "{dtype} {s}: {}",
                        max / min
                    );
                }
            }
        }
        assert!(checked > 4000, "{checked}");
    }

    #[test]
    fn dense_data_is_not_a_lattice() {
        let data: Vec<u8> = (0..4096u32)
            .flat_map(|i| ((i as f32 * 0.7311).sin() * 0.02).to_le_bytes())
            .collect();
        assert!(analyse(&data, DType::F32).is_none());
    }

    #[test]
    fn a_zero_start_speaks_for_neither_kind_of_chunk() {
        // Zeros fit any group size: what follows them decides.
        let zeros = vec![0u8; 4 * 128 * 16];
        let dense: Vec<u8> = (0..32768u32)
            .flat_map(|i| ((i as f32 * 0.7311).sin() * 0.02).to_le_bytes())
            .collect();
        let lattice = quantized(DType::F32, 64, 512, 127);
        let chunk = |rest: &[u8]| [&zeros[..], rest].concat();
        assert!(analyse(&chunk(&dense), DType::F32).is_none());
        let l = analyse(&chunk(&lattice), DType::F32).expect("lattice after zeros");
        assert!(l.raw.is_empty());
    }

    #[test]
    fn half_conversions() {
        for h in [0u16, 1, 0x3C00, 0x7BFF, 0x8001, 0x0400, 0x03FF] {
            assert_eq!(f32_to_f16_rne(f16_to_f32(h)), h, "{h:#x}");
        }
    }
}
