//! The chunked parallel engine: blocks of chunks, shared models per block,
//! rayon across chunks, and the frame assembled in order.
//!
//! Encoding a block (`default` and `max`):
//! 1. per chunk (parallel): split it into byte planes, try the transforms,
//!    and for a plain chunk count order-0 histograms of every plane, the
//!    order-1 histogram of plane 0 and the plane-0-conditioned histograms
//!    of planes 1 and 2; the planes are then dropped (memory);
//! 2. build shared models from the summed histograms (at scale 12: order-0,
//!    and context models with merged rare contexts);
//! 3. per chunk (parallel): split again, choose and encode every plane;
//! 4. keep only the shared models some chunk uses and write the block, in
//!    the parts it was coded in, to a [`FrameSink`].
//!
//! The planes and streams a chunk's coding allocates are handed to the
//! next chunk (`buffers::Buffers`), and a decoded chunk's output pages are
//! mapped in one call before it is written, in 2 MiB pages where the
//! kernel allows (`prefault`): fresh multi-megabyte buffers otherwise fault
//! in 4 KiB at a time. A block's payloads (a delta chunk's too, written
//! in step 1, where it is coded against the reference) go into slots of an
//! arena kept between calls (`PayloadArena`) and are copied into a
//! contiguous frame in parallel (`FrameSink::copy_all`).
//!
//! Every decision depends only on the block's bytes, so the output is the
//! same at any thread count and any kernel level.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use xxhash_rust::xxh3::Xxh3;
use z4ai_simd::{Isa, Kernels, RansTables};

use crate::buffers::{tile, Buffers};
use crate::chunk::{self, BlockModels, CtxKind, ModelRef, PlaneModels};
use crate::delta;
use crate::dtype::DType;
use crate::entropy::{self, CostTable};
use crate::error::{Error, Result};
use crate::format::frame::{self, ChunkEntry, ChunkLoc, FrameHeader, FrameIndex};
use crate::format::{ByteSink, Reader, SlotWriter};
use crate::hists::{ChunkHists, Counting, HistSum, CX_PLANES};
use crate::options::{Effort, Options};
use crate::payload::{self, Body};
use crate::prefault::{advise_huge, advise_huge_spare, prefault};
use crate::transform::dedup::{self, Copy};

/// Most shared models one block may carry.
pub const MAX_BLOCK_MODELS: usize = 24;
/// Bound on the decode tables of one block's shared models (bytes of slots).
pub const MAX_BLOCK_SLOTS: usize = 4 << 20;
/// A block holding one chunk of fewer elements than this (a small tensor of
/// an archive, or a frame's last block) is coded below `max` without
/// shared models: its planes are not counted under contexts, and each gets
/// an inline order-0 model, zstd, constant or raw (transforms are still
/// tried). Building and pricing a lone chunk's context models was 43% of
/// coding a 512-byte bf16 tensor; the standalone archives of the corpus
/// changed by -70 bytes in all, the delta archives not at all
/// (docs/ARCHIVE.md, "Small tensors alone in their block").
const LONE_TINY: usize = 4096;
/// Scale of the shared order-0 models. 12 rather than 14: the SIMD decoders'
/// narrow entries (4 bytes, a 16 KiB table) need `scale_bits <= 12`, and
/// decode 6-12% faster than the 8-byte ones; the frames it changed grew
/// by at most 0.014% (docs/KERNELS.md, "Shared order-0 models at scale 12").
const SHARED_O0_BITS: u32 = 12;
/// Scale of the shared context (order-1, plane-conditioned) models.
const SHARED_CTX_BITS: u32 = 12;
/// The smaller scale a shared context model takes below `max` where it
/// codes the block's counts within [`COARSE_CTX_SLACK`] of the full one:
/// a quarter of the decode table (tens of tables of 2^10 slots stay near
/// L1), which decodes order-1 13% and plane-conditioned planes 17% faster
/// (AVX-512 kernel rows `o1-10`, `plane-10`; docs/KERNELS.md, "Context
/// models at scale 10").
const SHARED_CTX_BITS_COARSE: u32 = 10;
/// Relative cost a coarse context model may add (1/1024). Wide alphabets
/// under skewed contexts need the finer scale: sparse50-fp16 grew 2% with
/// every model at 10 bits.
const COARSE_CTX_SLACK: f64 = 1.0 / 1024.0;

/// The kernels for an optional pinned level.
pub fn kernels(isa: Option<Isa>) -> Result<Kernels> {
    match isa {
        None => Ok(Kernels::active()),
        Some(i) => Kernels::for_isa(i).ok_or_else(|| {
            Error::InvalidOption(format!("kernel level {i} is not supported by this CPU"))
        }),
    }
}

/// Most buffers a [`FrameWriter`] keeps for reuse: a chunk being coded
/// holds its planes and one or two streams per plane, so this covers
/// several threads' worth.
const BUFFERS_KEPT: usize = 16;

/// Runs `f` on a pool of `threads` workers (0: rayon's global pool).
pub fn with_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    if threads == 0 {
        return f();
    }
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let pool = {
        let mut pools = POOLS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        pools
            .entry(threads)
            .or_insert_with(|| {
                Arc::new(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .expect("thread pool"),
                )
            })
            .clone()
    };
    pool.install(f)
}

/// Writes frames: header, blocks, end block. Used by one-shot compression
/// and by the streaming encoder.
pub struct FrameWriter {
    dtype: DType,
    effort: Effort,
    chunk_size: usize,
    k: Kernels,
    content_size: u64,
    hasher: Xxh3,
    /// Planes and streams reused from chunk to chunk.
    bufs: Buffers,
}

