//! A frame's description for `z4ai info`: sizes, chunks, method per plane.

use std::collections::BTreeMap;

use crate::dtype::DType;
use crate::error::Result;
use crate::format::frame::FrameIndex;
use crate::payload;

/// How one plane index is coded across the chunks of a frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlaneSummary {
    /// Method name -> (chunks using it, payload bytes).
    pub methods: BTreeMap<String, (u64, u64)>,
    /// Chunks whose rANS model is shared by the block.
    pub shared_models: u64,
}

/// One chunk of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkInfo {
    /// Offset of its decoded bytes.
    pub offset: u64,
    /// Decoded bytes.
    pub raw_len: u32,
    /// Payload bytes.
    pub comp_len: u32,
}

/// What `z4ai info` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    /// Element type.
    pub dtype: DType,
    /// Decoded size.
    pub content_size: u64,
    /// Frame size.
    pub frame_size: u64,
    /// Chunk size the writer used.
    pub chunk_size: u32,
    /// Number of blocks.
    pub blocks: usize,
    /// Every chunk.
    pub chunks: Vec<ChunkInfo>,
    /// Per plane (index 0 = exponent plane for floats, or the most
    /// significant residual byte of a delta chunk); stored chunks count
    /// under plane 0 as "stored".
    pub planes: Vec<PlaneSummary>,
    /// Transform name (dedup, palette, lattice, delta and the delta
    /// chunks' residual mode, delta-xor or delta-diff) -> chunks using it.
    pub transforms: BTreeMap<String, u64>,
}

impl FrameInfo {
    /// Content size / frame size.
    pub fn ratio(&self) -> f64 {
        self.content_size as f64 / self.frame_size.max(1) as f64
    }
}

/// Describes a frame without decoding its data.
pub fn frame_info(blob: &[u8]) -> Result<FrameInfo> {
    let idx = FrameIndex::scan(blob)?;
    let dtype = idx.header.dtype;
    let mut planes = vec![PlaneSummary::default(); dtype.width()];
    let mut chunks = Vec::new();
    let mut transforms = BTreeMap::new();
    for b in &idx.blocks {
        for c in &b.chunks {
            chunks.push(ChunkInfo {
                offset: c.raw_offset,
                raw_len: c.entry.raw_len,
                comp_len: c.entry.comp_len,
            });
            let (layers, reports) = payload::describe(
                &blob[c.payload.clone()],
                dtype,
                c.entry.raw_len as usize,
                (c.raw_offset - b.chunks[0].raw_offset) as usize,
            )?;
            for l in layers {
                *transforms.entry(l.to_string()).or_default() += 1;
            }
            for (p, rep) in reports.into_iter().enumerate() {
                // A short delta residual has three planes (whatever the
                // width), named as such.
                if p >= planes.len() {
                    planes.resize(p + 1, PlaneSummary::default());
                }
                let s = &mut planes[p];
                let e = s.methods.entry(rep.method).or_default();
                e.0 += 1;
                e.1 += rep.bytes as u64;
                s.shared_models += u64::from(rep.shared_model);
            }
        }
    }
    Ok(FrameInfo {
        dtype,
        content_size: idx.content_size,
        frame_size: idx.frame_len as u64,
        chunk_size: idx.header.chunk_size,
        blocks: idx.blocks.len(),
        chunks,
        planes,
        transforms,
    })
}
