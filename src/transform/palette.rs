//! Palette: a chunk whose elements take few distinct values is stored as a
//! value table plus one index per element.
//!
//! *Narrow* palettes (at most 256 values, any width 2, 4 or 8) use one byte
//! per index. Their table is sorted by the rotated bit pattern (sign at the
//! bottom), so a value and its negation sit next to each other; indices are
//! then entropy-coded like any byte plane.
//!
//! *Wide* palettes (257 ..= 65536 values, width 4 or 8 only: a 2-byte
//! element is its own 16-bit index) use a little-endian u16 index per
//! element, coded as two byte planes (high, then low conditioned on high),
//! which costs about the order-0 entropy of the whole values. Their table
//! is sorted by the unsigned word and stored as gaps (see [`Wide`]), which
//! is what makes a 65536-entry table affordable.
//!
//! The wide analysis must be cheap where it does not pay, in three steps:
//! 1. [`may_be_wide`]: 64 runs of 64 elements; a chunk whose sample has
//!    almost no repeated value (dense weights) is given up at once.
//! 2. [`sample`] + [`entropy_bits`]: on 1/16 of the chunk, the entropy of
//!    the whole values (what the indices cost) is compared by the caller
//!    with the plain coder's estimate on the same sample; data the plane
//!    coder already codes near its value entropy (bf16 or fp16 values in a
//!    wider container) stops here.
//! 3. [`wide_analysis`]: the full count, which stops at the 65537th value;
//!    the caller runs it only when the sample's estimate of the index bytes
//!    beats the best layout it already has (a lattice, often).

use std::cell::RefCell;

/// Largest palette.
pub const MAX_VALUES: usize = 256;

/// `(values, indices)` when `data` (whole elements of `width` 2, 4 or 8
/// bytes) has at most 256 distinct values; `values` holds the distinct
/// elements' bytes in table order.
pub fn build(data: &[u8], width: usize) -> Option<(Vec<u8>, Vec<u8>)> {
    if !matches!(width, 2 | 4 | 8) || data.is_empty() || !data.len().is_multiple_of(width) {
        return None;
    }
    // One pass numbers the values in order of first appearance; the table
    // order then renumbers the indices.
    let n = data.len() / width;
    let mut indices = Vec::with_capacity(n);
    let words = if width == 2 {
        first_seen_u16(data, &mut indices)?
    } else {
        let mut set = WordSet::new(MAX_VALUES);
        for i in 0..n {
            indices.push(set.id(word_at(data, i, width), MAX_VALUES)? as u8);
        }
        set.words
    };
    let bits = 8 * width as u32;
    let rot = |w: u64| ((w << 1) | (w >> (bits - 1))) & (u64::MAX >> (64 - bits));
    let mut order: Vec<u8> = (0..words.len()).map(|i| i as u8).collect();
    order.sort_unstable_by_key(|&i| rot(words[usize::from(i)]));
    let mut rank = [0u8; MAX_VALUES];
    for (r, &i) in order.iter().enumerate() {
        rank[usize::from(i)] = r as u8;
    }
    for i in &mut indices {
        *i = rank[usize::from(*i)];
    }
    let table = order
        .iter()
        .flat_map(|&i| words[usize::from(i)].to_le_bytes()[..width].to_vec())
        .collect();
    Some((table, indices))
}

/// The distinct 2-byte elements of `data` in order of first appearance,
/// pushing each element's number in that order to `ids`; `None` past
/// [`MAX_VALUES`]. A 65536-entry table per thread stands in for a hash
/// set; the entries set are cleared again before returning, so it is
/// neither allocated nor zeroed per call (128 KiB each time was half of
/// trying the transforms on a 512-byte tensor).
fn first_seen_u16(data: &[u8], ids: &mut Vec<u8>) -> Option<Vec<u64>> {
    thread_local! {
        static SLOTS: RefCell<Vec<u16>> = RefCell::new(vec![0u16; 1 << 16]);
    }
    SLOTS.with_borrow_mut(|slot| {
        let mut words = Vec::with_capacity(MAX_VALUES);
        let mut full = false;
        for e in data.chunks_exact(2) {
            let w = u16::from_le_bytes([e[0], e[1]]);
            let s = &mut slot[usize::from(w)];
            if *s == 0 {
                if words.len() == MAX_VALUES {
                    full = true;
                    break;
                }
                words.push(u64::from(w));
                *s = words.len() as u16;
            }
            ids.push((*s - 1) as u8);
        }
        for &w in &words {
            slot[w as usize] = 0;
        }
        (!full).then_some(words)
    })
}