impl FrameWriter {
    /// Validates `opts` and writes the frame header to `out`.
    /// `reference` is the length and XXH3-64 of a delta frame's reference.
    pub fn start(
        opts: &Options,
        content_size: Option<u64>,
        reference: Option<(u64, u64)>,
        out: &mut Vec<u8>,
    ) -> Result<FrameWriter> {
        let chunk_size = opts.validated_chunk_size(reference.is_some())?;
        let k = kernels(opts.isa)?;
        FrameHeader {
            dtype: opts.dtype,
            content_size,
            chunk_size: chunk_size as u32,
            reference,
        }
        .write(out);
        Ok(FrameWriter {
            dtype: opts.dtype,
            effort: opts.effort,
            chunk_size,
            k,
            content_size: 0,
            hasher: Xxh3::new(),
            bufs: Buffers::new(BUFFERS_KEPT),
        })
    }

    /// Encodes `data` (non-empty) as one block, appended to `out`. In a
    /// delta frame `reference` holds the reference's bytes at the same
    /// offsets (shorter or empty where it ends). Call inside the thread pool.
    pub fn write_block(&mut self, data: &[u8], reference: &[u8], out: &mut impl FrameSink) {
        let (dtype, effort, k, bufs) = (self.dtype, self.effort, self.k, &self.bufs);
        let w = dtype.width();
        let cs = self.chunk_size;
        let copies = if effort == Effort::Fast || !reference.is_empty() {
            Vec::new()
        } else {
            dedup::find(data, w, &k)
        };
        let per_chunk = split_copies(&copies, cs, data.len());
        let raws: Vec<&[u8]> = data.chunks(cs).collect();
        // Literal bytes of each chunk, then a transform where one pays; a
        // plain chunk's histograms (summed into the block's shared models,
        // then reused to choose each plane's code). Planes are not kept:
        // the coding pass splits again, so a block never holds all of its
        // chunks' planes at once (memory: see docs/ARCHIVE.md).
        // A block of one small chunk (a small tensor) is coded without
        // shared models below `max` ([`LONE_TINY`]).
        let lone_tiny = effort != Effort::Max && raws.len() == 1 && data.len() / w < LONE_TINY;
        let counting = match effort {
            Effort::Max => Counting::Whole,
            _ if raws.len() == 1 => Counting::Sampled,
            _ => Counting::SampledOrder0,
        };
        // Where the sink copies from borrowed bytes, payloads are written
        // into slots of the payload arena (one per chunk, a byte longer
        // than the chunk: the most a payload takes), kept between blocks
        // and calls; otherwise each is a buffer of its own, handed over.
        let in_arena = !out.wants_owned();
        let mut arena =
            in_arena.then(|| PayloadArena::take(raws.iter().map(|r| r.len() + 1).sum()));
        let slots: Vec<Option<&mut [u8]>> = match arena.as_deref_mut() {
            Some(a) => tile(a, raws.iter().map(|r| r.len() + 1))
                .into_iter()
                .map(Some)
                .collect(),
            None => raws.iter().map(|_| None).collect(),
        };
        let preps: Vec<Prep<'_>> = raws
            .par_iter()
            .zip(per_chunk)
            .zip(slots)
            .enumerate()
            .map(|(i, ((raw, copies), mut slot))| {
                let literal = gather_literal(raw, &copies);
                // Split only when needed: a delta chunk that clearly beats
                // plain coding never asks.
                let mut split = None;
                let delta = reference.get(i * cs..i * cs + raw.len()).and_then(|r| {
                    let plain_bytes = || {
                        let planes = split.insert(chunk::split_in(&literal, dtype, &k, bufs));
                        payload::plain_estimate(planes, w, effort, &k)
                    };
                    let code = |out: &mut dyn ByteSink| {
                        delta::encode(raw, r, dtype, effort, &k, bufs, plain_bytes, out)
                    };
                    match slot.as_deref_mut() {
                        Some(s) => {
                            let mut sink = SlotWriter::new(s);
                            let len = code(&mut sink).then(|| sink.len());
                            len.and_then(|n| slot.take().map(|s| Payload::Slot(&mut s[..n])))
                        }
                        None => {
                            let mut v = Vec::new();
                            code(&mut v).then_some(Payload::Owned(v))
                        }
                    }
                });
                let mut prep = Prep {
                    copies,
                    literal,
                    hists: None,
                    body: None,
                    delta,
                    slot,
                };
                if prep.delta.is_some() || effort == Effort::Fast {
                    return prep;
                }
                let planes =
                    split.unwrap_or_else(|| chunk::split_in(&prep.literal, dtype, &k, bufs));
                prep.body = payload::try_transforms(
                    &prep.literal,
                    dtype,
                    effort,
                    || payload::plain_estimate(&planes, w, effort, &k),
                    &k,
                );
                if prep.body.is_none() && !lone_tiny {
                    prep.hists = Some(ChunkHists::of(&planes, w, counting, &k));
                }
                bufs.give(planes);
                prep
            })
            .collect();
        let plain: Vec<&ChunkHists> = preps.iter().filter_map(|p| p.hists.as_ref()).collect();
        let models = if plain.is_empty() {
            BlockModels::none(w)
        } else {
            build_models(&plain, dtype, effort)
        };
        // Each chunk is coded and its payload written in one step, so its
        // planes and streams are freed (and their memory reused) before the
        // next chunk on the thread; shared models are named by their index
        // among all of the block's models, renumbered below.
        let coder = ChunkCoder {
            dtype,
            effort,
            models: &models,
            k: &k,
            bufs,
        };
        let mut payloads: Vec<(Payload<'_>, Vec<ModelRef>, u64)> = preps
            .into_par_iter()
            .zip(&raws)
            .map(|(mut p, raw)| {
                let (payload, refs) = match (p.delta.take(), p.slot.take()) {
                    (Some(d), _) => (d, Vec::new()),
                    (None, Some(slot)) => {
                        let mut w = SlotWriter::new(slot);
                        let mut refs = coder.code(p, raw, &mut w);
                        if !w.fits() {
                            // Never: a payload is at most a byte longer
                            // than its chunk. A stored chunk always fits.
                            w.truncate(0);
                            refs.clear();
                            chunk::write_stored(raw, &mut w);
                        }
                        (Payload::Slot(w.into_written()), refs)
                    }
                    (None, None) => {
                        let mut buf = Vec::with_capacity(raw.len() + 64);
                        let refs = coder.code(p, raw, &mut buf);
                        (Payload::Owned(buf), refs)
                    }
                };
                (payload, refs, k.xxh3_64(raw))
            })
            .collect();
        // Keep the shared models that some payload names, renumbered in order.
        let (remap, section) = used_models(&models.tables, payloads.iter().map(|(_, r, _)| r));
        for (p, refs, _) in &mut payloads {
            for r in refs.iter() {
                p.bytes_mut()[r.at] = remap[r.model];
            }
        }
        let entries: Vec<ChunkEntry> = raws
            .iter()
            .zip(&payloads)
            .map(|(r, (p, _, hash))| ChunkEntry {
                raw_len: r.len() as u32,
                comp_len: p.bytes().len() as u32,
                hash: *hash,
            })
            .collect();
        let mut head = Vec::new();
        frame::write_block_header(&section, &entries, &mut head);
        out.put(head);
        for e in &entries {
            self.hasher.update(&e.hash.to_le_bytes());
        }
        if in_arena {
            out.copy_all(
                &payloads
                    .iter()
                    .map(|(p, _, _)| p.bytes())
                    .collect::<Vec<_>>(),
            );
        } else {
            out.put_all(payloads.into_iter().map(|(p, _, _)| p.into_vec()).collect());
        }
        if let Some(a) = arena {
            a.give_back();
        }
        self.content_size += data.len() as u64;
    }

    /// Appends the end block.
    pub fn finish(self, out: &mut impl FrameSink) {
        let mut end = Vec::new();
        frame::write_end(self.content_size, self.hasher.digest(), &mut end);
        out.put(end);
    }
}

/// A chunk's payload: in a slot of the block's arena, or a buffer of its
/// own.
enum Payload<'a> {
    Slot(&'a mut [u8]),
    Owned(Vec<u8>),
}

impl Payload<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Slot(s) => s,
            Payload::Owned(v) => v,
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Payload::Slot(s) => s,
            Payload::Owned(v) => v,
        }
    }

    fn into_vec(self) -> Vec<u8> {
        match self {
            Payload::Slot(s) => s.to_vec(),
            Payload::Owned(v) => v,
        }
    }
}

