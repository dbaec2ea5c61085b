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
    build_context_model, build_order0_model, model_cost_bits, parse_model, serialize_model,
    CostTable,
};
pub use normalize::normalize;

/// Shannon entropy in bits of a histogram (total bits, not per symbol).
pub fn entropy_bits(counts: &[u32]) -> f64 {
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    if total == 0 {
        return 0.0;
    }
    let t = total as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let c = f64::from(c);
            c * (t / c).log2()
        })
        .sum()
}
