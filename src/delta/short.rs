//! The short residual form of a delta chunk of two-byte elements (format
//! version 4; `docs/FORMAT.md`, "Layout 5: delta").
//!
//! Most residual words of a training step are small: the *short plane*
//! holds one symbol per element, the word itself where it is below
//! [`ESCAPE`], else [`ESCAPE`]; the escaped words follow as two planes of
//! their own (high bytes, low bytes) with one symbol per escape. On the
//! GPT checkpoint pairs 5-24% of the words escape, so a decoder runs 1.1-1.5
//! rANS symbols per element instead of two, at the same entropy
//! (docs/ARCHIVE.md, "Short residuals").

use z4ai_simd::Kernels;

use crate::buffers::{grown, reuse};
use crate::chunk::{self, PlaneCode, PlaneCtx, PlaneReport};
use crate::error::{Error, Result};
use crate::format::{put_varint, ByteSink, Reader};

/// Short-plane symbol of an escaped residual word.
pub use z4ai_simd::escape::ESCAPE;
use z4ai_simd::escape::SLACK;

/// The short form's planes and contexts, reused across chunks. The escape
/// buffers keep their largest length (the escape count changes from chunk
/// to chunk; growing them back zeroed them again, 4% of compressing a
/// bf16 delta): [`ShortPlanes::escaped`] gives the chunk's part.
#[derive(Default)]
pub struct ShortPlanes {
    /// One symbol per element (encoding).
    pub short: Vec<u8>,
    /// The escaped words' high bytes (the first `escapes`).
    high: Vec<u8>,
    /// The escaped words' low bytes (the first `escapes`).
    low: Vec<u8>,
    /// The reference exponents of the escaped elements (the first
    /// `escapes`).
    ctx: Vec<u8>,
    /// Escaped elements of the last chunk split.
    escapes: usize,
}

impl ShortPlanes {
    /// The escaped words' high bytes, low bytes and reference exponents.
    pub fn escaped(&self) -> (&[u8], &[u8], &[u8]) {
        let m = self.escapes;
        (&self.high[..m], &self.low[..m], &self.ctx[..m])
    }
}

/// Splits residual planes `high` and `low` (one byte per element each,
/// `exp` the reference exponents) into `out`: the short plane, the escaped
/// words' bytes and their exponents.
pub fn split(high: &[u8], low: &[u8], exp: &[u8], k: &Kernels, out: &mut ShortPlanes) {
    let n = high.len();
    let ShortPlanes {
        short,
        high: hi,
        low: lo,
        ctx,
        escapes,
    } = out;
    reuse(short, n);
    // Room for every element to escape, and the kernel's slack.
    let room = n + SLACK;
    *escapes = k.escape_split(
        high,
        low,
        exp,
        short,
        grown(hi, room),
        grown(lo, room),
        grown(ctx, room),
    );
}

/// Appends the short form's body (after the mode byte) for a chunk of
/// `raw` whose planes are in `planes`, coded as `codes` (short, high,
/// low).
pub fn write(
    raw: &[u8],
    planes: &ShortPlanes,
    codes: &[PlaneCode],
    out: &mut (impl ByteSink + ?Sized),
) {
    let (high, low, _) = planes.escaped();
    put_varint(out, high.len() as u64);
    let mut refs = Vec::new();
    for (code, plane) in codes.iter().zip([&planes.short[..], high, low]) {
        chunk::write_plane(code, plane, out, &mut refs);
    }
    debug_assert!(refs.is_empty(), "delta residuals use inline models only");
    out.extend_from_slice(&raw[planes.short.len() * 2..]);
}

/// Bytes [`write`] appends.
pub fn size(raw_len: usize, planes: &ShortPlanes, codes: &[PlaneCode]) -> usize {
    let n = planes.short.len();
    let m = planes.escapes;
    let mut varint = crate::format::SlotWriter::new(&mut []);
    put_varint(&mut varint, m as u64);
    varint.len() + codes[0].size(n) + codes[1].size(m) + codes[2].size(m) + raw_len - 2 * n
}

/// Decodes the short form's body (after the mode byte) into the residual
/// planes `planes` (high bytes, then low bytes: `2 * n`) and the chunk's
/// tail (`tail`); `exp` holds the reference's exponents.
pub fn decode(
    r: &mut Reader<'_>,
    k: &Kernels,
    planes: &mut [u8],
    tail: &mut [u8],
    exp: &[u8],
    s: &mut ShortPlanes,
) -> Result<()> {
    let n = exp.len();
    let escapes = read_escapes(r, n)?;
    let short = chunk::read_plane(r, n, &[])?;
    let high = chunk::read_plane(r, escapes, &[])?;
    let low = chunk::read_plane(r, escapes, &[])?;
    tail.copy_from_slice(r.bytes(tail.len(), "chunk tail")?);
    let (high_plane, low_plane) = planes.split_at_mut(n);
    chunk::decode_plane(&short, low_plane, PlaneCtx::exponents(exp), k)?;
    let ShortPlanes {
        high: hi,
        low: lo,
        ctx,
        ..
    } = s;
    let ctx = grown(ctx, escapes + SLACK);
    if k.escape_find(low_plane, exp, escapes, ctx) != Some(escapes) {
        return Err(Error::corrupt(format!(
            "short plane does not hold the {escapes} escapes its header says"
        )));
    }
    let (hi, lo) = (grown(hi, escapes), grown(lo, escapes));
    // Each plane's halves decode in one pair loop (`PlaneCode::RansHalves`).
    let ctx = PlaneCtx::exponents(&ctx[..escapes]);
    chunk::decode_plane(&high, hi, ctx, k)?;
    chunk::decode_plane(&low, lo, ctx, k)?;
    k.escape_expand(high_plane, low_plane, hi, lo);
    Ok(())
}

/// Reads the escape count of the short form's body for `n` elements.
fn read_escapes(r: &mut Reader<'_>, n: usize) -> Result<usize> {
    let escapes = r.varint("escapes")? as usize;
    if escapes > n {
        return Err(Error::corrupt("more escapes than elements"));
    }
    Ok(escapes)
}

/// Describes the short form's body (after the mode byte) of a chunk of
/// `n` elements: its short, high and low planes.
pub fn describe(r: &mut Reader<'_>, n: usize) -> Result<Vec<PlaneReport>> {
    let escapes = read_escapes(r, n)?;
    let mut planes = chunk::describe_planes(r, &[n, escapes, escapes])?;
    for (p, name) in planes
        .iter_mut()
        .zip(["short", "escaped-high", "escaped-low"])
    {
        p.method = format!("{name}:{}", p.method);
    }
    Ok(planes)
}
