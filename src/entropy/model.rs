//! Building, serialising and pricing rANS models.
//!
//! Serialised model (see `docs/FORMAT.md`, "Model"):
//!
//! ```text
//! u8      bits 0-3: scale_bits (8..=15); bit 4: context map follows; bits 5-7: 0
//! [32]    only with a context map: bitmap, bit c (byte c/8, bit c%8) set when
//!         context c has its own table; own tables are numbered 1.. in context
//!         order, every other context uses table 0
//! tables  1 + popcount(bitmap) frequency tables, each covering symbols
//!         0..=255 as varints: a frequency f; when f == 0 it is followed by
//!         a varint count of further zero-frequency symbols (a run)
//! ```

use z4ai_simd::RansTables;

use super::{entropy_and_seen, normalize};
use crate::error::{Error, Result};
use crate::format::{put_varint, ByteSink, Reader};

/// An order-0 model from a histogram.
pub fn build_order0_model(counts: &[u32; 256], bits: u32) -> RansTables {
    RansTables::new(bits, [0; 256], vec![normalize(counts, bits)])
        .expect("normalised table is valid")
}

/// A context model from the rows of a context histogram that have counts:
/// `(context, counts by symbol)`, contexts ascending (rows left out count
/// nothing; see [`dense_rows`] for a dense 256x256 table). The work is
/// proportional to the rows given, not to all 256.
///
/// A context gets its own table when the bits saved over the shared fallback
/// exceed the bytes its table costs; the fallback table covers every symbol
/// of the histogram, so any context can code any symbol seen. With
/// `order1`, context 0 always uses the fallback: it also codes the first
/// symbol of every order-1 segment, which the histogram does not see.
pub fn build_context_model<'a>(
    rows: impl IntoIterator<Item = (usize, &'a [u32; 256])>,
    bits: u32,
    order1: bool,
) -> RansTables {
    let rows: Vec<(usize, &[u32; 256], u64)> = rows
        .into_iter()
        .map(|(c, row)| (c, row, row.iter().map(|&n| u64::from(n)).sum()))
        .collect();
    debug_assert!(rows.windows(2).all(|w| w[0].0 < w[1].0), "contexts ascend");
    let mut all = [0u32; 256];
    for (_, row, _) in &rows {
        for (a, &n) in all.iter_mut().zip(row.iter()) {
            *a = a.saturating_add(n);
        }
    }
    let fallback_all = normalize(&all, bits);
    let fb_cost = costs(&fallback_all, bits);
    // By falling totals; the sort is stable, so ties keep context order.
    let mut order: Vec<&(usize, &[u32; 256], u64)> = rows
        .iter()
        .filter(|&&(c, _, total)| total > 0 && !(order1 && c == 0))
        .collect();
    order.sort_by_key(|&&(_, _, total)| std::cmp::Reverse(total));
    let mut own: Vec<(usize, [u16; 256])> = Vec::new();
    let mut scratch = Vec::new();
    for &&(c, h, _) in &order {
        if own.len() == 255 || (own.len() + 2) << bits > z4ai_simd::rans::MAX_SLOTS {
            break;
        }
        // No table codes the row below its entropy, and an own table takes
        // at least a byte per symbol present: where that already outweighs
        // the saving, the table is not worth normalising (most rows of a
        // small tensor). The margin covers the `f32` code lengths.
        let with_fb = dot(h, &fb_cost);
        let (entropy, seen) = entropy_and_seen(h);
        if with_fb - entropy < 8.0 * seen as f64 - (1.0 + with_fb * 1e-5) {
            continue;
        }
        let f = normalize(h, bits);
        let with_own = dot(h, &costs(&f, bits));
        scratch.clear();
        write_table(&f, &mut scratch);
        if with_fb - with_own > 8.0 * scratch.len() as f64 {
            own.push((c, f));
        }
    }
    own.sort_by_key(|&(c, _)| c);
    // Fallback: merged counts of the remaining contexts, plus one for every
    // symbol seen anywhere so that no context can meet a missing symbol.
    let mut merged = [0u32; 256];
    for &(c, row, _) in &rows {
        if own.iter().all(|&(o, _)| o != c) {
            for (m, &n) in merged.iter_mut().zip(row) {
                *m = m.saturating_add(n);
            }
        }
    }
    for s in 0..256 {
        if all[s] > 0 && merged[s] == 0 {
            merged[s] = 1;
        }
    }
    let mut map = [0u8; 256];
    let mut tables = vec![normalize(&merged, bits)];
    for (i, (c, f)) in own.into_iter().enumerate() {
        map[c] = (i + 1) as u8;
        tables.push(f);
    }
    RansTables::new(bits, map, tables).expect("normalised tables are valid")
}

