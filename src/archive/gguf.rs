//! GGUF (llama.cpp) files.

use super::source::ReadAt;
use super::Span;
use crate::dtype::DType;
use crate::error::{Error, Result};

/// Whether a file starts with the GGUF magic.
pub fn sniff(head: &[u8]) -> bool {
    head.len() >= 4 && &head[..4] == b"GGUF"
}

/// Tensor spans of a GGUF file.
pub fn plan(_src: &dyn ReadAt) -> Result<Vec<Span>> {
    Err(Error::Malformed {
        what: "GGUF header",
        detail: "not supported yet".into(),
    })
}

/// Splits a quantized tensor into field buffers.
pub fn split(_t: u32, data: &[u8]) -> Vec<(DType, Vec<u8>)> {
    vec![(DType::Bytes, data.to_vec())]
}

/// Decoded length of field `i` of a split tensor of `len` bytes.
pub fn field_len(_t: u32, len: u64, _i: usize) -> u64 {
    len
}

/// Reassembles a split tensor.
pub fn join(_t: u32, fields: &[Vec<u8>], out: &mut [u8]) -> Result<()> {
    out.copy_from_slice(&fields[0]);
    Ok(())
}