/// Rebuilds the elements from a value table and indices; `None` when an
/// index is outside the table.
pub fn apply(values: &[u8], indices: &[u8], width: usize, out: &mut [u8]) -> Option<()> {
    let k = values.len() / width;
    if out.len() != indices.len() * width {
        return None;
    }
    for (o, &i) in out.chunks_exact_mut(width).zip(indices) {
        let i = usize::from(i);
        if i >= k {
            return None;
        }
        o.copy_from_slice(&values[i * width..(i + 1) * width]);
    }
    Some(())
}

/// Largest wide palette.
pub const MAX_WIDE_VALUES: usize = 65536;

/// Open-addressing set of element words (insertion order ids), for the
/// wide analysis: `slots` holds `id + 1` (0 = empty).
struct WordSet {
    slots: Vec<u32>,
    shift: u32,
    words: Vec<u64>,
}

impl WordSet {
    /// A set for at most `cap` words (load factor at most one half).
    fn new(cap: usize) -> WordSet {
        let bits = (2 * cap).next_power_of_two().trailing_zeros().max(4);
        WordSet {
            slots: vec![0; 1 << bits],
            shift: 64 - bits,
            words: Vec::with_capacity(cap),
        }
    }

    /// The id of `w`, inserting it when new; `None` when the set is full.
    #[inline]
    fn id(&mut self, w: u64, cap: usize) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let h = w.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut i = ((h ^ (h >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9) >> self.shift) as usize;
        loop {
            match self.slots[i] {
                0 => {
                    if self.words.len() == cap {
                        return None;
                    }
                    self.words.push(w);
                    let id = self.words.len() as u32;
                    self.slots[i] = id;
                    return Some(id - 1);
                }
                s if self.words[s as usize - 1] == w => return Some(s - 1),
                _ => i = (i + 1) & mask,
            }
        }
    }
}

#[inline]
fn word_at(data: &[u8], i: usize, width: usize) -> u64 {
    if width == 4 {
        u64::from(u32::from_le_bytes(
            data[i * 4..i * 4 + 4].try_into().unwrap(),
        ))
    } else {
        u64::from_le_bytes(data[i * 8..i * 8 + 8].try_into().unwrap())
    }
}

/// Runs and run length of the dense-data pre-check.
const SAMPLE_RUNS: usize = 64;
const SAMPLE_RUN: usize = 64;
/// Fewest repeats the sample must show. A chunk of at most 65536 distinct
/// values gives at least ~125 repeats among 4096 sampled elements (the
/// uniform case); dense weights give almost none.
const MIN_SAMPLE_REPEATS: usize = 64;

/// Whether a sample of `data` (whole elements of width 4 or 8) repeats
/// values often enough that it may have 257 ..= 65536 distinct ones.
pub fn may_be_wide(data: &[u8], width: usize) -> bool {
    if !matches!(width, 4 | 8) || !data.len().is_multiple_of(width) {
        return false;
    }
    let n = data.len() / width;
    let sample = SAMPLE_RUNS * SAMPLE_RUN;
    if n <= MAX_VALUES {
        return false;
    }
    if n <= 4 * sample {
        return true;
    }
    let mut set = WordSet::new(sample);
    let step = n / SAMPLE_RUNS;
    let mut seen = 0usize;
    for r in 0..SAMPLE_RUNS {
        for i in r * step..r * step + SAMPLE_RUN {
            set.id(word_at(data, i, width), sample);
            seen += 1;
        }
    }
    seen - set.words.len() >= MIN_SAMPLE_REPEATS
}

/// Fewest elements [`sample`] takes.
pub const MIN_SAMPLE: usize = 1 << 14;