/// The rows of a dense context histogram (`counts[ctx * 256 + sym]`, 65536
/// counts) that have a count ([`row_met`]), ascending: `(context, counts
/// by symbol)`.
pub fn dense_rows(counts: &[u32]) -> Vec<(usize, &[u32; 256])> {
    counts
        .chunks_exact(256)
        .enumerate()
        .filter(|(_, row)| row_met(row))
        .map(|(c, row)| (c, row.try_into().expect("rows are 256 counts")))
        .collect()
}

/// Whether a row of counts has any. An or-fold rather than `any`: the fold
/// compiles to vector ors over the whole row, where the early-exit `any`
/// compared one count at a time through a (mostly all-zero) 65 536-count
/// table — about 18 us per table against 6.5 us (1 MiB bf16 plane, this
/// machine).
pub fn row_met(row: &[u32]) -> bool {
    row.iter().fold(0, |acc, &n| acc | n) != 0
}

/// Appends the serialised form of `t` to `out`.
pub fn serialize_model(t: &RansTables, out: &mut (impl ByteSink + ?Sized)) {
    let has_map = t.table_count() > 1;
    out.push(t.scale_bits() as u8 | if has_map { 0x10 } else { 0 });
    if has_map {
        let mut bitmap = [0u8; 32];
        for (c, &tbl) in t.ctx_map().iter().enumerate() {
            if tbl != 0 {
                bitmap[c / 8] |= 1 << (c % 8);
            }
        }
        out.extend_from_slice(&bitmap);
    }
    for i in 0..t.table_count() {
        write_table(t.freqs(i), out);
    }
}

/// Parses a serialised model, validating every field.
pub fn parse_model(r: &mut Reader<'_>) -> Result<RansTables> {
    let head = r.u8("model header")?;
    let bits = u32::from(head & 0x0F);
    if head & 0xE0 != 0 || !(8..=15).contains(&bits) {
        return Err(Error::corrupt(format!("bad model header byte {head:#04x}")));
    }
    let mut map = [0u8; 256];
    let mut n_tables = 1usize;
    if head & 0x10 != 0 {
        let bitmap = r.bytes(32, "model context map")?;
        for c in 0..256 {
            if bitmap[c / 8] >> (c % 8) & 1 == 1 {
                if n_tables == 256 {
                    return Err(Error::corrupt("context map names more than 255 own tables"));
                }
                map[c] = n_tables as u8;
                n_tables += 1;
            }
        }
        if n_tables == 1 {
            return Err(Error::corrupt("context map present but empty"));
        }
    }
    if n_tables << bits > z4ai_simd::rans::MAX_SLOTS {
        return Err(Error::corrupt("model tables exceed the decode-table bound"));
    }
    let mut tables = Vec::with_capacity(n_tables);
    for _ in 0..n_tables {
        tables.push(read_table(r, bits)?);
    }
    RansTables::new(bits, map, tables).map_err(|e| Error::corrupt(format!("model: {e}")))
}

fn write_table(f: &[u16; 256], out: &mut (impl ByteSink + ?Sized)) {
    let mut s = 0;
    while s < 256 {
        put_varint(out, u64::from(f[s]));
        if f[s] == 0 {
            let run = f[s + 1..].iter().take_while(|&&x| x == 0).count();
            put_varint(out, run as u64);
            s += run;
        }
        s += 1;
    }
}

fn read_table(r: &mut Reader<'_>, bits: u32) -> Result<[u16; 256]> {
    let mut f = [0u16; 256];
    let mut s = 0usize;
    let mut sum = 0u32;
    while s < 256 {
        let v = r.varint("model frequency")?;
        if v > 1 << bits {
            return Err(Error::corrupt("model frequency above the scale"));
        }
        f[s] = v as u16;
        sum += v;
        if v == 0 {
            let run = r.varint("model zero run")? as usize;
            if s + run >= 256 {
                return Err(Error::corrupt("model zero run past symbol 255"));
            }
            s += run;
        }
        s += 1;
    }
    if sum != 1 << bits {
        return Err(Error::corrupt("model frequencies do not sum to the scale"));
    }
    Ok(f)
}

fn costs(f: &[u16; 256], bits: u32) -> [f32; 256] {
    let logs = freq_logs();
    std::array::from_fn(|s| {
        if f[s] == 0 {
            f32::INFINITY
        } else {
            let l = match logs.get(usize::from(f[s])) {
                Some(&l) => l,
                None => f32::from(f[s]).log2(),
            };
            bits as f32 - l
        }
    })
}

