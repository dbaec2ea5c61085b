//! The chunked parallel engine: blocks of chunks, shared models per block,
//! rayon across chunks, and the frame assembled in order.
//!
//! Encoding a block (`default` and `max`):
//! 1. split every chunk into byte planes (parallel);
//! 2. accumulate order-0 histograms of every plane, the order-1 histogram of
//!    plane 0 and the plane-0-conditioned histograms of planes 1 and 2;
//! 3. build shared models from them (order-0 at scale 14, context models at
//!    scale 12 with merged rare contexts);
//! 4. choose and encode every plane of every chunk (parallel);
//! 5. keep only the shared models some chunk uses and write the block.
//!
//! Every decision depends only on the block's bytes, so the output is the
//! same at any thread count and any kernel level.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};
use z4ai_simd::{Isa, Kernels, RansTables};

use crate::chunk::{self, BlockModels, CtxKind, EncodedChunk, ModelSel, PlaneCode, PlaneModels};
use crate::dtype::DType;
use crate::entropy::{self, CostTable};
use crate::error::{Error, Result};
use crate::format::frame::{self, ChunkEntry, ChunkLoc, FrameHeader, FrameIndex};
use crate::format::Reader;
use crate::options::{Effort, Options};

/// Most shared models one block may carry.
pub const MAX_BLOCK_MODELS: usize = 24;
/// Bound on the decode tables of one block's shared models (bytes of slots).
pub const MAX_BLOCK_SLOTS: usize = 4 << 20;
const SHARED_O0_BITS: u32 = 14;
const SHARED_CTX_BITS: u32 = 12;
/// Planes (besides plane 0) that get a plane-0-conditioned model.
const CX_PLANES: std::ops::Range<usize> = 1..8;

/// The kernels for an optional pinned level.
pub fn kernels(isa: Option<Isa>) -> Result<Kernels> {
    match isa {
        None => Ok(Kernels::active()),
        Some(i) => Kernels::for_isa(i).ok_or_else(|| {
            Error::InvalidOption(format!("kernel level {i} is not supported by this CPU"))
        }),
    }
}

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
}

impl FrameWriter {
    /// Validates `opts` and writes the frame header to `out`.
    pub fn start(
        opts: &Options,
        content_size: Option<u64>,
        out: &mut Vec<u8>,
    ) -> Result<FrameWriter> {
        let chunk_size = opts.validated_chunk_size()?;
        let k = kernels(opts.isa)?;
        FrameHeader {
            dtype: opts.dtype,
            content_size,
            chunk_size: chunk_size as u32,
        }
        .write(out);
        Ok(FrameWriter {
            dtype: opts.dtype,
            effort: opts.effort,
            chunk_size,
            k,
            content_size: 0,
            hasher: Xxh3::new(),
        })
    }

    /// Bytes of input that make one full block.
    pub fn block_bytes(opts: &Options) -> Result<usize> {
        Ok(opts.validated_chunk_size()? * opts.block_chunks)
    }

