//! One chunk: field split into byte planes, a coding method per plane, and
//! the payload's wire form (see `docs/FORMAT.md`, "Chunk payload").
//!
//! Methods per plane: raw, constant, rANS (order-0, order-1, or conditioned
//! on plane 0 of the same element, with a shared block model or an inline
//! one) and zstd. At `fast` and `default` the method is chosen from
//! histogram estimates (zstd from a small sample); at `max` every candidate
//! is encoded and the smallest kept. A rANS plane may also be coded in
//! halves, two streams with one model (the delta coder's short form uses
//! it; `crate::delta`).

use std::borrow::Cow;

use z4ai_simd::checksum::Xxh3Progress;
use z4ai_simd::rans::{self, Ctx, PairStream, SecondCtx};
use z4ai_simd::{Kernels, RansTables};

use crate::buffers::{grown, Buffers};
use crate::dtype::DType;
use crate::entropy::{self, build_context_model, CostTable};
use crate::error::{Error, Result};
use crate::format::{ByteSink, Reader, SlotWriter};
use crate::hists::{ChunkHists, CtxHist};
use crate::options::Effort;

/// Payload layout byte: the chunk is stored verbatim.
pub const LAYOUT_STORED: u8 = 0;
/// Payload layout byte: byte planes follow, then the tail.
pub const LAYOUT_PLANES: u8 = 1;

const M_RAW: u8 = 0;
const M_CONST: u8 = 1;
const M_RANS: u8 = 2;
const M_ZSTD: u8 = 3;
/// Plane method: one rANS model, the plane's two halves coded as two
/// streams (format version 4), so that a decoder runs both in one loop.
const M_RANS_HALVES: u8 = 4;
/// Model byte of a rANS plane whose model is inline.
const INLINE_MODEL: u8 = 0xFF;
/// Scale of inline order-0 tables.
const INLINE_BITS: u32 = 12;
/// Fixed bytes of a rANS plane beyond its stream and inline model.
const RANS_OVERHEAD_BITS: f64 = 8.0 * (7 + rans::HEADER_BYTES) as f64;
/// At `default`, an order-1 code is ranked as if this much larger: it
/// decodes at about half the speed of order-0, so it must save at least 3%
/// of the plane to be chosen (`max` takes the smallest code). On the real
/// corpus at 512 KiB chunks order-1 saved 0.01-0.05% of the file where it
/// won narrowly, and 0.7% on AdamW state, where it wins by far more
/// (docs/BENCHMARKS.md, "Order-1 at default").
pub(crate) const DEFAULT_ORDER1_PENALTY: f64 = 1.03;

/// At `default`, a plane after plane 0 (the mantissa bytes of a float) is
/// entropy coded only where that saves at least this share of its raw
/// size; otherwise it is stored (or given to zstd). A mantissa plane of
/// dense weights saves 0.7-1% under its exponent, for two to three times
/// the plane's coding time each way: stored, `default` compresses dense
/// bf16 ~1.3x and decompresses ~1.6x faster for 0.2-0.7% of the file
/// (ZipNN keeps a byte group only below 95% of its size). `max` takes the
/// smallest code (docs/BENCHMARKS.md, "Mantissa planes at default").
pub(crate) const DEFAULT_MIN_SAVING: f64 = 1.0 / 32.0;

/// Where a rANS plane takes its contexts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtxKind {
    /// No context.
    Order0 = 0,
    /// The previous symbol of the plane.
    Order1 = 1,
    /// The symbol of plane 0 at the same element.
    Plane0 = 2,
    /// Delta residual planes: the reference's exponent, or an escape once a
    /// more significant residual byte is non-zero (see `crate::delta`).
    Delta = 3,
    /// Delta residual planes: the reference's exponent whatever the more
    /// significant residual bytes are (plane 0's delta contexts; format
    /// version 3). Residual plane 1 uses it, so that it decodes in one
    /// loop with plane 0.
    DeltaExp = 4,
}

impl CtxKind {
    fn from_byte(b: u8) -> Result<CtxKind> {
        Ok(match b {
            0 => CtxKind::Order0,
            1 => CtxKind::Order1,
            2 => CtxKind::Plane0,
            3 => CtxKind::Delta,
            4 => CtxKind::DeltaExp,
            _ => return Err(Error::corrupt(format!("unknown rANS context kind {b}"))),
        })
    }

    /// Short name for `info`.
    pub fn name(self) -> &'static str {
        match self {
            CtxKind::Order0 => "o0",
            CtxKind::Order1 => "o1",
            CtxKind::Plane0 => "cx",
            CtxKind::Delta => "delta",
            CtxKind::DeltaExp => "delta-exp",
        }
    }
}

/// The shared models a block offers one plane.
#[derive(Clone, Debug, Default)]
pub struct PlaneModels {
    /// Index of a shared order-0 model.
    pub order0: Option<usize>,
    /// A shared context model and its kind.
    pub context: Option<(CtxKind, usize)>,
}

/// A block's shared models with their cost tables.
pub struct BlockModels {
    /// The models, indexed by the model byte of rANS planes.
    pub tables: Vec<RansTables>,
    /// Code lengths of each model.
    pub costs: Vec<CostTable>,
    /// Which models each plane may use.
    pub planes: Vec<PlaneModels>,
    /// Bytes of each model charged to a chunk that uses it: its serialised
    /// size where the block has one chunk (which pays for all of it), else
    /// none (shared, it is cheap per chunk).
    pub charge: Vec<usize>,
}

impl BlockModels {
    /// No shared models (fast effort, or a decoder of a block without them).
    pub fn none(width: usize) -> BlockModels {
        BlockModels {
            tables: Vec::new(),
            costs: Vec::new(),
            planes: vec![PlaneModels::default(); width],
            charge: Vec::new(),
        }
    }

    /// Bits of shared model `i` charged to a chunk that uses it.
    fn charge_bits(&self, i: usize) -> f64 {
        8.0 * self.charge[i] as f64
    }

    /// The bytes of a shared model charged to a chunk for `code`.
    fn charged(&self, code: &PlaneCode) -> usize {
        match code {
            PlaneCode::Rans(_, ModelSel::Shared(i), _)
            | PlaneCode::RansHalves(_, ModelSel::Shared(i), _) => {
                self.charge.get(*i).copied().unwrap_or(0)
            }
            _ => 0,
        }
    }
}

/// Which model a rANS plane uses.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // short-lived, one per plane
pub enum ModelSel {
    /// A shared model of the block.
    Shared(usize),
    /// A model stored in the plane.
    Inline(RansTables),
}

/// How one plane is coded.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // short-lived, one per plane
pub enum PlaneCode {
    /// The plane's bytes verbatim.
    Raw,
    /// Every byte equals this value.
    Const(u8),
    /// rANS with a context kind and a model.
    Rans(CtxKind, ModelSel, Vec<u8>),
    /// A zstd frame.
    Zstd(Vec<u8>),
    /// rANS with one context kind and model over two streams: symbols
    /// `..half(n)`, then the rest ([`half`]).
    RansHalves(CtxKind, ModelSel, [Vec<u8>; 2]),
}

