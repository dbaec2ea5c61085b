//! Histograms of a chunk's byte planes, counted once per chunk: summed into
//! the block's shared models and reused to price each plane's candidate
//! codes.
//!
//! Context counts are 256 x 256 tables while they are counted, but only the
//! rows of contexts that occur are kept (an exponent plane has a few dozen
//! values), so a block's worth of chunk histograms stays small and no
//! 256 KiB table is allocated and zeroed per plane and chunk. The order-0
//! counts of a plane with context counts are their row sums, not a second
//! pass over the plane.

use std::cell::RefCell;

use z4ai_simd::Kernels;

use crate::chunk::CtxKind;

/// Planes (besides plane 0) that get a plane-0-conditioned model.
pub const CX_PLANES: std::ops::Range<usize> = 1..8;

/// Entries of a dense context table (`counts[ctx * 256 + sym]`).
const DENSE_LEN: usize = 256 * 256;

std::thread_local! {
    /// An all-zero dense table per thread, lent to [`CtxHist::count`].
    static DENSE: RefCell<Vec<u32>> = RefCell::new(vec![0; DENSE_LEN]);
}

/// Context counts of one plane, keeping only the contexts that occur.
#[derive(Clone)]
pub struct CtxHist {
    /// Contexts that occur, ascending.
    ctxs: Vec<u8>,
    /// `counts[i * 256 + sym]`: how often `sym` follows context `ctxs[i]`.
    counts: Vec<u32>,
}

impl CtxHist {
    /// Counts `plane` under the matching bytes of `ctx` (a plane-0 context),
    /// or, when `ctx` is `None`, under the previous symbol of `plane`
    /// (order-1: the first symbol under context 0).
    ///
    /// Panics if `ctx` is not as long as `plane`.
    pub fn count(plane: &[u8], ctx: Option<&[u8]>, k: &Kernels) -> CtxHist {
        DENSE.with(|d| {
            let mut dense = d.borrow_mut();
            match ctx {
                Some(c) => k.hist_context(plane, c, &mut dense),
                None => k.hist_order1(plane, &mut dense),
            }
            CtxHist::take_rows(&mut dense)
        })
    }

    /// Moves the non-zero rows of `dense` out, leaving it all zero.
    ///
    /// A row is tested with an or-fold rather than `any`: the fold compiles
    /// to vector ors over the whole row, where the early-exit `any` compared
    /// one count at a time through the (mostly all-zero) 65 536 entries —
    /// about 18 us per table against 6.5 us (1 MiB bf16 plane, this machine).
    fn take_rows(dense: &mut [u32]) -> CtxHist {
        let mut h = CtxHist {
            ctxs: Vec::new(),
            counts: Vec::new(),
        };
        for (c, row) in dense.chunks_exact_mut(256).enumerate() {
            if row.iter().fold(0, |acc, &n| acc | n) != 0 {
                h.ctxs.push(c as u8);
                h.counts.extend_from_slice(row);
                row.fill(0);
            }
        }
        h
    }

    /// The rows that occur: `(context, counts by symbol)`.
    pub fn rows(&self) -> impl Iterator<Item = (usize, &[u32; 256])> {
        self.ctxs
            .iter()
            .zip(self.counts.chunks_exact(256))
            .map(|(&c, row)| {
                let row: &[u32; 256] = row.try_into().expect("rows are 256 counts");
                (usize::from(c), row)
            })
    }

    /// Order-0 counts: the sum of all rows.
    pub fn order0(&self) -> [u32; 256] {
        let mut o0 = [0u32; 256];
        for (_, row) in self.rows() {
            o0.iter_mut().zip(row).for_each(|(a, b)| *a += b);
        }
        o0
    }

    /// Adds the counts to a dense table (`dense[ctx * 256 + sym]`).
    pub fn add_to(&self, dense: &mut [u32]) {
        for (c, row) in self.rows() {
            let d = &mut dense[c * 256..c * 256 + 256];
            d.iter_mut().zip(row).for_each(|(a, b)| *a += b);
        }
    }

