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

use crate::chunk::{self, CtxKind, DEFAULT_MIN_SAVING, DEFAULT_ORDER1_PENALTY};
use crate::entropy::{self, entropy_bits};

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

    /// No counts.
    pub fn empty() -> CtxHist {
        CtxHist {
            ctxs: Vec::new(),
            counts: Vec::new(),
        }
    }

    /// Moves the non-zero rows of `dense` out ([`entropy::row_met`]),
    /// leaving it all zero (each row cleared while it is in cache).
    fn take_rows(dense: &mut [u32]) -> CtxHist {
        let mut h = CtxHist::empty();
        for (c, row) in dense.chunks_exact_mut(256).enumerate() {
            if entropy::row_met(row) {
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

    /// The counts of the rows that occur, one row after another in
    /// context order.
    pub fn counts(&self) -> &[u32] {
        &self.counts
    }

    /// Order-0 counts: the sum of all rows.
    pub fn order0(&self) -> [u32; 256] {
        let mut o0 = [0u32; 256];
        for (_, row) in self.rows() {
            o0.iter_mut().zip(row).for_each(|(a, b)| *a += b);
        }
        o0
    }

    /// How often each context occurs: the total of its row.
    pub fn row_totals(&self) -> [u32; 256] {
        let mut t = [0u32; 256];
        for (c, row) in self.rows() {
            t[c] = row.iter().sum();
        }
        t
    }
}

/// What [`ChunkHists::of`] counts whole, and what it judges or estimates
/// from samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counting {
    /// Every plane whole (`max`).
    Whole,
    /// `default`: a sample of each plane decides whether it is counted;
    /// plane 0's order-0 counts are exact.
    Sampled,
    /// As [`Counting::Sampled`], and plane 0's order-0 counts, where no
    /// other plane's rows give them, are estimated from a sample as `fast`
    /// estimates them (`default` in a block of several chunks, whose shared
    /// model sums them: frames within 0.012% on the corpus, and a pass
    /// over the plane saved).
    SampledOrder0,
}

/// Histograms of one chunk's planes.
pub struct ChunkHists {
    /// Order-0 counts per plane.
    pub o0: Vec<[u32; 256]>,
    /// Context counts: plane 0 order-1 first (empty unless `order1`), then
    /// each plane of [`CX_PLANES`] (below the width) conditioned on plane 0.
    pub ctx: Vec<CtxHist>,
    /// Whether plane 0's order-1 counts were taken.
    pub order1: bool,
    /// Per plane, whether it was counted; a plane that was not has all-zero
    /// counts (an empty context table) and is stored, not entropy coded.
    pub counted: Vec<bool>,
}

/// At `default` a plane is first counted on [`SAMPLE_BLOCKS`] blocks of
/// this many bytes, spread over the plane, when it holds at least
/// [`SAMPLE_MIN`] bytes ([`order1_may_pay`], [`plane_may_pay`]).
const SAMPLE_BLOCK: usize = 4 << 10;
/// See [`SAMPLE_BLOCK`].
const SAMPLE_BLOCKS: usize = 8;
/// See [`SAMPLE_BLOCK`].
const SAMPLE_MIN: usize = 64 << 10;

impl ChunkHists {
    /// The histograms of split `planes`. Unless `counting` is
    /// [`Counting::Whole`], a sample of each plane decides what is counted:
    /// plane 0 order-1 only where order-1 may save `default`'s margin
    /// ([`order1_may_pay`]), and a later plane only where coding may save
    /// `default`'s minimum ([`plane_may_pay`]); a plane that is not is left
    /// uncounted (`counted`). Plane 0's order-0 counts are then the row
    /// totals of the first counted plane's counts under it (counted
    /// directly, or with [`Counting::SampledOrder0`] estimated, where there
    /// is none).
    pub fn of(planes: &[u8], width: usize, counting: Counting, k: &Kernels) -> ChunkHists {
        let sample = counting != Counting::Whole;
        let n = planes.len() / width;
        let plane = |p: usize| &planes[p * n..(p + 1) * n];
        let order1 = !sample || order1_may_pay(plane(0), k);
        let mut ctx = vec![if order1 {
            CtxHist::count(plane(0), None, k)
        } else {
            CtxHist::empty()
        }];
        let mut o0 = vec![ctx[0].order0()];
        let mut counted = vec![true];
        for p in 1..width {
            let count = !sample || plane_may_pay(plane(p), plane(0), k);
            counted.push(count);
            let mut c = [0; 256];
            if CX_PLANES.contains(&p) {
                let h = if count {
                    CtxHist::count(plane(p), Some(plane(0)), k)
                } else {
                    CtxHist::empty()
                };
                c = h.order0();
                ctx.push(h);
            } else if count {
                k.hist_order0(plane(p), &mut c);
            }
            o0.push(c);
        }
        if !order1 {
            // Plane 0's counts are the row totals of a plane counted under
            // it (no pass of their own), or counted directly without one.
            match ctx[1..].iter().find(|h| !h.ctxs.is_empty()) {
                Some(h) => o0[0] = h.row_totals(),
                None if counting == Counting::SampledOrder0 => {
                    o0[0] = chunk::sampled_order0(plane(0), k);
                }
                None => k.hist_order0(plane(0), &mut o0[0]),
            }
        }
        ChunkHists {
            o0,
            ctx,
            order1,
            counted,
        }
    }

    /// The context counts of plane `p` under `kind`, if counted.
    pub fn context(&self, p: usize, kind: CtxKind) -> Option<&CtxHist> {
        match kind {
            CtxKind::Order1 if p == 0 && self.order1 => self.ctx.first(),
            CtxKind::Plane0 if CX_PLANES.contains(&p) && self.counted[p] => self.ctx.get(p),
            _ => None,
        }
    }
}

/// Whether order-1 may code `plane` in less than order-0 would with
/// `default`'s margin ([`DEFAULT_ORDER1_PENALTY`]), judged by the empirical
/// entropies of a sample of it (pairs within each sample block). The
/// sample's order-1 entropy is biased low (each context's counts fit the
/// sample), so a plane the test turns down would not have chosen order-1
/// when counted whole. Planes under [`SAMPLE_MIN`] bytes: true.
pub fn order1_may_pay(plane: &[u8], k: &Kernels) -> bool {
    if plane.len() < SAMPLE_MIN {
        return true;
    }
    let h = sample_counts(plane, None, k);
    let order0 = entropy_bits(&h.order0());
    let order1: f64 = h.rows().map(|(_, row)| entropy_bits(row)).sum();
    order1 * DEFAULT_ORDER1_PENALTY < order0
}

/// Whether entropy coding `plane` (a plane after plane 0) may save
/// `default`'s minimum ([`DEFAULT_MIN_SAVING`]), judged on a sample of it:
/// the better of its order-0 entropy and its entropy under `ctx` (plane 0),
/// each with the Miller-Madow correction (`(K - 1) / (2 ln 2)` bits per
/// distribution of `K` symbols seen: a few thousand draws of a byte make
/// an empirical entropy read up to 0.1 bit low), must save half of it
/// (margin for the sample's error). Planes under [`SAMPLE_MIN`]
/// bytes: true.
pub fn plane_may_pay(plane: &[u8], ctx: &[u8], k: &Kernels) -> bool {
    if plane.len() < SAMPLE_MIN {
        return true;
    }
    let h = sample_counts(plane, Some(ctx), k);
    let corrected = |row: &[u32]| {
        let (bits, seen) = entropy::entropy_and_seen(row);
        bits + entropy::miller_madow_bits(seen, 1)
    };
    let order0 = corrected(&h.order0());
    let under_ctx: f64 = h.rows().map(|(_, row)| corrected(row)).sum();
    let raw = 8.0 * (SAMPLE_BLOCKS * SAMPLE_BLOCK) as f64;
    order0.min(under_ctx) < raw * (1.0 - DEFAULT_MIN_SAVING / 2.0)
}

/// Context counts of the [`SAMPLE_BLOCKS`] sample blocks of `plane` (at
/// least [`SAMPLE_MIN`] bytes): under the matching bytes of `ctx`, or,
/// without one, order-1 within each block.
fn sample_counts(plane: &[u8], ctx: Option<&[u8]>, k: &Kernels) -> CtxHist {
    let step = plane.len() / SAMPLE_BLOCKS;
    DENSE.with(|d| {
        let mut dense = d.borrow_mut();
        for b in 0..SAMPLE_BLOCKS {
            let r = b * step..b * step + SAMPLE_BLOCK;
            match ctx {
                Some(c) => k.hist_context(&plane[r.clone()], &c[r], &mut dense),
                None => {
                    let s = &plane[r];
                    k.hist_context(&s[1..], &s[..s.len() - 1], &mut dense)
                }
            }
        }
        CtxHist::take_rows(&mut dense)
    })
}

/// Sums of chunk histograms: the counts a block's shared models are built
/// from. Context counts keep only the rows some chunk met (a small tensor
/// meets a few of the 256 contexts; dense tables were a tenth of
/// compressing an archive of small tensors, mostly in page faults).
pub struct HistSum {
    /// Order-0 counts per plane.
    pub o0: Vec<[u32; 256]>,
    /// Context counts, laid out as [`ChunkHists::ctx`].
    ctx: Vec<RowSum>,
}

/// The rows of one context table that chunks met.
#[derive(Clone)]
struct RowSum {
    /// `at[c]`: where context `c`'s row is in `rows`, if it was met.
    at: [Option<u8>; 256],
    rows: Vec<[u32; 256]>,
}

impl RowSum {
    fn new() -> RowSum {
        RowSum {
            at: [None; 256],
            rows: Vec::new(),
        }
    }

    /// Adds `row` to context `c`'s row.
    fn add(&mut self, c: usize, row: &[u32; 256]) {
        match self.at[c] {
            Some(i) => self.rows[usize::from(i)]
                .iter_mut()
                .zip(row)
                .for_each(|(a, b)| *a += b),
            None => {
                self.at[c] = Some(self.rows.len() as u8);
                self.rows.push(*row);
            }
        }
    }
}

impl HistSum {
    /// All-zero sums for `width` planes.
    pub fn new(width: usize) -> HistSum {
        let n_ctx = 1 + CX_PLANES.filter(|&p| p < width).count();
        HistSum {
            o0: vec![[0; 256]; width],
            ctx: vec![RowSum::new(); n_ctx],
        }
    }

    /// Adds one chunk's counts.
    pub fn add(&mut self, h: &ChunkHists) {
        for (a, b) in self.o0.iter_mut().zip(&h.o0) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        for (a, b) in self.ctx.iter_mut().zip(&h.ctx) {
            for (c, row) in b.rows() {
                a.add(c, row);
            }
        }
    }

    /// Adds another sum.
    pub fn merge(&mut self, other: &HistSum) {
        for (a, b) in self.o0.iter_mut().zip(&other.o0) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        for (i, a) in self.ctx.iter_mut().enumerate() {
            for (c, row) in other.rows(i) {
                a.add(c, row);
            }
        }
    }

    /// The rows of context table `i` that chunks met, ascending:
    /// `(context, counts by symbol)`.
    pub fn rows(&self, i: usize) -> impl Iterator<Item = (usize, &[u32; 256])> + Clone {
        let sum = &self.ctx[i];
        sum.at
            .iter()
            .enumerate()
            .filter_map(move |(c, at)| at.map(|i| (c, &sum.rows[usize::from(i)])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernels() -> Kernels {
        Kernels::for_isa(z4ai_simd::Isa::Scalar).unwrap()
    }

    /// A plane of `n` bytes: independent draws from a skewed distribution,
    /// or a walk whose next byte stays near the last (order-1 pays).
    fn plane(n: usize, walk: bool) -> Vec<u8> {
        let mut x = 0x9E37_79B9u64;
        let mut last = 128u8;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let r = (x % 16) as u8;
                let skew = r.min(x as u8 >> 5 & 7);
                if walk {
                    last = last.wrapping_add(skew).wrapping_sub(3);
                    last
                } else {
                    120 + skew
                }
            })
            .collect()
    }

    #[test]
    fn order1_is_counted_where_a_sample_says_it_may_pay() {
        let k = kernels();
        assert!(!order1_may_pay(&plane(256 << 10, false), &k));
        assert!(order1_may_pay(&plane(256 << 10, true), &k));
        // Too small to sample: counted.
        assert!(order1_may_pay(&plane(32 << 10, false), &k));
    }

    /// `n` bytes of xorshift noise: nothing to gain by coding them.
    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn later_planes_are_counted_where_a_sample_says_coding_may_pay() {
        let k = kernels();
        let n = 256 << 10;
        let ctx = plane(n, false);
        assert!(!plane_may_pay(&noise(n, 7), &ctx, &k));
        // Skewed by itself, or a function of its context: counted.
        assert!(plane_may_pay(&plane(n, false), &noise(n, 9), &k));
        let follows: Vec<u8> = ctx.iter().map(|&c| c.wrapping_mul(37)).collect();
        assert!(plane_may_pay(&follows, &ctx, &k));
        // Noise with one byte in 16 set to zero saves ~6% of it: counted;
        // one in 256, ~0.5%: not.
        for (every, pays) in [(16, true), (256, false)] {
            let mut p = noise(n, 11);
            p.iter_mut().step_by(every).for_each(|b| *b = 0);
            assert_eq!(plane_may_pay(&p, &ctx, &k), pays, "zero every {every}");
        }
        // Too small to sample: counted.
        assert!(plane_may_pay(&noise(32 << 10, 7), &ctx[..32 << 10], &k));
    }

    #[test]
    fn sampling_counts_what_it_counts_exactly_or_as_fast_does() {
        let k = kernels();
        let n = 128 << 10;
        let exact = |p: &[u8]| {
            let mut c = [0u32; 256];
            k.hist_order0(p, &mut c);
            c
        };
        // Width 2 with plane 1 worth counting: plane 0's counts come from
        // plane 1's rows, exact. Plane 1 noise: not counted, plane 0
        // counted directly from a sample as `fast` counts it, as with
        // width 1.
        let mut skewed = plane(n, false);
        skewed.extend(plane(n, true).iter().map(|b| b & 7));
        let mut flat = plane(n, false);
        flat.extend(noise(n, 5));
        for (planes, width) in [(&skewed[..], 2), (&flat[..], 2), (&skewed[..n], 1)] {
            let h = ChunkHists::of(planes, width, Counting::SampledOrder0, &k);
            assert!(!h.order1);
            assert!(h.context(0, CtxKind::Order1).is_none());
            let from_rows = width == 2 && std::ptr::eq(planes, &skewed[..]);
            let sampled = chunk::sampled_order0(&planes[..n], &k);
            assert_ne!(sampled, exact(&planes[..n]));
            let want = if from_rows {
                exact(&planes[..n])
            } else {
                sampled
            };
            assert_eq!(h.o0[0], want);
            let exact0 = ChunkHists::of(planes, width, Counting::Sampled, &k);
            assert_eq!(exact0.o0[0], exact(&planes[..n]));
            let full = ChunkHists::of(planes, width, Counting::Whole, &k);
            assert!(full.order1 && full.context(0, CtxKind::Order1).is_some());
            assert!(full.counted.iter().all(|&c| c));
            for p in 1..width {
                let plane = &planes[p * n..(p + 1) * n];
                let noisy = std::ptr::eq(planes, &flat[..]);
                assert_eq!(h.counted[p], !noisy);
                if noisy {
                    assert_eq!(h.o0[p], [0; 256]);
                    assert!(h.context(p, CtxKind::Plane0).is_none());
                } else {
                    assert_eq!(h.o0[p], exact(plane));
                    assert!(h.context(p, CtxKind::Plane0).is_some());
                }
                assert_eq!(full.o0[p], exact(plane));
            }
        }
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
            assert!(h.rows().eq(entropy::dense_rows(&want)));
            let mut o0 = [0u32; 256];
            k.hist_order0(&plane, &mut o0);
            assert_eq!(h.order0(), o0);
            // The lent table is left zeroed for the next count.
            DENSE.with(|d| assert!(d.borrow().iter().all(|&n| n == 0)));
        }
    }
}
