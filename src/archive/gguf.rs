//! GGUF (llama.cpp's model format).
//!
//! A GGUF file is a header — magic `GGUF`, version (2 or 3), tensor count
//! and key/value count (u64 each) — then the key/value metadata (string
//! key, u32 value type, value; arrays hold a type, a u64 count and the
//! elements, possibly arrays again), then one *tensor info* per tensor
//! (name, dimension count, dimensions, ggml type, offset relative to the
//! data section), padding up to the alignment (`general.alignment`,
//! default 32), and the data section.
//!
//! [`plan`] parses the header with positioned reads (never the whole file)
//! and returns one span per tensor; the header itself, padding and gaps
//! become byte regions elsewhere. Every count and length read from the file
//! is checked against the bytes that remain before anything is allocated
//! or skipped, so a lying header costs at most the file's size.
//!
//! Float and integer tensors are coded with their own dtype. Quantized
//! tensors are arrays of fixed-size blocks, each a handful of fields (fp16
//! scales, packed 6-bit sub-block scales, packed 2..8-bit quants). Coding
//! the blocks as they lie mixes all of them in one byte stream; [`split`]
//! gathers each field of every block into its own buffer (the fp16 scales
//! as an `F16` frame, the packed bytes as byte frames) and [`join`]
//! scatters them back. The split is a permutation: the restored tensor is
//! byte-identical. Types without a known block layout are coded as bytes.

use std::collections::HashSet;

use super::format::TensorMeta;
use super::source::ReadAt;
use super::{sort_tensor_spans, Span};
use crate::dtype::DType;
use crate::error::{Error, Result};

/// Whether a file starts with the GGUF magic.
pub fn sniff(head: &[u8]) -> bool {
    head.len() >= 4 && &head[..4] == b"GGUF"
}

fn bad(detail: impl Into<String>) -> Error {
    Error::Malformed {
        what: "GGUF header",
        detail: detail.into(),
    }
}

/// One field of a quantized block: where it lies and how it is coded.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// Byte offset inside the block.
    pub at: usize,
    /// Bytes inside the block.
    pub len: usize,
    /// Frame dtype of the gathered field.
    pub dtype: DType,
}

const fn f(at: usize, len: usize, dtype: DType) -> Field {
    Field { at, len, dtype }
}

/// A ggml tensor type.
#[derive(Clone, Copy, Debug)]
struct GgmlType {
    id: u32,
    name: &'static str,
    /// Elements per block (1 for plain types).
    block: u64,
    /// Bytes per block.
    size: u64,
    /// Frame dtype when the tensor is not split.
    dtype: DType,
    /// The block's fields, in block order (empty: no split).
    fields: &'static [Field],
}

const fn ty(
    id: u32,
    name: &'static str,
    block: u64,
    size: u64,
    dtype: DType,
    fields: &'static [Field],
) -> GgmlType {
    GgmlType {
        id,
        name,
        block,
        size,
        dtype,
        fields,
    }
}

use DType::{Bytes as B, F16 as H, F32 as S, I16, I8 as C, U8};