/// Symbols in the first stream of a plane of `n` coded in halves
/// ([`PlaneCode::RansHalves`]).
pub fn half(n: usize) -> usize {
    n.div_ceil(2)
}

impl PlaneCode {
    /// Hands the code's stream, if it has one, to `bufs`.
    pub fn recycle(self, bufs: &Buffers) {
        match self {
            PlaneCode::Rans(_, _, b) | PlaneCode::Zstd(b) => bufs.give(b),
            PlaneCode::RansHalves(_, _, [a, b]) => {
                bufs.give(a);
                bufs.give(b);
            }
            PlaneCode::Raw | PlaneCode::Const(_) => {}
        }
    }

    /// Serialised size in bytes for a plane of `n` symbols.
    pub fn size(&self, n: usize) -> usize {
        match self {
            PlaneCode::Raw => 1 + n,
            PlaneCode::Const(_) => 2,
            PlaneCode::Rans(_, m, s) => {
                7 + s.len()
                    + match m {
                        ModelSel::Shared(_) => 0,
                        ModelSel::Inline(t) => model_len(t),
                    }
            }
            PlaneCode::Zstd(z) => 5 + z.len(),
            PlaneCode::RansHalves(_, m, [a, b]) => {
                11 + a.len()
                    + b.len()
                    + match m {
                        ModelSel::Shared(_) => 0,
                        ModelSel::Inline(t) => model_len(t),
                    }
            }
        }
    }
}

/// Serialised size of a model, in bytes.
pub(crate) fn model_len(t: &RansTables) -> usize {
    // A slot of no room only counts.
    let mut n = SlotWriter::new(&mut []);
    entropy::serialize_model(t, &mut n);
    n.len()
}

/// A chunk ready to serialise.
pub struct EncodedChunk {
    /// Field-split planes (empty when stored).
    pub planes: Vec<u8>,
    /// Code of each plane (empty when stored).
    pub codes: Vec<PlaneCode>,
}

impl EncodedChunk {
    /// Hands the chunk's planes and streams to `bufs` for the next chunk.
    pub fn recycle(self, bufs: &Buffers) {
        bufs.give(self.planes);
        recycle_codes(self.codes, bufs);
    }
}

/// Hands the streams of `codes` to `bufs`.
pub fn recycle_codes(codes: Vec<PlaneCode>, bufs: &Buffers) {
    for c in codes {
        c.recycle(bufs);
    }
}

/// Splits `raw` into byte planes (the last `raw.len() % width` bytes are
/// the tail and are not part of any plane).
pub fn split(raw: &[u8], dtype: DType, k: &Kernels) -> Vec<u8> {
    let w = dtype.width();
    let n = raw.len() / w;
    let mut planes = vec![0u8; n * w];
    k.split_planes(&raw[..n * w], w, dtype.rotates(), &mut planes);
    planes
}

/// [`split`] into a buffer of `bufs`.
pub fn split_in(raw: &[u8], dtype: DType, k: &Kernels, bufs: &Buffers) -> Vec<u8> {
    let w = dtype.width();
    let n = raw.len() / w;
    let mut planes = bufs.filled(n * w);
    k.split_planes(&raw[..n * w], w, dtype.rotates(), &mut planes);
    planes
}

/// Chooses a code for every plane of a split chunk; `hists`, when given,
/// are the chunk's histograms ([`ChunkHists::of`] the same planes).
pub fn encode_planes(
    planes: Vec<u8>,
    dtype: DType,
    effort: Effort,
    models: &BlockModels,
    k: &Kernels,
    hists: Option<&ChunkHists>,
    bufs: &Buffers,
) -> EncodedChunk {
    let w = dtype.width();
    let n = planes.len() / w;
    let coder = Coder {
        effort,
        models,
        k,
        bufs,
    };
    let codes = (0..w)
        .map(|p| {
            let plane = &planes[p * n..(p + 1) * n];
            let ctx = if p > 0 { Some(&planes[..n]) } else { None };
            choose_plane(p, plane, ctx, hists, &coder)
        })
        .collect();
    EncodedChunk { planes, codes }
}

struct Candidate {
    bits: f64,
    kind: CtxKind,
    model: ModelSel,
}

/// What coding a chunk's planes shares: the effort, the block's models,
/// the kernels and the buffers to reuse.
#[derive(Clone, Copy)]
struct Coder<'a> {
    effort: Effort,
    models: &'a BlockModels,
    k: &'a Kernels,
    bufs: &'a Buffers,
}