/// What coding a block's chunks shares.
struct ChunkCoder<'a> {
    dtype: DType,
    effort: Effort,
    models: &'a BlockModels,
    k: &'a Kernels,
    bufs: &'a Buffers,
}

impl ChunkCoder<'_> {
    /// Codes chunk `raw` (its planes, unless `p` holds a transform body;
    /// not a delta chunk, whose payload is written already) and writes its
    /// payload to `out`, at most a byte longer than `raw`; returns the
    /// shared models the payload names.
    fn code(&self, p: Prep<'_>, raw: &[u8], out: &mut impl ByteSink) -> Vec<ModelRef> {
        debug_assert!(p.delta.is_none());
        let body = match p.body {
            Some(b) => b,
            None => Body::Planes(chunk::encode_planes(
                chunk::split_in(&p.literal, self.dtype, self.k, self.bufs),
                self.dtype,
                self.effort,
                self.models,
                self.k,
                p.hists.as_ref(),
                self.bufs,
            )),
        };
        // A payload larger than the chunk is replaced by a stored one.
        let mut refs = Vec::new();
        payload::write_payload(
            raw, &p.literal, &p.copies, &body, self.dtype, out, &mut refs,
        );
        if let Body::Planes(enc) = body {
            enc.recycle(self.bufs);
        }
        refs
    }
}

/// The models some payload names (`refs`), renumbered in order: the new
/// number of every model, and the block's model section (empty when no
/// model is named).
fn used_models<'r>(
    models: &[RansTables],
    refs: impl Iterator<Item = &'r Vec<ModelRef>>,
) -> (Vec<u8>, Vec<u8>) {
    let mut used = vec![false; models.len()];
    for r in refs.flatten() {
        used[r.model] = true;
    }
    let mut remap = vec![0u8; models.len()];
    let mut section = vec![0u8];
    for (i, t) in models.iter().enumerate() {
        if used[i] {
            remap[i] = section[0];
            section[0] += 1;
            entropy::serialize_model(t, &mut section);
        }
    }
    if section[0] == 0 {
        section.clear();
    }
    (remap, section)
}

/// Where a [`FrameWriter`] puts the frame's bytes, in order, as the owned
/// buffers it produced them in (headers, then each chunk's payload).
pub trait FrameSink: Send {
    /// Appends `part` to the frame.
    fn put(&mut self, part: Vec<u8>);

    /// Appends `parts` in order (a block's payloads); called inside the
    /// writer's thread pool.
    fn put_all(&mut self, parts: Vec<Vec<u8>>) {
        for p in parts {
            self.put(p);
        }
    }

    /// Whether the sink keeps the buffers it is given (then a block's
    /// payloads are handed over with [`FrameSink::put_all`]); otherwise it
    /// copies them ([`FrameSink::copy_all`]) and they are written into
    /// memory the writer reuses.
    fn wants_owned(&self) -> bool {
        false
    }