/// Every ggml type whose block size is known (from ggml-common.h). Field
/// offsets follow the C structs: `d`/`dmin`/`m` are fp16, `scales` the
/// packed sub-block scales, `qs`/`ql`/`qh`/`hmask` the packed quants.
const TYPES: &[GgmlType] = &[
    ty(0, "F32", 1, 4, S, &[]),
    ty(1, "F16", 1, 2, H, &[]),
    // Q4_0: d, qs[16].
    ty(2, "Q4_0", 32, 18, B, &[f(0, 2, H), f(2, 16, B)]),
    // Q4_1: d, m, qs[16].
    ty(3, "Q4_1", 32, 20, B, &[f(0, 2, H), f(2, 2, H), f(4, 16, B)]),
    // Q5_0: d, qh[4], qs[16].
    ty(6, "Q5_0", 32, 22, B, &[f(0, 2, H), f(2, 4, B), f(6, 16, B)]),
    // Q5_1: d, m, qh[4], qs[16].
    ty(
        7,
        "Q5_1",
        32,
        24,
        B,
        &[f(0, 2, H), f(2, 2, H), f(4, 4, B), f(8, 16, B)],
    ),
    // Q8_0: d, qs[32] (int8).
    ty(8, "Q8_0", 32, 34, B, &[f(0, 2, H), f(2, 32, C)]),
    // Q2_K: scales[16] (4-bit scale | 4-bit min), qs[64], d, dmin.
    ty(
        10,
        "Q2_K",
        256,
        84,
        B,
        &[f(0, 16, U8), f(16, 64, B), f(80, 2, H), f(82, 2, H)],
    ),
    // Q3_K: hmask[32], qs[64], scales[12] (6-bit packed), d.
    ty(
        11,
        "Q3_K",
        256,
        110,
        B,
        &[f(0, 32, B), f(32, 64, B), f(96, 12, B), f(108, 2, H)],
    ),
    // Q4_K: d, dmin, scales[12] (6-bit packed), qs[128].
    ty(
        12,
        "Q4_K",
        256,
        144,
        B,
        &[f(0, 2, H), f(2, 2, H), f(4, 12, B), f(16, 128, B)],
    ),
    // Q5_K: d, dmin, scales[12], qh[32], qs[128].
    ty(
        13,
        "Q5_K",
        256,
        176,
        B,
        &[
            f(0, 2, H),
            f(2, 2, H),
            f(4, 12, B),
            f(16, 32, B),
            f(48, 128, B),
        ],
    ),
    // Q6_K: ql[128], qh[64], scales[16] (int8), d.
    ty(
        14,
        "Q6_K",
        256,
        210,
        B,
        &[f(0, 128, B), f(128, 64, B), f(192, 16, C), f(208, 2, H)],
    ),
    // Q8_K: d (fp32), qs[256] (int8), bsums[16] (int16).
    ty(
        15,
        "Q8_K",
        256,
        292,
        B,
        &[f(0, 4, S), f(4, 256, C), f(260, 32, I16)],
    ),
    ty(16, "IQ2_XXS", 256, 66, B, &[]),
    ty(17, "IQ2_XS", 256, 74, B, &[]),
    ty(18, "IQ3_XXS", 256, 98, B, &[]),
    ty(19, "IQ1_S", 256, 50, B, &[]),
    ty(20, "IQ4_NL", 32, 18, B, &[]),
    ty(21, "IQ3_S", 256, 110, B, &[]),
    ty(22, "IQ2_S", 256, 82, B, &[]),
    ty(23, "IQ4_XS", 256, 136, B, &[]),
    ty(24, "I8", 1, 1, C, &[]),
    ty(25, "I16", 1, 2, I16, &[]),
    ty(26, "I32", 1, 4, DType::I32, &[]),
    ty(27, "I64", 1, 8, DType::I64, &[]),
    ty(28, "F64", 1, 8, DType::F64, &[]),
    ty(29, "IQ1_M", 256, 56, B, &[]),
    ty(30, "BF16", 1, 2, DType::BF16, &[]),
    ty(34, "TQ1_0", 256, 54, B, &[]),
    ty(35, "TQ2_0", 256, 66, B, &[]),
    ty(39, "MXFP4", 32, 17, B, &[]),
];

fn ggml_type(id: u32) -> Option<&'static GgmlType> {
    TYPES.iter().find(|t| t.id == id)
}

/// The fields of a split tensor of type `t` and `len` bytes: `None` when
/// the type has no split or `len` is not a positive whole number of blocks
/// (such a tensor is one field, its bytes).
pub fn layout(t: u32, len: u64) -> Option<(&'static [Field], u64)> {
    let ty = ggml_type(t)?;
    if ty.fields.is_empty() || len == 0 || !len.is_multiple_of(ty.size) {
        return None;
    }
    Some((ty.fields, len / ty.size))
}

/// Whether a tensor of type `t` and `len` bytes is split into fields.
fn splits(t: u32, len: u64) -> bool {
    layout(t, len).is_some()
}

/// Splits a quantized tensor into its field buffers (one per block field,
/// each gathered over all blocks), with the dtype each is coded as.
pub fn split(t: u32, data: &[u8]) -> Vec<(DType, Vec<u8>)> {
    let Some((fields, _)) = layout(t, data.len() as u64) else {
        return vec![(DType::Bytes, data.to_vec())];
    };
    fields
        .iter()
        .map(|f| {
            let mut buf = Vec::new();
            gather(fields, f, data, &mut buf);
            (f.dtype, buf)
        })
        .collect()
}

/// Bytes of one block of a split layout.
pub fn block_size(fields: &[Field]) -> usize {
    fields.iter().map(|f| f.len).sum()
}

