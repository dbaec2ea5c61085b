//! Model files as archives with per-tensor random access.
//!
//! An archive (`.z4`, magic `Z4AR`, specified in `docs/ARCHIVE.md`) holds
//! one model file or a directory of them. Each file is cut into *pieces*
//! that cover it exactly: the format's header (kept byte for byte), one
//! piece per tensor, and regions for whatever lies between (padding, gaps,
//! unrecognised bytes). Every piece is coded as its own z4ai frame — a
//! tensor with the dtype its header gives — so one tensor can be decoded
//! with one positioned read of its frame. Pieces with identical bytes
//! (XXH3-128 equal and the bytes compared) share one frame. An index at the
//! end, found through a fixed-size footer, lists files, pieces and frames.
//!
//! Recognised formats: safetensors, GGUF (quantized blocks are split into
//! their fp16 scale fields and packed integers before coding), and zip
//! files (PyTorch `.bin`/`.pt`: stored members become pieces). Anything
//! else is stored as byte regions.
//!
//! ```
//! use z4ai::archive::{compress_bytes, Archive, ArchiveOptions};
//!
//! // A one-tensor safetensors file: 8-byte header length, JSON, data.
//! let json = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
//! let mut file = (json.len() as u64).to_le_bytes().to_vec();
//! file.extend_from_slice(json);
//! file.extend_from_slice(&[0, 0, 128, 63, 0, 0, 0, 64]);
//!
//! let z4 = compress_bytes(&file, "m.safetensors", &ArchiveOptions::default())?;
//! let a = Archive::from_bytes(z4)?;
//! assert_eq!(a.tensor("w")?, &file[file.len() - 8..]);
//! let mut restored = Vec::new();
//! a.write_file(0, &mut restored)?;
//! assert_eq!(restored, file);
//! # Ok::<(), z4ai::Error>(())
//! ```
#![forbid(unsafe_code)]

mod chain;
pub mod format;
mod gguf;
mod reader;
mod reference;
mod safetensors;
mod source;
mod writer;
mod zip;

use std::fs::File;
use std::io::Read;
use std::path::Path;

pub use chain::{
    Chain, Step, StepKind, DEFAULT_KEYFRAME_INTERVAL, MANIFEST, MAX_KEYFRAME_INTERVAL,
};
pub use format::{ArchiveKind, FileFormat, RefSlice, ReferenceId, TensorMeta};
pub use reader::{Archive, Coding, FileSummary, TensorInfo};
pub use reference::Reference;
pub(crate) use source::slice_at;
pub use source::{FileSource, ReadAt};
pub use writer::{
    compress_bytes, compress_bytes_delta, compress_path, compress_path_delta, file_name,
};

use crate::dtype::DType;
use crate::error::Result;
use crate::options::{Effort, DEFAULT_CHUNK_SIZE, DEFAULT_DELTA_CHUNK_SIZE};

/// Regions (headers, gaps, unrecognised files) are cut into pieces of at
/// most this many bytes, so that no region needs more memory than a batch.
pub const MAX_REGION: u64 = 32 << 20;

/// Engine block of every archive frame, in chunks: 32 × the default 512 KiB
/// chunk = 16 MiB (one-shot frames use 128: 64 MiB). Smaller blocks bound the
/// memory of coding one block (about 3.5 × the block) at a ratio cost of
/// under 0.1% on the corpus (docs/ARCHIVE.md, "Peak memory"); a writer
/// choice, the format allows any block size.
pub const ARCHIVE_BLOCK_CHUNKS: usize = 32;

/// Default bytes of input coded (or restored) per batch: one archive
/// engine block with the default chunk size (16 MiB).
pub const DEFAULT_BATCH_BYTES: usize = DEFAULT_CHUNK_SIZE * ARCHIVE_BLOCK_CHUNKS;

/// How an archive is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveOptions {
    /// Effort tier of every frame.
    pub effort: Effort,
    /// Worker threads; 0 uses every core.
    pub threads: usize,
    /// Chunk size of every plain frame.
    pub chunk_size: usize,
    /// Chunk size of every delta frame (a tensor against the reference's).
    pub delta_chunk_size: usize,
    /// Input bytes read and coded per batch (bounds memory: one batch of
    /// input and its frames are held at once). A piece larger than this, or
    /// than one engine block, is streamed in windows of at most this many
    /// bytes (1 MiB at most). The archive does not depend on it.
    pub batch_bytes: usize,
}

impl Default for ArchiveOptions {
    fn default() -> ArchiveOptions {
        ArchiveOptions {
            effort: Effort::Default,
            threads: 0,
            chunk_size: DEFAULT_CHUNK_SIZE,
            delta_chunk_size: DEFAULT_DELTA_CHUNK_SIZE,
            batch_bytes: DEFAULT_BATCH_BYTES,
        }
    }
}

impl ArchiveOptions {
    /// Sets the chunk size in bytes of every frame, plain and delta.
    pub fn chunk_size(mut self, bytes: usize) -> ArchiveOptions {
        self.chunk_size = bytes;
        self.delta_chunk_size = bytes;
        self
    }
}

/// What writing an archive did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchiveStats {
    /// Files archived.
    pub files: usize,
    /// Tensors archived.
    pub tensors: usize,
    /// Pieces that reuse an earlier frame (identical bytes).
    pub deduplicated: usize,
    /// Frames written.
    pub frames: usize,
    /// Bytes of input.
    pub raw_bytes: u64,
    /// Bytes of the archive.
    pub archive_bytes: u64,
    /// Pieces coded as a delta against the reference.
    pub delta: usize,
    /// Pieces identical to their reference tensor (stored without a frame).
    pub unchanged: usize,
}