fn choose_plane(
    p: usize,
    plane: &[u8],
    ctx_plane: Option<&[u8]>,
    hists: Option<&ChunkHists>,
    coder: &Coder<'_>,
) -> PlaneCode {
    let Coder {
        effort,
        models,
        k,
        bufs,
    } = *coder;
    let n = plane.len();
    if n == 0 {
        return PlaneCode::Raw;
    }
    // Stored as is unless constant: no histogram needed to tell. At
    // `default`, a plane its sample showed not worth counting
    // ([`ChunkHists::of`]) may still go to zstd.
    let skipped = hists.is_some_and(|h| !h.counted[p]);
    if skipped || (hists.is_none() && effort == Effort::Fast && p > 0) {
        let code = if plane.iter().all(|&b| b == plane[0]) {
            PlaneCode::Const(plane[0])
        } else {
            PlaneCode::Raw
        };
        return zstd_at_default(plane, code, 0, effort, bufs);
    }
    let o0 = match hists {
        Some(h) => h.o0[p],
        None if effort == Effort::Fast => sampled_order0(plane, k),
        None => {
            let mut o0 = [0u32; 256];
            k.hist_order0(plane, &mut o0);
            o0
        }
    };
    if o0.iter().filter(|&&c| c > 0).count() == 1 {
        return PlaneCode::Const(plane[0]);
    }
    if n < 64 || (effort == Effort::Fast && p > 0) {
        return PlaneCode::Raw;
    }
    let raw_bits = 8.0 * n as f64;
    let mut cands: Vec<Candidate> = Vec::new();
    let (inline_bits, inline_t) = entropy::model_cost_bits(&o0, INLINE_BITS);
    cands.push(Candidate {
        bits: inline_bits + RANS_OVERHEAD_BITS,
        kind: CtxKind::Order0,
        model: ModelSel::Inline(inline_t),
    });
    let pm = &models.planes[p];
    if let Some(i) = pm.order0 {
        cands.push(Candidate {
            bits: models.costs[i].order0(&o0) + RANS_OVERHEAD_BITS + models.charge_bits(i),
            kind: CtxKind::Order0,
            model: ModelSel::Shared(i),
        });
    }
    let mut ctx_hist: Option<(CtxKind, Cow<'_, CtxHist>)> = None;
    let want_ctx = pm.context.map(|(kind, _)| kind).or(match effort {
        Effort::Max => Some(if p == 0 {
            CtxKind::Order1
        } else {
            CtxKind::Plane0
        }),
        _ => None,
    });
    // With the chunk's histograms, a context the chunk did not count (its
    // order-1 counts were skipped: `ChunkHists::of`) is no candidate.
    let counted = match (want_ctx, hists) {
        (Some(kind), Some(h)) => h.context(p, kind).map(|c| (kind, Cow::Borrowed(c))),
        (Some(kind), None) => Some((
            kind,
            Cow::Owned(match kind {
                CtxKind::Plane0 => {
                    CtxHist::count(plane, Some(ctx_plane.expect("plane 0 present")), k)
                }
                _ => CtxHist::count(plane, None, k),
            }),
        )),
        (None, _) => None,
    };
    if let Some((kind, h)) = counted {
        if let Some((kind, i)) = pm.context {
            cands.push(Candidate {
                bits: models.costs[i].context_rows(h.rows())
                    + RANS_OVERHEAD_BITS
                    + models.charge_bits(i),
                kind,
                model: ModelSel::Shared(i),
            });
        }
        ctx_hist = Some((kind, h));
    }
    if effort == Effort::Max {
        if let Some((kind, h)) = &ctx_hist {
            let t = build_context_model(h.rows(), INLINE_BITS, *kind == CtxKind::Order1);
            let bits = CostTable::new(&t).context_rows(h.rows()) + 8.0 * model_len(&t) as f64;
            cands.push(Candidate {
                bits: bits + RANS_OVERHEAD_BITS,
                kind: *kind,
                model: ModelSel::Inline(t),
            });
        }
        return best_by_trial(plane, ctx_plane, cands, models, k, bufs);
    }
    let rank = |c: &Candidate| match c.kind {
        CtxKind::Order1 => c.bits * DEFAULT_ORDER1_PENALTY,
        _ => c.bits,
    };
    cands.sort_by(|a, b| rank(a).total_cmp(&rank(b)));
    let best_bits = cands.first().map_or(f64::INFINITY, |c| c.bits);
    // The estimates are exact up to table rounding: take the first candidate
    // that encodes (a shared model may miss a symbol of this chunk).
    let worth = match effort {
        Effort::Default if p > 0 => raw_bits * (1.0 - DEFAULT_MIN_SAVING),
        _ => raw_bits,
    };
    let code = if best_bits < worth {
        encode_best(plane, ctx_plane, cands, models, k, true, bufs)
    } else {
        PlaneCode::Raw
    };
    let charged = models.charged(&code);
    zstd_at_default(plane, code, charged, effort, bufs)
}

/// At `default`, `code` or zstd at level 3 where a sample says zstd may
/// beat it and it does (`charged`: bytes of a shared model the chunk pays
/// for, on top of the code's own size).
fn zstd_at_default(
    plane: &[u8],
    code: PlaneCode,
    charged: usize,
    effort: Effort,
    bufs: &Buffers,
) -> PlaneCode {
    if effort != Effort::Default {
        return code;
    }
    match zstd_if_better(plane, code.size(plane.len()) + charged, 3) {
        Some(z) => {
            code.recycle(bufs);
            PlaneCode::Zstd(z)
        }
        None => code,
    }
}

/// `fast` counts a plane on one block of [`SAMPLE_BLOCK`] bytes in every
/// [`SAMPLE_EVERY`] (counting was a sixth of its compression time).
const SAMPLE_BLOCK: usize = 1 << 10;
/// See [`SAMPLE_BLOCK`].
const SAMPLE_EVERY: usize = 4;
/// At most this many symbols between the plane's smallest and largest byte
/// may be missing from the sample; more, and the plane is counted whole.
const MAX_UNSAMPLED: usize = 16;

/// Order-0 counts of `plane` estimated from a sample, scaled to the plane's
/// length, for a model every byte of the plane can be coded with: each
/// symbol between the plane's smallest and largest byte has a count (1
/// where the sample missed it; the plane's rare exponents are such
/// symbols). Planes under 128 KiB, or with more than
/// [`MAX_UNSAMPLED`] such gaps, are counted whole.
pub(crate) fn sampled_order0(plane: &[u8], k: &Kernels) -> [u32; 256] {
    let mut c = [0u32; 256];
    if plane.len() < 128 << 10 {
        k.hist_order0(plane, &mut c);
        return c;
    }
    for block in plane.chunks(SAMPLE_BLOCK).step_by(SAMPLE_EVERY) {
        k.hist_order0(block, &mut c);
    }
    let (lo, hi) = byte_range(plane);
    if c[lo..=hi].iter().filter(|&&v| v == 0).count() > MAX_UNSAMPLED {
        c = [0; 256];
        k.hist_order0(plane, &mut c);
        return c;
    }
    let sampled: u64 = c.iter().map(|&v| u64::from(v)).sum();
    let n = plane.len() as u64;
    for (s, v) in c.iter_mut().enumerate() {
        *v = match *v {
            0 if (lo..=hi).contains(&s) => 1,
            0 => 0,
            v => (u64::from(v) * n / sampled).max(1) as u32,
        };
    }
    c
}

/// The smallest and largest byte of a non-empty `bytes`, 64 lanes at a time
/// (a form the compiler vectorises).
fn byte_range(bytes: &[u8]) -> (usize, usize) {
    let mut lo = [u8::MAX; 64];
    let mut hi = [0u8; 64];
    let mut blocks = bytes.chunks_exact(64);
    for b in &mut blocks {
        for i in 0..64 {
            lo[i] = lo[i].min(b[i]);
            hi[i] = hi[i].max(b[i]);
        }
    }
    let rest = blocks.remainder();
    let lo = lo.iter().chain(rest).min().copied().unwrap_or(0);
    let hi = hi.iter().chain(rest).max().copied().unwrap_or(0);
    (usize::from(lo), usize::from(hi))
}

fn try_encode(
    plane: &[u8],
    ctx_plane: Option<&[u8]>,
    kind: CtxKind,
    model: &ModelSel,
    models: &BlockModels,
    k: &Kernels,
    bufs: &Buffers,
) -> Option<Vec<u8>> {
    let t = match model {
        ModelSel::Shared(i) => &models.tables[*i],
        ModelSel::Inline(t) => t,
    };
    let ctx = match kind {
        CtxKind::Order0 => Ctx::Order0,
        CtxKind::Order1 => Ctx::Order1,
        CtxKind::Plane0 => Ctx::Plane(ctx_plane?),
        CtxKind::Delta | CtxKind::DeltaExp => return None,
    };
    let mut out = bufs.empty(plane.len());
    match k.rans_encode(plane, ctx, t, &mut out) {
        Ok(()) => Some(out),
        Err(_) => {
            bufs.give(out);
            None
        }
    }
}

fn best_by_trial(
    plane: &[u8],
    ctx_plane: Option<&[u8]>,
    cands: Vec<Candidate>,
    models: &BlockModels,
    k: &Kernels,
    bufs: &Buffers,
) -> PlaneCode {
    let best = encode_best(plane, ctx_plane, cands, models, k, false, bufs);
    match zstd_if_better(plane, best.size(plane.len()) + models.charged(&best), 19) {
        Some(z) => {
            best.recycle(bufs);
            PlaneCode::Zstd(z)
        }
        None => best,
    }
}

/// Encodes candidates in order and keeps the smallest code (raw if none is
/// smaller); with `first`, stops at the first candidate that encodes.
fn encode_best(
    plane: &[u8],
    ctx_plane: Option<&[u8]>,
    cands: Vec<Candidate>,
    models: &BlockModels,
    k: &Kernels,
    first: bool,
    bufs: &Buffers,
) -> PlaneCode {
    let n = plane.len();
    let mut best = PlaneCode::Raw;
    let mut size = best.size(n);
    for c in cands {
        if let Some(stream) = try_encode(plane, ctx_plane, c.kind, &c.model, models, k, bufs) {
            let pc = PlaneCode::Rans(c.kind, c.model, stream);
            let pc_size = pc.size(n) + models.charged(&pc);
            if pc_size < size {
                size = pc_size;
                std::mem::replace(&mut best, pc).recycle(bufs);
            } else {
                pc.recycle(bufs);
            }
            if first {
                break;
            }
        }
    }
    best
}

/// How far behind the current code zstd may be on a quarter of its sample
/// before the whole sample is not tried (see [`zstd_if_better`]).
const QUICK_TRIAL_MARGIN: f64 = 1.2;

/// Zstd-codes `plane` when a sample suggests it can beat `current` bytes and
/// the full result does.
fn zstd_if_better(plane: &[u8], current: usize, level: i32) -> Option<Vec<u8>> {
    let n = plane.len();
    if n < 256 {
        return None;
    }
    // A plane of up to 16 KiB whole, a larger one by 1/32 of it, 4 to 16
    // KiB: the trial costs about the same share of any large chunk (1/64
    // lost 0.27% on a GGUF archive, whose byte planes zstd codes best).
    let sample = match n {
        0..=0x4000 => plane,
        _ => &plane[..(n / 32).clamp(4 << 10, 16 << 10)],
    };
    let current_rate = current as f64 / n as f64;
    let rate = |s: &[u8]| Some(zstd_compress(s, 1)?.len() as f64 / s.len() as f64);
    // A sampled plane's trial starts on a quarter of the sample: where zstd
    // is far behind there, the whole sample is not tried (dense weights'
    // exponent planes, where zstd codes the sample ~1.22x larger than rANS;
    // the sample trials were 9% of `default` compression of dense bf16).
    if n > 0x4000 && rate(&sample[..sample.len() / 4])? > QUICK_TRIAL_MARGIN * current_rate {
        return None;
    }
    if rate(sample)? > 0.95 * current_rate {
        return None;
    }
    let z = zstd_compress(plane, level)?;
    (5 + z.len() < current).then_some(z)
}

/// Zstd at `level` with this thread's compression context, kept between
/// calls (creating one per plane showed in profiles).
fn zstd_compress(data: &[u8], level: i32) -> Option<Vec<u8>> {
    thread_local! {
        static CCTX: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    CCTX.with(|c| {
        let mut c = c.borrow_mut();
        let z = match c.as_mut() {
            Some(z) => z,
            None => c.insert(zstd::bulk::Compressor::new(level).ok()?),
        };
        z.set_compression_level(level).ok()?;
        z.compress(data).ok()
    })
}

/// Decodes zstd frames `z` into `dst` with this thread's decompression
/// context, kept between calls (creating one per plane was 2% of a model
/// file's compress-and-restore profile); returns the bytes written.
fn zstd_decompress(z: &[u8], dst: &mut [u8]) -> Result<usize> {
    thread_local! {
        static DCTX: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    let zstd_error = |e: std::io::Error| Error::corrupt(format!("zstd: {e}"));
    DCTX.with(|d| {
        let mut d = d.borrow_mut();
        let ctx = match d.as_mut() {
            Some(ctx) => ctx,
            None => d.insert(zstd::bulk::Decompressor::new().map_err(zstd_error)?),
        };
        ctx.decompress_to_buffer(z, dst).map_err(zstd_error)
    })
}

/// Where a payload names a shared model: the byte at offset `at` of the
/// payload holds model `model`'s index among the block's candidate models
/// until the block, knowing which models it keeps, renumbers it.
#[derive(Clone, Copy, Debug)]
pub struct ModelRef {
    /// Offset of the model byte in the payload.
    pub at: usize,
    /// Index of the model in [`BlockModels::tables`].
    pub model: usize,
}

/// Appends the stored chunk `raw` (layout 0: a byte longer than `raw`).
pub fn write_stored(raw: &[u8], out: &mut (impl ByteSink + ?Sized)) {
    out.push(LAYOUT_STORED);
    out.extend_from_slice(raw);
}

/// Replaces what was appended to `out` from `start` on by the stored chunk
/// `raw` where it is longer than `raw`; returns whether it did.
pub fn store_if_longer(raw: &[u8], start: usize, out: &mut (impl ByteSink + ?Sized)) -> bool {
    if out.len() - start <= raw.len() {
        return false;
    }
    out.truncate(start);
    write_stored(raw, out);
    true
}

/// Appends the payload of a chunk; each shared model it names is recorded
/// in `refs` (offsets relative to `out`).
pub fn write_chunk(
    raw: &[u8],
    chunk: &EncodedChunk,
    dtype: DType,
    out: &mut (impl ByteSink + ?Sized),
    refs: &mut Vec<ModelRef>,
) {
    let w = dtype.width();
    let n = raw.len() / w;
    let planes_size: usize =
        chunk.codes.iter().map(|c| c.size(n)).sum::<usize>() + raw.len() - n * w;
    if chunk.codes.is_empty() || planes_size >= raw.len() {
        write_stored(raw, out);
        return;
    }
    out.push(LAYOUT_PLANES);
    for (p, code) in chunk.codes.iter().enumerate() {
        write_plane(code, &chunk.planes[p * n..(p + 1) * n], out, refs);
    }
    out.extend_from_slice(&raw[n * w..]);
}

/// Appends one plane coded as `code` (`plane`: its bytes, written where
/// it is stored raw); a shared model it names is recorded in `refs`.
pub fn write_plane(
    code: &PlaneCode,
    plane: &[u8],
    out: &mut (impl ByteSink + ?Sized),
    refs: &mut Vec<ModelRef>,
) {
    match code {
        PlaneCode::Raw => {
            out.push(M_RAW);
            out.extend_from_slice(plane);
        }
        PlaneCode::Const(v) => out.extend_from_slice(&[M_CONST, *v]),
        PlaneCode::Rans(kind, model, stream) => {
            out.extend_from_slice(&[M_RANS, *kind as u8]);
            write_model_sel(model, out, refs);
            out.extend_from_slice(&(stream.len() as u32).to_le_bytes());
            out.extend_from_slice(stream);
        }
        PlaneCode::RansHalves(kind, model, streams) => {
            out.extend_from_slice(&[M_RANS_HALVES, *kind as u8]);
            write_model_sel(model, out, refs);
            for stream in streams {
                out.extend_from_slice(&(stream.len() as u32).to_le_bytes());
                out.extend_from_slice(stream);
            }
        }
        PlaneCode::Zstd(z) => {
            out.push(M_ZSTD);
            out.extend_from_slice(&(z.len() as u32).to_le_bytes());
            out.extend_from_slice(z);
        }
    }
}

/// Appends a rANS plane's model byte (and its model, when inline).
fn write_model_sel(model: &ModelSel, out: &mut (impl ByteSink + ?Sized), refs: &mut Vec<ModelRef>) {
    match model {
        ModelSel::Shared(i) => {
            refs.push(ModelRef {
                at: out.len(),
                model: *i,
            });
            // Renumbered once the block's models are known.
            out.push(u8::MAX);
        }
        ModelSel::Inline(t) => {
            out.push(INLINE_MODEL);
            entropy::serialize_model(t, out);
        }
    }
}

/// What `info` reports about one plane of a chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaneReport {
    /// Method name: raw, const, rans-o0, rans-o1, rans-cx, zstd, stored.
    pub method: String,
    /// Whether a rANS model was shared (false: inline).
    pub shared_model: bool,
    /// Bytes the plane takes in the payload.
    pub bytes: usize,
}

/// Elements merged (and hashed) at a time.
const MERGE_PIECE: usize = 16 << 10;

/// Decodes a chunk payload (layout 0 or 1) into `out` (exactly the
/// chunk's raw length). `scratch` is reused between calls. Returns the
/// XXH3-64 of `out` when it was taken during the decode (layout 1: each
/// piece is hashed right after it is merged, while in cache).
pub fn decode_chunk(
    payload: &[u8],
    dtype: DType,
    models: &[RansTables],
    k: &Kernels,
    out: &mut [u8],
    scratch: &mut Vec<u8>,
) -> Result<Option<u64>> {
    let mut r = Reader::new(payload);
    let layout = r.u8("chunk layout")?;
    let hash = match layout {
        LAYOUT_STORED => {
            out.copy_from_slice(r.bytes(out.len(), "stored chunk")?);
            None
        }
        LAYOUT_PLANES => {
            let w = dtype.width();
            let n = out.len() / w;
            let srcs = read_planes(&mut r, n, w, models)?;
            // Every plane decode overwrites its whole part.
            let planes = grown(scratch, n * w);
            let stored = decode_planes(&srcs, 0, n, k, planes)?;
            Some(merge_chunk(&mut r, &stored, planes, dtype, k, out)?)
        }
        other => return Err(Error::corrupt(format!("unknown chunk layout {other}"))),
    };
    if r.remaining() != 0 {
        return Err(Error::corrupt("chunk payload has trailing bytes"));
    }
    Ok(hash)
}

/// Decodes two payloads of layout 1 (`LAYOUT_PLANES`), of neighbouring
/// chunks, into `outs`; returns the XXH3-64 of each. The bytes two
/// [`decode_chunk`] calls give, and an error wherever either would fail
/// (not necessarily the same one: both headers are read first), but where
/// both chunks'
/// plane 0 is order-0 rANS that their own decode would run alone (the
/// `fast` layout: no rANS stream after it to pair with), the two plane-0
/// streams are decoded in one pair loop: a single stream leaves the core
/// waiting on its state chain.
pub fn decode_chunk_pair(
    payloads: [&[u8]; 2],
    dtype: DType,
    models: &[RansTables],
    k: &Kernels,
    outs: [&mut [u8]; 2],
    scratch: &mut Vec<u8>,
) -> Result<[u64; 2]> {
    let w = dtype.width();
    let ns = outs.each_ref().map(|o| o.len() / w);
    let mut readers = payloads.map(Reader::new);
    let mut srcs = Vec::with_capacity(2);
    for (r, &n) in readers.iter_mut().zip(&ns) {
        if r.u8("chunk layout")? != LAYOUT_PLANES {
            return Err(Error::corrupt("paired chunk is not of plane layout"));
        }
        srcs.push(read_planes(r, n, w, models)?);
    }
    let (sa, sb) = grown(scratch, (ns[0] + ns[1]) * w).split_at_mut(ns[0] * w);
    let start = match (lone_order0(&srcs[0]), lone_order0(&srcs[1])) {
        (Some((ta, stream_a)), Some((tb, stream_b))) => {
            k.rans_decode_pair(
                PairStream {
                    stream: stream_a,
                    ctx: None,
                    tables: ta,
                    out: &mut sa[..ns[0]],
                },
                PairStream {
                    stream: stream_b,
                    ctx: SecondCtx::Order0,
                    tables: tb,
                    out: &mut sb[..ns[1]],
                },
            )
            .map_err(rans_error)?;
            1
        }
        _ => 0,
    };
    let [out_a, out_b] = outs;
    let [mut ra, mut rb] = readers;
    let finish = |r: &mut Reader<'_>, srcs, n, planes: &mut [u8], out: &mut [u8]| {
        let stored = decode_planes(srcs, start, n, k, planes)?;
        let hash = merge_chunk(r, &stored, planes, dtype, k, out)?;
        if r.remaining() != 0 {
            return Err(Error::corrupt("chunk payload has trailing bytes"));
        }
        Ok(hash)
    };
    Ok([
        finish(&mut ra, &srcs[0], ns[0], sa, out_a)?,
        finish(&mut rb, &srcs[1], ns[1], sb, out_b)?,
    ])
}

/// The tables and stream of plane 0 when it is order-0 rANS and the
/// chunk's own decode would not pair it with plane 1.
fn lone_order0<'s, 'a>(srcs: &'s [PlaneSrc<'a>]) -> Option<(&'s RansTables, &'a [u8])> {
    match srcs.first()? {
        PlaneSrc::Rans {
            kind: CtxKind::Order0,
            model,
            stream,
        } if srcs.get(1).and_then(PlaneSrc::rr_stream).is_none() => Some((model.tables(), stream)),
        _ => None,
    }
}

