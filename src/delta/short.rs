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

use crate::buffers::reuse;
use crate::chunk::{self, PlaneCode, PlaneCtx, PlaneReport};
use crate::error::{Error, Result};
use crate::format::{put_varint, ByteSink, Reader};

/// Short-plane symbol of an escaped residual word.
pub const ESCAPE: u8 = 255;

/// Elements per step of the loops below: a step's escapes are a bit mask.
const STEP: usize = 64;

/// The short form's planes and contexts, reused across chunks.
#[derive(Default)]
pub struct ShortPlanes {
    /// One symbol per element (encoding).
    pub short: Vec<u8>,
    /// The escaped words' high bytes.
    pub high: Vec<u8>,
    /// The escaped words' low bytes.
    pub low: Vec<u8>,
    /// The reference exponents of the escaped elements.
    pub ctx: Vec<u8>,
    /// Positions of the escapes (decoding).
    pub at: Vec<u32>,
}

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The top bit of each byte of `x` that is not zero.
#[inline(always)]
fn nonzero_bytes(x: u64) -> u64 {
    (((x & LOW7) + LOW7) | x) & HIGH
}

/// Bit `i` of the result: the top bit of byte `i` of `x` (all other bits
/// of `x` clear). The products of the 8 flags land on distinct bits, so
/// nothing carries into the top byte.
#[inline(always)]
fn gather_flags(x: u64) -> u64 {
    ((x >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// The escape mask of one step of residual bytes `h`, `l`, and their
/// short-plane symbols into `s`.
#[inline(always)]
fn split_step(h: &[u8; STEP], l: &[u8; STEP], s: &mut [u8; STEP]) -> u64 {
    let mut mask = 0;
    for (w, ((s, h), l)) in s
        .chunks_exact_mut(8)
        .zip(h.chunks_exact(8))
        .zip(l.chunks_exact(8))
        .enumerate()
    {
        let hw = u64::from_le_bytes(h.try_into().expect("8 bytes"));
        let lw = u64::from_le_bytes(l.try_into().expect("8 bytes"));
        let flags = nonzero_bytes(hw) | (HIGH & !nonzero_bytes(!lw));
        mask |= gather_flags(flags) << (8 * w);
        // An escaped byte becomes 0xff.
        s.copy_from_slice(&(lw | (flags >> 7).wrapping_mul(0xff)).to_le_bytes());
    }
    mask
}

/// The escape mask of one step of the short plane.
#[inline(always)]
fn escape_step(s: &[u8; STEP]) -> u64 {
    s.chunks_exact(8).enumerate().fold(0, |mask, (w, s)| {
        let sw = u64::from_le_bytes(s.try_into().expect("8 bytes"));
        // A byte is 0xff where its complement is zero.
        mask | gather_flags(HIGH & !nonzero_bytes(!sw)) << (8 * w)
    })
}

/// `b` (at most [`STEP`] bytes) zero-padded to a step.
#[inline(always)]
fn padded(b: &[u8]) -> [u8; STEP] {
    let mut p = [0; STEP];
    p[..b.len()].copy_from_slice(b);
    p
}

/// Splits residual planes `high` and `low` (one byte per element each,
/// `exp` the reference exponents) into `out`: the short plane, the escaped
/// words' bytes and their exponents.
pub fn split(high: &[u8], low: &[u8], exp: &[u8], out: &mut ShortPlanes) {
    let n = high.len();
    let ShortPlanes {
        short,
        high: hi,
        low: lo,
        ctx,
        ..
    } = out;
    reuse(short, n);
    // Room for every element to escape; cut to the escapes at the end.
    for v in [&mut *hi, &mut *lo, &mut *ctx] {
        reuse(v, n);
    }
    let mut j = 0;
    for (((s, h), l), e) in short
        .chunks_mut(STEP)
        .zip(high.chunks(STEP))
        .zip(low.chunks(STEP))
        .zip(exp.chunks(STEP))
    {
        let mut mask = match (s.try_into(), h.try_into(), l.try_into()) {
            (Ok(s), Ok(h), Ok(l)) => split_step(h, l, s),
            _ => {
                // The last, short step: padding bytes do not escape.
                let mut full = [0; STEP];
                let mask = split_step(&padded(h), &padded(l), &mut full);
                s.copy_from_slice(&full[..s.len()]);
                mask
            }
        };
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            hi[j] = h[i];
            lo[j] = l[i];
            ctx[j] = e[i];
            j += 1;
            mask &= mask - 1;
        }
    }
    for v in [hi, lo, ctx] {
        v.truncate(j);
    }
}

/// Finds the escapes of a decoded short plane: their positions into
/// `out.at` and their reference exponents into `out.ctx`. Corrupt unless
/// there are exactly `escapes`.
pub fn find_escapes(short: &[u8], exp: &[u8], escapes: usize, out: &mut ShortPlanes) -> Result<()> {
    // Written eight at a time, past the last escape too: room for that.
    reuse(&mut out.at, escapes + 8);
    reuse(&mut out.ctx, escapes + 8);
    let mut j = 0;
    let mut step = |s: &[u8; STEP], e: &[u8; STEP], base: usize| {
        let mask = escape_step(s);
        let count = mask.count_ones() as usize;
        if j + count > escapes {
            return Err(too_many(escapes));
        }
        flatten(mask, base, e, &mut out.at[j..], &mut out.ctx[j..]);
        j += count;
        Ok(())
    };
    let (steps, last) = short.as_chunks::<STEP>();
    for (i, (s, e)) in steps.iter().zip(exp.as_chunks::<STEP>().0).enumerate() {
        step(s, e, i * STEP)?;
    }
    if !last.is_empty() {
        // Padding bytes (zero) do not escape.
        let at = short.len() - last.len();
        step(&padded(last), &padded(&exp[at..]), at)?;
    }
    if j != escapes {
        return Err(Error::corrupt(format!(
            "short plane has {j} escapes, its header says {escapes}"
        )));
    }
    out.at.truncate(escapes);
    out.ctx.truncate(escapes);
    Ok(())
}

/// Writes the positions (`base` plus the bit index) and exponents of the
/// set bits of `mask` to `at` and `ctx`, eight at a time without a branch
/// per bit: up to seven entries past the last are overwritten, so both
/// need room for the bits rounded up to eight.
#[inline(always)]
fn flatten(mut mask: u64, base: usize, e: &[u8; STEP], at: &mut [u32], ctx: &mut [u8]) {
    let count = mask.count_ones() as usize;
    let mut k = 0;
    while k < count {
        for (a, c) in at[k..k + 8].iter_mut().zip(&mut ctx[k..k + 8]) {
            // Past the last bit the index reads 64: masked into the step.
            let i = mask.trailing_zeros() as usize & (STEP - 1);
            *a = (base + i) as u32;
            *c = e[i];
            mask &= mask.wrapping_sub(1);
        }
        k += 8;
    }
}

fn too_many(escapes: usize) -> Error {
    Error::corrupt(format!(
        "short plane has more escapes than its header's {escapes}"
    ))
}

/// Turns a decoded short plane in `low` into the residual planes `high`
/// and `low`, the escaped words' bytes (`hi`, `lo`) placed at `at`.
pub fn expand(high: &mut [u8], low: &mut [u8], at: &[u32], hi: &[u8], lo: &[u8]) {
    high.fill(0);
    for ((&i, &h), &l) in at.iter().zip(hi).zip(lo) {
        let i = i as usize;
        high[i] = h;
        low[i] = l;
    }
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
    put_varint(out, planes.high.len() as u64);
    let mut refs = Vec::new();
    for (code, plane) in codes.iter().zip([&planes.short, &planes.high, &planes.low]) {
        chunk::write_plane(code, plane, out, &mut refs);
    }
    debug_assert!(refs.is_empty(), "delta residuals use inline models only");
    out.extend_from_slice(&raw[planes.short.len() * 2..]);
}

/// Bytes [`write`] appends.
pub fn size(raw_len: usize, planes: &ShortPlanes, codes: &[PlaneCode]) -> usize {
    let n = planes.short.len();
    let m = planes.high.len();
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
    let escapes = r.varint("escapes")? as usize;
    if escapes > n {
        return Err(Error::corrupt("more escapes than elements"));
    }
    let short = chunk::read_plane(r, n, &[])?;
    let high = chunk::read_plane(r, escapes, &[])?;
    let low = chunk::read_plane(r, escapes, &[])?;
    tail.copy_from_slice(r.bytes(tail.len(), "chunk tail")?);
    let (high_plane, low_plane) = planes.split_at_mut(n);
    chunk::decode_plane(&short, low_plane, PlaneCtx::exponents(exp), k)?;
    find_escapes(low_plane, exp, escapes, s)?;
    let ShortPlanes {
        high: hi,
        low: lo,
        ctx,
        at,
        ..
    } = s;
    reuse(hi, escapes);
    reuse(lo, escapes);
    // Each plane's halves decode in one pair loop (`PlaneCode::RansHalves`).
    let ctx = PlaneCtx::exponents(ctx);
    chunk::decode_plane(&high, hi, ctx, k)?;
    chunk::decode_plane(&low, lo, ctx, k)?;
    expand(high_plane, low_plane, at, hi, lo);
    Ok(())
}

/// Describes the short form's body (after the mode byte) of a chunk of
/// `n` elements: its short, high and low planes.
pub fn describe(r: &mut Reader<'_>, n: usize) -> Result<Vec<PlaneReport>> {
    let escapes = r.varint("escapes")? as usize;
    if escapes > n {
        return Err(Error::corrupt("more escapes than elements"));
    }
    let mut planes = chunk::describe_planes(r, &[n, escapes, escapes])?;
    for (p, name) in planes
        .iter_mut()
        .zip(["short", "escaped-high", "escaped-low"])
    {
        p.method = format!("{name}:{}", p.method);
    }
    Ok(planes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_then_expand_gives_the_planes_back() {
        // Words below 255, 255 itself, and words with a high byte, across
        // step boundaries and a short last step.
        let n = 3 * STEP + 17;
        let words: Vec<u16> = (0..n)
            .map(|i| match i % 7 {
                0 => 255,
                1 => 0x0100 + i as u16,
                2 => 0xff00,
                _ => (i * 37 % 255) as u16,
            })
            .collect();
        let high: Vec<u8> = words.iter().map(|w| (w >> 8) as u8).collect();
        let low: Vec<u8> = words.iter().map(|&w| w as u8).collect();
        let exp: Vec<u8> = (0..n).map(|i| (i % 128) as u8).collect();
        let mut s = ShortPlanes::default();
        split(&high, &low, &exp, &mut s);
        let escapes = words.iter().filter(|&&w| w >= 255).count();
        assert_eq!((s.high.len(), s.low.len()), (escapes, escapes));
        for (i, &w) in words.iter().enumerate() {
            assert_eq!(s.short[i], w.min(255) as u8, "element {i}");
        }
        let want_ctx: Vec<u8> = (0..n)
            .filter(|&i| words[i] >= 255)
            .map(|i| exp[i])
            .collect();
        assert_eq!(s.ctx, want_ctx);

        let mut d = ShortPlanes::default();
        find_escapes(&s.short, &exp, escapes, &mut d).unwrap();
        assert_eq!(d.ctx, want_ctx);
        assert!(find_escapes(&s.short, &exp, escapes + 1, &mut d).is_err());
        find_escapes(&s.short, &exp, escapes, &mut d).unwrap();
        let (mut h, mut l) = (vec![9u8; n], s.short.clone());
        expand(&mut h, &mut l, &d.at, &s.high, &s.low);
        assert_eq!((h, l), (high, low));
    }
}
