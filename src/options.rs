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

    /// Sets the chunk size in bytes.
    pub fn chunk_size(mut self, bytes: usize) -> Options {
        self.chunk_size = bytes;
        self
    }

    /// Pins a kernel level.
    pub fn isa(mut self, isa: Isa) -> Options {
        self.isa = Some(isa);
        self
    }

    /// Checks ranges; returns the effective chunk size (whole elements).
    pub(crate) fn validated_chunk_size(&self) -> Result<usize, Error> {
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&self.chunk_size) {
            return Err(Error::InvalidOption(format!(
                "chunk size {} outside {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE}",
                self.chunk_size
            )));
        }
        if self.block_chunks == 0 || self.block_chunks > 1 << 16 {
            return Err(Error::InvalidOption(
                "block_chunks must be 1..=65536".into(),
            ));
        }
        let w = self.dtype.width();
        Ok(self.chunk_size / w * w)
    }
}

/// Decompression options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Worker threads; 0 uses every core.
    pub threads: usize,
    /// Force a kernel level (at most the CPU's); `None` uses [`Isa::active`].
    pub isa: Option<Isa>,
}