/// Merges a chunk's decoded `planes` (or the stored ones, taken from the
/// payload) into `out`, hashing each piece right after it is merged, and
/// copies the tail (bytes after the last whole element) from `r`.
fn merge_chunk(
    r: &mut Reader<'_>,
    stored: &[Option<&[u8]>; 8],
    planes: &[u8],
    dtype: DType,
    k: &Kernels,
    out: &mut [u8],
) -> Result<u64> {
    let w = dtype.width();
    let n = out.len() / w;
    let planes: [&[u8]; 8] = std::array::from_fn(|p| match stored[p] {
        Some(b) => b,
        None if p < w => &planes[p * n..(p + 1) * n],
        None => &[],
    });
    let mut h = Xxh3Progress::new(out.len());
    for start in (0..n).step_by(MERGE_PIECE) {
        let end = (start + MERGE_PIECE).min(n);
        let piece: [&[u8]; 8] = planes.map(|p| p.get(start..end).unwrap_or(&[]));
        k.merge_planes_from(&piece[..w], dtype.rotates(), &mut out[start * w..end * w]);
        k.xxh3_advance(&mut h, out, end * w);
    }
    let tail = out.len() - n * w;
    out[n * w..].copy_from_slice(r.bytes(tail, "chunk tail")?);
    Ok(k.xxh3_finish(h, out))
}