    /// Appends copies of `parts` in order (a block's payloads); called
    /// inside the writer's thread pool.
    fn copy_all(&mut self, parts: &[&[u8]]) {
        self.put_all(parts.iter().map(|p| p.to_vec()).collect());
    }
}

/// One contiguous frame: every part is copied in.
impl FrameSink for Vec<u8> {
    fn put(&mut self, part: Vec<u8>) {
        self.extend_from_slice(&part);
    }

    /// Copies the parts in parallel, each into its own range of the spare
    /// capacity: a block's payloads are tens of megabytes, and copying them
    /// (and mapping the pages they land on) on one thread held back a
    /// two-thread `fast` compress.
    fn copy_all(&mut self, parts: &[&[u8]]) {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        self.reserve(total);
        let slots = slots_for(&mut self.spare_capacity_mut()[..total], parts);
        slots.into_par_iter().for_each(|(slot, p)| {
            for (d, &s) in slot.iter_mut().zip(p) {
                d.write(s);
            }
        });
        let len = self.len() + total;
        #[allow(unsafe_code)]
        // SAFETY: the `total` bytes after the old length were each written
        // above (the slots tile them exactly, each filled from a part of
        // its own length), and `reserve` made room for them.
        unsafe {
            self.set_len(len)
        };
    }
}

/// `dst` cut into consecutive pieces as long as `parts`, in order, each
/// paired with its part (the pieces tile the start of `dst`).
///
/// Panics if `dst` is shorter than the parts together.
fn slots_for<'d, 'p, T, P: AsRef<[u8]>>(
    dst: &'d mut [T],
    parts: &'p [P],
) -> Vec<(&'d mut [T], &'p [u8])> {
    tile(dst, parts.iter().map(|p| p.as_ref().len()))
        .into_iter()
        .zip(parts.iter().map(AsRef::as_ref))
        .collect()
}

/// Payload arenas larger than this are not kept between calls (the
/// default 64 MiB block's arena is kept).
const ARENA_KEPT: usize = 80 << 20;

/// The process's kept payload arena (see [`PayloadArena`]).
static ARENA: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Memory a block's payloads are written into before they are copied to
/// the frame, kept between blocks and between calls (one per process; a
/// call that finds it in use takes its own), so that payloads do not map
/// fresh pages every call: with a buffer of its own per payload, the
/// allocator handed the heap back between calls and `compress_into` into a
/// kept buffer faulted ~21 MB back in on every 32 MiB call
/// (docs/BENCHMARKS.md, "Payloads written into a kept arena").
struct PayloadArena(Vec<u8>);

impl PayloadArena {
    /// An arena of at least `len` bytes.
    fn take(len: usize) -> PayloadArena {
        let kept = std::mem::take(&mut *ARENA.lock().unwrap_or_else(|e| e.into_inner()));
        if kept.len() >= len {
            return PayloadArena(kept);
        }
        // Zeroed by the allocator's fresh pages (no writes), mapped as the
        // payloads land on them, in 4 KiB pages: in 2 MiB ones the unused
        // ends of the slots were mapped too (+21 MB peak RSS compressing
        // 128 MiB of bf16 in one call).
        PayloadArena(vec![0u8; len])
    }

    /// Keeps the arena for the next block unless it is too large or a
    /// larger one is kept already.
    fn give_back(self) {
        if self.0.len() <= ARENA_KEPT {
            let mut kept = ARENA.lock().unwrap_or_else(|e| e.into_inner());
            if kept.len() < self.0.len() {
                *kept = self.0;
            }
        }
    }
}

impl std::ops::Deref for PayloadArena {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::DerefMut for PayloadArena {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

/// A compressed frame kept as the parts it was produced in, so that it can
/// be copied once into memory the caller owns (a C buffer, a Python
/// `bytes`) instead of being assembled in a `Vec` and copied again.
#[derive(Debug, Default)]
pub struct FrameParts {
    parts: Vec<Vec<u8>>,
    len: usize,
}

impl FrameSink for FrameParts {
    fn put(&mut self, part: Vec<u8>) {
        self.len += part.len();
        self.parts.push(part);
    }

    fn wants_owned(&self) -> bool {
        true
    }
}

impl FrameParts {
    /// The frame's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the frame has no bytes (never true for a finished frame).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The parts in frame order; their concatenation is the frame.
    pub fn parts(&self) -> impl Iterator<Item = &[u8]> {
        self.parts.iter().map(Vec::as_slice)
    }

    /// Copies the frame into `dst[..self.len()]`, with up to `threads`
    /// threads (0: rayon's global pool), and returns its size; `None` (and
    /// nothing written) when `dst` is shorter than the frame.
    pub fn copy_to(&self, dst: &mut [u8], threads: usize) -> Option<usize> {
        let dst = dst.get_mut(..self.len)?;
        advise_huge(dst);
        let slots = slots_for(dst, &self.parts);
        with_pool(threads, || {
            slots
                .into_par_iter()
                .for_each(|(slot, p)| slot.copy_from_slice(p))
        });
        Some(self.len)
    }

    /// The frame as one contiguous buffer.
    pub fn into_vec(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for p in self.parts {
            out.extend_from_slice(&p);
        }
        out
    }
}

/// A frame written straight into a caller's buffer. A part that does not
/// fit is only counted (nothing after it is written), so that the caller
/// learns the frame's size.
struct SliceSink<'a>(SlotWriter<'a>);

impl FrameSink for SliceSink<'_> {
    fn put(&mut self, part: Vec<u8>) {
        self.0.extend_from_slice(&part);
    }

    /// Copies the parts in parallel, as the `Vec` sink does.
    fn copy_all(&mut self, parts: &[&[u8]]) {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if let Some(dst) = self.0.next_mut(total) {
            slots_for(dst, parts)
                .into_par_iter()
                .for_each(|(slot, p)| slot.copy_from_slice(p));
        }
    }
}