    /// The dense 65 536-entry table.
    pub fn to_dense(&self) -> Vec<u32> {
        let mut d = vec![0; DENSE_LEN];
        self.add_to(&mut d);
        d
    }
}

/// Histograms of one chunk's planes.
pub struct ChunkHists {
    /// Order-0 counts per plane.
    pub o0: Vec<[u32; 256]>,
    /// Context counts: plane 0 order-1 first, then each plane of
    /// [`CX_PLANES`] (below the width) conditioned on plane 0.
    pub ctx: Vec<CtxHist>,
}

impl ChunkHists {
    /// The histograms of split `planes`.
    pub fn of(planes: &[u8], width: usize, k: &Kernels) -> ChunkHists {
        let n = planes.len() / width;
        let plane = |p: usize| &planes[p * n..(p + 1) * n];
        let mut ctx = vec![CtxHist::count(plane(0), None, k)];
        let mut o0 = vec![ctx[0].order0()];
        for p in 1..width {
            if CX_PLANES.contains(&p) {
                let h = CtxHist::count(plane(p), Some(plane(0)), k);
                o0.push(h.order0());
                ctx.push(h);
            } else {
                let mut c = [0; 256];
                k.hist_order0(plane(p), &mut c);
                o0.push(c);
            }
        }
        ChunkHists { o0, ctx }
    }

    /// The context counts of plane `p` under `kind`, if counted.
    pub fn context(&self, p: usize, kind: CtxKind) -> Option<&CtxHist> {
        match kind {
            CtxKind::Order1 if p == 0 => self.ctx.first(),
            CtxKind::Plane0 if CX_PLANES.contains(&p) => self.ctx.get(p),
            _ => None,
        }
    }
}

/// Dense sums of chunk histograms: the counts a block's shared models are
/// built from.
pub struct HistSum {
    /// Order-0 counts per plane.
    pub o0: Vec<[u32; 256]>,
    /// Dense context tables, laid out as [`ChunkHists::ctx`].
    pub ctx: Vec<Vec<u32>>,
}

impl HistSum {
    /// All-zero sums for `width` planes.
    pub fn new(width: usize) -> HistSum {
        let n_ctx = 1 + CX_PLANES.filter(|&p| p < width).count();
        HistSum {
            o0: vec![[0; 256]; width],
            ctx: vec![vec![0; DENSE_LEN]; n_ctx],
        }
    }

    /// Adds one chunk's counts.
    pub fn add(&mut self, h: &ChunkHists) {
        for (a, b) in self.o0.iter_mut().zip(&h.o0) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        for (a, b) in self.ctx.iter_mut().zip(&h.ctx) {
            b.add_to(a);
        }
    }

    /// Adds another sum.
    pub fn merge(&mut self, other: &HistSum) {
        for (a, b) in self.o0.iter_mut().zip(&other.o0) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        for (a, b) in self.ctx.iter_mut().zip(&other.ctx) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernels() -> Kernels {
        Kernels::for_isa(z4ai_simd::Isa::Scalar).unwrap()
    }

    #[test]
    fn sparse_rows_match_dense_counts() {
        let plane: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 13) as u8).collect();
        let ctx: Vec<u8> = (0..5000u32).map(|i| (100 + i % 5) as u8).collect();
        let k = kernels();
        for c in [None, Some(&ctx[..])] {
            let mut want = vec![0u32; DENSE_LEN];
            match c {
                Some(c) => k.hist_context(&plane, c, &mut want),
                None => k.hist_order1(&plane, &mut want),
            }
            let h = CtxHist::count(&plane, c, &k);
            assert_eq!(h.to_dense(), want);
            let mut o0 = [0u32; 256];
            k.hist_order0(&plane, &mut o0);
            assert_eq!(h.order0(), o0);
            // The lent table is left zeroed for the next count.
            DENSE.with(|d| assert!(d.borrow().iter().all(|&n| n == 0)));
        }
    }
}
