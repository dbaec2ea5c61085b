//! Chunk payload layouts above the plane coder: palette (narrow and wide),
//! quantization lattice, and the dedup wrapper (see `docs/FORMAT.md`,
//! "Chunk payload").
//!
//! A palette or lattice body is made of *sub-payloads*: self-contained
//! plane-coded buffers (layout 0 or 1, inline models only), each preceded
//! by its byte length as a varint. The dedup wrapper lists the chunk's
//! copies, then holds the body of the chunk's literal bytes.

use z4ai_simd::{Kernels, RansTables};

use crate::buffers::Buffers;
use crate::chunk::{self, BlockModels, EncodedChunk, ModelRef, PlaneReport, DEFAULT_MIN_SAVING};
use crate::delta;
use crate::dtype::DType;
use crate::entropy;
use crate::error::{Error, Result};
use crate::format::{put_varint, ByteSink, Reader};
use crate::hists::CtxHist;
use crate::options::Effort;
use crate::transform::dedup::Copy;
use crate::transform::{lattice, palette};

/// Payload layout: palette.
pub const LAYOUT_PALETTE: u8 = 2;
/// Payload layout: quantization lattice.
pub const LAYOUT_LATTICE: u8 = 3;
/// Payload layout: dedup wrapper.
pub const LAYOUT_DEDUP: u8 = 4;
/// Payload layout: wide palette (257 ..= 65536 values, u16 indices).
pub const LAYOUT_WIDE_PALETTE: u8 = 6;

/// A plane-coded buffer inside a palette or lattice body, serialised once
/// (length prefix included).
pub struct Sub {
    bytes: Vec<u8>,
}

impl Sub {
    fn new(data: Vec<u8>, dtype: DType, effort: Effort, k: &Kernels) -> Sub {
        let planes = chunk::split(&data, dtype, k);
        let enc = chunk::encode_planes(
            planes,
            dtype,
            effort,
            &BlockModels::none(dtype.width()),
            k,
            None,
            &Buffers::new(0),
        );
        let mut payload = Vec::new();
        let mut refs = Vec::new();
        chunk::write_chunk(&data, &enc, dtype, &mut payload, &mut refs);
        debug_assert!(refs.is_empty(), "no shared models inside a sub-buffer");
        let mut bytes = Vec::with_capacity(payload.len() + 5);
        put_varint(&mut bytes, payload.len() as u64);
        bytes.extend_from_slice(&payload);
        Sub { bytes }
    }

    fn write(&self, out: &mut (impl ByteSink + ?Sized)) {
        out.extend_from_slice(&self.bytes);
    }

    fn size(&self) -> usize {
        self.bytes.len()
    }
}

/// How the literal bytes of a chunk are coded.
pub enum Body {
    /// Byte planes (layout 0 or 1), possibly with shared models.
    Planes(EncodedChunk),
    /// Value table and indices.
    Palette {
        /// Number of values.
        count: usize,
        /// The value table, in the chunk's dtype.
        values: Sub,
        /// One index byte per element.
        indices: Sub,
    },
    /// Sorted value table (as gaps) and u16 indices.
    WidePalette {
        /// Number of values.
        count: usize,
        /// The table's gaps, in the integer dtype of the chunk's width.
        gaps: Sub,
        /// One u16 index per element (dtype i16: high, then low byte plane).
        indices: Sub,
    },
    /// Per-group scales and integer codes, with raw fallback groups.
    Lattice {
        /// Elements per group.
        group: usize,
        /// Per group: 0 lattice, 1 raw.
        kinds: Sub,
        /// f32 scale per lattice group.
        scales: Sub,
        /// i8 code per element of the lattice groups.
        codes: Sub,
        /// Elements of the raw groups.
        raw: Sub,
    },
}

impl Body {
    fn size(&self, n_raw: usize) -> usize {
        match self {
            Body::Planes(_) => n_raw,
            Body::Palette {
                values, indices, ..
            } => 3 + values.size() + indices.size(),
            Body::WidePalette { gaps, indices, .. } => 4 + gaps.size() + indices.size(),
            Body::Lattice {
                kinds,
                scales,
                codes,
                raw,
                ..
            } => 4 + kinds.size() + scales.size() + codes.size() + raw.size(),
        }
    }
}