/// A chunk between analysis and plane coding.
struct Prep<'a> {
    copies: Vec<Copy>,
    literal: Cow<'a, [u8]>,
    /// The histograms of a plain chunk's planes (not at `fast`).
    hists: Option<ChunkHists>,
    body: Option<Body>,
    /// A delta chunk's payload (the stored chunk where the delta came out
    /// longer), when the chunk is coded against a reference: in the
    /// chunk's slot, where it has one.
    delta: Option<Payload<'a>>,
    /// The chunk's slot of the payload arena, unless the delta payload
    /// took it or the sink wants buffers of its own.
    slot: Option<&'a mut [u8]>,
}

/// Cuts block-level copies at chunk boundaries: per chunk, copies with
/// chunk-relative targets (sources stay block-relative).
fn split_copies(copies: &[Copy], chunk: usize, len: usize) -> Vec<Vec<Copy>> {
    let mut out = vec![Vec::new(); len.div_ceil(chunk)];
    for c in copies {
        let mut t = c.target;
        let end = c.target + c.len;
        while t < end {
            let ci = t / chunk;
            let stop = end.min((ci + 1) * chunk);
            out[ci].push(Copy {
                target: t - ci * chunk,
                source: c.source + (t - c.target),
                len: stop - t,
            });
            t = stop;
        }
    }
    out
}

/// The chunk's bytes outside its copies' targets.
fn gather_literal<'a>(raw: &'a [u8], copies: &[Copy]) -> Cow<'a, [u8]> {
    if copies.is_empty() {
        return Cow::Borrowed(raw);
    }
    let mut lit = Vec::with_capacity(raw.len());
    let mut pos = 0;
    for c in copies {
        lit.extend_from_slice(&raw[pos..c.target]);
        pos = c.target + c.len;
    }
    lit.extend_from_slice(&raw[pos..]);
    Cow::Owned(lit)
}

/// The block's shared models, from the sum of its plain chunks' histograms.
fn build_models(chunks: &[&ChunkHists], dtype: DType, effort: Effort) -> BlockModels {
    let w = dtype.width();
    let h = chunks
        .par_iter()
        .fold(
            || HistSum::new(w),
            |mut a, h| {
                a.add(h);
                a
            },
        )
        .reduce(
            || HistSum::new(w),
            |mut a, b| {
                a.merge(&b);
                a
            },
        );
    let mut tables = Vec::new();
    let mut planes = vec![PlaneModels::default(); w];
    #[allow(clippy::needless_range_loop)] // p indexes hists, planes and CX_PLANES alike
    for p in 0..w {
        if h.o0[p].iter().filter(|&&c| c > 0).count() < 2 {
            continue;
        }
        tables.push(entropy::build_order0_model(&h.o0[p], SHARED_O0_BITS));
        planes[p].order0 = Some(tables.len() - 1);
        // No chunk of the block counted plane 0 order-1: no model for it.
        let ctx = if p == 0 {
            chunks
                .iter()
                .any(|c| c.order1)
                .then_some((CtxKind::Order1, h.rows(0)))
        } else if CX_PLANES.contains(&p) {
            Some((CtxKind::Plane0, h.rows(p)))
        } else {
            None
        };
        if let Some((kind, rows)) = ctx {
            tables.push(shared_context_model(rows, kind == CtxKind::Order1, effort));
            planes[p].context = Some((kind, tables.len() - 1));
        }
    }
    let costs = tables.iter().map(CostTable::new).collect();
    // A lone chunk pays for every table it uses; shared, they are free.
    let charge = if chunks.len() == 1 {
        tables.iter().map(chunk::model_len).collect()
    } else {
        vec![0; tables.len()]
    };
    BlockModels {
        tables,
        costs,
        planes,
        charge,
    }
}

/// The shared context model of the rows of a block's context histogram
/// (ascending contexts, the rows met): at [`SHARED_CTX_BITS`], or below
/// `max` at [`SHARED_CTX_BITS_COARSE`] where that codes them within
/// [`COARSE_CTX_SLACK`] of it.
fn shared_context_model<'a>(
    rows: impl Iterator<Item = (usize, &'a [u32; 256])> + Clone,
    order1: bool,
    effort: Effort,
) -> RansTables {
    let fine = || entropy::build_context_model(rows.clone(), SHARED_CTX_BITS, order1);
    if effort == Effort::Max {
        return fine();
    }
    let coarse = entropy::build_context_model(rows.clone(), SHARED_CTX_BITS_COARSE, order1);
    let bits = |t: &RansTables| CostTable::new(t).context_rows(rows.clone());
    let limit = |b: f64| b * (1.0 + COARSE_CTX_SLACK);
    let coarse_bits = bits(&coarse);
    // The counts' own entropy bounds what the fine model can spend: within
    // the slack of it, the fine model need not be built.
    let entropy: f64 = rows
        .clone()
        .map(|(_, row)| entropy::entropy_bits(row))
        .sum();
    if coarse_bits <= limit(entropy) {
        return coarse;
    }
    let fine = fine();
    if coarse_bits <= limit(bits(&fine)) {
        coarse
    } else {
        fine
    }
}

/// Compresses `data` into one frame; with a reference, a delta frame whose
/// chunks are coded against the reference's bytes at the same offsets.
pub fn compress(data: &[u8], reference: Option<&[u8]>, opts: &Options) -> Result<Vec<u8>> {
    // Room for a stored frame: only the pages written are ever touched, so
    // the output never moves while it grows.
    let mut out = Vec::with_capacity(data.len() + data.len() / 512 + 4096);
    advise_huge_spare(&mut out);
    compress_to(data, reference, opts, &mut out)?;
    out.shrink_to_fit();
    Ok(out)
}

