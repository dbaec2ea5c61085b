//! Checkpoint deltas: a chunk coded as its residual against the same bytes
//! of a reference (payload layout 5, see `docs/FORMAT.md`).
//!
//! Residual modes, one per chunk:
//! * XOR of the words (ZipLLM's BitX);
//! * integer difference in the order-preserving integer domain of the float
//!   (for integers, the plain wrapping difference), zig-zagged so that small
//!   moves of either sign are small numbers.
//!
//! At `fast` and `default` the mode is chosen before coding from a sample
//! of the chunk (see [`choose`]): the entropy of each mode's residual
//! planes under their delta contexts, over evenly spaced runs of
//! elements. At `max` both modes are coded and the smaller kept. A chunk
//! of fewer than [`TINY`] elements (a small tensor) is coded without delta
//! contexts instead ([`code_tiny`]).
//!
//! The residual words are split into byte planes (most significant first)
//! and each plane is coded with rANS under a *delta context* (see
//! [`advance_contexts`]): the reference element's exponent while the more
//! significant residual bytes are zero, else the leading non-zero byte just
//! above. Small moves of a weight depend on its magnitude, which the
//! reference's exponent tells; unchanged elements cost a fraction of a bit.
//! Plane 1 is the exception ([`plane_kind`]): it is coded under the
//! reference's exponent alone, so that a decoder knows the contexts of
//! planes 0 and 1 before decoding either and decodes both in one loop.
//!
//! A chunk of two-byte elements whose residual words are mostly small is
//! coded in the short form instead ([`short`]): one symbol per element,
//! the escaped words' bytes apart.

mod short;
mod wide;

use std::borrow::Cow;
use std::cell::RefCell;

use z4ai_simd::rans::Ctx;
use z4ai_simd::Kernels;

use crate::buffers::{grown, reuse, Buffers};
use crate::chunk::{
    self, BlockModels, CtxKind, DeltaResidual, EncodedChunk, ModelSel, PlaneCode, PlaneReport,
};
use crate::dtype::DType;
use crate::entropy::{self, CostTable};
use crate::error::{Error, Result};
use crate::format::{ByteSink, Reader};
use crate::hists::CtxHist;
use crate::options::Effort;
use crate::payload;
use wide::merge;

/// Payload layout: delta against the reference.
pub const LAYOUT_DELTA: u8 = 5;
const MODE_XOR: u8 = 0;
const MODE_SUB: u8 = 1;
/// Mode-byte flag: the residual of a chunk of two-byte elements in the
/// short form ([`short`], format version 4).
const SHORT: u8 = 0x80;
/// A chunk of two-byte elements is coded in the short form where fewer
/// than this share of its sampled residual words escape (each escape
/// costs two more symbols: at a half, the short form would decode as
/// many symbols as the planes).
const SHORT_MAX_ESCAPES: f64 = 0.5;
/// A plane of the short form, or a residual plane that does not pair with
/// plane 0 ([`pairs_with_plane_0`]), with at least this many symbols is
/// coded in halves (`PlaneCode::RansHalves`), which a decoder runs in one pair loop;
/// a shorter one as one stream, sparing the second stream's 128 bytes of
/// initial states.
const HALVES_MIN: usize = 1 << 15;
/// Probability scale of the short plane's context model.
const SHORT_BITS: u32 = 12;
/// Probability scale of the context model of residual plane 0 of a
/// multi-byte element. That plane (a few bits per element) codes as small
/// at 10 bits as at 12 (within 0.06% on the GPT and MiniLM checkpoint
/// pairs), and its decode tables, built per chunk and gathered from per
/// symbol, are a quarter of the size: delta decompression 7-11% faster
/// (docs/ARCHIVE.md, "Plane 0 at scale 10").
const CTX_BITS_FIRST: u32 = 10;
/// Probability scale of the other residual planes' context models: they
/// lose 0.1-0.7% of frame size at 10 bits.
const CTX_BITS: u32 = 12;
/// A residual plane whose mode-choice sample reads at least this many bits
/// per symbol (its entropy under the delta contexts, or its collision
/// entropy) is stored without being counted whole
/// ([`PlaneSample::is_noise`]).
const NOISE_BITS: f64 = 7.85;
/// Below `max`, a counted residual plane whose model prices it at this
/// many bits per symbol or more ([`code_plane`]) is stored: coding it
/// would save under 0.7% of its bytes and cost its decoder a rANS symbol
/// per byte. The short form's escaped low bytes on the early GPT bf16
/// pairs price at 7.99: stored, bf16 60 -> 120 decompresses 9-10% faster
/// for 0.065% of frame size (docs/ARCHIVE.md, "Near-noise planes
/// stored").
const STORE_BITS: f64 = 7.95;
/// A residual plane whose sample's corrected entropy plus the model it
/// would need comes to at least this many bits per symbol is stored
/// without being counted whole ([`PlaneSample::is_noise`]).
const NOISE_COST_BITS: f64 = 8.1;
/// Chunks of fewer elements (a small tensor of an archive) choose their
/// residual mode by the planes' order-0 entropy and code the planes as a
/// plain chunk's are ([`code_tiny`]), without delta contexts: with a few
/// thousand symbols the sampled choice and the per-context models cost
/// more time than they save bytes (docs/ARCHIVE.md, "Small tensors and
/// `bench` on model deltas").
const TINY: usize = 4096;
/// Elements in one run of the mode-choice sample.
const SAMPLE_RUN: usize = 1024;
/// Runs in the mode-choice sample (chunks up to `SAMPLE_RUN * SAMPLE_RUNS`
/// elements are estimated whole).
const SAMPLE_RUNS: usize = 16;

/// Name of a residual mode for `info`.
pub fn mode_name(mode: u8) -> &'static str {
    match mode {
        MODE_XOR => "delta-xor",
        MODE_SUB => "delta-diff",
        m if m == MODE_XOR | SHORT => "delta-xor-short",
        _ => "delta-diff-short",
    }
}

/// Reads a delta payload's mode byte: `(mode, short form)`.
fn read_mode(r: &mut Reader<'_>, dtype: DType) -> Result<(u8, bool)> {
    let byte = r.u8("delta mode")?;
    let (mode, short) = (byte & !SHORT, byte & SHORT != 0);
    if mode > MODE_SUB || (dtype == DType::Bytes && mode != MODE_XOR) {
        return Err(Error::corrupt(format!("unknown delta mode {byte}")));
    }
    if short && dtype.width() != 2 {
        return Err(Error::corrupt(
            "short delta residuals need elements of two bytes",
        ));
    }
    Ok((mode, short))
}