/// `log2(f)` in `f32` for every frequency of a 12-bit model, tabulated
/// (the same numbers `costs` computes above the table).
fn freq_logs() -> &'static [f32] {
    static LOGS: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| (0..=4096u16).map(|f| f32::from(f).log2()).collect())
}

/// Per-symbol code lengths of a model, for pricing a chunk's histogram.
pub struct CostTable {
    map: [u8; 256],
    bits: Vec<[f32; 256]>,
}

impl CostTable {
    /// Code lengths of every table of `t`.
    pub fn new(t: &RansTables) -> CostTable {
        CostTable {
            map: *t.ctx_map(),
            bits: (0..t.table_count())
                .map(|i| costs(t.freqs(i), t.scale_bits()))
                .collect(),
        }
    }

    /// Bits to code an order-0 histogram with this model under context 0;
    /// infinite when a symbol is missing from the table.
    pub fn order0(&self, counts: &[u32; 256]) -> f64 {
        dot(counts, &self.bits[usize::from(self.map[0])])
    }

    /// Bits to code the rows `(context, counts by symbol)` of a context
    /// histogram; contexts not given count nothing.
    pub fn context_rows<'a>(&self, rows: impl IntoIterator<Item = (usize, &'a [u32; 256])>) -> f64 {
        rows.into_iter()
            .map(|(c, row)| dot(row, &self.bits[usize::from(self.map[c])]))
            .sum()
    }
}

/// `sum(counts[s] * bits[s])` over the symbols with a count (a missing
/// symbol's infinite length times a zero count would be NaN): eight sums,
/// symbol `s` into sum `s % 8`, with the zero counts selected away rather
/// than branched over, so that the loop is vector code without a chain of
/// dependent adds (a branch and one sum, inlined into the model builder,
/// took a fifth of compressing an archive of small tensors).
fn dot(counts: &[u32; 256], bits: &[f32; 256]) -> f64 {
    let mut acc = [0.0f64; 8];
    for (c8, b8) in counts.chunks_exact(8).zip(bits.chunks_exact(8)) {
        for k in 0..8 {
            let term = f64::from(c8[k]) * f64::from(b8[k]);
            acc[k] += if c8[k] != 0 { term } else { 0.0 };
        }
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// Bits to code `counts` (order-0) with its own normalised table, plus the
/// serialised table's size: the price of an inline order-0 model.
pub fn model_cost_bits(counts: &[u32; 256], bits: u32) -> (f64, RansTables) {
    let t = build_order0_model(counts, bits);
    let mut buf = Vec::new();
    serialize_model(&t, &mut buf);
    (
        CostTable::new(&t).order0(counts) + 8.0 * buf.len() as f64,
        t,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(t: &RansTables) {
        let mut buf = Vec::new();
        serialize_model(t, &mut buf);
        let mut r = Reader::new(&buf);
        let back = parse_model(&mut r).unwrap();
        assert_eq!(r.remaining(), 0);
        assert_eq!(back.ctx_map(), t.ctx_map());
        for i in 0..t.table_count() {
            assert_eq!(back.freqs(i), t.freqs(i));
        }
        // Every truncation is an error, never a panic.
        for cut in 0..buf.len() {
            assert!(parse_model(&mut Reader::new(&buf[..cut])).is_err());
        }
    }

    #[test]
    fn order0_and_context_models_round_trip() {
        let counts: [u32; 256] =
            std::array::from_fn(|i| if i % 3 == 0 { i as u32 * 10 } else { 0 });
        round_trip(&build_order0_model(&counts, 12));
        let mut ctx = vec![0u32; 65536];
        for c in 0..40usize {
            for s in 0..256usize {
                ctx[c * 256 + s] = ((s * 7 + c * 13) % (c + 3)) as u32 * (1000 / (c as u32 + 1));
            }
        }
        let t = build_context_model(dense_rows(&ctx), 12, true);
        assert!(t.table_count() > 1);
        round_trip(&t);
        let cost = CostTable::new(&t).context_rows(dense_rows(&ctx));
        assert!(cost.is_finite());
    }

    #[test]
    fn rejects_bad_models() {
        for bad in [&[0x07u8][..], &[0x2C], &[0x1C], &[0x0C, 0x00, 0xFF, 0x01]] {
            assert!(parse_model(&mut Reader::new(bad)).is_err(), "{bad:?}");
        }
    }
}