/// Entropy estimate, in bytes, of coding `planes` with per-plane models
/// (plane 0 order-0, the others conditioned on plane 0; at `default`
/// stored where that would save less than its minimum, as it codes them).
pub fn plain_estimate(planes: &[u8], width: usize, effort: Effort, k: &Kernels) -> f64 {
    let n = planes.len() / width;
    if n == 0 {
        return 0.0;
    }
    let mut o0 = [0u32; 256];
    k.hist_order0(&planes[..n], &mut o0);
    let h0 = entropy::entropy_bits(&o0);
    let mut bits = h0;
    for p in 1..width {
        // The rows met, in context order: the same sums as over the whole
        // table, whose other rows are zero.
        let ctx = CtxHist::count(&planes[p * n..(p + 1) * n], Some(&planes[..n]), k);
        let raw = 8.0 * n as f64;
        let coded = entropy::entropy_bits(ctx.counts()) - h0;
        bits += if effort != Effort::Default || coded < raw * (1.0 - DEFAULT_MIN_SAVING) {
            coded
        } else {
            raw
        };
    }
    bits / 8.0
}

/// Tries the palette and lattice transforms on whole elements; returns the
/// smallest body when it beats `plain_bytes`.
pub fn try_transforms(
    literal: &[u8],
    dtype: DType,
    effort: Effort,
    plain_bytes: impl FnOnce() -> f64,
    k: &Kernels,
) -> Option<Body> {
    let w = dtype.width();
    if w == 1 || !literal.len().is_multiple_of(w) || literal.len() < 256 * w {
        return None;
    }
    let lat = lattice::analyse(literal, dtype);
    let pal = palette::build(literal, w);
    // Estimated index bytes of a wide palette, from a sample.
    let wide = match pal {
        None if palette::may_be_wide(literal, w) => wide_sample_estimate(literal, dtype, effort, k),
        _ => None,
    };
    if lat.is_none() && pal.is_none() && wide.is_none() {
        return None;
    }
    let plain_bytes = plain_bytes();
    let mut best: Option<(usize, Body)> = None;
    let consider = |best: &mut Option<(usize, Body)>, b: Body| {
        let s = b.size(literal.len());
        if (s as f64) < plain_bytes * 0.995 && best.as_ref().is_none_or(|(bs, _)| s < *bs) {
            *best = Some((s, b));
        }
    };
    if let Some(l) = lat {
        consider(
            &mut best,
            Body::Lattice {
                group: l.group,
                kinds: Sub::new(l.kinds, DType::U8, effort, k),
                scales: Sub::new(l.scales, DType::F32, effort, k),
                codes: Sub::new(l.codes, DType::I8, effort, k),
                raw: Sub::new(l.raw, dtype, effort, k),
            },
        );
    }
    if let Some((values, indices)) = pal {
        consider(
            &mut best,
            Body::Palette {
                count: values.len() / w,
                values: Sub::new(values, dtype, effort, k),
                indices: Sub::new(indices, DType::U8, effort, k),
            },
        );
    }
    // A wide palette is counted only when the sample's estimate of its
    // indices beats what is already there (a lattice often does), and is
    // coded only when its indices' entropy alone leaves room for the
    // table, and its table too.
    let limit = best
        .as_ref()
        .map_or(plain_bytes * 0.995, |(s, _)| *s as f64);
    let wide = wide
        .filter(|&est| est < limit)
        .and_then(|_| palette::wide_analysis(literal, w));
    if let Some(a) = wide.filter(|a| a.index_bytes() < limit) {
        let index_bytes = a.index_bytes();
        let p = a.build();
        let gaps = Sub::new(p.gaps, int_dtype(w), effort, k);
        if index_bytes + (gaps.size() as f64) < limit {
            // Max effort for the indices: the low plane pays most when
            // conditioned on the high one, which `default` tries only
            // through block models.
            consider(
                &mut best,
                Body::WidePalette {
                    count: p.count,
                    gaps,
                    indices: Sub::new(p.indices, DType::I16, Effort::Max, k),
                },
            );
        }
    }
    best.map(|(_, b)| b)
}

