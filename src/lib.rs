//! z4ai: a lossless codec engine for neural-network weights.
//!
//! Float tensors are split into byte planes after rotating the sign bit out
//! of the exponent, and each plane of each chunk is coded with the cheapest
//! of raw, constant, interleaved rANS (order-0, order-1, or the mantissa
//! conditioned on the exponent) and zstd. Chunks are independent and coded
//! in parallel; every chunk and the whole content carry XXH3 checksums.
//!
//! ```
//! use z4ai::{compress, decompress, DType, Options};
//!
//! let weights: Vec<u8> = (0..4096u32).flat_map(|i| ((i as f32).sin() * 0.02).to_le_bytes()).collect();
//! let blob = compress(&weights, &Options::new(DType::F32))?;
//! assert_eq!(decompress(&blob)?, weights);
//! # Ok::<(), z4ai::Error>(())
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod archive;
mod buffers;
pub mod capi;
mod chunk;
mod delta;
mod dtype;
mod engine;
mod entropy;
mod error;
pub mod format;
mod hists;
mod info;
mod options;
mod payload;
mod prefault;
mod stream;
mod transform;
mod trim;

pub use dtype::DType;
pub use engine::FrameParts;
use engine::Verify;
pub use error::{Error, Result};
pub use info::{frame_info, ChunkInfo, FrameInfo, PlaneSummary};
pub use options::{
    DecodeOptions, Effort, Options, DEFAULT_BLOCK_CHUNKS, DEFAULT_CHUNK_SIZE,
    DEFAULT_DELTA_CHUNK_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE,
};
pub use stream::{Decoder, Encoder};
pub use z4ai_simd::Isa;

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Compresses `data` into a self-describing frame.
pub fn compress(data: &[u8], opts: &Options) -> Result<Vec<u8>> {
    engine::compress(data, None, opts)
}

/// As [`compress`], into memory the caller owns: writes the frame to the
/// start of `out` and returns its size. [`compress_bound`] bytes always
/// suffice; a smaller `out` works when the frame fits, else the call fails
/// with [`Error::BufferTooSmall`] giving the frame's size (and `out` holds
/// no usable frame). Each part of the frame is copied in once, and only
/// the pages it lands on are touched: an `out` of `compress_bound` bytes
/// costs no more memory than the frame, and a reused one maps nothing.
pub fn compress_into(data: &[u8], out: &mut [u8], opts: &Options) -> Result<usize> {
    engine::compress_into(data, None, opts, out)
}

/// As [`compress_delta`], into memory the caller owns (see
/// [`compress_into`]).
pub fn compress_delta_into(
    new: &[u8],
    reference: &[u8],
    out: &mut [u8],
    opts: &Options,
) -> Result<usize> {
    engine::compress_into(new, Some(reference), opts, out)
}

/// As [`compress`], but the frame is returned in the parts it was produced
/// in, for callers that copy it into memory they own (one copy instead of
/// two): see [`FrameParts::copy_to`].
pub fn compress_parts(data: &[u8], opts: &Options) -> Result<FrameParts> {
    engine::compress_parts(data, None, opts)
}

/// As [`compress_delta`], with the frame in parts (see [`compress_parts`]).
pub fn compress_delta_parts(new: &[u8], reference: &[u8], opts: &Options) -> Result<FrameParts> {
    engine::compress_parts(new, Some(reference), opts)
}

/// Compresses `new` as a bit-exact delta against `reference` (a previous
/// checkpoint, or the base model of a fine-tune). Chunks are coded as the
/// residual against the reference's bytes at the same offsets; bytes past
/// the reference's end are coded standalone. The frame records the
/// reference's length and XXH3-64.
pub fn compress_delta(new: &[u8], reference: &[u8], opts: &Options) -> Result<Vec<u8>> {
    engine::compress(new, Some(reference), opts)
}

/// Decodes a frame made by [`compress_delta`]; fails with
/// [`Error::ReferenceMismatch`] when `reference` is not the one it was made
/// against (never with wrong output). Plain frames decode as with
/// [`decompress`].
pub fn decompress_delta(blob: &[u8], reference: &[u8]) -> Result<Vec<u8>> {
    decompress_delta_with(blob, reference, &DecodeOptions::default())
}