    /// Encodes `data` (non-empty) as one block, appended to `out`. Call
    /// inside the thread pool.
    pub fn write_block(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let (dtype, effort, k) = (self.dtype, self.effort, self.k);
        let raws: Vec<&[u8]> = data.chunks(self.chunk_size).collect();
        let split: Vec<Vec<u8>> = raws
            .par_iter()
            .map(|r| chunk::split(r, dtype, &k))
            .collect();
        let models = if effort == Effort::Fast {
            BlockModels::none(dtype.width())
        } else {
            build_models(&split, dtype, &k)
        };
        let encoded: Vec<EncodedChunk> = split
            .into_par_iter()
            .map(|planes| chunk::encode_planes(planes, dtype, effort, &models, &k))
            .collect();
        // Keep the shared models that some plane uses, renumbered in order.
        let mut used = vec![false; models.tables.len()];
        for c in &encoded {
            for code in &c.codes {
                if let PlaneCode::Rans(_, ModelSel::Shared(i), _) = code {
                    used[*i] = true;
                }
            }
        }
        let mut remap = vec![0u8; models.tables.len()];
        let mut section = vec![0u8];
        for (i, t) in models.tables.iter().enumerate() {
            if used[i] {
                remap[i] = section[0];
                section[0] += 1;
                entropy::serialize_model(t, &mut section);
            }
        }
        if section[0] == 0 {
            section.clear();
        }
        let payloads: Vec<(Vec<u8>, u64)> = raws
            .par_iter()
            .zip(&encoded)
            .map(|(raw, c)| {
                let mut p = Vec::new();
                chunk::write_chunk(raw, c, dtype, &remap, &mut p);
                (p, xxh3_64(raw))
            })
            .collect();
        let entries: Vec<ChunkEntry> = raws
            .iter()
            .zip(&payloads)
            .map(|(r, (p, h))| ChunkEntry {
                raw_len: r.len() as u32,
                comp_len: p.len() as u32,
                hash: *h,
            })
            .collect();
        frame::write_block_header(&section, &entries, out);
        for (p, h) in &payloads {
            out.extend_from_slice(p);
            self.hasher.update(&h.to_le_bytes());
        }
        self.content_size += data.len() as u64;
    }

    /// Appends the end block.
    pub fn finish(self, out: &mut Vec<u8>) {
        frame::write_end(self.content_size, self.hasher.digest(), out);
    }
}

/// Accumulated histograms of a block.
struct Hists {
    o0: Vec<[u32; 256]>,
    /// Context histograms: plane 0 order-1 first, then planes in CX_PLANES.
    ctx: Vec<Vec<u32>>,
}

impl Hists {
    fn new(w: usize) -> Hists {
        let n_ctx = 1 + CX_PLANES.filter(|&p| p < w).count();
        Hists {
            o0: vec![[0; 256]; w],
            ctx: vec![vec![0; 65536]; n_ctx],
        }
    }

    fn add(mut self, o: Hists) -> Hists {
        for (a, b) in self.o0.iter_mut().zip(&o.o0) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        for (a, b) in self.ctx.iter_mut().zip(&o.ctx) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        self
    }
}

fn build_models(split: &[Vec<u8>], dtype: DType, k: &Kernels) -> BlockModels {
    let w = dtype.width();
    let h = split
        .par_iter()
        .fold(
            || Hists::new(w),
            |mut h, planes| {
                let n = planes.len() / w;
                for p in 0..w {
                    k.hist_order0(&planes[p * n..(p + 1) * n], &mut h.o0[p]);
                }
                k.hist_order1(&planes[..n], &mut h.ctx[0]);
                for (i, p) in CX_PLANES.filter(|&p| p < w).enumerate() {
                    k.hist_context(&planes[p * n..(p + 1) * n], &planes[..n], &mut h.ctx[1 + i]);
                }
                h
            },
        )
        .reduce(|| Hists::new(w), Hists::add);
    let mut tables = Vec::new();
    let mut planes = vec![PlaneModels::default(); w];
    for p in 0..w {
        if h.o0[p].iter().filter(|&&c| c > 0).count() < 2 {
            continue;
        }
        tables.push(entropy::build_order0_model(&h.o0[p], SHARED_O0_BITS));
        planes[p].order0 = Some(tables.len() - 1);
        let ctx = if p == 0 {
            Some((CtxKind::Order1, &h.ctx[0]))
        } else if CX_PLANES.contains(&p) {
            Some((CtxKind::Plane0, &h.ctx[p]))
        } else {
            None
        };
        if let Some((kind, counts)) = ctx {
            tables.push(entropy::build_context_model(
                counts,
                SHARED_CTX_BITS,
                kind == CtxKind::Order1,
            ));
            planes[p].context = Some((kind, tables.len() - 1));
        }
    }
    let costs = tables.iter().map(CostTable::new).collect();
    BlockModels {
        tables,
        costs,
        planes,
    }
}