/// The wide palette's index bytes for the whole chunk as estimated on a
/// sample, when there the entropy of the whole values is clearly (10%)
/// below the plain coder's estimate (the table and the models still have
/// to fit in the difference).
fn wide_sample_estimate(literal: &[u8], dtype: DType, effort: Effort, k: &Kernels) -> Option<f64> {
    let w = dtype.width();
    let s = palette::sample(literal, w);
    let bits = palette::entropy_bits(&s, w)?;
    let planes = chunk::split(&s, dtype, k);
    let plain_bits = 8.0 * plain_estimate(&planes, w, effort, k) / (s.len() / w) as f64;
    (bits < 0.9 * plain_bits).then(|| bits * (literal.len() / w) as f64 / 8.0)
}

/// The integer dtype of a wide palette's gaps.
fn int_dtype(width: usize) -> DType {
    if width == 4 {
        DType::I32
    } else {
        DType::I64
    }
}

/// Appends a chunk's payload. `raw` is the whole chunk, `literal` its bytes
/// outside the copies' targets, `copies` its copies (targets relative to
/// the chunk, sources relative to the block). Falls back to a stored chunk
/// when the payload would be larger than the chunk. Shared models the
/// payload names are recorded in `refs` (see [`chunk::ModelRef`]; offsets
/// relative to `out`).
pub fn write_payload(
    raw: &[u8],
    literal: &[u8],
    copies: &[Copy],
    body: &Body,
    dtype: DType,
    out: &mut (impl ByteSink + ?Sized),
    refs: &mut Vec<ModelRef>,
) {
    let start = out.len();
    if !copies.is_empty() {
        out.push(LAYOUT_DEDUP);
        put_varint(out, copies.len() as u64);
        let mut end = 0;
        for c in copies {
            put_varint(out, (c.target - end) as u64);
            put_varint(out, c.len as u64);
            put_varint(out, c.source as u64);
            end = c.target + c.len;
        }
    }
    match body {
        Body::Planes(enc) => chunk::write_chunk(literal, enc, dtype, out, refs),
        Body::Palette {
            count,
            values,
            indices,
        } => {
            out.push(LAYOUT_PALETTE);
            put_varint(out, *count as u64);
            values.write(out);
            indices.write(out);
        }
        Body::WidePalette {
            count,
            gaps,
            indices,
        } => {
            out.push(LAYOUT_WIDE_PALETTE);
            put_varint(out, *count as u64);
            gaps.write(out);
            indices.write(out);
        }
        Body::Lattice {
            group,
            kinds,
            scales,
            codes,
            raw,
        } => {
            out.push(LAYOUT_LATTICE);
            put_varint(out, *group as u64);
            kinds.write(out);
            scales.write(out);
            codes.write(out);
            raw.write(out);
        }
    }
    if chunk::store_if_longer(raw, start, out) {
        refs.clear();
    }
}

/// Decodes a chunk payload into `out` (the chunk's bytes); `reference` is
/// the reference's bytes from the chunk's offset on (empty outside delta
/// frames). Bytes covered by
/// copy targets are left for the caller, who applies the returned copies
/// (targets shifted by `chunk_offset`, the chunk's offset in its block)
/// once every chunk's literals are in place. Also returns the XXH3-64 of
/// `out` when the decoder took it on the way (a plane-coded chunk without
/// copies), so the caller need not read the chunk again to check it.
#[allow(clippy::too_many_arguments)]
pub fn decode_payload(
    payload: &[u8],
    dtype: DType,
    models: &[RansTables],
    k: &Kernels,
    out: &mut [u8],
    chunk_offset: usize,
    reference: &[u8],
    scratch: &mut Vec<u8>,
) -> Result<(Vec<Copy>, Option<u64>)> {
    let mut r = Reader::new(payload);
    if payload.first() == Some(&delta::LAYOUT_DELTA) {
        r.u8("chunk layout")?;
        delta::decode(&mut r, dtype, reference, k, out, scratch)?;
        return Ok((Vec::new(), None));
    }
    if payload.first() != Some(&LAYOUT_DEDUP) {
        let hash = decode_body(&mut r, dtype, models, k, out, scratch)?;
        return Ok((Vec::new(), hash));
    }
    r.u8("chunk layout")?;
    let copies = read_copies(&mut r, out.len(), chunk_offset)?;
    let covered: usize = copies.iter().map(|c| c.len).sum();
    let mut literal = vec![0u8; out.len() - covered];
    decode_body(&mut r, dtype, models, k, &mut literal, scratch)?;
    // Scatter the literals around the copy targets.
    let (mut pos, mut lit) = (0usize, 0usize);
    for c in &copies {
        let t = c.target - chunk_offset;
        out[pos..t].copy_from_slice(&literal[lit..lit + t - pos]);
        lit += t - pos;
        pos = t + c.len;
    }
    out[pos..].copy_from_slice(&literal[lit..]);
    Ok((copies, None))
}