/// Decodes the `w` planes of `n` symbols of a delta residual chunk into
/// `planes`. Contexts: `exp` holds the reference's exponents (plane 0's
/// delta contexts, `crate::delta::first_contexts`), which plane 0 and
/// every plane of kind 4 use; a plane of kind 3 after plane 0 uses them
/// advanced by every plane before it, worked out in `chain` when first
/// needed. Planes 0 and 1 decode in one pair loop where both are rANS
/// streams under the exponents (plane 1 of kind 4).
#[allow(clippy::too_many_arguments)]
fn decode_delta_planes<'a>(
    r: &mut Reader<'a>,
    n: usize,
    w: usize,
    models: &'a [RansTables],
    k: &Kernels,
    planes: &mut [u8],
    exp: &[u8],
    chain: &mut Vec<u8>,
) -> Result<()> {
    let srcs = (0..w)
        .map(|_| read_plane(r, n, models))
        .collect::<Result<Vec<_>>>()?;
    fn on_exp<'s, 'a>(
        src: &'s PlaneSrc<'a>,
        kinds: &[CtxKind],
    ) -> Option<(&'s RansTables, &'a [u8])> {
        match src {
            PlaneSrc::Rans {
                kind,
                model,
                stream,
            } if kinds.contains(kind) => Some((model.tables(), *stream)),
            _ => None,
        }
    }
    let mut start = 0;
    if let (Some((ta, sa)), Some((tb, sb))) = (
        srcs.first()
            .and_then(|s| on_exp(s, &[CtxKind::Delta, CtxKind::DeltaExp])),
        srcs.get(1).and_then(|s| on_exp(s, &[CtxKind::DeltaExp])),
    ) {
        let (a, b) = planes[..2 * n].split_at_mut(n);
        k.rans_decode_pair(
            PairStream {
                stream: sa,
                ctx: Some(exp),
                tables: ta,
                out: a,
            },
            PairStream {
                stream: sb,
                ctx: SecondCtx::Plane(exp),
                tables: tb,
                out: b,
            },
        )
        .map_err(rans_error)?;
        start = 2;
    }
    // Planes `chain` has been advanced through (`None`: not yet set up).
    let mut advanced = None;
    for (p, src) in srcs.iter().enumerate().skip(start) {
        let (done, rest) = planes.split_at_mut(p * n);
        let chained = matches!(
            src,
            PlaneSrc::Rans {
                kind: CtxKind::Delta,
                ..
            } | PlaneSrc::RansHalves {
                kind: CtxKind::Delta,
                ..
            }
        ) && p > 0;
        if chained {
            let from = advanced.unwrap_or_else(|| {
                grown(chain, n).copy_from_slice(exp);
                0
            });
            for q in from..p {
                crate::delta::advance_contexts(&mut chain[..n], &done[q * n..(q + 1) * n]);
            }
            advanced = Some(p);
        }
        let pctx = PlaneCtx {
            plane0: (p > 0).then(|| &done[..n]),
            delta: Some(if chained { &chain[..n] } else { exp }),
            exp: Some(exp),
        };
        decode_plane(src, &mut rest[..n], pctx, k)?;
    }
    Ok(())
}

