//! The one error type of the crate.
//!
//! Every decoder failure is a typed variant; nothing in the decode path
//! panics on bad input. The C API maps variants to pinned negative codes
//! (see [`Error::code`]); those numbers never change.

use std::io;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while coding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input does not start with the z4ai magic bytes.
    #[error("not a z4ai frame (bad magic)")]
    BadMagic,
    /// The frame was written by a format version this build cannot read.
    #[error("unsupported frame version {0}")]
    UnsupportedVersion(u8),
    /// The input ended before a structure was complete.
    #[error("truncated {what}: needed {needed} bytes, {available} available")]
    Truncated {
        /// Which structure was being read.
        what: &'static str,
        /// Bytes the structure needs.
        needed: u64,
        /// Bytes that were left.
        available: u64,
    },
    /// A field holds a value the format forbids (reserved bits, impossible
    /// sizes, an unknown method, a bad table).
    #[error("corrupt frame: {0}")]
    Corrupt(String),
    /// A checksum did not match: the header, a block, or a chunk's content.
    #[error("checksum mismatch in {what}{}", chunk.map(|c| format!(" (chunk {c})")).unwrap_or_default())]
    ChecksumMismatch {
        /// What was checked.
        what: &'static str,
        /// Chunk index, when a chunk's content failed.
        chunk: Option<u64>,
    },
    /// A delta frame was decoded against a reference other than its own.
    #[error("reference does not match the one this delta was made against")]
    ReferenceMismatch,
    /// A delta frame or delta archive was decoded without the reference it
    /// was made against.
    #[error("this {what} is a delta: it needs its reference{detail}")]
    ReferenceRequired {
        /// What needs it: "frame" or "archive".
        what: &'static str,
        /// The reference's size and hash where known, and how to attach it.
        detail: String,
    },
    /// A caller-supplied buffer has the wrong size.
    #[error("buffer too small: needed {needed} bytes, got {got}")]
    BufferTooSmall {
        /// Bytes required.
        needed: u64,
        /// Bytes supplied.
        got: u64,
    },
    /// An option is out of range or inconsistent.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A requested range lies outside the content.
    #[error("range {offset}+{len} is outside the content ({size} bytes)")]
    OutOfRange {
        /// Start of the requested range.
        offset: u64,
        /// Length of the requested range.
        len: u64,
        /// Size of the content.
        size: u64,
    },
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// Decoding one tensor (or region) of a model archive failed.
    #[error("tensor '{name}': {source}")]
    Tensor {
        /// Name of the tensor (or a description of the region).
        name: String,
        /// What went wrong.
        source: Box<Error>,
    },
    /// A model file or archive container is malformed (safetensors / GGUF
    /// header, archive index): the input is not what it claims to be.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// The structure: "safetensors header", "GGUF header", "archive index", ...
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

impl Error {
    /// The pinned negative code the C API returns for this error.
    pub fn code(&self) -> i64 {
        match self {
            Error::BadMagic => -2,
            Error::UnsupportedVersion(_) => -3,
            Error::Truncated { .. } => -4,
            Error::Corrupt(_) => -5,
            Error::ChecksumMismatch { .. } => -6,
            Error::ReferenceMismatch => -7,
            Error::BufferTooSmall { .. } => -8,
            Error::InvalidOption(_) => -9,
            Error::OutOfRange { .. } => -10,
            Error::Io(_) => -11,
            Error::Tensor { .. } => -14,
            Error::Malformed { .. } => -15,
            Error::ReferenceRequired { .. } => -17,
        }
    }

    pub(crate) fn corrupt(msg: impl Into<String>) -> Error {
        Error::Corrupt(msg.into())
    }

    pub(crate) fn truncated(what: &'static str, needed: usize, available: usize) -> Error {
        Error::Truncated {
            what,
            needed: needed as u64,
            available: available as u64,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            Error::InvalidOption(_)
            | Error::BufferTooSmall { .. }
            | Error::OutOfRange { .. }
            | Error::ReferenceRequired { .. } => io::Error::new(io::ErrorKind::InvalidInput, e),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}
