//! Entropy models: frequency normalisation, context models, their compact
//! serialisation, and cost estimates used to choose a method.
//!
//! A model is a [`z4ai_simd::RansTables`]: up to 256 frequency tables plus a
//! context map. Order-0 models have one table. Context models (order-1, or
//! a mantissa plane conditioned on the exponent plane) give a context its
//! own table only when the bits it saves exceed the bytes its table costs;
//! every other context shares a fallback table built from their merged
//! counts.

mod model;
mod normalize;

pub use model::{
    build_context_model, build_order0_model, dense_rows, model_cost_bits, parse_model, row_met,
    serialize_model, CostTable,
};
pub use normalize::normalize;

/// Shannon entropy in bits of a histogram (total bits, not per symbol).
pub fn entropy_bits(counts: &[u32]) -> f64 {
    entropy_and_seen(counts).0
}

/// [`entropy_bits`] of a histogram and the number of its symbols with a
/// non-zero count, in one pass: `t log2 t - sum(c log2 c)` over the
/// counts `c` summing to `t`, with `c log2 c` tabulated for small counts
/// (a `log2` per count was 7-8% of a checkpoint delta's compression).
pub fn entropy_and_seen(counts: &[u32]) -> (f64, usize) {
    let table = nlog2n_table();
    let (mut total, mut seen) = (0u64, 0usize);
    let mut term = |c: u32| {
        total += u64::from(c);
        seen += usize::from(c > 0);
        match table.get(c as usize) {
            Some(&v) => v,
            None => nlog2n(f64::from(c)),
        }
    };
    // Four sums (count `i` into sum `i % 4`), so that the adds do not wait
    // on each other; no branch on zero counts (`table[0]` is 0), which are
    // unpredictable in sparse rows. Four locals, not an array: an array
    // was kept in memory, each add waiting on the last one's store.
    let (mut s0, mut s1, mut s2, mut s3) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let quads = counts.chunks_exact(4);
    let rest = quads.remainder();
    for q in quads {
        s0 += term(q[0]);
        s1 += term(q[1]);
        s2 += term(q[2]);
        s3 += term(q[3]);
    }
    for (sum, &c) in [&mut s0, &mut s1, &mut s2].into_iter().zip(rest) {
        *sum += term(c);
    }
    let sum = (s0 + s1) + (s2 + s3);
    (nlog2n(total as f64) - sum, seen)
}

/// `x log2 x` (0 for 0).
fn nlog2n(x: f64) -> f64 {
    if x > 0.0 {
        x * x.log2()
    } else {
        0.0
    }
}

/// [`nlog2n`] of the counts below 4096 (32 KiB).
fn nlog2n_table() -> &'static [f64] {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| (0..4096u32).map(|c| nlog2n(f64::from(c))).collect())
}

/// The Miller-Madow bias of an empirical entropy, in bits: a sample whose
/// distributions saw `seen` symbols in all over `rows` distributions reads
/// low by about `(seen - rows) / (2 ln 2)` bits (a few thousand draws of a
/// byte up to 0.1 bit per draw).
pub fn miller_madow_bits(seen: usize, rows: usize) -> f64 {
    seen.saturating_sub(rows) as f64 / (2.0 * std::f64::consts::LN_2)
}