/// How [`decode_delta_residual`] left a delta chunk's residual.
pub enum DeltaResidual {
    /// The residual words were stored: they are in `out` (tail included).
    Stored,
    /// The residual planes are in the planes buffer; the chunk's tail is in
    /// `out` past the whole elements, the rest of `out` is untouched.
    Planes,
}

/// Decodes the residual of a delta chunk (a chunk payload, layout 0 or 1,
/// of the residual's integer `dtype`) as far as its planes, so that the
/// caller can merge them and apply them to the reference in one pass.
/// `exp` holds the delta contexts of plane 0 (the reference's exponents);
/// `planes` is grown to the planes' size and `chain` (scratch for the
/// contexts of later planes) as needed, both reused between calls.
pub fn decode_delta_residual(
    payload: &[u8],
    dtype: DType,
    k: &Kernels,
    out: &mut [u8],
    planes: &mut Vec<u8>,
    exp: &[u8],
    chain: &mut Vec<u8>,
) -> Result<DeltaResidual> {
    let mut r = Reader::new(payload);
    let w = dtype.width();
    let n = out.len() / w;
    let form = match r.u8("chunk layout")? {
        LAYOUT_STORED => {
            out.copy_from_slice(r.bytes(out.len(), "stored chunk")?);
            DeltaResidual::Stored
        }
        LAYOUT_PLANES => {
            // Every plane decode overwrites its whole part.
            let planes = grown(planes, n * w);
            decode_delta_planes(&mut r, n, w, &[], k, planes, exp, chain)?;
            let tail = out.len() - n * w;
            out[n * w..].copy_from_slice(r.bytes(tail, "chunk tail")?);
            DeltaResidual::Planes
        }
        other => return Err(Error::corrupt(format!("unknown chunk layout {other}"))),
    };
    if r.remaining() != 0 {
        return Err(Error::corrupt("chunk payload has trailing bytes"));
    }
    Ok(form)
}

/// Contexts available to a plane being decoded.
#[derive(Clone, Copy)]
pub(crate) struct PlaneCtx<'a> {
    /// Plane 0 of the chunk (rANS kind 2).
    pub plane0: Option<&'a [u8]>,
    /// Delta contexts of this plane (rANS kind 3).
    pub delta: Option<&'a [u8]>,
    /// The reference's exponents (rANS kind 4).
    pub exp: Option<&'a [u8]>,
}