/// 1/32 of `data` (whole elements of `width`), at least [`MIN_SAMPLE`]
/// elements, in 16 evenly spaced runs; all of it when it is not twice
/// that long.
pub fn sample(data: &[u8], width: usize) -> std::borrow::Cow<'_, [u8]> {
    let n = data.len() / width;
    if n < 2 * MIN_SAMPLE {
        return std::borrow::Cow::Borrowed(&data[..n * width]);
    }
    let runs = 16;
    let run = (n / 32).max(MIN_SAMPLE) / runs;
    let step = n / runs;
    let mut out = Vec::with_capacity(runs * run * width);
    for r in 0..runs {
        out.extend_from_slice(&data[r * step * width..(r * step + run) * width]);
    }
    std::borrow::Cow::Owned(out)
}

/// Estimated entropy, in bits per element, of the whole values of
/// `data` (width 4 or 8): the plug-in estimate plus the Miller-Madow
/// correction for its bias; `None` beyond 65536 distinct values.
pub fn entropy_bits(data: &[u8], width: usize) -> Option<f64> {
    let n = data.len() / width;
    if n == 0 || !matches!(width, 4 | 8) {
        return None;
    }
    let cap = MAX_WIDE_VALUES.min(n);
    let mut set = WordSet::new(cap);
    let mut counts = vec![0u32; cap];
    for i in 0..n {
        counts[set.id(word_at(data, i, width), cap)? as usize] += 1;
    }
    let nf = n as f64;
    let bits = total_bits(&counts[..set.words.len()], n);
    Some(bits / nf + (set.words.len() - 1) as f64 / (2.0 * nf * std::f64::consts::LN_2))
}

/// `sum(c * log2(n / c))` over `counts` (summing to `n`): the order-0
/// entropy of the elements, in bits. Small counts, the common case with
/// many distinct values, take their `c * log2(c)` from a table.
fn total_bits(counts: &[u32], n: usize) -> f64 {
    let mut table = [0f64; 256];
    for (c, t) in table.iter_mut().enumerate().skip(2) {
        *t = c as f64 * (c as f64).log2();
    }
    let sum: f64 = counts
        .iter()
        .map(|&c| match table.get(c as usize) {
            Some(&t) => t,
            None => f64::from(c) * f64::from(c).log2(),
        })
        .sum();
    n as f64 * (n as f64).log2() - sum
}

/// Distinct values of a chunk and the id of every element, in order of
/// first appearance (the result of [`wide_analysis`]).
pub struct WideAnalysis {
    width: usize,
    words: Vec<u64>,
    counts: Vec<u32>,
    ids: Vec<u16>,
}

/// Counts the distinct elements of `data` (width 4 or 8, whole elements);
/// `None` when there are more than 65536 or at most 256 (a narrow palette's
/// case).
pub fn wide_analysis(data: &[u8], width: usize) -> Option<WideAnalysis> {
    if !matches!(width, 4 | 8) || !data.len().is_multiple_of(width) {
        return None;
    }
    let n = data.len() / width;
    if n <= MAX_VALUES {
        return None;
    }
    let cap = MAX_WIDE_VALUES.min(n);
    let mut set = WordSet::new(cap);
    let mut ids = Vec::with_capacity(n);
    let mut counts = vec![0u32; cap];
    for i in 0..n {
        let id = set.id(word_at(data, i, width), cap)?;
        counts[id as usize] += 1;
        ids.push(id as u16);
    }
    if set.words.len() <= MAX_VALUES {
        return None;
    }
    counts.truncate(set.words.len());
    Some(WideAnalysis {
        width,
        words: set.words,
        counts,
        ids,
    })
}

/// A wide palette ready to code.
pub struct Wide {
    /// Number of values, 257 ..= 65536.
    pub count: usize,
    /// The table as gaps: `count` words of the chunk's width (LE); the
    /// first is the smallest value, each next one is `value - previous - 1`
    /// (values sorted by the unsigned word, all distinct).
    pub gaps: Vec<u8>,
    /// One u16 LE index per element.
    pub indices: Vec<u8>,
}

impl WideAnalysis {
    /// Order-0 entropy of the elements (what the indices cost), in bytes.
    pub fn index_bytes(&self) -> f64 {
        total_bits(&self.counts, self.ids.len()) / 8.0
    }

