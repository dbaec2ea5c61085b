//! Options for compression and decompression.

use std::fmt;
use std::str::FromStr;

use z4ai_simd::Isa;

use crate::dtype::DType;
use crate::error::Error;

/// How hard the encoder searches. Decoding speed does not depend on it much.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Effort {
    /// Order-0 exponent coding with a per-chunk table, raw mantissa, no search.
    Fast,
    /// Shared per-block models, order-1 exponent coding where it pays, a
    /// mantissa plane coded (conditioned on the exponent) only where that
    /// saves at least 1/32 of it; dedup and transforms; methods chosen per
    /// chunk and plane from histogram estimates.
    #[default]
    Default,
    /// Every candidate trial-encoded (including inline context models and
    /// zstd at a high level); the smallest kept.
    Max,
}

impl Effort {
    /// Every tier, fastest first.
    pub const ALL: [Effort; 3] = [Effort::Fast, Effort::Default, Effort::Max];

    /// The tier's name as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Effort::Fast => "fast",
            Effort::Default => "default",
            Effort::Max => "max",
        }
    }
}

impl fmt::Display for Effort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Effort {
    type Err = Error;
    fn from_str(s: &str) -> Result<Effort, Error> {
        Effort::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::InvalidOption(format!("unknown effort '{s}' (fast, default, max)"))
            })
    }
}

/// Default chunk size: the unit of parallelism and random access. 512 KiB
/// rather than larger: each chunk's own order-0 tables follow a model's
/// tensors more closely (ratio +0.1% to +2.4% on the real corpus, -0.05%
/// on i.i.d. data) and a chunk's planes stay in L2 (docs/BENCHMARKS.md,
/// "Chunk size").
pub const DEFAULT_CHUNK_SIZE: usize = 512 << 10;
/// Default chunk size of delta frames (`compress_delta`, model deltas):
/// larger, because a delta chunk carries fixed costs a plain one shares
/// with its block (the residual mode's sample, per-chunk context models
/// and their decode tables). Measured on the GPT checkpoint pairs (one
/// thread): against 512 KiB, bf16 compression +30-40%, decompression
/// +2-12%, frames 0.7-0.9% smaller; fp32 compression +50% (docs/ARCHIVE.md,
/// "Delta chunk size").
pub const DEFAULT_DELTA_CHUNK_SIZE: usize = 2 << 20;
/// Smallest chunk size accepted.
pub const MIN_CHUNK_SIZE: usize = 4 << 10;
/// Largest chunk size accepted (bounds what a decoder may be asked to allocate per chunk).
pub const MAX_CHUNK_SIZE: usize = 64 << 20;
/// Chunks per block: a block shares one set of entropy models (64 MiB with
/// the default chunk size).
pub const DEFAULT_BLOCK_CHUNKS: usize = 128;

/// Compression options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Element type of the input.
    pub dtype: DType,
    /// Search effort.
    pub effort: Effort,
    /// Worker threads; 0 uses every core.
    pub threads: usize,
    /// Bytes of input per chunk (rounded down to a whole number of elements).
    pub chunk_size: usize,
    /// The same for delta frames (those made against a reference).
    pub delta_chunk_size: usize,
    /// Chunks per block (each block carries its own shared models).
    pub block_chunks: usize,
    /// Force a kernel level (at most the CPU's); `None` uses [`Isa::active`].
    pub isa: Option<Isa>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            dtype: DType::Bytes,
            effort: Effort::Default,
            threads: 0,
            chunk_size: DEFAULT_CHUNK_SIZE,
            delta_chunk_size: DEFAULT_DELTA_CHUNK_SIZE,
            block_chunks: DEFAULT_BLOCK_CHUNKS,
            isa: None,
        }
    }
}

impl Options {
    /// Options for `dtype` with everything else at its default.
    pub fn new(dtype: DType) -> Options {
        Options {
            dtype,
            ..Options::default()
        }
    }

    /// Sets the effort tier.
    pub fn effort(mut self, effort: Effort) -> Options {
        self.effort = effort;
        self
    }

    /// Sets the thread count (0 = all cores).
    pub fn threads(mut self, threads: usize) -> Options {
        self.threads = threads;
        self
    }

    /// Sets the chunk size in bytes of every frame, plain and delta.
    pub fn chunk_size(mut self, bytes: usize) -> Options {
        self.chunk_size = bytes;
        self.delta_chunk_size = bytes;
        self
    }

    /// Sets the chunk size in bytes of delta frames alone.
    pub fn delta_chunk_size(mut self, bytes: usize) -> Options {
        self.delta_chunk_size = bytes;
        self
    }

    /// Pins a kernel level.
    pub fn isa(mut self, isa: Isa) -> Options {
        self.isa = Some(isa);
        self
    }

    /// Checks ranges; returns the effective chunk size (whole elements) of
    /// a plain frame, or of a delta frame where `delta`.
    pub(crate) fn validated_chunk_size(&self, delta: bool) -> Result<usize, Error> {
        for size in [self.chunk_size, self.delta_chunk_size] {
            if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&size) {
                return Err(Error::InvalidOption(format!(
                    "chunk size {size} outside {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE}"
                )));
            }
        }
        if self.block_chunks == 0 || self.block_chunks > 1 << 16 {
            return Err(Error::InvalidOption(
                "block_chunks must be 1..=65536".into(),
            ));
        }
        let w = self.dtype.width();
        let size = if delta {
            self.delta_chunk_size
        } else {
            self.chunk_size
        };
        Ok(size / w * w)
    }

    /// Bytes of input in one full block of a plain frame (`block_chunks`
    /// chunks) or of a delta frame (about as many bytes, in whole delta
    /// chunks, at least one).
    pub(crate) fn block_bytes(&self, delta: bool) -> Result<usize, Error> {
        let plain = self.validated_chunk_size(false)? * self.block_chunks;
        if !delta {
            return Ok(plain);
        }
        Ok(delta_block_bytes(plain, self.validated_chunk_size(true)?))
    }
}

/// Bytes in one full block of a delta frame whose plain blocks hold
/// `plain_block` bytes: as many, in whole chunks of `delta_chunk`, at
/// least one.
pub(crate) fn delta_block_bytes(plain_block: usize, delta_chunk: usize) -> usize {
    delta_chunk * (plain_block / delta_chunk).max(1)
}

/// Decompression options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Worker threads; 0 uses every core.
    pub threads: usize,
    /// Force a kernel level (at most the CPU's); `None` uses [`Isa::active`].
    pub isa: Option<Isa>,
}