impl<'a> PlaneCtx<'a> {
    /// Contexts of a delta plane whose kinds 3 and 4 both mean `exp`.
    pub(crate) fn exponents(exp: &'a [u8]) -> PlaneCtx<'a> {
        PlaneCtx {
            plane0: None,
            delta: Some(exp),
            exp: Some(exp),
        }
    }
}

/// Describes every plane of a chunk payload without decoding it.
pub fn describe_chunk(payload: &[u8], dtype: DType, raw_len: usize) -> Result<Vec<PlaneReport>> {
    let mut r = Reader::new(payload);
    match r.u8("chunk layout")? {
        LAYOUT_STORED => Ok(vec![PlaneReport {
            method: "stored".into(),
            shared_model: false,
            bytes: raw_len,
        }]),
        LAYOUT_PLANES => {
            let w = dtype.width();
            let n = raw_len / w;
            describe_planes(&mut r, &vec![n; w])
        }
        other => Err(Error::corrupt(format!("unknown chunk layout {other}"))),
    }
}

/// Describes consecutive planes of the given symbol counts without
/// decoding them.
pub(crate) fn describe_planes(r: &mut Reader<'_>, counts: &[usize]) -> Result<Vec<PlaneReport>> {
    counts
        .iter()
        .map(|&n| {
            let start = r.pos();
            let (method, shared_model) = walk_plane(r, n)?;
            Ok(PlaneReport {
                method,
                shared_model,
                bytes: r.pos() - start,
            })
        })
        .collect()
}

/// Reads one plane's header and skips its data: `(method name, shared model)`.
fn walk_plane(r: &mut Reader<'_>, n: usize) -> Result<(String, bool)> {
    Ok(match r.u8("plane method")? {
        M_RAW => {
            r.bytes(n, "raw plane")?;
            ("raw".into(), false)
        }
        M_CONST => {
            r.u8("constant plane")?;
            ("const".into(), false)
        }
        method @ (M_RANS | M_RANS_HALVES) => {
            let kind = CtxKind::from_byte(r.u8("rANS plane")?)?;
            let sel = r.u8("rANS model")?;
            if sel == INLINE_MODEL {
                entropy::parse_model(r)?;
            }
            let streams = if method == M_RANS_HALVES { 2 } else { 1 };
            for _ in 0..streams {
                let len = r.u32("rANS stream length")? as usize;
                r.bytes(len, "rANS stream")?;
            }
            let halves = if method == M_RANS_HALVES {
                "-halves"
            } else {
                ""
            };
            (format!("rans-{}{halves}", kind.name()), sel != INLINE_MODEL)
        }
        M_ZSTD => {
            let len = r.u32("zstd plane length")? as usize;
            r.bytes(len, "zstd plane")?;
            ("zstd".into(), false)
        }
        other => return Err(Error::corrupt(format!("unknown plane method {other}"))),
    })
}

/// A plane's model: one of the block's shared models or its own.
pub(crate) enum PlaneModel<'a> {
    Shared(&'a RansTables),
    Inline(Box<RansTables>),
}

impl PlaneModel<'_> {
    fn tables(&self) -> &RansTables {
        match self {
            PlaneModel::Shared(t) => t,
            PlaneModel::Inline(t) => t,
        }
    }
}

/// One plane's coded form, read from a payload.
pub(crate) enum PlaneSrc<'a> {
    Raw(&'a [u8]),
    Const(u8),
    Rans {
        kind: CtxKind,
        model: PlaneModel<'a>,
        stream: &'a [u8],
    },
    Zstd(&'a [u8]),
    /// rANS over two streams, the plane's halves ([`half`]).
    RansHalves {
        kind: CtxKind,
        model: PlaneModel<'a>,
        streams: [&'a [u8]; 2],
    },
}

impl PlaneSrc<'_> {
    /// The context kind, tables and stream of a round-robin rANS plane
    /// whose contexts are known before the chunk's planes decode (0, or
    /// plane 0's bytes): one a pair decode can take.
    fn rr_stream(&self) -> Option<(CtxKind, &RansTables, &[u8])> {
        match self {
            PlaneSrc::Rans {
                kind: kind @ (CtxKind::Order0 | CtxKind::Plane0),
                model,
                stream,
            } => Some((*kind, model.tables(), stream)),
            _ => None,
        }
    }
}

/// Reads the next plane of `n` symbols from a chunk payload.
pub(crate) fn read_plane<'a>(
    r: &mut Reader<'a>,
    n: usize,
    models: &'a [RansTables],
) -> Result<PlaneSrc<'a>> {
    let method = r.u8("plane method")?;
    Ok(match method {
        M_RAW => PlaneSrc::Raw(r.bytes(n, "raw plane")?),
        M_CONST => PlaneSrc::Const(r.u8("constant plane")?),
        M_RANS | M_RANS_HALVES => {
            let kind = CtxKind::from_byte(r.u8("rANS plane")?)?;
            let sel = r.u8("rANS model")?;
            let model = if sel == INLINE_MODEL {
                PlaneModel::Inline(Box::new(entropy::parse_model(r)?))
            } else {
                PlaneModel::Shared(models.get(usize::from(sel)).ok_or_else(|| {
                    Error::corrupt(format!("plane names missing shared model {sel}"))
                })?)
            };
            let mut stream = |symbols: usize| -> Result<&'a [u8]> {
                let len = r.u32("rANS stream length")? as usize;
                if len > rans::max_stream_len(symbols) {
                    return Err(Error::corrupt("rANS stream longer than its plane allows"));
                }
                r.bytes(len, "rANS stream")
            };
            if method == M_RANS {
                PlaneSrc::Rans {
                    kind,
                    model,
                    stream: stream(n)?,
                }
            } else {
                if kind == CtxKind::Order1 {
                    return Err(Error::corrupt("order-1 plane coded in halves"));
                }
                let a = stream(half(n))?;
                PlaneSrc::RansHalves {
                    kind,
                    model,
                    streams: [a, stream(n - half(n))?],
                }
            }
        }
        M_ZSTD => {
            let len = r.u32("zstd plane length")? as usize;
            PlaneSrc::Zstd(r.bytes(len, "zstd plane")?)
        }
        other => return Err(Error::corrupt(format!("unknown plane method {other}"))),
    })
}

/// The rANS context of a plane coded with `kind`.
fn rans_ctx<'a>(kind: CtxKind, ctx: &PlaneCtx<'a>) -> Result<Ctx<'a>> {
    Ok(match kind {
        CtxKind::Order0 => Ctx::Order0,
        CtxKind::Order1 => Ctx::Order1,
        CtxKind::Plane0 => Ctx::Plane(
            ctx.plane0
                .ok_or_else(|| Error::corrupt("plane 0 cannot use plane-0 context"))?,
        ),
        CtxKind::Delta => Ctx::Plane(
            ctx.delta
                .ok_or_else(|| Error::corrupt("delta context outside a delta chunk"))?,
        ),
        CtxKind::DeltaExp => Ctx::Plane(
            ctx.exp
                .ok_or_else(|| Error::corrupt("delta context outside a delta chunk"))?,
        ),
    })
}

fn rans_error(e: rans::RansError) -> Error {
    Error::corrupt(format!("rANS: {e}"))
}

/// Decodes one plane into `dst`.
pub(crate) fn decode_plane(
    src: &PlaneSrc<'_>,
    dst: &mut [u8],
    ctx: PlaneCtx<'_>,
    k: &Kernels,
) -> Result<()> {
    match src {
        PlaneSrc::Raw(b) => dst.copy_from_slice(b),
        PlaneSrc::Const(v) => dst.fill(*v),
        PlaneSrc::Rans {
            kind,
            model,
            stream,
        } => k
            .rans_decode(stream, rans_ctx(*kind, &ctx)?, model.tables(), dst)
            .map_err(rans_error)?,
        PlaneSrc::Zstd(z) => {
            let got = zstd_decompress(z, dst)?;
            if got != dst.len() {
                return Err(Error::corrupt("zstd plane decodes to the wrong size"));
            }
        }
        PlaneSrc::RansHalves {
            kind,
            model,
            streams: [sa, sb],
        } => {
            let (a, b) = dst.split_at_mut(half(dst.len()));
            let (ca, cb) = match rans_ctx(*kind, &ctx)? {
                Ctx::Plane(c) => {
                    let (ca, cb) = c.split_at(a.len());
                    (Some(ca), SecondCtx::Plane(cb))
                }
                // Order-1 halves are rejected when read.
                _ => (None, SecondCtx::Order0),
            };
            let tables = model.tables();
            k.rans_decode_pair(
                PairStream {
                    stream: sa,
                    ctx: ca,
                    tables,
                    out: a,
                },
                PairStream {
                    stream: sb,
                    ctx: cb,
                    tables,
                    out: b,
                },
            )
            .map_err(rans_error)?;
        }
    }
    Ok(())
}