    /// The sorted table, as gaps, and the indices into it.
    pub fn build(self) -> Wide {
        // (word, id) pairs sort without looking words up (they are
        // distinct, so the ids never decide).
        let mut order: Vec<(u64, u32)> = self.words.iter().copied().zip(0..).collect();
        order.sort_unstable();
        let mut rank = vec![0u16; order.len()];
        let mut gaps = Vec::with_capacity(order.len() * self.width);
        let mut prev = None;
        for (r, &(w, i)) in order.iter().enumerate() {
            rank[i as usize] = r as u16;
            let g = prev.map_or(w, |p: u64| w - p - 1);
            gaps.extend_from_slice(&g.to_le_bytes()[..self.width]);
            prev = Some(w);
        }
        let indices = self
            .ids
            .iter()
            .flat_map(|&i| rank[usize::from(i)].to_le_bytes())
            .collect();
        Wide {
            count: order.len(),
            gaps,
            indices,
        }
    }
}

/// Rebuilds the elements from a wide palette's gaps (`count` words of
/// `width` bytes) and u16 indices; `Err` names the rule that failed: a
/// value past the largest word, or an index outside the table.
pub fn apply_wide(
    gaps: &[u8],
    indices: &[u8],
    width: usize,
    out: &mut [u8],
) -> Result<(), &'static str> {
    if !matches!(width, 4 | 8)
        || !gaps.len().is_multiple_of(width)
        || out.len() != indices.len() / 2 * width
        || !indices.len().is_multiple_of(2)
    {
        return Err("palette sizes do not match");
    }
    let max = u64::MAX >> (64 - 8 * width as u32);
    let mut values = Vec::with_capacity(gaps.len() / width);
    let mut prev: Option<u64> = None;
    for i in 0..gaps.len() / width {
        let g = word_at(gaps, i, width);
        let v = match prev {
            None => g,
            Some(p) => p
                .checked_add(g)
                .and_then(|v| v.checked_add(1))
                .filter(|&v| v <= max)
                .ok_or("palette table passes the largest value")?,
        };
        values.push(v);
        prev = Some(v);
    }
    for (o, ix) in out.chunks_exact_mut(width).zip(indices.chunks_exact(2)) {
        let i = usize::from(u16::from_le_bytes([ix[0], ix[1]]));
        let v = values.get(i).ok_or("palette index out of range")?;
        o.copy_from_slice(&v.to_le_bytes()[..width]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let data: Vec<u8> = (0..1000u32)
            .flat_map(|i| ((i % 37) as f32 * -0.5).to_le_bytes())
            .collect();
        let (values, idx) = build(&data, 4).unwrap();
        assert_eq!(values.len(), 37 * 4);
        let mut out = vec![0u8; data.len()];
        apply(&values, &idx, 4, &mut out).unwrap();
        assert_eq!(out, data);
        let many: Vec<u8> = (0..300u16).flat_map(|i| i.to_le_bytes()).collect();
        assert!(build(&many, 2).is_none());
        assert!(
            apply(&values[..8], &idx, 4, &mut out).is_none(),
            "index out of table"
        );
    }

    #[test]
    fn narrow_table_is_sorted_by_rotated_bits_for_every_width() {
        for width in [2usize, 4, 8] {
            // 200 distinct values with both signs, some repeated, in a
            // scrambled order of first appearance.
            let words: Vec<u64> = (0..200u64)
                .map(|i| {
                    let v = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - 8 * width as u32 + 1);
                    if i % 3 == 0 {
                        v | 1 << (8 * width - 1)
                    } else {
                        v
                    }
                })
                .collect();
            let data: Vec<u8> = (0..5000usize)
                .flat_map(|i| words[(i * 7 + i / 13) % 200].to_le_bytes()[..width].to_vec())
                .collect();
            let (table, idx) = build(&data, width).unwrap();
            let bits = 8 * width as u32;
            let rot = |w: u64| ((w << 1) | (w >> (bits - 1))) & (u64::MAX >> (64 - bits));
            let mut want: Vec<u64> = words.clone();
            want.sort_unstable_by_key(|&w| rot(w));
            want.dedup();
            let got: Vec<u64> = table
                .chunks_exact(width)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b[..width].copy_from_slice(c);
                    u64::from_le_bytes(b)
                })
                .collect();
            assert_eq!(got, want, "width {width}");
            let mut out = vec![0u8; data.len()];
            apply(&table, &idx, width, &mut out).unwrap();
            assert_eq!(out, data, "width {width}");
            // One value more than a narrow palette holds.
            let over: Vec<u8> = (0..=256u64)
                .flat_map(|i| (i << 3).to_le_bytes()[..width].to_vec())
                .collect();
            assert!(build(&over, width).is_none(), "width {width}");
            assert!(
                build(&over[..256 * width], width).is_some(),
                "width {width}"
            );
        }
    }

    fn lowcard(n: usize, k: u32, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .flat_map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = ((x >> 33) as u32 % k) as f32 * 1.0e-4 - 0.7;
                v.to_le_bytes()
            })
            .collect()
    }

    #[test]
    fn wide_round_trip() {
        for k in [300u32, 5000, 65536] {
            let data = lowcard(200_000, k, u64::from(k));
            let a = wide_analysis(&data, 4).unwrap();
            assert!(a.index_bytes() > 0.0);
            let w = a.build();
            assert!(w.count > 256 && w.count <= k as usize);
            assert_eq!(w.gaps.len(), w.count * 4);
            let mut out = vec![0u8; data.len()];
            apply_wide(&w.gaps, &w.indices, 4, &mut out).unwrap();
            assert_eq!(out, data);
        }
        // fp64 words.
        let data: Vec<u8> = (0..100_000u64)
            .flat_map(|i| ((i * 7919 % 1000) as f64 * -0.25).to_le_bytes())
            .collect();
        let w = wide_analysis(&data, 8).unwrap().build();
        assert_eq!(w.count, 1000);
        let mut out = vec![0u8; data.len()];
        apply_wide(&w.gaps, &w.indices, 8, &mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn wide_limits() {
        // Too many values, too few, dense, wrong width.
        assert!(wide_analysis(&lowcard(300_000, 70_000, 1), 4).is_none());
        assert!(wide_analysis(&lowcard(10_000, 256, 2), 4).is_none());
        let dense: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i.wrapping_mul(2654435761)).to_le_bytes())
            .collect();
        assert!(!may_be_wide(&dense, 4));
        assert!(may_be_wide(&lowcard(100_000, 65536, 4), 4));
        assert!(!may_be_wide(&lowcard(10_000, 1000, 3), 2));
        assert!(wide_analysis(&lowcard(10_000, 1000, 3), 2).is_none());
        // Small chunks skip the sample: every element may be distinct.
        assert!(may_be_wide(&dense[..4000], 4));
        assert_eq!(
            wide_analysis(&dense[..4000], 4).unwrap().build().count,
            1000
        );
    }

    #[test]
    fn sample_and_entropy() {
        let data = lowcard(200_000, 1024, 5);
        let s = sample(&data, 4);
        assert_eq!(s.len(), 16 * (MIN_SAMPLE / 16) * 4);
        assert_eq!(&s[..64], &data[..64]);
        let h = entropy_bits(&s, 4).unwrap();
        assert!((h - 10.0).abs() < 0.05, "{h}");
        assert_eq!(sample(&data[..4000], 4).len(), 4000);
        assert!(entropy_bits(&lowcard(300_000, 1 << 20, 6), 4).is_none());
    }

    #[test]
    fn wide_decoder_checks_its_table_and_indices() {
        let mut out = vec![0u8; 8];
        let gaps = [0u8, 0, 0, 0, 5, 0, 0, 0];
        apply_wide(&gaps, &[0, 0, 1, 0], 4, &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 0, 6, 0, 0, 0]);
        assert!(apply_wide(&gaps, &[0, 0, 2, 0], 4, &mut out).is_err());
        let over = [0xFFu8, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0];
        assert!(apply_wide(&over, &[0, 0, 1, 0], 4, &mut out).is_err());
        assert!(apply_wide(&gaps, &[0, 0, 1], 4, &mut out).is_err());
        let big = [0xFFu8; 16];
        let mut out8 = vec![0u8; 8];
        assert!(apply_wide(&big, &[1, 0], 8, &mut out8).is_err());
    }
}