/// A byte range of an input file and how to code it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub offset: u64,
    pub len: u64,
    pub dtype: DType,
    pub tensor: Option<TensorMeta>,
    /// GGUF quantized block type to split, if any.
    pub gguf: Option<u32>,
}

impl Span {
    fn region(offset: u64, len: u64) -> Span {
        Span {
            offset,
            len,
            dtype: DType::Bytes,
            tensor: None,
            gguf: None,
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.tensor.as_ref().map_or("", |t| t.name.as_str())
    }
}

/// What a path holds, judged by content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detected {
    /// A z4ai archive (`Z4AR`).
    Archive,
    /// A model file this module understands.
    Model(FileFormat),
    /// A directory.
    Dir,
    /// Anything else.
    Other,
}

/// Looks at the first bytes of `path` (or whether it is a directory).
/// Zip files count as models only with a PyTorch extension (`.bin`,
/// `.pt`, `.pth`, `.ckpt`); `.safetensors` / `.gguf` files count as models
/// whatever they hold, so that a malformed one is reported as such.
pub fn detect(path: &Path) -> Result<Detected> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Ok(Detected::Dir);
    }
    let mut head = [0u8; 9];
    let mut f = File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        let k = f.read(&mut head[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    Ok(match sniff(&head[..n], meta.len()) {
        Some(FileFormat::Zip) if !matches!(ext.as_str(), "bin" | "pt" | "pth" | "ckpt") => {
            Detected::Other
        }
        Some(f) => Detected::Model(f),
        None if format::is_archive(&head[..n]) => Detected::Archive,
        None if ext == "safetensors" => Detected::Model(FileFormat::Safetensors),
        None if ext == "gguf" => Detected::Model(FileFormat::Gguf),
        None => Detected::Other,
    })
}

/// The XXH3-128 of an archive piece (or reference slice), on the active
/// kernel level.
pub(crate) fn piece_hash(data: &[u8]) -> u128 {
    z4ai_simd::Kernels::active().xxh3_128(data)
}

/// The model format of a file starting with `head` (its first 9 bytes).
fn sniff(head: &[u8], len: u64) -> Option<FileFormat> {
    if safetensors::sniff(head, len) {
        Some(FileFormat::Safetensors)
    } else if gguf::sniff(head) {
        Some(FileFormat::Gguf)
    } else if zip::sniff(head) {
        Some(FileFormat::Zip)
    } else {
        None
    }
}

/// Cuts a file into spans that cover it exactly.
fn plan_spans(src: &dyn ReadAt, hint: Option<FileFormat>) -> Result<(FileFormat, Vec<Span>)> {
    let size = src.size();
    let mut head = [0u8; 9];
    let n = head.len().min(size as usize);
    src.read_at(0, &mut head[..n])?;
    let format = sniff(&head[..n], size).or(hint).unwrap_or(FileFormat::Raw);
    let known = match format {
        FileFormat::Safetensors => {
            let hl = safetensors::header_len(&head[..n], size)?;
            let json = src.read_vec(8, hl)?;
            let mut spans = vec![Span::region(0, 8 + hl)];
            spans.extend(safetensors::parse_header(&json, size)?.spans);
            spans
        }
        // A malformed GGUF header is an error (like safetensors); a zip
        // whose directory cannot be read is kept as byte regions.
        FileFormat::Gguf => gguf::plan(src)?,
        FileFormat::Zip => zip::plan(src)?,
        FileFormat::Raw => Vec::new(),
    };
    let format = if known.is_empty() && format != FileFormat::Safetensors {
        FileFormat::Raw
    } else {
        format
    };
    Ok((format, fill_gaps(size, known)))
}

/// Sorts a header's tensor spans by offset (at one offset, empty tensors
/// first, then by name) and checks that none starts before `data_start`
/// or overlaps the one before; the error names the two tensors.
fn sort_tensor_spans(spans: &mut [Span], data_start: u64) -> std::result::Result<(), String> {
    spans.sort_by(|a, b| (a.offset, a.len != 0, a.name()).cmp(&(b.offset, b.len != 0, b.name())));
    let mut pos = data_start;
    let mut prev = "";
    for s in spans.iter() {
        if s.offset < pos {
            return Err(format!("tensors '{prev}' and '{}' overlap", s.name()));
        }
        pos = s.offset + s.len;
        prev = s.name();
    }
    Ok(())
}

/// Adds region spans for every byte not covered by `known` (sorted,
/// non-overlapping) and cuts regions to [`MAX_REGION`].
fn fill_gaps(size: u64, known: Vec<Span>) -> Vec<Span> {
    let mut out = Vec::with_capacity(known.len() * 2 + 1);
    let mut pos = 0u64;
    let push_region = |out: &mut Vec<Span>, from: u64, to: u64| {
        let mut p = from;
        while p < to {
            let n = (to - p).min(MAX_REGION);
            out.push(Span::region(p, n));
            p += n;
        }
    };
    for s in known {
        debug_assert!(s.offset >= pos);
        if s.tensor.is_none() {
            push_region(&mut out, pos, s.offset + s.len);
            pos = s.offset + s.len;
            continue;
        }
        push_region(&mut out, pos, s.offset);
        pos = s.offset + s.len;
        out.push(s);
    }
    push_region(&mut out, pos, size);
    out
}