/// Reads the `w` plane headers of a non-delta chunk of `n` elements.
fn read_planes<'a>(
    r: &mut Reader<'a>,
    n: usize,
    w: usize,
    models: &'a [RansTables],
) -> Result<Vec<PlaneSrc<'a>>> {
    let srcs = (0..w)
        .map(|_| read_plane(r, n, models))
        .collect::<Result<Vec<_>>>()?;
    if let PlaneSrc::Rans { kind, .. } = &srcs[0] {
        if *kind == CtxKind::Plane0 {
            return Err(Error::corrupt("plane 0 cannot use plane-0 context"));
        }
    }
    Ok(srcs)
}

/// Decodes planes `start..` of a non-delta chunk (`srcs`, `n` elements)
/// into `planes` (planes before `start` already decoded there), two rANS
/// streams at a time where their contexts allow (plane 0 with plane 1,
/// then later planes in twos). A plane after the first that is stored
/// verbatim is not copied: it is returned (by index) as the payload's
/// bytes, and its part of `planes` is left as it was.
fn decode_planes<'a>(
    srcs: &[PlaneSrc<'a>],
    start: usize,
    n: usize,
    k: &Kernels,
    planes: &mut [u8],
) -> Result<[Option<&'a [u8]>; 8]> {
    let w = srcs.len();
    let (p0, rest) = planes.split_at_mut(n);
    let mut stored = [None; 8];
    let mut p = start;
    while p < w {
        let pair = srcs
            .get(p + 1)
            .and_then(|b| Some((srcs[p].rr_stream()?, b.rr_stream()?)));
        let Some(((ka, ta, sa), (kb, tb, sb))) = pair else {
            if let (1.., PlaneSrc::Raw(b)) = (p, &srcs[p]) {
                stored[p] = Some(*b);
                p += 1;
                continue;
            }
            let (plane0, dst) = if p == 0 {
                (None, &mut *p0)
            } else {
                (Some(&*p0), &mut rest[(p - 1) * n..p * n])
            };
            let ctx = PlaneCtx {
                plane0,
                delta: None,
                exp: None,
            };
            decode_plane(&srcs[p], dst, ctx, k)?;
            p += 1;
            continue;
        };
        if p == 0 {
            // Plane 0 is order-0 here (checked above).
            let cb = if kb == CtxKind::Plane0 {
                SecondCtx::First
            } else {
                SecondCtx::Order0
            };
            k.rans_decode_pair(
                PairStream {
                    stream: sa,
                    ctx: None,
                    tables: ta,
                    out: p0,
                },
                PairStream {
                    stream: sb,
                    ctx: cb,
                    tables: tb,
                    out: &mut rest[..n],
                },
            )
        } else {
            let (a, b) = rest[(p - 1) * n..(p + 1) * n].split_at_mut(n);
            let on_plane0 = |kind| (kind == CtxKind::Plane0).then_some(&*p0);
            let cb = on_plane0(kb).map_or(SecondCtx::Order0, SecondCtx::Plane);
            k.rans_decode_pair(
                PairStream {
                    stream: sa,
                    ctx: on_plane0(ka),
                    tables: ta,
                    out: a,
                },
                PairStream {
                    stream: sb,
                    ctx: cb,
                    tables: tb,
                    out: b,
                },
            )
        }
        .map_err(rans_error)?;
        p += 2;
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(plane: &[u8]) -> [u32; 256] {
        let mut c = [0u32; 256];
        for &b in plane {
            c[usize::from(b)] += 1;
        }
        c
    }

    /// An exponent-like plane: most bytes near 120, a few rare ones far
    /// down the range, placed where the sample does not look.
    fn exponents(n: usize, rare: &[(usize, u8)]) -> Vec<u8> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut p: Vec<u8> = (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                116 + (x % 8) as u8
            })
            .collect();
        for &(at, b) in rare {
            p[at] = b;
        }
        p
    }

    #[test]
    fn sampled_counts_cover_every_byte_of_the_plane() {
        let k = Kernels::for_isa(z4ai_simd::Isa::Scalar).unwrap();
        // Bytes 110..=115 only outside the sampled blocks (1 KiB in 4).
        let rare: Vec<(usize, u8)> = (0..6).map(|i| (2048 + 4096 * i, 110 + i as u8)).collect();
        let plane = exponents(256 << 10, &rare);
        let got = sampled_order0(&plane, &k);
        let want = exact(&plane);
        for s in 0..256 {
            assert_eq!(got[s] > 0, want[s] > 0, "symbol {s}");
        }
        assert!((110..116).all(|s| got[s] == 1), "unsampled symbols get 1");
        let total: u64 = got.iter().map(|&v| u64::from(v)).sum();
        assert!(total.abs_diff(plane.len() as u64) < plane.len() as u64 / 100);
        assert_eq!(byte_range(&plane), (110, 123));
        // Symbols absent from the plane but inside its range get 1 too
        // (11 of them here, under the limit of 16).
        let plane = exponents(256 << 10, &[(2048, 105), (6000, 110)]);
        let got = sampled_order0(&plane, &k);
        assert!((105..=123).all(|s| got[s] > 0));
        assert_eq!(got[106], 1);
        assert_eq!(got[104], 0);
    }

    #[test]
    fn zstd_is_tried_where_it_can_win() {
        // Eight equally likely exponents: 3 bits each under an order-0
        // code, which zstd cannot beat by 5% (its quick trial stops it).
        let n = 256 << 10;
        let iid = exponents(n, &[]);
        assert!(zstd_if_better(&iid, n * 3 / 8, 3).is_none());
        // The same bytes repeating every 3000: zstd finds the repeats in
        // the 8 KiB sample. Its quick trial (2 KiB, shorter than a period)
        // sees none, and passes on its literals' coding alone.
        let period = exponents(3000, &[]);
        let repeating: Vec<u8> = period.iter().copied().cycle().take(n).collect();
        let z = zstd_if_better(&repeating, n * 3 / 8, 3).expect("zstd wins");
        assert!(z.len() < n / 50, "{} bytes", z.len());
    }

    #[test]
    fn wide_gaps_and_small_planes_are_counted_whole() {
        let k = Kernels::for_isa(z4ai_simd::Isa::Scalar).unwrap();
        // Zeros (exponent 0) next to exponents near 120: 100+ absent symbols.
        let plane = exponents(256 << 10, &[(5000, 0), (9000, 0)]);
        assert_eq!(sampled_order0(&plane, &k), exact(&plane));
        let small = exponents(100 << 10, &[(5000, 3)]);
        assert_eq!(sampled_order0(&small, &k), exact(&small));
        assert_eq!(byte_range(&[7, 200, 3][..]), (3, 200));
        assert_eq!(byte_range(&vec![9u8; 130][..]), (9, 9));
    }
}
