//! Scalar reference histograms: the specification.
//!
//! Four sub-tables break the store-to-load dependency when neighbouring bytes
//! are equal (a plane of constant exponents would otherwise serialise on one
//! counter).

use super::CTX_TABLE_LEN;

/// Adds the order-0 counts of `data` to `counts`.
pub fn order0(data: &[u8], counts: &mut [u32; 256]) {
    let mut sub = [[0u32; 256]; 4];
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        sub[0][q[0] as usize] += 1;
        sub[1][q[1] as usize] += 1;
        sub[2][q[2] as usize] += 1;
        sub[3][q[3] as usize] += 1;
    }
    for &b in quads.remainder() {
        sub[0][b as usize] += 1;
    }
    for (s, c) in counts.iter_mut().enumerate() {
        *c += sub[0][s] + sub[1][s] + sub[2][s] + sub[3][s];
    }
}

/// Adds `counts[ctx[i] * 256 + data[i]] += 1` for every `i`.
///
/// Panics if `data` and `ctx` differ in length or `counts` is not
/// [`CTX_TABLE_LEN`] long.
pub fn context(data: &[u8], ctx: &[u8], counts: &mut [u32]) {
    assert_eq!(data.len(), ctx.len(), "data and context lengths differ");
    assert_eq!(
        counts.len(),
        CTX_TABLE_LEN,
        "context table must hold 65536 counts"
    );
    for (&d, &c) in data.iter().zip(ctx) {
        counts[(c as usize) << 8 | d as usize] += 1;
    }
}