/// Appends field `f` of every block in `blocks` (whole blocks of the
/// layout `fields`) to `out`: one window of that field's stream.
pub fn gather(fields: &[Field], f: &Field, blocks: &[u8], out: &mut Vec<u8>) {
    let size = block_size(fields);
    out.reserve(blocks.len() / size * f.len);
    for b in blocks.chunks_exact(size) {
        out.extend_from_slice(&b[f.at..f.at + f.len]);
    }
}

/// Scatters one window of each field's stream (`parts[i]` holds field
/// `i` of the same whole blocks) into `out`, those blocks. The callers
/// size the parts from `out`; a mismatch panics.
pub fn scatter(fields: &[Field], parts: &[&[u8]], out: &mut [u8]) {
    let size = block_size(fields);
    for (k, b) in out.chunks_exact_mut(size).enumerate() {
        for (f, part) in fields.iter().zip(parts) {
            b[f.at..f.at + f.len].copy_from_slice(&part[k * f.len..(k + 1) * f.len]);
        }
    }
}

/// Decoded length of field `i` of a split tensor of type `t` and `len`
/// bytes (0 for a field the type does not have).
pub fn field_len(t: u32, len: u64, i: usize) -> u64 {
    match layout(t, len) {
        Some((fields, n)) => fields.get(i).map_or(0, |f| f.len as u64 * n),
        None if i == 0 => len,
        None => 0,
    }
}

/// Reassembles a split tensor of type `t` from its decoded fields into
/// `out` (the tensor's size). Fields of the wrong number or size are an
/// error, never a panic.
pub fn join(t: u32, fields: &[Vec<u8>], out: &mut [u8]) -> Result<()> {
    let len = out.len() as u64;
    let want = layout(t, len).map_or(1, |(f, _)| f.len());
    if fields.len() != want {
        return Err(Error::corrupt(format!(
            "GGUF split of type {t}: {} frames, expected {want}",
            fields.len()
        )));
    }
    for (i, buf) in fields.iter().enumerate() {
        if buf.len() as u64 != field_len(t, len, i) {
            return Err(Error::corrupt(format!(
                "GGUF split of type {t}: field {i} has {} bytes, expected {}",
                buf.len(),
                field_len(t, len, i)
            )));
        }
    }
    let Some((layout, _)) = layout(t, len) else {
        out.copy_from_slice(&fields[0]);
        return Ok(());
    };
    let parts: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
    scatter(layout, &parts, out);
    Ok(())
}

/// GGUF metadata value types.
const T_U8: u32 = 0;
const T_I8: u32 = 1;
const T_U16: u32 = 2;
const T_I16: u32 = 3;
const T_U32: u32 = 4;
const T_I32: u32 = 5;
const T_F32: u32 = 6;
const T_BOOL: u32 = 7;
const T_STRING: u32 = 8;
const T_ARRAY: u32 = 9;
const T_U64: u32 = 10;
const T_I64: u32 = 11;
const T_F64: u32 = 12;

/// Arrays nested deeper than this are refused (llama.cpp itself reads no
/// nested arrays; the limit keeps recursion bounded).
const MAX_NESTING: u32 = 8;
/// Most dimensions a tensor may have (`GGML_MAX_DIMS`).
const MAX_DIMS: u32 = 4;
/// Keys and tensor names longer than this are refused.
const MAX_NAME: u64 = u16::MAX as u64;
/// Bytes read ahead at a time while parsing the header.
const WINDOW: usize = 1 << 20;

/// Bytes of a fixed-size metadata value type (`None` for strings/arrays
/// and unknown types).
fn fixed_size(t: u32) -> Option<u64> {
    Some(match t {
        T_U8 | T_I8 | T_BOOL => 1,
        T_U16 | T_I16 => 2,
        T_U32 | T_I32 | T_F32 => 4,
        T_U64 | T_I64 | T_F64 => 8,
        _ => return None,
    })
}

/// A forward cursor over the header, reading ahead in windows.
struct Cursor<'a> {
    src: &'a dyn ReadAt,
    size: u64,
    pos: u64,
    buf: Vec<u8>,
    buf_at: u64,
}