/// An element word as a concrete unsigned integer, so that the loops over
/// words compile to fixed-size loads and vector code.
trait Word: Copy + Default {
    const BYTES: usize;
    fn load(b: &[u8]) -> Self;
    fn store(self, b: &mut [u8]);
    /// Order-preserving key of a float's bits.
    fn key(self) -> Self;
    fn unkey(self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn add(self, o: Self) -> Self;
    fn xor(self, o: Self) -> Self;
    fn zigzag(self) -> Self;
    fn unzigzag(self) -> Self;
    /// Plane 0 of the element after the split (rotated left by one bit
    /// first when `rotate`).
    fn top_byte(self, rotate: bool) -> u8;
    /// Byte `p` of the word, most significant first (residual plane `p`).
    fn plane_byte(self, p: usize) -> u8;
    /// The word shifted left by a byte, `b` in its low byte.
    fn push_byte(self, b: u8) -> Self;
}

macro_rules! word {
    ($t:ty, $s:ty) => {
        impl Word for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn load(b: &[u8]) -> Self {
                <$t>::from_le_bytes(b.try_into().expect("word width"))
            }
            #[inline(always)]
            fn store(self, b: &mut [u8]) {
                b.copy_from_slice(&self.to_le_bytes());
            }
            #[inline(always)]
            fn key(self) -> Self {
                // Negative: all bits flipped; else the sign bit set.
                const SIGN: $t = 1 << (<$t>::BITS - 1);
                self ^ (((self as $s) >> (<$t>::BITS - 1)) as $t | SIGN)
            }
            #[inline(always)]
            fn unkey(self) -> Self {
                const SIGN: $t = 1 << (<$t>::BITS - 1);
                self ^ (!(((self as $s) >> (<$t>::BITS - 1)) as $t) | SIGN)
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn xor(self, o: Self) -> Self {
                self ^ o
            }
            #[inline(always)]
            fn zigzag(self) -> Self {
                (self << 1) ^ ((self as $s) >> (<$t>::BITS - 1)) as $t
            }
            #[inline(always)]
            fn unzigzag(self) -> Self {
                (self >> 1) ^ (0 as $t).wrapping_sub(self & 1)
            }
            #[inline(always)]
            fn top_byte(self, rotate: bool) -> u8 {
                (self.rotate_left(rotate as u32) >> (<$t>::BITS - 8)) as u8
            }
            #[inline(always)]
            fn plane_byte(self, p: usize) -> u8 {
                (self >> (8 * (Self::BYTES - 1 - p))) as u8
            }
            #[inline(always)]
            fn push_byte(self, b: u8) -> Self {
                // Shifting a one-byte word by 8 would overflow: it has no
                // byte above the new one.
                if Self::BYTES == 1 {
                    b as $t
                } else {
                    (self << (8 % <$t>::BITS)) | b as $t
                }
            }
        }
    };
}
word!(u8, i8);
word!(u16, i16);
word!(u32, i32);
word!(u64, i64);

/// The residual of `new` against `old` under `MODE` (`FLOAT`: keys in the
/// order-preserving domain).
#[inline(always)]
fn residual<T: Word, const FLOAT: bool, const MODE: u8>(new: T, old: T) -> T {
    if MODE == MODE_XOR {
        return new.xor(old);
    }
    let (a, b) = if FLOAT {
        (new.key(), old.key())
    } else {
        (new, old)
    };
    a.sub(b).zigzag()
}

/// Inverse of [`residual`]: the new word from the residual and `old`.
#[inline(always)]
fn apply<T: Word, const FLOAT: bool, const MODE: u8>(res: T, old: T) -> T {
    if MODE == MODE_XOR {
        return res.xor(old);
    }
    if FLOAT {
        old.key().add(res.unzigzag()).unkey()
    } else {
        old.add(res.unzigzag())
    }
}

/// Elements per block of the fused loops below: a fixed trip count lets
/// the compiler vectorise each step, and a block's residual words stay in
/// registers or L1 between the steps.
const BLOCK: usize = 64;

/// One block of [`split_residuals`]: `len` (at most [`BLOCK`]) elements
/// from element `at` on; `planes` holds planes of `n` symbols. Called with
/// a constant `len` for full blocks, so that every loop's trip count is
/// known.
#[inline(always)]
fn split_block<T: Word, const FLOAT: bool, const MODE: u8>(
    new: &[u8],
    old: &[u8],
    planes: &mut [u8],
    n: usize,
    at: usize,
    ctx: &mut [u8],
    len: usize,
) {
    let w = T::BYTES;
    let (new, old, ctx) = (&new[..len * w], &old[..len * w], &mut ctx[..len]);
    let mut res = [T::default(); BLOCK];
    for ((r, a), b) in res[..len]
        .iter_mut()
        .zip(new.chunks_exact(w))
        .zip(old.chunks_exact(w))
    {
        *r = residual::<T, FLOAT, MODE>(T::load(a), T::load(b));
    }
    for (c, b) in ctx.iter_mut().zip(old.chunks_exact(w)) {
        *c = T::load(b).top_byte(FLOAT).min(127);
    }
    for p in 0..w {
        let dst = &mut planes[p * n + at..p * n + at + len];
        for (d, r) in dst.iter_mut().zip(&res[..len]) {
            *d = r.plane_byte(p);
        }
    }
}

/// In one pass over the elements: the residual words of `new` against
/// `old` under `MODE`, split into byte planes (most significant first, no
/// rotation: what `split_planes` of the residual gives), and the delta
/// contexts of plane 0 (what [`first_contexts`] gives). `ctx` holds one
/// byte per element, `planes` `T::BYTES` per element, `new` and `old` at
/// least as many.
#[inline(always)]
fn split_residuals<T: Word, const FLOAT: bool, const MODE: u8>(
    new: &[u8],
    old: &[u8],
    planes: &mut [u8],
    ctx: &mut [u8],
) {
    let w = T::BYTES;
    let n = ctx.len();
    let bytes = BLOCK * w;
    let mut at = 0;
    for ((c, a), b) in ctx
        .chunks_mut(BLOCK)
        .zip(new[..n * w].chunks(bytes))
        .zip(old[..n * w].chunks(bytes))
    {
        if c.len() == BLOCK {
            split_block::<T, FLOAT, MODE>(a, b, planes, n, at, c, BLOCK);
        } else {
            let len = c.len();
            split_block::<T, FLOAT, MODE>(a, b, planes, n, at, c, len);
        }
        at += BLOCK;
    }
}

/// One block of [`merge_apply`]: `len` (at most [`BLOCK`]) elements from
/// element `at` on (a constant `len` for full blocks, as in
/// [`split_block`]).
#[inline(always)]
fn merge_block<T: Word, const FLOAT: bool, const MODE: u8>(
    planes: &[u8],
    n: usize,
    at: usize,
    old: &[u8],
    out: &mut [u8],
    len: usize,
) {
    let w = T::BYTES;
    let (old, out) = (&old[..len * w], &mut out[..len * w]);
    let mut res = [T::default(); BLOCK];
    for p in 0..w {
        for (r, &b) in res[..len]
            .iter_mut()
            .zip(&planes[p * n + at..p * n + at + len])
        {
            *r = r.push_byte(b);
        }
    }
    for ((o, b), &r) in out
        .chunks_exact_mut(w)
        .zip(old.chunks_exact(w))
        .zip(&res[..len])
    {
        apply::<T, FLOAT, MODE>(r, T::load(b)).store(o);
    }
}

/// Inverse of [`split_residuals`] in one pass: gathers the residual words
/// from `planes` (`T::BYTES` planes of `out.len() / T::BYTES` symbols) and
/// writes the new words (against `old`) to `out`.
#[inline(always)]
fn merge_apply<T: Word, const FLOAT: bool, const MODE: u8>(
    planes: &[u8],
    old: &[u8],
    out: &mut [u8],
) {
    let w = T::BYTES;
    let n = out.len() / w;
    let bytes = BLOCK * w;
    let mut at = 0;
    for (o, b) in out.chunks_mut(bytes).zip(old[..n * w].chunks(bytes)) {
        if o.len() == bytes {
            merge_block::<T, FLOAT, MODE>(planes, n, at, b, o, BLOCK);
        } else {
            let len = o.len() / w;
            merge_block::<T, FLOAT, MODE>(planes, n, at, b, o, len);
        }
        at += BLOCK;
    }
}

/// Replaces the residual words in `out` by the new words (against `old`).
fn apply_all<T: Word, const FLOAT: bool, const MODE: u8>(out: &mut [u8], old: &[u8]) {
    let w = T::BYTES;
    for (o, b) in out.chunks_exact_mut(w).zip(old.chunks_exact(w)) {
        apply::<T, FLOAT, MODE>(T::load(o), T::load(b)).store(o);
    }
}

/// Calls `$f::<T, FLOAT, MODE>($args)` with the word type of `$w`.
macro_rules! dispatch {
    ($f:ident, $w:expr, $float:expr, $mode:expr, $($args:expr),*) => {
        match ($w, $float, $mode == MODE_XOR) {
            (1, false, true) => $f::<u8, false, MODE_XOR>($($args),*),
            (1, false, false) => $f::<u8, false, MODE_SUB>($($args),*),
            (1, true, true) => $f::<u8, true, MODE_XOR>($($args),*),
            (1, true, false) => $f::<u8, true, MODE_SUB>($($args),*),
            (2, false, true) => $f::<u16, false, MODE_XOR>($($args),*),
            (2, false, false) => $f::<u16, false, MODE_SUB>($($args),*),
            (2, true, true) => $f::<u16, true, MODE_XOR>($($args),*),
            (2, true, false) => $f::<u16, true, MODE_SUB>($($args),*),
            (4, false, true) => $f::<u32, false, MODE_XOR>($($args),*),
            (4, false, false) => $f::<u32, false, MODE_SUB>($($args),*),
            (4, true, true) => $f::<u32, true, MODE_XOR>($($args),*),
            (4, true, false) => $f::<u32, true, MODE_SUB>($($args),*),
            (_, false, true) => $f::<u64, false, MODE_XOR>($($args),*),
            (_, false, false) => $f::<u64, false, MODE_SUB>($($args),*),
            (_, true, true) => $f::<u64, true, MODE_XOR>($($args),*),
            (_, true, false) => $f::<u64, true, MODE_SUB>($($args),*),
        }
    };
}

/// The residual planes of `new`'s whole elements against `old` under
/// `mode` into `planes` and the delta contexts of plane 0 into `ctx` (one
/// byte per element), both sized to fit ([`reuse`]); see
/// [`split_residuals`] (at `k`'s level: [`wide`]).
fn residual_planes(
    dtype: DType,
    mode: u8,
    new: &[u8],
    old: &[u8],
    planes: &mut Vec<u8>,
    ctx: &mut Vec<u8>,
    k: &Kernels,
) {
    let w = dtype.width();
    let n = new.len() / w;
    reuse(planes, n * w);
    reuse(ctx, n);
    use wide::split;
    dispatch!(
        split,
        dtype.width(),
        dtype.is_float(),
        mode,
        k,
        new,
        old,
        planes,
        ctx
    )
}

/// The integer dtype of the residual words (no rotation in the split).
fn residual_dtype(width: usize) -> DType {
    match width {
        1 => DType::U8,
        2 => DType::I16,
        4 => DType::I32,
        _ => DType::I64,
    }
}

/// Delta contexts of residual plane 0 into `out`: the reference element's
/// plane-0 byte (its exponent, for floats), capped at 127 (weights of
/// magnitude >= 1 share one context).
pub fn first_contexts(reference: &[u8], dtype: DType, out: &mut [u8]) {
    fn run<T: Word, const ROTATE: bool>(reference: &[u8], out: &mut [u8]) {
        for (c, e) in out.iter_mut().zip(reference.chunks_exact(T::BYTES)) {
            *c = T::load(e).top_byte(ROTATE).min(127);
        }
    }
    match (dtype.width(), dtype.rotates()) {
        (1, false) => run::<u8, false>(reference, out),
        (1, true) => run::<u8, true>(reference, out),
        (2, false) => run::<u16, false>(reference, out),
        (2, true) => run::<u16, true>(reference, out),
        (4, false) => run::<u32, false>(reference, out),
        (4, true) => run::<u32, true>(reference, out),
        (_, false) => run::<u64, false>(reference, out),
        (_, true) => run::<u64, true>(reference, out),
    }
}

/// Turns the delta contexts of residual plane `p` into those of plane
/// `p + 1`, given plane `p`'s bytes:
/// * every more significant residual byte zero (context < 128) and this
///   byte zero: unchanged (the reference's exponent);
/// * this byte `b` non-zero and the ones above zero: `128 + min(b, 126)`
///   (the size of the move shapes the next byte);
/// * a non-zero byte two or more planes up (context >= 128): 255 (noise).
pub fn advance_contexts(ctx: &mut [u8], plane: &[u8]) {
    for (c, &b) in ctx.iter_mut().zip(plane) {
        let lead = if b != 0 { 128 + b.min(126) } else { *c };
        *c = if *c >= 128 { 255 } else { lead };
    }
}

/// The rANS context kind of residual plane `p`: plane 1 under the
/// reference's exponents (kind 4), so that it decodes in one loop with
/// plane 0; the others under their delta contexts (kind 3). Under its
/// delta contexts plane 1 coded 0.008% smaller over the GPT and all-MiniLM
/// checkpoint pairs, 0.14% at most (docs/ARCHIVE.md, "Plane 1 under the
/// exponents").
fn plane_kind(p: usize) -> CtxKind {
    if p == 1 {
        CtxKind::DeltaExp
    } else {
        CtxKind::Delta
    }
}

/// Whether residual plane `p`, the planes before it coded as `before`,
/// is left as one rANS stream for a decoder to run in one pair loop with
/// the other of planes 0 and 1 (`chunk::decode_delta_planes` pairs them
/// when both are single streams). Every other plane of at least
/// [`HALVES_MIN`] symbols is coded in halves, which decode in one pair
/// loop of their own: planes 2 and up of fp32 residuals decoded as single
/// streams took a third of restoring an all-MiniLM fine-tune delta
/// (docs/ARCHIVE.md, "Wide residual planes in halves").
fn pairs_with_plane_0(p: usize, before: &[PlaneCode]) -> bool {
    match p {
        0 => true,
        1 => matches!(before.first(), Some(PlaneCode::Rans(..))),
        _ => false,
    }
}

/// Turns `ctx`, the reference's exponents until plane 2 is reached, into
/// the contexts of residual plane `p` ([`plane_kind`]), planes `..p` of
/// `n` symbols each being in `planes`. Call for `p = 0, 1, ...` in turn.
fn ready_contexts(ctx: &mut [u8], planes: &[u8], n: usize, p: usize) {
    if p == 2 {
        advance_contexts(ctx, &planes[..n]);
    }
    if p >= 2 {
        advance_contexts(ctx, &planes[(p - 1) * n..p * n]);
    }
}

/// Per-thread buffers of the delta coder, reused across chunks.
#[derive(Default)]
struct Scratch {
    /// A chunk's residual planes and delta contexts.
    planes: Vec<u8>,
    ctx: Vec<u8>,
    /// The same for the mode-choice sample, apart so that neither pair is
    /// shrunk and grown again (zero-filled) by the other's use.
    sample_planes: Vec<u8>,
    sample_ctx: Vec<u8>,
    /// The delta contexts of later residual planes, when decoding.
    chain: Vec<u8>,
    counts: PairCounts,
    /// The short form's planes.
    short: short::ShortPlanes,
}

/// Where a plane's (context, symbol) pairs are counted ([`count_pairs`]).
#[derive(Default)]
struct PairCounts {
    /// A context histogram, all zero between uses: each user clears it
    /// right after reading it, while it is still in cache (clearing it
    /// before counting, after a plane has streamed through, showed in
    /// profiles).
    hist: Vec<u32>,
    /// Plane 0's contexts with the odd elements' moved up by 128.
    spread: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Codes one plane under `ctx` (contexts of rANS `kind`), with a model of
/// probability scale `scale`, as one rANS stream or (`halves`) two:
/// `(code, estimated bits)`. `counts.hist` is a table of 65536 zero
/// counts, left zero; rANS streams are written to buffers from `bufs`.
#[allow(clippy::too_many_arguments)]
fn code_plane(
    plane: &[u8],
    ctx: &[u8],
    kind: CtxKind,
    scale: u32,
    halves: bool,
    k: &Kernels,
    trial: bool,
    counts: &mut PairCounts,
    bufs: &Buffers,
) -> (PlaneCode, f64) {
    let n = plane.len();
    if n == 0 {
        return (PlaneCode::Raw, 8.0);
    }
    if kind == CtxKind::DeltaExp {
        // Plane 1's symbols spread over the byte under every exponent: its
        // counters do not wait on each other, and spreading its contexts
        // ([`count_pairs`]) made bf16 delta compression 7% slower.
        k.hist_context(plane, ctx, &mut counts.hist);
    } else {
        count_pairs(plane, ctx, k, counts);
    }
    let hist = &mut counts.hist;
    let first = plane.first().copied().unwrap_or(0);
    let rows = entropy::dense_rows(hist);
    let total_first: u64 = rows
        .iter()
        .map(|(_, row)| u64::from(row[usize::from(first)]))
        .sum();
    let priced = (total_first != n as u64).then(|| {
        let model = entropy::build_context_model(rows.iter().copied(), scale, false);
        let ser = chunk::model_len(&model);
        let est = CostTable::new(&model).context_rows(rows.iter().copied())
            + 8.0 * (ser + 7 + 128) as f64;
        (model, est)
    });
    // Only the rows met hold counts.
    let met: Vec<usize> = rows.iter().map(|&(c, _)| c).collect();
    for c in met {
        hist[c * 256..(c + 1) * 256].fill(0);
    }
    let Some((model, est)) = priced else {
        return (PlaneCode::Const(first), 16.0);
    };
    if est >= STORE_BITS * n as f64 && !trial {
        return (PlaneCode::Raw, 8.0 * n as f64);
    }
    let code = if halves {
        let h = chunk::half(n);
        let mut a = bufs.empty(h);
        let mut b = bufs.empty(n - h);
        let coded = k
            .rans_encode(&plane[..h], Ctx::Plane(&ctx[..h]), &model, &mut a)
            .and_then(|()| k.rans_encode(&plane[h..], Ctx::Plane(&ctx[h..]), &model, &mut b));
        match coded {
            Ok(()) => PlaneCode::RansHalves(kind, ModelSel::Inline(model), [a, b]),
            Err(_) => {
                bufs.give(a);
                bufs.give(b);
                PlaneCode::Raw
            }
        }
    } else {
        let mut stream = bufs.empty(n);
        match k.rans_encode(plane, Ctx::Plane(ctx), &model, &mut stream) {
            Ok(()) => PlaneCode::Rans(kind, ModelSel::Inline(model), stream),
            Err(_) => {
                bufs.give(stream);
                PlaneCode::Raw
            }
        }
    };
    let size = code.size(n);
    if size < 1 + n {
        (code, 8.0 * size as f64)
    } else {
        code.recycle(bufs);
        (PlaneCode::Raw, 8.0 * n as f64)
    }
}

/// Adds the (context, symbol) pairs of `plane` under `ctx` to `hist`
/// (`ctx * 256 + symbol`). Where every context is below 128 (plane 0's:
/// the reference's exponent), the odd elements are counted in rows
/// `ctx + 128` and those rows are then added back: such a plane is mostly
/// zero bytes under a few exponents, whose counters an in-order count
/// increments back to back, each increment waiting for the last; two
/// tables halve those chains.
fn count_pairs(plane: &[u8], ctx: &[u8], k: &Kernels, counts: &mut PairCounts) {
    let PairCounts { hist, spread } = counts;
    if ctx.iter().fold(0u8, |a, &c| a | c) >= 128 {
        k.hist_context(plane, ctx, hist);
        return;
    }
    // Grown, never shrunk: its length alternates between a chunk's
    // elements and its escapes.
    let spread = grown(spread, ctx.len());
    // The odd bytes' top bit set, eight bytes at a time (byte pairs were
    // compiled to byte inserts: 8% of compressing a bf16 delta).
    const ODD: u64 = 0x8000_8000_8000_8000;
    let mut words = spread.chunks_exact_mut(8);
    let mut from = ctx.chunks_exact(8);
    for (d, c) in (&mut words).zip(&mut from) {
        let v = u64::from_le_bytes(c.try_into().expect("8 bytes")) | ODD;
        d.copy_from_slice(&v.to_le_bytes());
    }
    // The tail starts at a multiple of eight: its parity is the index's.
    for (i, (d, &c)) in words
        .into_remainder()
        .iter_mut()
        .zip(from.remainder())
        .enumerate()
    {
        *d = c | if i % 2 == 1 { 128 } else { 0 };
    }
    k.hist_context(plane, spread, hist);
    let (low, high) = hist.split_at_mut(128 * 256);
    for (l, h) in low.chunks_exact_mut(256).zip(high.chunks_exact_mut(256)) {
        if entropy::row_met(h) {
            l.iter_mut().zip(h.iter_mut()).for_each(|(a, b)| {
                *a += *b;
                *b = 0;
            });
        }
    }
}

/// What the mode-choice sample says of one residual plane under its delta
/// contexts.
#[derive(Clone, Copy, Default)]
struct PlaneSample {
    /// Empirical entropy, in bits (no model cost).
    bits: f64,
    /// (context, symbol) pairs met.
    seen: usize,
    /// Contexts met.
    rows: usize,
    /// Over the contexts met at least twice: the symbols of those
    /// contexts, and the sum over them of each context's symbols times its
    /// collision rate (the share of pairs of its symbols that are equal,
    /// an unbiased estimate of its `sum p^2` however few symbols it saw).
    collided: (f64, f64),
}

impl PlaneSample {
    /// Whether the plane, `n` symbols of which this sample saw `m`, is
    /// noise that coding would not shrink, so that [`code_plane`] need not
    /// count it and build its model: the sample reads at least
    /// [`NOISE_BITS`] per symbol, or its entropy corrected for the
    /// sample's bias plus about a byte of model per pair met comes to
    /// [`NOISE_COST_BITS`] (the model builder falls back to a shared table
    /// where an own one does not pay, so this overstates the cost of
    /// coding; above 8.1 bits, on the GPT and all-MiniLM checkpoint pairs,
    /// the planes it caught would have saved 2 KB in all: docs/ARCHIVE.md,
    /// "Noise planes"), or its collision entropy reads at least
    /// [`NOISE_BITS`] (which the Miller-Madow correction misses where the
    /// sample is spread thinly over many contexts: docs/ARCHIVE.md, "Delta
    /// compression on the Zen 5 host").
    fn is_noise(&self, m: usize, n: usize) -> bool {
        let m = m as f64;
        let corrected = (self.bits + entropy::miller_madow_bits(self.seen, self.rows)) / m;
        let model = 8.0 * self.seen as f64 / n as f64;
        self.bits / m >= NOISE_BITS
            || corrected + model >= NOISE_COST_BITS
            || self.collision_bits() >= NOISE_BITS
    }