/// As [`compress`], into `out`: returns the frame's size, or
/// `BufferTooSmall` (needing that size; `out` then holds no usable frame)
/// when it does not fit. Only the pages the frame lands on are touched.
pub fn compress_into(
    data: &[u8],
    reference: Option<&[u8]>,
    opts: &Options,
    out: &mut [u8],
) -> Result<usize> {
    advise_huge(out);
    let got = out.len();
    let mut sink = SliceSink(SlotWriter::new(out));
    compress_to(data, reference, opts, &mut sink)?;
    if !sink.0.fits() {
        return Err(Error::BufferTooSmall {
            needed: sink.0.len() as u64,
            got: got as u64,
        });
    }
    Ok(sink.0.len())
}

/// As [`compress`], with the frame kept in its parts.
pub fn compress_parts(data: &[u8], reference: Option<&[u8]>, opts: &Options) -> Result<FrameParts> {
    let mut out = FrameParts::default();
    compress_to(data, reference, opts, &mut out)?;
    Ok(out)
}

fn compress_to(
    data: &[u8],
    reference: Option<&[u8]>,
    opts: &Options,
    out: &mut impl FrameSink,
) -> Result<()> {
    let mut head = Vec::new();
    let k = kernels(opts.isa)?;
    let ref_info = reference.map(|r| (r.len() as u64, k.xxh3_64(r)));
    let mut fw = FrameWriter::start(opts, Some(data.len() as u64), ref_info, &mut head)?;
    out.put(head);
    let block = opts.block_bytes(reference.is_some())?;
    with_pool(opts.threads, || {
        for (i, b) in data.chunks(block).enumerate() {
            let r = reference.map_or(&[][..], |r| r.get(i * block..).unwrap_or(&[]));
            fw.write_block(b, &r[..r.len().min(b.len())], out);
        }
    });
    fw.finish(out);
    Ok(())
}

/// Parses a block's model section.
pub fn parse_models(section: &[u8]) -> Result<Vec<RansTables>> {
    if section.is_empty() {
        return Ok(Vec::new());
    }
    let mut r = Reader::new(section);
    let count = usize::from(r.u8("model count")?);
    if count == 0 || count > MAX_BLOCK_MODELS {
        return Err(Error::corrupt(format!("block declares {count} models")));
    }
    let mut models = Vec::with_capacity(count);
    let mut slots = 0usize;
    for _ in 0..count {
        let t = entropy::parse_model(&mut r)?;
        slots += t.table_count() << t.scale_bits();
        if slots > MAX_BLOCK_SLOTS {
            return Err(Error::corrupt("block models exceed the decode-table bound"));
        }
        models.push(t);
    }
    if r.remaining() != 0 {
        return Err(Error::corrupt("model section has trailing bytes"));
    }
    Ok(models)
}

/// Decodes the chunks of one block into `out` (the block's bytes): every
/// chunk's literals in parallel, then the block's copies (validated), then
/// every chunk's hash — for a chunk without copies (a copy only ever
/// writes into its own chunk) during or right after its decode, while its
/// bytes are in cache. `payloads` holds the payload ranges of `chunks`.
/// `verify` false skips the hashes, where the caller checks the decoded
/// bytes against a hash of its own ([`Verify::ByCaller`]).
#[allow(clippy::too_many_arguments)]
pub fn decode_block(
    payloads: &[u8],
    chunks: &[ChunkLoc],
    dtype: DType,
    models: &[RansTables],
    k: &Kernels,
    out: &mut [u8],
    reference: &[u8],
    verify: Verify,
) -> Result<()> {
    let check = |loc: &ChunkLoc, hash: u64| match verify {
        Verify::Frame => check_chunk_hash(loc, hash),
        Verify::ByCaller => Ok(()),
    };
    advise_huge(out);
    let mut work = Vec::with_capacity(chunks.len());
    let mut rest = &mut *out;
    let mut offset = 0usize;
    for loc in chunks {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(loc.entry.raw_len as usize);
        work.push((loc, head, offset));
        offset += loc.entry.raw_len as usize;
        rest = tail;
    }
    // Neighbouring chunks of plane layout are decoded in pairs where that
    // leaves each thread several units of work (`chunk::decode_chunk_pair`).
    let threads = rayon::current_num_threads();
    let pair = threads == 1 || chunks.len() >= 4 * threads;
    let planes =
        |loc: &ChunkLoc| payloads[loc.payload.clone()].first() == Some(&chunk::LAYOUT_PLANES);
    let mut units = Vec::with_capacity(work.len());
    let mut work = work.into_iter().peekable();
    while let Some(a) = work.next() {
        match work.next_if(|b| pair && planes(a.0) && planes(b.0)) {
            Some(b) => units.push(vec![a, b]),
            None => units.push(vec![a]),
        }
    }
    let copies: Vec<Vec<Copy>> = units
        .into_par_iter()
        .map_init(Vec::new, |scratch, mut unit| {
            for (_, dst, _) in &mut unit {
                prefault(dst);
            }
            if let [(la, da, _), (lb, db, _)] = &mut unit[..] {
                let [ha, hb] = chunk::decode_chunk_pair(
                    [&payloads[la.payload.clone()], &payloads[lb.payload.clone()]],
                    dtype,
                    models,
                    k,
                    [da, db],
                    scratch,
                )?;
                check(la, ha)?;
                check(lb, hb)?;
                return Ok(vec![Vec::new(), Vec::new()]);
            }
            let (loc, dst, off) = unit.pop().expect("a unit holds a chunk");
            let (copies, hash) = payload::decode_payload(
                &payloads[loc.payload.clone()],
                dtype,
                models,
                k,
                dst,
                off,
                reference.get(off..).unwrap_or(&[]),
                scratch,
            )?;
            if copies.is_empty() && verify == Verify::Frame {
                let hash = hash.unwrap_or_else(|| k.xxh3_64(dst));
                check_chunk_hash(loc, hash)?;
            }
            Ok(vec![copies])
        })
        .collect::<Result<Vec<Vec<Vec<Copy>>>>>()?
        .into_iter()
        .flatten()
        .collect();
    if copies.iter().all(Vec::is_empty) {
        return Ok(());
    }
    let with_copies: Vec<bool> = copies.iter().map(|c| !c.is_empty()).collect();
    let copies: Vec<Copy> = copies.into_iter().flatten().collect();
    dedup::validate(&copies, out.len()).map_err(Error::corrupt)?;
    for c in &copies {
        out.copy_within(c.source..c.source + c.len, c.target);
    }
    if verify == Verify::ByCaller {
        return Ok(());
    }
    let mut pieces = Vec::with_capacity(chunks.len());
    let mut rest = &*out;
    for (loc, &check) in chunks.iter().zip(&with_copies) {
        let (head, tail) = rest.split_at(loc.entry.raw_len as usize);
        if check {
            pieces.push((loc, head));
        }
        rest = tail;
    }
    pieces
        .into_par_iter()
        .try_for_each(|(loc, bytes)| verify_chunk(loc, bytes, k))
}