fn read_copies(r: &mut Reader<'_>, chunk_len: usize, chunk_offset: usize) -> Result<Vec<Copy>> {
    let count = r.varint64("copy count")?;
    // Each copy takes at least three bytes.
    if count > r.remaining() as u64 / 3 {
        return Err(Error::corrupt("more copies than the payload can hold"));
    }
    let mut copies = Vec::with_capacity(count as usize);
    let mut end = 0u64;
    for _ in 0..count {
        let gap = r.varint64("copy target")?;
        let len = r.varint64("copy length")?;
        let source = r.varint64("copy source")?;
        let target = end
            .checked_add(gap)
            .ok_or_else(|| Error::corrupt("copy target overflows"))?;
        end = target
            .checked_add(len)
            .filter(|&e| e <= chunk_len as u64 && len > 0)
            .ok_or_else(|| Error::corrupt("copy target outside its chunk"))?;
        let target = chunk_offset + target as usize;
        // The source ends before the target, which also bounds it.
        if source.checked_add(len).is_none_or(|e| e > target as u64) {
            return Err(Error::corrupt("copy source does not end before its target"));
        }
        copies.push(Copy {
            target,
            source: source as usize,
            len: len as usize,
        });
    }
    Ok(copies)
}

/// Decodes a body (any layout but dedup) filling all of `out`.
fn decode_body(
    r: &mut Reader<'_>,
    dtype: DType,
    models: &[RansTables],
    k: &Kernels,
    out: &mut [u8],
    scratch: &mut Vec<u8>,
) -> Result<Option<u64>> {
    let w = dtype.width();
    let rest = r.bytes(r.remaining(), "chunk body")?;
    let mut r = Reader::new(rest);
    match rest.first().copied() {
        Some(LAYOUT_PALETTE) => {
            r.u8("chunk layout")?;
            let count = r.varint64("palette size")? as usize;
            if !(1..=palette::MAX_VALUES).contains(&count) || !out.len().is_multiple_of(w) {
                return Err(Error::corrupt("bad palette size"));
            }
            let values = read_sub(&mut r, dtype, count * w, k, scratch)?;
            let indices = read_sub(&mut r, DType::U8, out.len() / w, k, scratch)?;
            palette::apply(&values, &indices, w, out)
                .ok_or_else(|| Error::corrupt("palette index out of range"))?;
        }
        Some(LAYOUT_WIDE_PALETTE) => {
            r.u8("chunk layout")?;
            let count = r.varint64("palette size")?;
            let n = out.len() / w;
            if !matches!(w, 4 | 8)
                || !out.len().is_multiple_of(w)
                || count <= palette::MAX_VALUES as u64
                || count > palette::MAX_WIDE_VALUES.min(n) as u64
            {
                return Err(Error::corrupt("bad wide palette size"));
            }
            let gaps = read_sub(&mut r, int_dtype(w), count as usize * w, k, scratch)?;
            let indices = read_sub(&mut r, DType::I16, n * 2, k, scratch)?;
            palette::apply_wide(&gaps, &indices, w, out).map_err(Error::corrupt)?;
        }
        Some(LAYOUT_LATTICE) => {
            r.u8("chunk layout")?;
            if !matches!(dtype, DType::BF16 | DType::F16 | DType::F32)
                || !out.len().is_multiple_of(w)
            {
                return Err(Error::corrupt("lattice layout for a dtype without one"));
            }
            let group = r.varint64("lattice group")? as usize;
            if !lattice::GROUPS.contains(&group) {
                return Err(Error::corrupt("bad lattice group size"));
            }
            let n = out.len() / w;
            let groups = n.div_ceil(group);
            let kinds = read_sub(&mut r, DType::U8, groups, k, scratch)?;
            let (mut lat_groups, mut lat_elems) = (0usize, 0usize);
            for (g, &kind) in kinds.iter().enumerate() {
                let size = group.min(n - g * group);
                match kind {
                    0 => {
                        lat_groups += 1;
                        lat_elems += size;
                    }
                    1 => {}
                    _ => return Err(Error::corrupt("bad lattice group kind")),
                }
            }
            let scales = read_sub(&mut r, DType::F32, lat_groups * 4, k, scratch)?;
            let codes = read_sub(&mut r, DType::I8, lat_elems, k, scratch)?;
            let raw = read_sub(&mut r, dtype, (n - lat_elems) * w, k, scratch)?;
            let (mut si, mut ci, mut ri) = (0usize, 0usize, 0usize);
            for (g, &kind) in kinds.iter().enumerate() {
                let size = group.min(n - g * group);
                let dst = &mut out[g * group * w..(g * group + size) * w];
                if kind == 0 {
                    let s = f32::from_le_bytes(scales[si..si + 4].try_into().unwrap());
                    lattice::write_group(dtype, &codes[ci..ci + size], s, dst);
                    si += 4;
                    ci += size;
                } else {
                    dst.copy_from_slice(&raw[ri..ri + size * w]);
                    ri += size * w;
                }
            }
        }
        _ => return chunk::decode_chunk(rest, dtype, models, k, out, scratch),
    }
    if r.remaining() != 0 {
        return Err(Error::corrupt("chunk payload has trailing bytes"));
    }
    Ok(None)
}