    /// The collision (Renyi order-2) entropy of the contexts met at least
    /// twice, in bits per symbol: at most their Shannon entropy, and
    /// estimated without the bias that a sample spread thinly over many
    /// contexts gives the Shannon entropy. 0 when no context met twice.
    fn collision_bits(&self) -> f64 {
        let (symbols, weighted) = self.collided;
        if weighted > 0.0 {
            (symbols / weighted).log2()
        } else {
            0.0
        }
    }
}

/// What the residual planes of `new` against `old` under `mode` read under
/// their delta contexts: the entropies [`code_mode`] would spend, up to the
/// models; and for two-byte elements, the words the short form would
/// escape.
fn plane_entropy(
    new: &[u8],
    old: &[u8],
    dtype: DType,
    mode: u8,
    k: &Kernels,
    s: &mut Scratch,
) -> (Vec<PlaneSample>, usize) {
    let w = dtype.width();
    let n = new.len() / w;
    let (planes, ctx) = (&mut s.sample_planes, &mut s.sample_ctx);
    residual_planes(dtype, mode, new, old, planes, ctx, k);
    let escapes = if w == 2 {
        let (high, low) = planes.split_at(n);
        high.iter()
            .zip(low)
            .filter(|&(&h, &l)| h != 0 || l == short::ESCAPE)
            .count()
    } else {
        0
    };
    let mut samples = vec![PlaneSample::default(); w];
    for (p, sample) in samples.iter_mut().enumerate() {
        ready_contexts(ctx, planes, n, p);
        let plane = &planes[p * n..(p + 1) * n];
        for (_, row) in CtxHist::count(plane, Some(ctx), k).rows() {
            let (bits, seen) = entropy::entropy_and_seen(row);
            sample.bits += bits;
            sample.seen += seen;
            sample.rows += 1;
            let (total, pairs) = row.iter().fold((0u64, 0u64), |(t, p), &c| {
                let c = u64::from(c);
                (t + c, p + c * c.saturating_sub(1))
            });
            if total >= 2 {
                // `total` symbols at the context's collision rate.
                let rate = pairs as f64 / (total * (total - 1)) as f64;
                sample.collided.0 += total as f64;
                sample.collided.1 += total as f64 * rate;
            }
        }
    }
    (samples, escapes)
}

/// What the sample says about a chunk: the residual mode to code, and
/// whether the residual clearly beats coding the chunk's own planes (so
/// that the exact comparison can be skipped).
struct Choice {
    mode: u8,
    clearly_better: bool,
    /// Residual planes stored without being counted ([`PlaneSample::is_noise`]).
    noise: Vec<bool>,
    /// Code the residual in the short form ([`short`]).
    short: bool,
}

/// Chooses the residual mode for `raw` against `reference` (same length):
/// XOR for dtype bytes, else the mode with the smaller [`plane_entropy`]
/// over up to `SAMPLE_RUNS` evenly spaced runs of `SAMPLE_RUN` elements.
/// A sampled chunk whose residual entropy is under 0.9 of the chunk's own
/// plane entropy (`payload::plain_estimate`) on the same sample is clearly
/// better as a delta.
fn choose(
    raw: &[u8],
    reference: &[u8],
    dtype: DType,
    effort: Effort,
    k: &Kernels,
    s: &mut Scratch,
) -> Choice {
    let w = dtype.width();
    let n = raw.len() / w;
    let sampled = n > SAMPLE_RUN * SAMPLE_RUNS;
    let (new, old): (Cow<'_, [u8]>, Cow<'_, [u8]>) = if !sampled {
        (Cow::Borrowed(&raw[..n * w]), Cow::Borrowed(reference))
    } else {
        let step = n / SAMPLE_RUNS * w;
        let run = |b: &[u8]| -> Cow<'_, [u8]> {
            let mut v = Vec::with_capacity(SAMPLE_RUNS * SAMPLE_RUN * w);
            for i in 0..SAMPLE_RUNS {
                v.extend_from_slice(&b[i * step..i * step + SAMPLE_RUN * w]);
            }
            Cow::Owned(v)
        };
        (run(raw), run(reference))
    };
    let total = |samples: &[PlaneSample]| samples.iter().map(|p| p.bits).sum::<f64>();
    let (mode, (samples, escapes)) = if dtype == DType::Bytes {
        (MODE_XOR, plane_entropy(&new, &old, dtype, MODE_XOR, k, s))
    } else {
        let xor = plane_entropy(&new, &old, dtype, MODE_XOR, k, s);
        let sub = plane_entropy(&new, &old, dtype, MODE_SUB, k, s);
        // Ties go to the difference, which wins on weights.
        if total(&xor.0) < total(&sub.0) {
            (MODE_XOR, xor)
        } else {
            (MODE_SUB, sub)
        }
    };
    let short = w == 2 && (escapes as f64) < SHORT_MAX_ESCAPES * (new.len() / w) as f64;
    let bits = total(&samples);
    let noise = samples
        .iter()
        .map(|p| sampled && p.is_noise(new.len() / w, n))
        .collect();
    let clearly_better = sampled && {
        let planes = chunk::split(&new, dtype, k);
        bits < 0.9 * 8.0 * payload::plain_estimate(&planes, w, effort, k)
    };
    Choice {
        mode,
        clearly_better,
        noise,
        short,
    }
}

/// Residual planes of one mode, coded (those marked in `noise` stored
/// without being counted): `(estimated bits, codes)`. The planes are left
/// in `s.planes`.
#[allow(clippy::too_many_arguments)]
fn code_mode(
    raw: &[u8],
    reference: &[u8],
    dtype: DType,
    mode: u8,
    trial: bool,
    noise: &[bool],
    k: &Kernels,
    s: &mut Scratch,
    bufs: &Buffers,
) -> (f64, Vec<PlaneCode>) {
    let w = dtype.width();
    let n = raw.len() / w;
    residual_planes(dtype, mode, raw, reference, &mut s.planes, &mut s.ctx, k);
    reuse(&mut s.counts.hist, 65536);
    let mut bits = 0.0;
    let mut codes = Vec::with_capacity(w);
    for p in 0..w {
        ready_contexts(&mut s.ctx, &s.planes, n, p);
        let plane = &s.planes[p * n..(p + 1) * n];
        let scale = if p == 0 && w > 1 {
            CTX_BITS_FIRST
        } else {
            CTX_BITS
        };
        let (code, b) = if noise.get(p) == Some(&true) {
            (PlaneCode::Raw, 8.0 * n as f64)
        } else {
            let halves = n >= HALVES_MIN && !pairs_with_plane_0(p, &codes);
            code_plane(
                plane,
                &s.ctx,
                plane_kind(p),
                scale,
                halves,
                k,
                trial,
                &mut s.counts,
                bufs,
            )
        };
        bits += b;
        codes.push(code);
    }
    (bits, codes)
}

/// Codes the short form of a chunk of `n` two-byte elements whose residual
/// planes and reference exponents are in `s.planes` and `s.ctx`:
/// `(estimated bits, codes of the short, high and low planes)`, those
/// planes left in `s.short`.
fn code_short(
    n: usize,
    trial: bool,
    k: &Kernels,
    s: &mut Scratch,
    bufs: &Buffers,
) -> (f64, Vec<PlaneCode>) {
    let (high, low) = s.planes[..2 * n].split_at(n);
    short::split(high, low, &s.ctx[..n], k, &mut s.short);
    reuse(&mut s.counts.hist, 65536);
    let sp = &s.short;
    let (high, low, esc_ctx) = sp.escaped();
    // Kind 3 (the escapes' exponents, as kind 4) counts its pairs spread
    // ([`count_pairs`]): the short and high planes are mostly a few small
    // symbols under each exponent.
    let planes = [
        (&sp.short[..], &s.ctx[..n], CtxKind::Delta, SHORT_BITS),
        (high, esc_ctx, CtxKind::Delta, CTX_BITS_FIRST),
        (low, esc_ctx, CtxKind::DeltaExp, CTX_BITS),
    ];
    let mut bits = 0.0;
    let codes = planes
        .into_iter()
        .map(|(plane, ctx, kind, scale)| {
            let halves = plane.len() >= HALVES_MIN;
            let (code, b) = code_plane(
                plane,
                ctx,
                kind,
                scale,
                halves,
                k,
                trial,
                &mut s.counts,
                bufs,
            );
            bits += b;
            code
        })
        .collect();
    (bits, codes)
}

/// Codes a chunk of fewer than [`TINY`] elements: the residual mode whose
/// planes have the smaller order-0 entropy (ties to the difference; XOR
/// for dtype bytes), its planes coded as a plain chunk's are. The planes
/// are left in `s.planes`.
fn code_tiny(
    raw: &[u8],
    reference: &[u8],
    dtype: DType,
    effort: Effort,
    k: &Kernels,
    s: &mut Scratch,
    bufs: &Buffers,
) -> (u8, Vec<PlaneCode>) {
    let w = dtype.width();
    let n = raw.len() / w;
    let modes: &[u8] = if dtype == DType::Bytes {
        &[MODE_XOR]
    } else {
        &[MODE_SUB, MODE_XOR]
    };
    let mut best = (f64::INFINITY, MODE_SUB);
    for &mode in modes {
        residual_planes(dtype, mode, raw, reference, &mut s.planes, &mut s.ctx, k);
        let bits: f64 = s
            .planes
            .chunks_exact(n)
            .map(|plane| {
                let mut counts = [0u32; 256];
                k.hist_order0(plane, &mut counts);
                entropy::entropy_and_seen(&counts).0
            })
            .sum();
        if bits < best.0 {
            best = (bits, mode);
        }
    }
    let mode = best.1;
    if modes.last() != Some(&mode) {
        residual_planes(dtype, mode, raw, reference, &mut s.planes, &mut s.ctx, k);
    }
    let planes = std::mem::take(&mut s.planes);
    let none = BlockModels::none(w);
    let enc = chunk::encode_planes(planes, residual_dtype(w), effort, &none, k, None, bufs);
    s.planes = enc.planes;
    (mode, enc.codes)
}

/// A chunk's residual, coded.
enum Residual {
    /// Byte planes of the residual words (a payload of layout 1; codes of
    /// the planes in `Scratch::planes`).
    Planes(Vec<PlaneCode>),
    /// The short form (codes of the planes in `Scratch::short`).
    Short(Vec<PlaneCode>),
}

impl Residual {
    /// Hands the codes' streams to `bufs`.
    fn recycle(self, bufs: &Buffers) {
        match self {
            Residual::Planes(codes) | Residual::Short(codes) => chunk::recycle_codes(codes, bufs),
        }
    }
}

/// Codes `raw` against the same-length prefix `reference` and appends the
/// payload (layout 5) to `out`, or the stored chunk where that payload
/// would be longer than the chunk. False (`out` then holds no payload, and
/// may hold some of one past its old length) when the chunk is too short,
/// its residual does not code smaller than its bytes, or it codes no
/// smaller than `plain_bytes()`, the entropy estimate of the chunk's own
/// planes (asked only when a sample leaves it in doubt, and always at
/// `max`).
#[allow(clippy::too_many_arguments)]
pub fn encode(
    raw: &[u8],
    reference: &[u8],
    dtype: DType,
    effort: Effort,
    k: &Kernels,
    bufs: &Buffers,
    plain_bytes: impl FnOnce() -> f64,
    out: &mut (impl ByteSink + ?Sized),
) -> bool {
    let w = dtype.width();
    let n = raw.len() / w;
    if n == 0 || reference.len() < n * w {
        return false;
    }
    let start = out.len();
    let reference = &reference[..n * w];
    let sure = SCRATCH.with_borrow_mut(|s| {
        let trial = effort == Effort::Max;
        let (mode, residual, sure) = if trial && dtype != DType::Bytes {
            let (bx, cx) = code_mode(raw, reference, dtype, MODE_XOR, true, &[], k, s, bufs);
            let xor_planes = std::mem::take(&mut s.planes);
            let (bs, cs) = code_mode(raw, reference, dtype, MODE_SUB, true, &[], k, s, bufs);
            let (mode, bits, codes) = if bx < bs {
                s.planes = xor_planes;
                chunk::recycle_codes(cs, bufs);
                (MODE_XOR, bx, cx)
            } else {
                chunk::recycle_codes(cx, bufs);
                (MODE_SUB, bs, cs)
            };
            // The short form of the better mode, where it is smaller.
            let residual = match (w == 2).then(|| code_short(n, true, k, s, bufs)) {
                Some((b, short)) if b < bits => {
                    chunk::recycle_codes(codes, bufs);
                    Residual::Short(short)
                }
                Some((_, short)) => {
                    chunk::recycle_codes(short, bufs);
                    Residual::Planes(codes)
                }
                None => Residual::Planes(codes),
            };
            (mode, residual, false)
        } else if n < TINY {
            let (mode, codes) = code_tiny(raw, reference, dtype, effort, k, s, bufs);
            (mode, Residual::Planes(codes), false)
        } else {
            let c = choose(raw, reference, dtype, effort, k, s);
            let residual = if c.short {
                residual_planes(dtype, c.mode, raw, reference, &mut s.planes, &mut s.ctx, k);
                Residual::Short(code_short(n, trial, k, s, bufs).1)
            } else {
                let noise = &c.noise;
                Residual::Planes(
                    code_mode(raw, reference, dtype, c.mode, trial, noise, k, s, bufs).1,
                )
            };
            (c.mode, residual, c.clearly_better && !trial)
        };
        // The residual's planes (or body) and tail.
        let coded = match &residual {
            Residual::Planes(codes) => {
                codes.iter().map(|c| c.size(n)).sum::<usize>() + raw.len() - n * w
            }
            Residual::Short(codes) => short::size(raw.len(), &s.short, codes),
        };
        if coded >= raw.len() {
            residual.recycle(bufs);
            return None;
        }
        // Layout and mode bytes; for the planes, the residual's own layout
        // byte (`write_chunk` lays the planes out, not stored: they code
        // smaller than `raw`).
        let head = if matches!(residual, Residual::Planes(_)) {
            3
        } else {
            2
        };
        out.reserve(head + coded);
        match residual {
            Residual::Planes(codes) => {
                out.extend_from_slice(&[LAYOUT_DELTA, mode]);
                let enc = EncodedChunk {
                    planes: std::mem::take(&mut s.planes),
                    codes,
                };
                // The residual's tail is the chunk's tail: `raw` serves for
                // both.
                let mut refs = Vec::new();
                chunk::write_chunk(raw, &enc, residual_dtype(w), out, &mut refs);
                debug_assert!(refs.is_empty(), "delta residuals use inline models only");
                s.planes = enc.planes;
                chunk::recycle_codes(enc.codes, bufs);
            }
            Residual::Short(codes) => {
                out.extend_from_slice(&[LAYOUT_DELTA, mode | SHORT]);
                short::write(raw, &s.short, &codes, out);
                chunk::recycle_codes(codes, bufs);
            }
        }
        debug_assert_eq!(out.len() - start, head + coded);
        Some(sure)
    });
    let keep = match sure {
        Some(true) => true,
        Some(false) => ((out.len() - start) as f64) < plain_bytes(),
        None => false,
    };
    if keep {
        chunk::store_if_longer(raw, start, out);
    }
    keep
}

/// Decodes a layout-5 payload (after its layout byte) into `out` using the
/// same bytes of the reference.
pub fn decode(
    r: &mut Reader<'_>,
    dtype: DType,
    reference: &[u8],
    k: &Kernels,
    out: &mut [u8],
    scratch: &mut Vec<u8>,
) -> Result<()> {
    let w = dtype.width();
    let n = out.len() / w;
    let reference = reference
        .get(..n * w)
        .ok_or_else(|| Error::corrupt("delta chunk reaches past the reference"))?;
    let (mode, short) = read_mode(r, dtype)?;
    let float = dtype.is_float();
    SCRATCH.with_borrow_mut(|s| {
        // Scratch grown, never shrunk: an archive's tensors alternate in
        // size, and growing back a truncated buffer zeroes it again.
        let ctx = grown(&mut s.ctx, n);
        first_contexts(reference, dtype, ctx);
        if short {
            let planes = grown(scratch, 2 * n);
            let (words, tail) = out.split_at_mut(2 * n);
            short::decode(r, k, planes, tail, ctx, &mut s.short)?;
            if r.remaining() != 0 {
                return Err(Error::corrupt("chunk payload has trailing bytes"));
            }
            dispatch!(merge, w, float, mode, k, &*planes, reference, words);
            return Ok(());
        }
        let body = r.bytes(r.remaining(), "delta body")?;
        let form = chunk::decode_delta_residual(
            body,
            residual_dtype(w),
            k,
            out,
            scratch,
            ctx,
            &mut s.chain,
        )?;
        let out = &mut out[..n * w];
        match form {
            DeltaResidual::Stored => dispatch!(apply_all, w, float, mode, out, reference),
            DeltaResidual::Planes => {
                dispatch!(merge, w, float, mode, k, &scratch[..n * w], reference, out)
            }
        }
        Ok(())
    })
}

/// Describes a layout-5 payload (after its layout byte) for `info`: the
/// residual mode's name and the residual planes.
pub fn describe(
    r: &mut Reader<'_>,
    dtype: DType,
    raw_len: usize,
) -> Result<(&'static str, Vec<PlaneReport>)> {
    let (mode, short) = read_mode(r, dtype)?;
    if short {
        let planes = short::describe(r, raw_len / 2)?;
        if r.remaining() != raw_len % 2 {
            return Err(Error::corrupt("short delta body does not end at the tail"));
        }
        r.bytes(raw_len % 2, "chunk tail")?;
        return Ok((mode_name(mode | SHORT), planes));
    }
    let body = r.bytes(r.remaining(), "delta body")?;
    let planes = chunk::describe_chunk(body, residual_dtype(dtype.width()), raw_len)?;
    Ok((mode_name(mode), planes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip<T: Word + PartialEq + std::fmt::Debug, const FLOAT: bool>(vals: &[T]) {
        for &a in vals {
            for &b in vals {
                let x = residual::<T, FLOAT, MODE_XOR>(a, b);
                assert_eq!(apply::<T, FLOAT, MODE_XOR>(x, b), a, "{a:?} {b:?}");
                let d = residual::<T, FLOAT, MODE_SUB>(a, b);
                assert_eq!(apply::<T, FLOAT, MODE_SUB>(d, b), a, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn residuals_invert() {
        roundtrip::<u16, true>(&[0, 0x8000, 0x3F80, 0xBF80, 0x7FC1, 0xFFFF, 1]);
        roundtrip::<u32, true>(&[0, 0x8000_0000, 0x3F80_0000, 0xBF80_0001, u32::MAX]);
        roundtrip::<u16, false>(&[0, 1, 0xFFFF, 0x8000, 0x7FFF]);
        roundtrip::<u8, true>(&[0, 1, 0x7F, 0x80, 0xFF]);
        roundtrip::<u64, true>(&[0, 1 << 63, u64::MAX, 0x3FF0_0000_0000_0000]);
        // One ULP up or down across zero is a tiny residual.
        assert_eq!(residual::<u16, true, MODE_SUB>(0x0001, 0x0000), 2);
        assert_eq!(residual::<u16, true, MODE_SUB>(0x8000, 0x0000), 1);
    }

    /// The order-preserving key: negative floats flipped, positives with
    /// the sign bit set, so that integer order is float order.
    #[test]
    fn keys_preserve_order() {
        let vals = [-3.5f32, -1.0, -1e-30, -0.0, 0.0, 1e-30, 1.0, 3.5];
        let keys: Vec<u32> = vals.iter().map(|v| v.to_bits().key()).collect();
        assert!(keys.windows(2).all(|k| k[0] < k[1]), "{keys:x?}");
        for v in vals {
            assert_eq!(v.to_bits().key().unkey(), v.to_bits());
        }
    }

    /// The residual words of `new` against `old`, element by element.
    fn residual_words<T: Word, const FLOAT: bool, const MODE: u8>(
        new: &[u8],
        old: &[u8],
        out: &mut [u8],
    ) {
        let w = T::BYTES;
        for ((o, a), b) in out
            .chunks_exact_mut(w)
            .zip(new.chunks_exact(w))
            .zip(old.chunks_exact(w))
        {
            residual::<T, FLOAT, MODE>(T::load(a), T::load(b)).store(o);
        }
    }

    /// The fused passes against their definition: residual words, split
    /// by the scalar kernel, plane-0 contexts by [`first_contexts`]; and
    /// back. Lengths around the block size, every width, float or not,
    /// both modes, at every kernel level this CPU runs (the loops are
    /// compiled per level: [`wide`]).
    #[test]
    fn fused_passes_match_their_definition() {
        let scalar = Kernels::for_isa(z4ai_simd::Isa::Scalar).expect("scalar");
        let levels: Vec<Kernels> = z4ai_simd::Isa::supported_levels()
            .into_iter()
            .filter_map(Kernels::for_isa)
            .collect();
        let bytes = |seed: u32, len: usize| -> Vec<u8> {
            (0..len as u32)
                .map(|i| (i.wrapping_add(seed).wrapping_mul(0x9E37_79B9) >> 24) as u8)
                .collect()
        };
        for dtype in [
            DType::U8,
            DType::F8E4M3,
            DType::BF16,
            DType::I16,
            DType::F32,
            DType::I32,
            DType::F64,
            DType::I64,
        ] {
            let w = dtype.width();
            for n in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 17] {
                let old = bytes(1, n * w);
                // Mostly small moves, some large.
                let mut new = old.clone();
                for (i, b) in new.iter_mut().enumerate() {
                    *b = b.wrapping_add((i % 5) as u8).wrapping_sub(2);
                }
                new[..n * w / 3].copy_from_slice(&bytes(7, n * w / 3));
                for mode in [MODE_XOR, MODE_SUB] {
                    let float = dtype.is_float();
                    let mut res = vec![0u8; n * w];
                    dispatch!(residual_words, w, float, mode, &new, &old, &mut res);
                    let want_planes = chunk::split(&res, residual_dtype(w), &scalar);
                    let mut want_ctx = vec![0u8; n];
                    first_contexts(&old, dtype, &mut want_ctx);
                    for k in &levels {
                        let at = format!("{dtype} n={n} mode={mode} {}", k.name());
                        let mut planes = vec![0u8; n * w];
                        let mut ctx = vec![0u8; n];
                        residual_planes(dtype, mode, &new, &old, &mut planes, &mut ctx, k);
                        assert_eq!(planes, want_planes, "{at}");
                        assert_eq!(ctx, want_ctx, "{at}");
                        let mut out = vec![0u8; n * w];
                        dispatch!(merge, w, float, mode, k, &planes, &old, &mut out);
                        assert_eq!(out, new, "{at}");
                    }
                    dispatch!(apply_all, w, float, mode, &mut res, &old);
                    assert_eq!(res, new, "{dtype} n={n} mode={mode}");
                }
            }
        }
    }

    /// A chunk whose update scrambles the low 16 bits of every fp32 weight
    /// stores residual planes 2 and 3 without counting them; one whose
    /// weights move by a few ULP counts and codes every plane. Both
    /// decode.
    #[test]
    fn noise_planes_are_stored_uncounted() {
        let k = Kernels::for_isa(z4ai_simd::Isa::Scalar).expect("scalar");
        let n = 4 * SAMPLE_RUN * SAMPLE_RUNS;
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        let old: Vec<u32> = (0..n)
            .map(|_| f32::to_bits((next() % 2000) as f32 / 1e5 - 0.01))
            .collect();
        let scrambled: Vec<u32> = old
            .iter()
            .map(|&w| w & 0xFFFF_0000 | (next() & 0xFFFF) as u32)
            .collect();
        let nudged: Vec<u32> = old
            .iter()
            .map(|&w| w.wrapping_add((next() % 7) as u32).wrapping_sub(3))
            .collect();
        let old = bytes(&old);
        for (new, want) in [
            (bytes(&scrambled), [false, false, true, true]),
            (bytes(&nudged), [false; 4]),
        ] {
            let mut s = Scratch::default();
            let c = choose(&new, &old, DType::F32, Effort::Default, &k, &mut s);
            assert_eq!(c.noise, want);
            let payload = fp32_payload(&new, &old, &k);
            assert!(decode_fp32(&payload, &old, &k) == new);
        }
    }

    /// A xorshift64 generator from `seed`.
    fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// `n` fp32 weights (bits) of either sign, magnitudes 0.01-0.03: away
    /// from zero, so that moves of a few ULPs stay moves of the magnitude.
    fn signed_weights(n: usize, next: &mut impl FnMut() -> u64) -> Vec<u32> {
        (0..n)
            .map(|_| {
                let m = (next() % 2000) as f32 / 1e5 + 0.01;
                f32::to_bits(if next().is_multiple_of(2) { m } else { -m })
            })
            .collect()
    }

    /// Little-endian bytes of fp32 words.
    fn bytes(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// The delta payload (after its layout byte) of `new` against `old`;
    /// panics unless the residual pays.
    fn payload(new: &[u8], old: &[u8], dtype: DType, effort: Effort, k: &Kernels) -> Vec<u8> {
        let bufs = Buffers::new(1);
        let mut frame = Vec::new();
        let coded = encode(new, old, dtype, effort, k, &bufs, || 1e12, &mut frame);
        assert!(coded, "codes smaller than its bytes");
        assert_eq!(frame[0], LAYOUT_DELTA);
        frame.split_off(1)
    }

    /// The delta payload of fp32 `new` against `old` at default effort.
    fn fp32_payload(new: &[u8], old: &[u8], k: &Kernels) -> Vec<u8> {
        payload(new, old, DType::F32, Effort::Default, k)
    }

    /// A delta payload of `dtype` decoded against `old` with the kernels `k`.
    fn decode_with(payload: &[u8], old: &[u8], dtype: DType, k: &Kernels) -> Result<Vec<u8>> {
        let (mut out, mut scratch) = (vec![0u8; old.len()], Vec::new());
        let mut r = Reader::new(payload);
        decode(&mut r, dtype, old, k, &mut out, &mut scratch)?;
        Ok(out)
    }

    /// [`fp32_payload`] decoded against `old` with the kernels `k`.
    fn decode_fp32(payload: &[u8], old: &[u8], k: &Kernels) -> Vec<u8> {
        decode_with(payload, old, DType::F32, k).expect("decodes")
    }

    /// Every kernel form this CPU runs.
    fn all_forms() -> Vec<Kernels> {
        z4ai_simd::Isa::supported_levels()
            .into_iter()
            .flat_map(Kernels::forms)
            .collect()
    }

    /// A plane its model prices at [`STORE_BITS`] or more per symbol (here
    /// about 7.98: bytes spread evenly but for one in 64 that is zero) is
    /// stored below `max`, and coded at `max`, where that is smaller.
    #[test]
    fn near_noise_planes_are_stored_below_max() {
        let k = Kernels::for_isa(z4ai_simd::Isa::Scalar).expect("scalar");
        let bufs = Buffers::new(1);
        let n = 1 << 20;
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        let plane: Vec<u8> = (0..n)
            .map(|_| {
                let r = next();
                if r.is_multiple_of(64) {
                    0
                } else {
                    (r >> 8) as u8
                }
            })
            .collect();
        let ctx = vec![0u8; n];
        let mut counts = PairCounts {
            hist: vec![0u32; 65536],
            spread: Vec::new(),
        };
        for trial in [false, true] {
            let (code, bits) = code_plane(
                &plane,
                &ctx,
                CtxKind::Delta,
                CTX_BITS,
                false,
                &k,
                trial,
                &mut counts,
                &bufs,
            );
            let per = bits / n as f64;
            if trial {
                assert!(matches!(code, PlaneCode::Rans(..)), "max: {per} bits");
                assert!((STORE_BITS..8.0).contains(&per), "{per} bits");
            } else {
                assert!(matches!(code, PlaneCode::Raw), "default: {per} bits");
            }
        }
    }

    /// fp32 residual planes past the pair a decoder runs together (planes
    /// 0 and 1, both single rANS streams) are coded in halves: planes 2 and
    /// 3, and plane 1 too where plane 0 is not one rANS stream (constant,
    /// when no word moves by 2^24 ULPs or so). Each decodes on every kernel form
    /// (plane `p`'s delta contexts taken through the planes above it) and
    /// codes the same on each.
    #[test]
    fn wide_planes_past_the_first_pair_are_coded_in_halves() {
        let n = 70_000;
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        let old = signed_weights(n, &mut next);
        let forms = all_forms();
        let halves = "rans-delta-halves";
        for (far, want) in [
            (
                true,
                ["rans-delta", "rans-delta-exp", halves, halves].as_slice(),
            ),
            (
                false,
                ["const", "rans-delta-exp-halves", halves, halves].as_slice(),
            ),
        ] {
            // Up to 3 ULPs, one in 4 up to 2^12, one in 16 up to 2^24 when
            // `far`, else up to 2^20 (plane 0 all zero).
            let new: Vec<u32> = old
                .iter()
                .map(|&w| {
                    let r = next();
                    let span = match r % 16 {
                        0 if far => 1 << 24,
                        0 => 1 << 20,
                        1..4 => 1 << 12,
                        _ => 3,
                    };
                    let d = ((r >> 8) % (2 * span + 1)) as u32;
                    w.wrapping_add(d).wrapping_sub(span as u32)
                })
                .collect();
            let (new, old) = (bytes(&new), bytes(&old));
            let p = fp32_payload(&new, &old, &Kernels::scalar());
            let (_, planes) =
                describe(&mut Reader::new(&p), DType::F32, new.len()).expect("describes");
            let methods: Vec<&str> = planes.iter().map(|p| p.method.as_str()).collect();
            assert_eq!(methods, want, "far {far}");
            for k in &forms {
                assert!(decode_fp32(&p, &old, k) == new, "{} far {far}", k.name());
                assert!(
                    fp32_payload(&new, &old, k) == p,
                    "{} codes differently",
                    k.name()
                );
            }
        }
    }

    /// bf16 residuals that mostly move a few ULPs take the short form
    /// (short plane in halves, escaped bytes apart), code the same and
    /// decode on every kernel form, at `default` and `max`, with a tail
    /// byte; where many words escape the planes are coded instead. A wrong
    /// escape count or the short flag on a wider dtype is an error, not a
    /// panic.
    #[test]
    fn small_moves_take_the_short_form() {
        let n = 70_000;
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        let old: Vec<u16> = signed_weights(n, &mut next)
            .into_iter()
            .map(|w| (w >> 16) as u16)
            .collect();
        // Moves of up to 3 ULPs, one in `every` up to 2^10 ULPs.
        let mut moved = |every: u64| -> Vec<u8> {
            let mut v: Vec<u8> = old
                .iter()
                .flat_map(|&w| {
                    let r = next();
                    let span = if r.is_multiple_of(every) { 1 << 10 } else { 3 };
                    let d = ((r >> 8) % (2 * span + 1)) as u16;
                    w.wrapping_add(d).wrapping_sub(span as u16).to_le_bytes()
                })
                .collect();
            v.push(0x5a);
            v
        };
        let mut old: Vec<u8> = old.iter().flat_map(|w| w.to_le_bytes()).collect();
        old.push(0xa5);
        let forms = all_forms();
        for (every, want) in [(20, "delta-diff-short"), (1, "delta-diff")] {
            let new = moved(every);
            for effort in [Effort::Default, Effort::Max] {
                let p = payload(&new, &old, DType::BF16, effort, &Kernels::scalar());
                let (mode, planes) =
                    describe(&mut Reader::new(&p), DType::BF16, new.len()).expect("describes");
                if effort == Effort::Default {
                    assert_eq!(mode, want, "one in {every} far");
                }
                if mode == "delta-diff-short" {
                    assert_eq!(planes[0].method, "short:rans-delta-halves");
                    assert_eq!(planes.len(), 3);
                }
                for k in &forms {
                    let got = decode_with(&p, &old, DType::BF16, k).expect("decodes");
                    assert!(got == new, "{} {every} {effort:?}", k.name());
                    let again = payload(&new, &old, DType::BF16, effort, k);
                    assert!(again == p, "{} codes differently", k.name());
                }
            }
        }
        let p = payload(
            &moved(20),
            &old,
            DType::BF16,
            Effort::Default,
            &Kernels::scalar(),
        );
        assert_eq!(p[0], MODE_SUB | SHORT);
        // The escape count (a varint after the mode byte) one higher or
        // lower.
        for delta in [1i8, -1] {
            let mut bad = p.clone();
            bad[1] = bad[1].wrapping_add_signed(delta);
            assert!(decode_with(&bad, &old, DType::BF16, &Kernels::scalar()).is_err());
        }
        // Damaged bytes (every one of the headers and the start of the
        // short plane, then spaced out): an error or some bytes (the
        // frame's chunk hash tells), never a panic.
        for at in (0..p.len()).filter(|&i| i < 1500 || i % 97 == 0) {
            let mut bad = p.clone();
            bad[at] ^= 1 << (at % 8);
            let _ = decode_with(&bad, &old, DType::BF16, &Kernels::scalar());
        }
        // The short flag on fp32 (the same bytes as 2-byte-wider words).
        let mut bad = p.clone();
        bad[0] |= SHORT;
        let old4 = &old[..old.len() / 4 * 4];
        assert!(decode_with(&bad, old4, DType::F32, &Kernels::scalar()).is_err());
    }

    /// Residual plane 1 is coded under the reference's exponents (rANS kind
    /// 4) and later planes under their delta contexts (kind 3), which the
    /// decoder works out through planes 0 and 1; chunks decode with planes
    /// 0 and 1 in one pair loop (both rANS) or in turn (plane 0 constant),
    /// on every kernel form this CPU runs.
    #[test]
    fn plane_one_is_coded_under_the_exponents() {
        let n = 20_000;
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        let old = signed_weights(n, &mut next);
        // Moves of up to 2^12 ULPs with one in ten up to 2^26 (plane 0
        // non-zero now and then, plane 2 coded), and moves of up to 2^18
        // ULPs (plane 0 all zero).
        let mut moved = |far: u64, every: u64, near: u64| -> Vec<u8> {
            let v: Vec<u32> = old
                .iter()
                .map(|&w| {
                    let r = next();
                    let span = if r.is_multiple_of(every) { far } else { near };
                    w.wrapping_add(((r >> 8) % (2 * span)) as u32)
                        .wrapping_sub(span as u32)
                })
                .collect();
            bytes(&v)
        };
        let cases = [
            (
                moved(1 << 26, 10, 1 << 12),
                ["rans-delta", "rans-delta-exp", "rans-delta"],
            ),
            (
                moved(1 << 18, 1, 1 << 18),
                ["const", "rans-delta-exp", "raw"],
            ),
        ];
        let old = bytes(&old);
        let forms = all_forms();
        for (new, want) in cases {
            let payload = fp32_payload(&new, &old, &Kernels::scalar());
            let (_, planes) =
                describe(&mut Reader::new(&payload), DType::F32, new.len()).expect("describes");
            let methods: Vec<&str> = planes.iter().map(|p| p.method.as_str()).collect();
            assert_eq!(methods[..3], want);
            for k in &forms {
                assert!(decode_fp32(&payload, &old, k) == new, "{}", k.name());
            }
        }
    }

    /// Counting with the odd elements' contexts moved up by 128 and folded
    /// back gives the plain counts, and leaves the moved rows zero; odd
    /// lengths and contexts of 128 and over (counted plainly) included.
    #[test]
    fn spread_counts_are_the_plain_counts() {
        let k = Kernels::for_isa(z4ai_simd::Isa::Scalar).expect("scalar");
        for (n, ctx_max) in [
            (0usize, 127u32),
            (1, 127),
            (1001, 127),
            (4096, 40),
            (999, 255),
        ] {
            let plane: Vec<u8> = (0..n as u32).map(|i| (i * 7 % 5) as u8).collect();
            let ctx: Vec<u8> = (0..n as u32)
                .map(|i| (i.wrapping_mul(0x9E37_79B9) >> 20) % (ctx_max + 1))
                .map(|c| c as u8)
                .collect();
            let mut want = vec![0u32; 65536];
            k.hist_context(&plane, &ctx, &mut want);
            let mut got = PairCounts {
                hist: vec![0u32; 65536],
                spread: Vec::new(),
            };
            count_pairs(&plane, &ctx, &k, &mut got);
            assert!(got.hist == want, "n={n} max={ctx_max}");
        }
    }

    #[test]
    fn contexts_follow_the_leading_byte() {
        let mut ctx = vec![5u8, 200, 7, 100];
        advance_contexts(&mut ctx, &[0, 0, 3, 255]);
        assert_eq!(ctx, [5, 255, 131, 254]);
        advance_contexts(&mut ctx, &[9, 0, 0, 0]);
        assert_eq!(ctx, [137, 255, 255, 255]);
    }

    #[test]
    fn first_contexts_are_plane_zero() {
        let k = Kernels::for_isa(z4ai_simd::Isa::Scalar).expect("scalar");
        let words: Vec<u8> = (0u32..4096)
            .flat_map(|i| (i.wrapping_mul(0x9E37_79B9)).to_le_bytes())
            .collect();
        for dtype in [
            DType::BF16,
            DType::F32,
            DType::I16,
            DType::I32,
            DType::F8E4M3,
            DType::U8,
            DType::F64,
        ] {
            let n = words.len() / dtype.width();
            let planes = chunk::split(&words, dtype, &k);
            let mut ctx = vec![0u8; n];
            first_contexts(&words, dtype, &mut ctx);
            let want: Vec<u8> = planes[..n].iter().map(|&e| e.min(127)).collect();
            assert_eq!(ctx, want, "{dtype}");
        }
    }
}