impl Cursor<'_> {
    fn left(&self) -> u64 {
        self.size - self.pos
    }

    /// The next `n` bytes (`n` small), or an error naming `what`.
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8]> {
        if (n as u64) > self.left() {
            return Err(bad(format!(
                "{what} at offset {} runs past the end of the {}-byte file",
                self.pos, self.size
            )));
        }
        let end = self.pos + n as u64;
        if self.pos < self.buf_at || end > self.buf_at + self.buf.len() as u64 {
            let want = (n.max(WINDOW) as u64).min(self.left());
            self.buf = self.src.read_vec(self.pos, want)?;
            self.buf_at = self.pos;
        }
        let a = (self.pos - self.buf_at) as usize;
        self.pos = end;
        Ok(&self.buf[a..a + n])
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<()> {
        if n > self.left() {
            return Err(bad(format!(
                "{what} of {n} bytes at offset {} runs past the end of the {}-byte file",
                self.pos, self.size
            )));
        }
        self.pos += n;
        Ok(())
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// A string's length, checked against the rest of the file.
    fn str_len(&mut self, what: &str) -> Result<u64> {
        let at = self.pos;
        let n = self.u64(what)?;
        if n > self.left() {
            return Err(bad(format!(
                "{what} at offset {at}: length {n} exceeds the {} bytes left in the file",
                self.left()
            )));
        }
        Ok(n)
    }

    /// A short UTF-8 string (a key or a tensor name).
    fn name(&mut self, what: &str) -> Result<String> {
        let at = self.pos;
        let n = self.str_len(what)?;
        if n > MAX_NAME {
            return Err(bad(format!(
                "{what} at offset {at}: length {n} exceeds {MAX_NAME}"
            )));
        }
        let b = self.take(n as usize, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| bad(format!("{what} at offset {at}: not UTF-8")))
    }

    /// Skips a value of type `t`; returns it when it is an unsigned
    /// integer (for `general.alignment`).
    fn value(&mut self, t: u32, depth: u32, key: &str) -> Result<Option<u64>> {
        if let Some(n) = fixed_size(t) {
            let b = self.take(n as usize, key)?;
            let mut v = [0u8; 8];
            v[..b.len()].copy_from_slice(b);
            let unsigned = matches!(t, T_U8 | T_U16 | T_U32 | T_U64);
            return Ok(unsigned.then(|| u64::from_le_bytes(v)));
        }
        match t {
            T_STRING => {
                let n = self.str_len(key)?;
                self.skip(n, key)?;
            }
            T_ARRAY => {
                if depth >= MAX_NESTING {
                    return Err(bad(format!(
                        "key '{key}': arrays nested more than {MAX_NESTING} deep"
                    )));
                }
                let et = self.u32(key)?;
                let at = self.pos;
                let count = self.u64(key)?;
                // Every element takes at least one byte (strings 8, arrays 12).
                let min = match et {
                    T_STRING => 8,
                    T_ARRAY => 12,
                    t => fixed_size(t).ok_or_else(|| {
                        bad(format!("key '{key}': unknown array element type {et}"))
                    })?,
                };
                let total = count.checked_mul(min).filter(|&b| b <= self.left());
                let Some(total) = total else {
                    return Err(bad(format!(
                        "key '{key}' at offset {at}: array of {count} elements cannot fit in the {} bytes left",
                        self.left()
                    )));
                };
                if fixed_size(et).is_some() {
                    self.skip(total, key)?;
                } else {
                    for _ in 0..count {
                        self.value(et, depth + 1, key)?;
                    }
                }
            }
            _ => return Err(bad(format!("key '{key}': unknown value type {t}"))),
        }
        Ok(None)
    }
}

/// Tensor spans of a GGUF file, sorted by offset, validated: version 2 or
/// 3, every count and length within the file, known value types, tensor
/// data inside the file, no two tensors overlapping, unique names. Tensors
/// of a ggml type this build does not know are left out (their bytes are
/// kept as regions).
pub fn plan(src: &dyn ReadAt) -> Result<Vec<Span>> {
    let size = src.size();
    let mut c = Cursor {
        src,
        size,
        pos: 0,
        buf: Vec::new(),
        buf_at: 0,
    };
    let magic = c.take(4, "magic")?;
    if magic != b"GGUF" {
        return Err(bad(format!("magic {magic:02x?} is not \"GGUF\"")));
    }
    let version = c.u32("version")?;
    if version == 1 {
        return Err(bad("GGUF version 1 (32-bit counts) is not supported"));
    }
    if !(2..=3).contains(&version) {
        return Err(bad(format!("unsupported GGUF version {version}")));
    }
    let n_tensors = c.u64("tensor count")?;
    let n_kv = c.u64("key/value count")?;
    // A key/value pair takes at least 13 bytes, a tensor info 24.
    if n_kv.checked_mul(13).is_none_or(|b| b > c.left()) {
        return Err(bad(format!(
            "{n_kv} key/value pairs cannot fit in a {size}-byte file"
        )));
    }
    if n_tensors.checked_mul(24).is_none_or(|b| b > c.left()) {
        return Err(bad(format!(
            "{n_tensors} tensors cannot fit in a {size}-byte file"
        )));
    }
    let mut alignment = 32u64;
    for _ in 0..n_kv {
        let key = c.name("key")?;
        let t = c.u32(&key)?;
        let v = c.value(t, 0, &key)?;
        if key == "general.alignment" {
            alignment = match v {
                Some(a) if a > 0 && a.is_power_of_two() => a,
                _ => {
                    return Err(bad(
                        "general.alignment is not a power-of-two unsigned integer",
                    ))
                }
            };
        }
    }
    struct Info {
        name: String,
        dims: Vec<u64>,
        t: u32,
        offset: u64,
    }
    let mut infos = Vec::with_capacity(n_tensors as usize);
    let mut names = HashSet::new();
    for _ in 0..n_tensors {
        let name = c.name("tensor name")?;
        let n_dims = c.u32(&name)?;
        if n_dims > MAX_DIMS {
            return Err(bad(format!(
                "tensor '{name}': {n_dims} dimensions (at most {MAX_DIMS})"
            )));
        }
        let dims = (0..n_dims)
            .map(|_| c.u64(&name))
            .collect::<Result<Vec<u64>>>()?;
        let t = c.u32(&name)?;
        let offset = c.u64(&name)?;
        if !names.insert(name.clone()) {
            return Err(bad(format!("tensor '{name}' appears twice")));
        }
        infos.push(Info {
            name,
            dims,
            t,
            offset,
        });
    }
    let data_start = c
        .pos
        .checked_next_multiple_of(alignment)
        .filter(|&d| d <= size)
        .ok_or_else(|| bad("the data section starts past the end of the file"))?;
    let mut spans = Vec::with_capacity(infos.len());
    for i in infos {
        let Some(ty) = ggml_type(i.t) else {
            // Unknown type: its size is unknown, its bytes stay a region.
            continue;
        };
        let name = &i.name;
        let elems = i
            .dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| bad(format!("tensor '{name}': element count overflows")))?;
        if !elems.is_multiple_of(ty.block) {
            return Err(bad(format!(
                "tensor '{name}': {elems} elements are not whole {} blocks of {}",
                ty.name, ty.block
            )));
        }
        let len = (elems / ty.block)
            .checked_mul(ty.size)
            .ok_or_else(|| bad(format!("tensor '{name}': byte size overflows")))?;
        let begin = data_start.checked_add(i.offset);
        let end = begin.and_then(|b| b.checked_add(len));
        let (Some(begin), Some(end)) = (begin, end) else {
            return Err(bad(format!(
                "tensor '{name}': offset {} overflows",
                i.offset
            )));
        };
        if end > size {
            return Err(bad(format!(
                "tensor '{name}': bytes {begin}..{end} run past the end of the {size}-byte file"
            )));
        }
        spans.push(Span {
            offset: begin,
            len,
            dtype: ty.dtype,
            gguf: splits(ty.id, len).then_some(ty.id),
            tensor: Some(TensorMeta {
                name: i.name,
                dtype: ty.name.to_string(),
                shape: i.dims,
            }),
        });
    }
    sort_tensor_spans(&mut spans, data_start).map_err(bad)?;
    Ok(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes_match_fields() {
        for t in TYPES {
            if !t.fields.is_empty() {
                let mut at = 0;
                for f in t.fields {
                    assert_eq!(f.at, at, "{}", t.name);
                    at += f.len;
                }
                assert_eq!(at as u64, t.size, "{}", t.name);
                assert!(t.fields.len() <= super::super::format::MAX_PIECE_FRAMES);
            }
        }
    }

    #[test]
    fn split_join_roundtrip() {
        for t in TYPES {
            for blocks in [0u64, 1, 3] {
                for extra in [0u64, 1] {
                    let len = blocks * t.size + extra;
                    let data: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
                    let fields: Vec<Vec<u8>> =
                        split(t.id, &data).into_iter().map(|(_, b)| b).collect();
                    for (i, b) in fields.iter().enumerate() {
                        assert_eq!(b.len() as u64, field_len(t.id, len, i));
                    }
                    let mut out = vec![0u8; len as usize];
                    join(t.id, &fields, &mut out).unwrap();
                    assert_eq!(out, data, "{}", t.name);
                }
            }
        }
    }
}