fn read_sub(
    r: &mut Reader<'_>,
    dtype: DType,
    len: usize,
    k: &Kernels,
    scratch: &mut Vec<u8>,
) -> Result<Vec<u8>> {
    let size = r.varint64("sub-payload length")?;
    let bytes = r.bytes(usize::try_from(size).unwrap_or(usize::MAX), "sub-payload")?;
    // A sub-payload is plane coded or stored (never nested further), so it
    // cannot be longer than its content plus one byte.
    if bytes.len() > len + 1 || !matches!(bytes.first(), Some(0 | 1)) {
        return Err(Error::corrupt("bad sub-payload"));
    }
    let mut out = vec![0u8; len];
    chunk::decode_chunk(bytes, dtype, &[], k, &mut out, scratch)?;
    Ok(out)
}

/// Describes a payload for `info`: the layout names (a delta chunk adds
/// its residual mode, `delta-xor` or `delta-diff`) and per-plane reports of
/// the literal body, or of the residual planes of a delta chunk.
pub fn describe(
    payload: &[u8],
    dtype: DType,
    raw_len: usize,
    chunk_offset: usize,
) -> Result<(Vec<&'static str>, Vec<PlaneReport>)> {
    let mut r = Reader::new(payload);
    let mut layers = Vec::new();
    let mut literal_len = raw_len;
    if payload.first() == Some(&LAYOUT_DEDUP) {
        r.u8("chunk layout")?;
        layers.push("dedup");
        let copies = read_copies(&mut r, raw_len, chunk_offset)?;
        literal_len -= copies.iter().map(|c| c.len).sum::<usize>();
    }
    let rest = r.bytes(r.remaining(), "chunk body")?;
    match rest.first().copied() {
        Some(delta::LAYOUT_DELTA) => {
            // The residual mode as a second layer, then the residual planes.
            let mut r = Reader::new(&rest[1..]);
            let (mode, planes) = delta::describe(&mut r, dtype, literal_len)?;
            layers.push("delta");
            layers.push(mode);
            return Ok((layers, planes));
        }
        Some(LAYOUT_PALETTE) => layers.push("palette"),
        Some(LAYOUT_WIDE_PALETTE) => layers.push("palette16"),
        Some(LAYOUT_LATTICE) => layers.push("lattice"),
        _ => return Ok((layers, chunk::describe_chunk(rest, dtype, literal_len)?)),
    }
    Ok((layers, Vec::new()))
}