/// Checks a decoded chunk against its content hash.
fn verify_chunk(loc: &ChunkLoc, bytes: &[u8], k: &Kernels) -> Result<()> {
    check_chunk_hash(loc, k.xxh3_64(bytes))
}

/// Checks a decoded chunk's hash against the one its entry records.
fn check_chunk_hash(loc: &ChunkLoc, hash: u64) -> Result<()> {
    if hash != loc.entry.hash {
        return Err(Error::ChecksumMismatch {
            what: "chunk content",
            chunk: Some(loc.index),
        });
    }
    Ok(())
}

/// Checks that `reference` is the one a delta frame was made against: its
/// length, and unless the caller checked it ([`Verify::ByCaller`]) its hash.
fn check_reference(
    idx: &FrameIndex,
    reference: Option<&[u8]>,
    k: &Kernels,
    verify: Verify,
) -> Result<()> {
    let hashed = |r: &[u8], hash: u64| verify == Verify::ByCaller || k.xxh3_64(r) == hash;
    match (idx.header.reference, reference) {
        (None, _) => Ok(()),
        (Some((len, hash)), None) => Err(Error::ReferenceRequired {
            what: "frame",
            detail: format!(
                " ({len} bytes, xxh3-64 {hash:016x}); decode it with decompress_delta and that reference"
            ),
        }),
        (Some((len, hash)), Some(r)) if r.len() as u64 == len && hashed(r, hash) => Ok(()),
        _ => Err(Error::ReferenceMismatch),
    }
}

/// What a decoder checks of the bytes it decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// A delta frame's reference against its recorded hash, and every
    /// chunk against its content hash.
    Frame,
    /// Neither: the caller has checked the reference and checks the decoded
    /// bytes against a hash of its own (an archive piece's XXH3-128), so
    /// the frame's own hashes would read the same bytes a second time. The
    /// reference's length is still checked, and every structure validated.
    ByCaller,
}

/// Decodes a whole frame into `out` (at least the content size); returns
/// the content size. A delta frame needs its `reference`.
pub fn decompress_into(
    blob: &[u8],
    out: &mut [u8],
    threads: usize,
    isa: Option<Isa>,
    reference: Option<&[u8]>,
    verify: Verify,
) -> Result<usize> {
    let idx = FrameIndex::scan(blob)?;
    let k = kernels(isa)?;
    check_reference(&idx, reference, &k, verify)?;
    let size =
        usize::try_from(idx.content_size).map_err(|_| Error::corrupt("content too large"))?;
    if out.len() < size {
        return Err(Error::BufferTooSmall {
            needed: size as u64,
            got: out.len() as u64,
        });
    }
    let dtype = idx.header.dtype;
    with_pool(threads, || {
        let mut rest = &mut out[..size];
        for b in &idx.blocks {
            let models = parse_models(&blob[b.models.clone()])?;
            let len: usize = b.chunks.iter().map(|c| c.entry.raw_len as usize).sum();
            let start = b.chunks[0].raw_offset as usize;
            let r = reference.and_then(|r| r.get(start..)).unwrap_or(&[]);
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
            decode_block(
                blob,
                &b.chunks,
                dtype,
                &models,
                &k,
                head,
                &r[..r.len().min(len)],
                verify,
            )?;
            rest = tail;
        }
        Ok(size)
    })
}