/// Compresses `data` into one frame.
pub fn compress(data: &[u8], opts: &Options) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let mut fw = FrameWriter::start(opts, Some(data.len() as u64), &mut out)?;
    let block = FrameWriter::block_bytes(opts)?;
    with_pool(opts.threads, || {
        for b in data.chunks(block) {
            fw.write_block(b, &mut out);
        }
    });
    fw.finish(&mut out);
    Ok(out)
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

/// Decodes `chunks` (all from one block whose model section is `models`)
/// into the matching slices of `outs`, verifying each chunk's hash.
pub fn decode_chunks(
    blob: &[u8],
    dtype: DType,
    models: &[RansTables],
    k: &Kernels,
    work: Vec<(&ChunkLoc, &mut [u8])>,
) -> Result<()> {
    work.into_par_iter()
        .try_for_each_init(Vec::new, |scratch, (loc, out)| {
            chunk::decode_chunk(&blob[loc.payload.clone()], dtype, models, k, out, scratch)?;
            if xxh3_64(out) != loc.entry.hash {
                return Err(Error::ChecksumMismatch {
                    what: "chunk content",
                    chunk: Some(loc.index),
                });
            }
            Ok(())
        })
}

/// Decodes a whole frame into `out` (at least the content size); returns
/// the content size.
pub fn decompress_into(
    blob: &[u8],
    out: &mut [u8],
    threads: usize,
    isa: Option<Isa>,
) -> Result<usize> {
    let idx = FrameIndex::scan(blob)?;
    let size =
        usize::try_from(idx.content_size).map_err(|_| Error::corrupt("content too large"))?;
    if out.len() < size {
        return Err(Error::BufferTooSmall {
            needed: size as u64,
            got: out.len() as u64,
        });
    }
    let k = kernels(isa)?;
    let dtype = idx.header.dtype;
    with_pool(threads, || {
        let mut rest = &mut out[..size];
        for b in &idx.blocks {
            let models = parse_models(&blob[b.models.clone()])?;
            let mut work = Vec::with_capacity(b.chunks.len());
            for loc in &b.chunks {
                let (head, tail) =
                    std::mem::take(&mut rest).split_at_mut(loc.entry.raw_len as usize);
                work.push((loc, head));
                rest = tail;
            }
            decode_chunks(blob, dtype, &models, &k, work)?;
        }
        Ok(size)
    })
}

/// Decodes `len` bytes at `offset` of the content, touching only the
/// chunks that overlap the range.
pub fn decompress_range(
    blob: &[u8],
    offset: u64,
    len: u64,
    threads: usize,
    isa: Option<Isa>,
) -> Result<Vec<u8>> {
    let idx = FrameIndex::scan(blob)?;
    let end = offset
        .checked_add(len)
        .filter(|&e| e <= idx.content_size)
        .ok_or(Error::OutOfRange {
            offset,
            len,
            size: idx.content_size,
        })?;
    let k = kernels(isa)?;
    let dtype = idx.header.dtype;
    let mut out = vec![0u8; len as usize];
    with_pool(threads, || {
        for b in &idx.blocks {
            let hit: Vec<&ChunkLoc> = b
                .chunks
                .iter()
                .filter(|c| {
                    c.raw_offset < end && c.raw_offset + u64::from(c.entry.raw_len) > offset
                })
                .collect();
            if hit.is_empty() {
                continue;
            }
            let models = parse_models(&blob[b.models.clone()])?;
            let mut bufs: Vec<Vec<u8>> = hit
                .iter()
                .map(|c| vec![0u8; c.entry.raw_len as usize])
                .collect();
            let work = hit
                .iter()
                .copied()
                .zip(bufs.iter_mut().map(|v| v.as_mut_slice()))
                .collect();
            decode_chunks(blob, dtype, &models, &k, work)?;
            for (c, buf) in hit.iter().zip(&bufs) {
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
