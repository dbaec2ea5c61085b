//! safetensors: an 8-byte little-endian header length `N`, `N` bytes of
//! JSON (`name -> {dtype, shape, data_offsets}` plus an optional
//! `__metadata__` string map, padded with spaces), then the data section.
//!
//! The header is validated the way the safetensors crate does (dtype
//! known, `data_offsets` inside the data section, byte length equal to the
//! element count times the element size, no two tensors overlapping), but
//! gaps between tensors and bytes after the last one are accepted: they are
//! kept as regions so that the file is restored byte for byte.

use std::collections::BTreeMap;

use serde_json::Value;

use super::format::TensorMeta;
use super::{sort_tensor_spans, Span};
use crate::dtype::DType;
use crate::error::{Error, Result};

/// Headers larger than this are refused (the safetensors crate's own limit).
pub const MAX_HEADER: u64 = 100 << 20;

fn bad(detail: impl Into<String>) -> Error {
    Error::Malformed {
        what: "safetensors header",
        detail: detail.into(),
    }
}

/// Whether a file starting with `head` (at least its first 9 bytes) of
/// `file_len` bytes looks like safetensors: a plausible header length
/// followed by `{`.
pub fn sniff(head: &[u8], file_len: u64) -> bool {
    if head.len() < 9 || file_len < 10 {
        return false;
    }
    let n = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    n >= 2 && n <= file_len - 8 && n <= MAX_HEADER && head[8] == b'{'
}

/// The header length `N` from the first 8 bytes, checked against the file.
pub fn header_len(first8: &[u8], file_len: u64) -> Result<u64> {
    if first8.len() < 8 || file_len < 8 {
        return Err(bad(format!("file of {file_len} bytes is too short")));
    }
    let n = u64::from_le_bytes(first8[..8].try_into().expect("8 bytes"));
    if n > file_len - 8 {
        return Err(bad(format!(
            "header length {n} runs past the end of the {file_len}-byte file"
        )));
    }
    if n > MAX_HEADER {
        return Err(bad(format!("header length {n} exceeds {MAX_HEADER}")));
    }
    Ok(n)
}

/// Bits per element and the frame dtype used to code a safetensors dtype.
/// Types without a z4ai counterpart are coded as the integer of the same
/// width (unsigned as signed: the planes are the same) or as bytes.
pub fn dtype_of(name: &str) -> Option<(u64, DType)> {
    Some(match name {
        "BOOL" | "U8" => (8, DType::U8),
        "I8" => (8, DType::I8),
        "F8_E4M3" => (8, DType::F8E4M3),
        "F8_E5M2" => (8, DType::F8E5M2),
        "F8_E8M0" => (8, DType::Bytes),
        "F4" => (4, DType::Bytes),
        "F6_E2M3" | "F6_E3M2" => (6, DType::Bytes),
        "I16" | "U16" => (16, DType::I16),
        "F16" => (16, DType::F16),
        "BF16" => (16, DType::BF16),
        "I32" | "U32" => (32, DType::I32),
        "F32" => (32, DType::F32),
        "I64" | "U64" => (64, DType::I64),
        "F64" => (64, DType::F64),
        "C64" => (64, DType::F32),
        _ => return None,
    })
}

/// A parsed header.
pub struct Header {
    /// Tensor spans, sorted by offset, with absolute file offsets.
    pub spans: Vec<Span>,
    /// `__metadata__`.
    pub metadata: BTreeMap<String, String>,
}

/// Parses the JSON header `json` (the `N` bytes after the length) of a
/// file of `file_len` bytes. Returns the tensors sorted by offset (ties:
/// empty tensors first, then by name); gaps are not filled in here.
pub fn parse_header(json: &[u8], file_len: u64) -> Result<Header> {
    let n = json.len() as u64;
    let data_start = 8 + n;
    let data_len = file_len
        .checked_sub(data_start)
        .ok_or_else(|| bad("header runs past the end of the file"))?;
    let text = std::str::from_utf8(json).map_err(|e| bad(format!("not UTF-8: {e}")))?;
    let root: Value = serde_json::from_str(text).map_err(|e| bad(format!("bad JSON: {e}")))?;
    let obj = root
        .as_object()
        .ok_or_else(|| bad("the header is not a JSON object"))?;
    let mut metadata = BTreeMap::new();
    let mut spans = Vec::with_capacity(obj.len());
    for (name, v) in obj {
        if name == "__metadata__" {
            let m = v
                .as_object()
                .ok_or_else(|| bad("__metadata__ is not an object"))?;
            for (k, v) in m {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                metadata.insert(k.clone(), s);
            }
            continue;
        }
        let t = v
            .as_object()
            .ok_or_else(|| bad(format!("tensor '{name}': not an object")))?;
        let dtype = t
            .get("dtype")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("tensor '{name}': missing dtype")))?;
        let (bits, code) = dtype_of(dtype)
            .ok_or_else(|| bad(format!("tensor '{name}': unknown dtype '{dtype}'")))?;
        let shape = t
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("tensor '{name}': missing shape")))?
            .iter()
            .map(|d| d.as_u64())
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| bad(format!("tensor '{name}': shape is not a list of integers")))?;
        if shape.len() > 255 {
            return Err(bad(format!("tensor '{name}': {} dimensions", shape.len())));
        }
        let offs = t
            .get("data_offsets")
            .and_then(Value::as_array)
            .filter(|a| a.len() == 2)
            .and_then(|a| Some((a[0].as_u64()?, a[1].as_u64()?)))
            .ok_or_else(|| bad(format!("tensor '{name}': data_offsets is not [begin, end]")))?;
        let (begin, end) = offs;
        if begin > end || end > data_len {
            return Err(bad(format!(
                "tensor '{name}': data_offsets [{begin}, {end}] outside the {data_len}-byte data section"
            )));
        }
        let elems = shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .and_then(|e| e.checked_mul(bits))
            .ok_or_else(|| bad(format!("tensor '{name}': element count overflows")))?;
        if elems % 8 != 0 || elems / 8 != end - begin {
            return Err(bad(format!(
                "tensor '{name}': {dtype} {shape:?} needs {} bits, data_offsets give {} bytes",
                elems,
                end - begin
            )));
        }
        if name.len() > usize::from(u16::MAX) {
            return Err(bad("tensor name longer than 65535 bytes"));
        }
        spans.push(Span {
            offset: data_start + begin,
            len: end - begin,
            dtype: code,
            tensor: Some(TensorMeta {
                name: name.clone(),
                dtype: dtype.to_string(),
                shape,
            }),
            gguf: None,
        });
    }
    sort_tensor_spans(&mut spans, data_start).map_err(bad)?;
    Ok(Header { spans, metadata })
}