/// [`decompress_delta`] with explicit threads / kernel level.
pub fn decompress_delta_with(
    blob: &[u8],
    reference: &[u8],
    opts: &DecodeOptions,
) -> Result<Vec<u8>> {
    let size = usize::try_from(decompressed_size(blob)?)
        .map_err(|_| Error::corrupt("content too large"))?;
    let mut out = vec![0u8; size];
    decompress_delta_into_with(blob, reference, &mut out, opts)?;
    Ok(out)
}

/// Decodes a frame made by [`compress_delta`] into `out`, which must hold
/// at least the content size; returns the number of bytes written.
pub fn decompress_delta_into_with(
    blob: &[u8],
    reference: &[u8],
    out: &mut [u8],
    opts: &DecodeOptions,
) -> Result<usize> {
    engine::decompress_into(
        blob,
        out,
        opts.threads,
        opts.isa,
        Some(reference),
        Verify::Frame,
    )
}

/// Decompresses a whole frame.
pub fn decompress(blob: &[u8]) -> Result<Vec<u8>> {
    decompress_with(blob, &DecodeOptions::default())
}

/// Decompresses a whole frame with explicit threads / kernel level.
pub fn decompress_with(blob: &[u8], opts: &DecodeOptions) -> Result<Vec<u8>> {
    let size = usize::try_from(decompressed_size(blob)?)
        .map_err(|_| Error::corrupt("content too large"))?;
    let mut out = vec![0u8; size];
    engine::decompress_into(blob, &mut out, opts.threads, opts.isa, None, Verify::Frame)?;
    Ok(out)
}

/// Decompresses a frame into `out`, which must hold at least the content
/// size; returns the number of bytes written.
pub fn decompress_into(blob: &[u8], out: &mut [u8]) -> Result<usize> {
    engine::decompress_into(blob, out, 0, None, None, Verify::Frame)
}

/// [`decompress_into`] with explicit threads / kernel level.
pub fn decompress_into_with(blob: &[u8], out: &mut [u8], opts: &DecodeOptions) -> Result<usize> {
    engine::decompress_into(blob, out, opts.threads, opts.isa, None, Verify::Frame)
}

/// The decoded size of a frame. Reads the header when it records the size,
/// otherwise walks the block headers (no chunk is decoded). Either way the
/// frame's structure is validated first.
pub fn decompressed_size(blob: &[u8]) -> Result<u64> {
    Ok(format::frame::FrameIndex::scan(blob)?.content_size)
}

/// Decodes `len` bytes starting at `offset` of the content, decoding only
/// the chunks that overlap the range. Each of those chunks is checked
/// against its content hash; damage elsewhere in the frame is not seen
/// (use [`decompress`] or the CLI's `verify` to check a whole frame).
pub fn decompress_range(blob: &[u8], offset: u64, len: u64) -> Result<Vec<u8>> {
    engine::decompress_range(blob, offset, len, 0, None)
}

/// Upper bound of the frame size for `len` bytes of input under `opts`,
/// plain or delta.
pub fn compress_bound(len: usize, opts: &Options) -> usize {
    // Chunks and blocks as `Options::block_bytes` lays them out, counted
    // at the smaller of the plain and delta sizes.
    let w = opts.dtype.width();
    let size = |s: usize| (s.clamp(MIN_CHUNK_SIZE, MAX_CHUNK_SIZE) / w * w).max(1);
    let (plain, delta) = (size(opts.chunk_size), size(opts.delta_chunk_size));
    let plain_block = plain * opts.block_chunks.max(1);
    let delta_block = options::delta_block_bytes(plain_block, delta);
    let chunks = len.div_ceil(plain.min(delta)).max(1);
    let blocks = len.div_ceil(plain_block.min(delta_block)).max(1);
    format::frame::HEADER_LEN
        + format::frame::END_LEN
        + len
        + chunks * (format::frame::ENTRY_LEN + 1)
        + blocks * (format::frame::BLOCK_FIXED_LEN + 4 + format::frame::MAX_MODEL_SECTION as usize)
}

pub use archive::{Archive, ArchiveOptions};