/// Decodes `len` bytes at `offset` of the content, touching only the
/// chunks that overlap the range and the chunks their copies read from.
pub fn decompress_range(
    blob: &[u8],
    offset: u64,
    len: u64,
    threads: usize,
    isa: Option<Isa>,
) -> Result<Vec<u8>> {
    let idx = FrameIndex::scan(blob)?;
    let k = kernels(isa)?;
    check_reference(&idx, None, &k, Verify::Frame)?;
    let end = offset
        .checked_add(len)
        .filter(|&e| e <= idx.content_size)
        .ok_or(Error::OutOfRange {
            offset,
            len,
            size: idx.content_size,
        })?;
    let dtype = idx.header.dtype;
    let mut out = vec![0u8; len as usize];
    with_pool(threads, || {
        for b in &idx.blocks {
            let hit: Vec<usize> = (0..b.chunks.len())
                .filter(|&i| {
                    let c = &b.chunks[i];
                    c.raw_offset < end && c.raw_offset + u64::from(c.entry.raw_len) > offset
                })
                .collect();
            if hit.is_empty() {
                continue;
            }
            let models = parse_models(&blob[b.models.clone()])?;
            let block_start = b.chunks[0].raw_offset;
            let rel = |c: &ChunkLoc| (c.raw_offset - block_start) as usize;
            // Literals of the chunks in the range.
            let mut bufs: HashMap<usize, Vec<u8>> = HashMap::new();
            let decode = |i: usize| -> Result<(usize, Vec<u8>, Vec<Copy>)> {
                let c = &b.chunks[i];
                let mut buf = vec![0u8; c.entry.raw_len as usize];
                let (copies, _) = payload::decode_payload(
                    &blob[c.payload.clone()],
                    dtype,
                    &models,
                    &k,
                    &mut buf,
                    rel(c),
                    &[],
                    &mut Vec::new(),
                )?;
                Ok((i, buf, copies))
            };
            let first: Vec<_> = hit.par_iter().map(|&i| decode(i)).collect::<Result<_>>()?;
            let mut copies = Vec::new();
            for (i, buf, cs) in first {
                bufs.insert(i, buf);
                copies.extend(cs);
            }
            // Then the chunks holding the copies' sources (literal bytes only).
            let mut need: Vec<usize> = Vec::new();
            for c in &copies {
                for (i, loc) in b.chunks.iter().enumerate() {
                    let (s, e) = (rel(loc), rel(loc) + loc.entry.raw_len as usize);
                    if s < c.source + c.len
                        && e > c.source
                        && !bufs.contains_key(&i)
                        && !need.contains(&i)
                    {
                        need.push(i);
                    }
                }
            }
            let more: Vec<_> = need.par_iter().map(|&i| decode(i)).collect::<Result<_>>()?;
            for (i, buf, _) in more {
                bufs.insert(i, buf);
            }
            for c in &copies {
                let mut tmp = vec![0u8; c.len];
                for (i, buf) in &bufs {
                    let s = rel(&b.chunks[*i]);
                    let (lo, hi) = (c.source.max(s), (c.source + c.len).min(s + buf.len()));
                    if lo < hi {
                        tmp[lo - c.source..hi - c.source].copy_from_slice(&buf[lo - s..hi - s]);
                    }
                }
                let ti = hit
                    .iter()
                    .copied()
                    .find(|&i| {
                        rel(&b.chunks[i]) <= c.target
                            && c.target < rel(&b.chunks[i]) + b.chunks[i].entry.raw_len as usize
                    })
                    .ok_or_else(|| Error::corrupt("copy target outside its chunk"))?;
                let t0 = c.target - rel(&b.chunks[ti]);
                let dst = bufs.get_mut(&ti).expect("decoded");
                dst.get_mut(t0..t0 + c.len)
                    .ok_or_else(|| Error::corrupt("copy target outside its chunk"))?
                    .copy_from_slice(&tmp);
            }
            for &i in &hit {
                let c = &b.chunks[i];
                let buf = &bufs[&i];
                if k.xxh3_64(buf) != c.entry.hash {
                    return Err(Error::ChecksumMismatch {
                        what: "chunk content",
                        chunk: Some(c.index),
                    });
                }
                let s = offset.max(c.raw_offset);
                let e = end.min(c.raw_offset + u64::from(c.entry.raw_len));
                out[(s - offset) as usize..(e - offset) as usize].copy_from_slice(
                    &buf[(s - c.raw_offset) as usize..(e - c.raw_offset) as usize],
                );
            }
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Below `max` a shared context model takes the coarse scale where that
    /// costs little (a few symbols per context) and keeps the fine one
    /// where it does not (one dominant symbol per context among 256 seen:
    /// each rare symbol takes a slot of 1024); `max` keeps the fine one.
    #[test]
    fn shared_context_models_go_coarse_only_where_it_costs_little() {
        let (mut narrow, mut wide) = (vec![0u32; 65536], vec![0u32; 65536]);
        for c in 0..16usize {
            for s in 0..8 {
                narrow[c * 256 + (c + s) % 256] = 1000 * (s as u32 + 1);
            }
            for s in 0..256 {
                wide[c * 256 + s] = if s == c { 1_000_000 } else { 3 };
            }
        }
        let scale = |counts: &[u32], effort| {
            let rows = entropy::dense_rows(counts);
            shared_context_model(rows.into_iter(), false, effort).scale_bits()
        };
        assert_eq!(scale(&narrow, Effort::Default), SHARED_CTX_BITS_COARSE);
        assert_eq!(scale(&narrow, Effort::Fast), SHARED_CTX_BITS_COARSE);
        assert_eq!(scale(&wide, Effort::Default), SHARED_CTX_BITS);
        assert_eq!(scale(&narrow, Effort::Max), SHARED_CTX_BITS);
    }

    #[test]
    fn sinks_append_a_block_in_order() {
        let parts: Vec<Vec<u8>> = [0usize, 5, 100_000, 0, 3, 70_001]
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|j| (i * 31 + j * 7) as u8).collect())
            .collect();
        let mut want = vec![9u8, 8, 7];
        for p in &parts {
            want.extend_from_slice(p);
        }
        let mut v = Vec::new();
        v.put(vec![9, 8, 7]);
        let slices: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        with_pool(2, || v.copy_all(&slices));
        assert_eq!(v, want);
        let mut fp = FrameParts::default();
        fp.put(vec![9, 8, 7]);
        fp.put_all(parts);
        assert_eq!(fp.len(), want.len());
        let mut dst = vec![0u8; want.len() + 5];
        assert_eq!(fp.copy_to(&mut dst, 2), Some(want.len()));
        assert_eq!(&dst[..want.len()], &want[..]);
        assert_eq!(fp.into_vec(), want);
    }
}
