//! Kernel-side forms of a [`RansTables`] model and the scalar steps the SIMD
//! kernels share for the parts of a stream they do not vectorise (the
//! partial last round of round-robin streams, and the rounds near the end of
//! a stream where a whole vector round of words might not be there).
//!
//! # Decode entries
//!
//! One `u64` per slot, indexed like [`RansTables::slot_symbols`]
//! (`(table << scale_bits) + slot`):
//!
//! ```text
//! bits  0..32  freq[s]            (1 ..= 2^15)
//! bits 32..48  slot - cum[s]      (< freq[s])
//! bits 48..56  s
//! bits 56..64  0, or a tag: the table index the next stream (a pair
//!              decoder's second stream) or the next symbol (order-1) uses
//!              under context s (RansTables::dec_entries_tagged)
//! ```
//!
//! so one load (or one lane of a gather) gives everything a decode step
//! needs: `x = freq * (x >> bits) + (slot - cum)`.
//!
//! Models with `scale_bits <= 12` also have narrow entries, one `u32` per
//! slot, so that a vector of lookups is one 32-bit gather:
//!
//! ```text
//! bits  0..12  freq[s] - 1        (freq <= 2^12)
//! bits 12..24  slot - cum[s]      (< freq[s])
//! bits 24..32  s
//! ```
//!
//! and `x = (freq - 1) * (x >> bits) + (x >> bits) + (slot - cum)`.
//!
//! # Encoder entries
//!
//! One [`EncSym`] per `(table, symbol)`, 16 bytes, so a vector of symbols is
//! four 16-byte loads per 4 lanes and a 4x4 transpose. Division by the
//! frequency uses an exact reciprocal: with `l = ceil(log2 f)` and
//! `rcp = ceil(2^(31 + l) / f)`, `floor(x / f) = (x * rcp) >> (31 + l)` for
//! every `x < 2^31` (the rounding error `x * (rcp * f - 2^(31+l))` stays
//! below `2^(31+l)`, less than one unit of `1/f`). Written as
//! `mulhi32(x, rcp) >> (l - 1)` for `f >= 2`; `f == 1` uses `rcp = 2^32 - 1`
//! (`mulhi = x - 1` since `x >= 1`) with the difference folded into the bias.
//! The encoder step is then `x' = x + bias + q * (M - f)`, which equals the
//! reference's `((x / f) << bits) + x % f + cum`.

// Loops over lanes and states index several arrays in step.
#![allow(clippy::needless_range_loop)]

use super::{
    order1_segment_len, scalar, Ctx, FirstStream, PairStream, RansError, RansTables, SecondCtx,
    SecondStream, HEADER_BYTES, RANS_L, STATES,
};

/// Encoder entry for one `(table, symbol)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(16))]
pub(crate) struct EncSym {
    /// Reciprocal of the frequency (see the module docs).
    pub rcp: u32,
    /// `cum[s]`, plus `M - 1` when `f == 1`.
    pub bias: u32,
    /// `(f << (31 - bits)) - 1`: renormalise while the state is above it.
    /// `u32::MAX` (-1 as `i32`) marks a zero frequency.
    pub xm1: u32,
    /// `(M - f) | shift << 16`.
    pub cmpl_shift: u32,
}

impl EncSym {
    /// Whether the symbol has frequency zero (cannot be encoded).
    #[inline]
    pub fn missing(&self) -> bool {
        self.xm1 == u32::MAX
    }
}

/// The packed decode entry of a slot (see the module docs).
#[inline]
pub(crate) fn dec_entry(freq: u32, bias: u32, sym: u8) -> u64 {
    u64::from(freq) | u64::from(bias) << 32 | u64::from(sym) << 48
}

/// Largest scale whose models have narrow decode entries.
pub(crate) const NARROW_MAX_BITS: u32 = 12;

/// The narrow decode entry of a slot (see the module docs); `freq` is
/// `1 ..= 2^12` and `bias < freq`.
#[inline]
pub(crate) fn dec_entry_narrow(freq: u32, bias: u32, sym: u8) -> u32 {
    debug_assert!((1..=1 << NARROW_MAX_BITS).contains(&freq) && bias < freq);
    (freq - 1) | bias << 12 | u32::from(sym) << 24
}

pub(super) fn build_dec_narrow(t: &RansTables) -> Vec<u32> {
    build_slots(t, dec_entry_narrow)
}

pub(super) fn build_dec(t: &RansTables) -> Vec<u64> {
    build_slots(t, dec_entry)
}

/// [`build_dec`] with `next_map[s]` in bits 56..64 of every slot of `s`.
pub(super) fn build_dec_tagged(t: &RansTables, next_map: &[u8; 256]) -> Vec<u64> {
    build_slots(t, |f, j, s| {
        dec_entry(f, j, s) | u64::from(next_map[usize::from(s)]) << 56
    })
}

/// One entry per slot, `table << scale_bits | slot`: `entry(freq, slot -
/// start, symbol)` of the symbol owning the slot. Symbols own their slots
/// in symbol order, so each table is its symbols' runs one after the other
/// (appended run by run, a loop the compiler vectorises, rather than slot
/// by slot through [`RansTables::slot_symbols`]); the tables were checked
/// to cover every slot exactly once when they were built.
fn build_slots<T>(t: &RansTables, entry: impl Fn(u32, u32, u8) -> T) -> Vec<T> {
    let mut v = Vec::with_capacity(t.table_count() << t.scale_bits());
    for table in 0..t.table_count() {
        for (s, &f) in t.freqs(table).iter().enumerate() {
            let f = u32::from(f);
            v.extend((0..f).map(|j| entry(f, j, s as u8)));
        }
    }
    debug_assert_eq!(v.len(), t.table_count() << t.scale_bits());
    v
}

pub(super) fn build_enc(t: &RansTables) -> Vec<EncSym> {
    let bits = t.scale_bits();
    let mut v = Vec::with_capacity(t.table_count() * 256);
    for table in 0..t.table_count() {
        for s in 0..256 {
            let f = u32::from(t.freqs(table)[s]);
            let start = u32::from(t.cums(table)[s]);
            v.push(enc_sym(f, start, bits));
        }
    }
    v
}

/// The encoder entry of a symbol of frequency `f` starting at `start`, at
/// scale `bits` (see the module docs).
pub(crate) fn enc_sym(f: u32, start: u32, bits: u32) -> EncSym {
    let m = 1u32 << bits;
    match f {
        0 => EncSym {
            rcp: 0,
            bias: 0,
            xm1: u32::MAX,
            cmpl_shift: 0,
        },
        1 => EncSym {
            rcp: u32::MAX,
            bias: start + m - 1,
            xm1: (1u32 << (31 - bits)) - 1,
            cmpl_shift: m - 1,
        },
        _ => {
            let l = 32 - (f - 1).leading_zeros();
            let rcp = ((1u64 << (31 + l)).div_ceil(u64::from(f))) as u32;
            EncSym {
                rcp,
                bias: start,
                xm1: (f << (31 - bits)) - 1,
                cmpl_shift: (m - f) | (l - 1) << 16,
            }
        }
    }
}

/// One encoder step on the scalar side: renormalise into `words` (written
/// backwards from `*p`) and code the symbol of entry `e`.
#[inline]
pub(crate) fn enc_step(
    x: &mut u32,
    e: &EncSym,
    words: &mut [u16],
    p: &mut usize,
) -> Result<(), RansError> {
    if e.missing() {
        return Err(RansError::SymbolNotInTable);
    }
    if *x > e.xm1 {
        *p -= 1;
        words[*p] = *x as u16;
        *x >>= 16;
    }
    let q = ((u64::from(*x) * u64::from(e.rcp)) >> 32) as u32 >> (e.cmpl_shift >> 16);
    *x += e.bias + q * (e.cmpl_shift & 0xFFFF);
    Ok(())
}

/// A backwards word buffer for the encoders: `n` symbols emit at most `n`
/// words, and `PAD` spare words below let a vector store of up to `PAD`
/// words end at the write position without leaving the buffer.
///
/// The buffer is borrowed from a per-thread cache and returned on drop, so
/// a worker coding chunk after chunk reuses memory it has already touched
/// (a fresh multi-MiB buffer per plane costs page faults and zeroing that
/// rival the coding itself). Its contents are never read before written.
pub(crate) struct BackWords {
    pub buf: Vec<u16>,
    pub pos: usize,
}

std::thread_local! {
    static SPARE_WORDS: std::cell::Cell<Vec<u16>> = const { std::cell::Cell::new(Vec::new()) };
}

impl BackWords {
    pub const PAD: usize = 16;

    pub fn new(n: usize) -> BackWords {
        let mut buf = SPARE_WORDS.with(std::cell::Cell::take);
        let len = n + Self::PAD;
        if buf.len() < len {
            buf.resize(len, 0);
        }
        let pos = buf.len();
        BackWords { buf, pos }
    }

    /// Appends the final states and the words (in decode order) to `out`.
    pub fn finish(&self, x: &[u32; STATES], out: &mut Vec<u8>) {
        let words = &self.buf[self.pos..];
        out.reserve(HEADER_BYTES + 2 * words.len());
        for s in x {
            out.extend_from_slice(&s.to_le_bytes());
        }
        #[cfg(target_endian = "little")]
        {
            // SAFETY: the words are initialised `u16`s, which on a
            // little-endian target are their little-endian bytes; `u8` has
            // no alignment requirement and the byte length is twice the
            // word count. (Copying straight from the words skips zeroing a
            // resized buffer first, which showed in profiles.)
            let bytes =
                unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), 2 * words.len()) };
            out.extend_from_slice(bytes);
        }
        #[cfg(not(target_endian = "little"))]
        for w in words {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
}

impl Drop for BackWords {
    fn drop(&mut self) {
        // Keep up to 64 MiB per thread (planes of chunks up to 32 MiB).
        if self.buf.len() <= 32 << 20 {
            let buf = std::mem::take(&mut self.buf);
            SPARE_WORDS.with(|c| c.set(buf));
        }
    }
}

/// Encodes the symbols `from..n` of a round-robin stream (`Order0` when
/// `ctx` is `None`, `Plane` otherwise), last symbol first: the part of the
/// stream the vector loop does not cover, coded before it.
pub(crate) fn encode_rr_tail(
    data: &[u8],
    ctx: Option<&[u8]>,
    t: &RansTables,
    from: usize,
    x: &mut [u32; STATES],
    w: &mut BackWords,
) -> Result<(), RansError> {
    let enc = t.enc_entries();
    for i in (from..data.len()).rev() {
        let c = ctx.map_or(0, |c| c[i]);
        let e = &enc[t.table_of(c) << 8 | usize::from(data[i])];
        enc_step(&mut x[i % STATES], e, &mut w.buf, &mut w.pos)?;
    }
    Ok(())
}

/// The stream reader state shared by the decoders' scalar tails.
pub(crate) struct Reader<'a> {
    pub data: &'a [u8],
    pub pos: usize,
}

impl Reader<'_> {
    /// One reference decode step (the exact semantics of the scalar
    /// decoder, including where `Truncated` is reported).
    #[inline]
    pub fn step(&mut self, x: &mut u32, t: &RansTables, c: u8) -> Result<u8, RansError> {
        let bits = t.scale_bits();
        let table = t.table_of(c);
        let slot = *x & ((1 << bits) - 1);
        let sym = t.symbol_at(table, slot);
        let f = u32::from(t.freqs(table)[usize::from(sym)]);
        let start = u32::from(t.cums(table)[usize::from(sym)]);
        *x = f * (*x >> bits) + slot - start;
        if *x < RANS_L {
            let p = self.pos;
            let w = self.data.get(p..p + 2).ok_or(RansError::Truncated)?;
            *x = (*x << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]));
            self.pos = p + 2;
        }
        Ok(sym)
    }

    /// Bytes left in the stream.
    #[inline]
    pub fn left(&self) -> usize {
        self.data.len() - self.pos
    }
}

/// The decoder of a vector level built from its two round loops: reads
/// the state header, runs whole rounds with `rr_rounds` (`Order0` /
/// `Plane`, which gets the context plane) or `o1_rounds`, which return the
/// symbols (round-robin) or rounds (order-1) they decoded, finishes with
/// the reference step and checks the stream's end.
///
/// Panics if a `Ctx::Plane` context is not as long as `out`.
#[inline(always)]
pub(crate) fn decode_with(
    stream: &[u8],
    ctx: Ctx<'_>,
    t: &RansTables,
    out: &mut [u8],
    rr_rounds: impl Fn(&mut Reader<'_>, Option<&[u8]>, &mut [u32; STATES], &mut [u8]) -> usize,
    o1_rounds: impl FnOnce(&mut Reader<'_>, &mut [u32; STATES], &mut [u8]) -> usize,
) -> Result<(), RansError> {
    let mut x = scalar::read_states(stream)?;
    let mut r = Reader {
        data: stream,
        pos: HEADER_BYTES,
    };
    match ctx {
        Ctx::Order0 | Ctx::Plane(_) => {
            let c = match ctx {
                Ctx::Plane(c) => {
                    assert_eq!(
                        c.len(),
                        out.len(),
                        "context plane length differs from output"
                    );
                    Some(c)
                }
                _ => None,
            };
            let done = rounds_padded(&mut r, c, &mut x, out, 0, |r, c, x, out| {
                rr_rounds(r, c, x, out)
            })?;
            decode_rr_tail(&mut r, c, t, done, &mut x, out)?;
        }
        Ctx::Order1 => {
            let done = o1_rounds(&mut r, &mut x, out);
            decode_o1_tail(&mut r, t, done, &mut x, out)?;
        }
    }
    scalar::finish(&x, r.pos, stream.len())
}

/// Bytes a vector round may read from its position on (two vectors of 16
/// words, or four of 8): the round loops run only while this many are
/// left.
const ROUND_READ: usize = 64;

/// Decodes whole rounds of symbols `from..` of a round-robin stream with a
/// level's round loop `rr_rounds` (`from` a multiple of 32) and returns the
/// symbols decoded from 0 on. The loops stop with fewer than
/// [`ROUND_READ`] bytes left, since they read their words unchecked; a
/// stream that codes its symbols in few bytes (a nearly constant plane: a
/// few bytes for thousands of symbols) would leave most of them to the
/// reference step, one at a time. So what is left of the stream is then
/// copied into a zero-padded buffer and the loop runs on over that. A
/// round that takes a word of the padding means the stream ran out of
/// words, which the reference step reports as `Truncated` at the symbol
/// that needed it (decoding has no other error); this reports the same
/// error once the rounds end.
#[inline(always)]
fn rounds_padded(
    r: &mut Reader<'_>,
    ctx: Option<&[u8]>,
    x: &mut [u32; STATES],
    out: &mut [u8],
    from: usize,
    rr_rounds: impl Fn(&mut Reader<'_>, Option<&[u8]>, &mut [u32; STATES], &mut [u8]) -> usize,
) -> Result<usize, RansError> {
    debug_assert_eq!(from % STATES, 0);
    // Round robin: symbol `i` is coded by state `i % 32`, so the stream from
    // a whole round on decodes like a stream of its own.
    let mut done = from + rr_rounds(r, ctx.map(|c| &c[from..]), x, &mut out[from..]);
    if out.len() - done >= STATES && r.left() < ROUND_READ {
        let left = r.left();
        let mut padded = [0u8; 2 * ROUND_READ];
        padded[..left].copy_from_slice(&r.data[r.pos..]);
        let mut p = Reader {
            data: &padded,
            pos: 0,
        };
        done += rr_rounds(&mut p, ctx.map(|c| &c[done..]), x, &mut out[done..]);
        if p.pos > left {
            return Err(RansError::Truncated);
        }
        r.pos += p.pos;
    }
    Ok(done)
}

/// One stream of a pair decode: its reader and states.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) struct Side<'a> {
    pub r: Reader<'a>,
    pub x: [u32; STATES],
    /// The stream's length: `r.data` may run [`ROUND_READ`] zero bytes
    /// past it ([`padded`]).
    len: usize,
}

/// A stream of a pair of at most this many bytes is decoded from a copy
/// followed by [`ROUND_READ`] zero bytes ([`padded`]).
const PAD_PAIR: usize = 4096;

/// `stream`, or where it is at most [`PAD_PAIR`] bytes long, its copy in
/// `pad` followed by [`ROUND_READ`] zero bytes. The pair loops run while
/// both streams have a round's worth of bytes left; a stream that codes
/// many symbols in few bytes (a nearly constant plane: residual plane 0
/// of a fine-tune's fp32 delta) would stop them within its first rounds
/// and leave the other stream to decode alone, a third of restoring an
/// all-MiniLM fine-tune delta. Over the copy the loops run on to the
/// stream's last word; a decode that reads past the stream's end has read
/// padding, and is `Truncated` as the reference step would have said
/// ([`rest`]).
fn padded<'a>(stream: &'a [u8], pad: &'a mut [u8; PAD_PAIR + ROUND_READ]) -> &'a [u8] {
    if stream.len() > PAD_PAIR {
        return stream;
    }
    pad[..stream.len()].copy_from_slice(stream);
    &pad[..stream.len() + ROUND_READ]
}

/// The pair decoder of a vector level (see
/// [`crate::Kernels::rans_decode_pair`]), built from its single-stream
/// round loop `rr_rounds` (as for [`decode_with`], with the model passed in)
/// and `pair_rounds`, which decodes whole rounds of both streams in one loop
/// and returns the symbols it decoded of each (multiples of 32).
///
/// `pair_rounds` gets the two sides, their outputs and, for
/// [`SecondCtx::First`], the first stream's decode entries tagged with the
/// second stream's table indices ([`RansTables::dec_entries_tagged`]); it
/// takes the contexts of a [`SecondCtx::Plane`] second stream itself. What
/// it leaves is decoded stream by stream: vector rounds, reference steps,
/// end check, first stream first, so the `Result` is exactly that of two
/// decodes in turn (a second stream whose header is bad is only reported
/// once the first one has decoded).
///
/// Panics if a context plane is not as long as its output.
// Only the x86 levels have fused pair loops.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(crate) fn decode_pair_with(
    first: FirstStream<'_>,
    second: SecondStream<'_>,
    rr_rounds: impl Fn(
        &mut Reader<'_>,
        Option<&[u8]>,
        &RansTables,
        &mut [u32; STATES],
        &mut [u8],
    ) -> usize,
    pair_rounds: impl FnOnce(
        &mut Side<'_>,
        &mut [u8],
        &mut Side<'_>,
        &mut [u8],
        Option<&[u64]>,
    ) -> (usize, usize),
) -> Result<(), RansError> {
    let PairStream {
        stream: first,
        ctx: first_ctx,
        tables: t_first,
        out: out_first,
    } = first;
    let PairStream {
        stream: second,
        ctx: second_ctx,
        tables: t_second,
        out: out_second,
    } = second;
    if let Some(c) = first_ctx {
        assert_eq!(
            c.len(),
            out_first.len(),
            "context plane length differs from output"
        );
    }
    let second_len = match second_ctx {
        SecondCtx::Plane(c) => c.len(),
        SecondCtx::First => out_first.len(),
        SecondCtx::Order0 => out_second.len(),
    };
    assert_eq!(
        second_len,
        out_second.len(),
        "context plane length differs from output"
    );
    let reader = |data| Reader {
        data,
        pos: HEADER_BYTES,
    };
    let mut pads = [[0u8; PAD_PAIR + ROUND_READ]; 2];
    let [pad_a, pad_b] = &mut pads;
    let mut a = Side {
        x: scalar::read_states(first)?,
        r: reader(padded(first, pad_a)),
        len: first.len(),
    };
    let xb = match scalar::read_states(second) {
        Ok(x) => x,
        Err(e) => {
            rest(&mut a, 0, first_ctx, t_first, out_first, &rr_rounds)?;
            return Err(e);
        }
    };
    let mut b = Side {
        x: xb,
        r: reader(padded(second, pad_b)),
        len: second.len(),
    };
    // With `SecondCtx::First` the first stream's entries carry the second
    // stream's table index: a kernel finds the second stream's offsets in
    // the first stream's lanes.
    let tagged = matches!(second_ctx, SecondCtx::First)
        .then(|| t_first.dec_entries_tagged(t_second.ctx_map()));
    let (da, db) = pair_rounds(&mut a, out_first, &mut b, out_second, tagged.as_deref());
    rest(&mut a, da, first_ctx, t_first, out_first, &rr_rounds)?;
    let cb = second_ctx.bytes(out_first);
    rest(&mut b, db, cb, t_second, out_second, &rr_rounds)
}

/// Decodes the symbols `from..` of one stream of a pair (`from` a multiple
/// of 32) and checks its end: a stream read past its end (into the
/// padding of [`padded`]) is `Truncated`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn rest(
    s: &mut Side<'_>,
    from: usize,
    ctx: Option<&[u8]>,
    t: &RansTables,
    out: &mut [u8],
    rr_rounds: &impl Fn(
        &mut Reader<'_>,
        Option<&[u8]>,
        &RansTables,
        &mut [u32; STATES],
        &mut [u8],
    ) -> usize,
) -> Result<(), RansError> {
    let done = rounds_padded(&mut s.r, ctx, &mut s.x, out, from, |r, c, x, out| {
        rr_rounds(r, c, t, x, out)
    })?;
    let tail = decode_rr_tail(&mut s.r, ctx, t, done, &mut s.x, out);
    if s.r.pos > s.len {
        return Err(RansError::Truncated);
    }
    tail?;
    scalar::finish(&s.x, s.r.pos, s.len)
}

/// The encoder of a vector level built from its two round loops: a
/// round-robin stream codes its partial last round with the reference step,
/// then its whole rounds with `rr_encode` (given the context plane and the
/// number of rounds); an order-1 stream goes to `o1_encode`. Appends the
/// stream to `out`.
///
/// Panics if a `Ctx::Plane` context is not as long as `data`.
#[inline(always)]
pub(crate) fn encode_with(
    data: &[u8],
    ctx: Ctx<'_>,
    t: &RansTables,
    out: &mut Vec<u8>,
    rr_encode: impl FnOnce(
        Option<&[u8]>,
        usize,
        &mut [u32; STATES],
        &mut BackWords,
    ) -> Result<(), RansError>,
    o1_encode: impl FnOnce(&mut [u32; STATES], &mut BackWords) -> Result<(), RansError>,
) -> Result<(), RansError> {
    let n = data.len();
    let mut x = [RANS_L; STATES];
    let mut w = BackWords::new(n);
    match ctx {
        Ctx::Order0 | Ctx::Plane(_) => {
            let c = match ctx {
                Ctx::Plane(c) => {
                    assert_eq!(c.len(), n, "context plane length differs from data");
                    Some(c)
                }
                _ => None,
            };
            let full = n / STATES * STATES;
            encode_rr_tail(data, c, t, full, &mut x, &mut w)?;
            rr_encode(c, full / STATES, &mut x, &mut w)?;
        }
        Ctx::Order1 => o1_encode(&mut x, &mut w)?,
    }
    w.finish(&x, out);
    Ok(())
}

/// Decodes symbols `from..out.len()` of a round-robin stream.
pub(crate) fn decode_rr_tail(
    r: &mut Reader<'_>,
    ctx: Option<&[u8]>,
    t: &RansTables,
    from: usize,
    x: &mut [u32; STATES],
    out: &mut [u8],
) -> Result<(), RansError> {
    for i in from..out.len() {
        let c = ctx.map_or(0, |c| c[i]);
        out[i] = r.step(&mut x[i % STATES], t, c)?;
    }
    Ok(())
}

/// Decodes rounds `from_round..q` of an order-1 stream.
pub(crate) fn decode_o1_tail(
    r: &mut Reader<'_>,
    t: &RansTables,
    from_round: usize,
    x: &mut [u32; STATES],
    out: &mut [u8],
) -> Result<(), RansError> {
    let n = out.len();
    let q = order1_segment_len(n);
    for round in from_round..q {
        for (j, state) in x.iter_mut().enumerate() {
            let i = j * q + round;
            if i < n {
                let c = if round == 0 { 0 } else { out[i - 1] };
                out[i] = r.step(state, t, c)?;
            }
        }
    }
    Ok(())
}

/// Number of order-1 segments (states) active in round `r`: those `j` with
/// `j * q + r < n`.
#[inline]
pub(crate) fn o1_active(n: usize, q: usize, r: usize) -> usize {
    if r >= n {
        0
    } else {
        (n - r).div_ceil(q).min(STATES)
    }
}

/// Rounds of an order-1 stream the vector kernels keep in a block: symbols
/// of 32 segments are `q` bytes apart (often a multiple of 4 KiB, so they
/// would all fall into one L1 set); a block of rounds is moved between the
/// segments and a small round-major buffer with one pass per segment.
pub(crate) const O1_BLOCK: usize = 32;

/// A block of order-1 rounds, round-major: `[round][state]`.
pub(crate) type O1Block = [[u8; STATES]; O1_BLOCK];

/// Fills `sym[rr][j]` with symbol `j * q + r0 + rr` and `ctx[rr][j]` with
/// its context (0 for the first symbol of a segment and past the end), for
/// `rr < rows`.
pub(crate) fn o1_gather(
    data: &[u8],
    q: usize,
    r0: usize,
    rows: usize,
    sym: &mut O1Block,
    ctx: &mut O1Block,
) {
    let n = data.len();
    if rows == O1_BLOCK && whole_block(n, q, r0) {
        transpose_block(
            |j| &data[j * q + r0..][..O1_BLOCK],
            |rr, at, v| v.store(&mut sym[rr][at..]),
        );
        // A symbol's context is the one above it in its segment.
        ctx[1..].copy_from_slice(&sym[..O1_BLOCK - 1]);
        ctx[0] = if r0 == 0 {
            [0; STATES]
        } else {
            std::array::from_fn(|j| data[j * q + r0 - 1])
        };
        return;
    }
    for j in 0..STATES {
        let start = j * q + r0;
        let valid = rows.min(n.saturating_sub(start));
        let seg = &data[start.min(n)..start.min(n) + valid];
        // Context of symbol `start + rr` is `data[start + rr - 1]`, except
        // for the first symbol of a segment (round 0).
        let prev = if r0 > 0 && valid > 0 {
            data[start - 1]
        } else {
            0
        };
        for rr in 0..rows {
            let (s, c) = if rr < valid {
                (seg[rr], if rr == 0 { prev } else { seg[rr - 1] })
            } else {
                (0, 0)
            };
            sym[rr][j] = s;
            ctx[rr][j] = c;
        }
    }
}

/// Writes `tmp[rr][j]` to symbol `j * q + r0 + rr` for `rr < rows`, where
/// that symbol exists.
pub(crate) fn o1_scatter(tmp: &O1Block, q: usize, r0: usize, rows: usize, out: &mut [u8]) {
    let n = out.len();
    if rows == O1_BLOCK && whole_block(n, q, r0) {
        // Row `j` of the transpose is segment `j`'s next 32 bytes.
        transpose_block(
            |rr| &tmp[rr],
            |j, at, v| v.store(&mut out[j * q + r0 + at..]),
        );
        return;
    }
    for j in 0..STATES {
        let start = j * q + r0;
        let len = rows.min(n.saturating_sub(start));
        for (rr, o) in out[start.min(n)..start.min(n) + len].iter_mut().enumerate() {
            *o = tmp[rr][j];
        }
    }
}

/// Whether all 32 segments of an `n`-symbol order-1 stream hold rounds
/// `r0 .. r0 + O1_BLOCK`.
#[inline]
fn whole_block(n: usize, q: usize, r0: usize) -> bool {
    (STATES - 1) * q + r0 + O1_BLOCK <= n
}

/// Transposes a 32 x 32 byte block, 16 bytes at a time: row `r` of the
/// result is byte `r` of every `src(c)`, and `put(r, at, v)` receives its
/// bytes `at .. at + 16`. A byte-by-byte copy was a quarter of order-1
/// decoding and half of order-1 encoding (docs/KERNELS.md, "Order-1
/// blocks").
#[inline]
fn transpose_block<'s>(
    src: impl Fn(usize) -> &'s [u8],
    mut put: impl FnMut(usize, usize, Bytes16),
) {
    for half_r in 0..2 {
        for half_c in 0..2 {
            let rows: [Bytes16; 16] =
                std::array::from_fn(|i| Bytes16::load(&src(16 * half_c + i)[16 * half_r..]));
            for (i, col) in transpose16(rows).into_iter().enumerate() {
                put(16 * half_r + i, 16 * half_c, col);
            }
        }
    }
}

/// Transposes a 16 x 16 byte block held as 16 rows: four rounds of
/// interleaving the bytes of row `i` with those of row `i + 8`.
#[inline(always)]
fn transpose16(mut x: [Bytes16; 16]) -> [Bytes16; 16] {
    for _ in 0..4 {
        x = std::array::from_fn(|k| {
            let (a, b) = (x[k / 2], x[k / 2 + 8]);
            if k % 2 == 0 {
                a.zip_lo(b)
            } else {
                a.zip_hi(b)
            }
        });
    }
    x
}

/// Sixteen bytes in a vector register, with the byte interleaves the
/// transpose needs (SSE2 and NEON are baseline on their targets).
#[derive(Clone, Copy)]
struct Bytes16(
    #[cfg(target_arch = "x86_64")] core::arch::x86_64::__m128i,
    #[cfg(target_arch = "aarch64")] core::arch::aarch64::uint8x16_t,
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))] [u8; 16],
);

impl Bytes16 {
    /// The first 16 bytes of `b` (panics if shorter).
    #[inline(always)]
    fn load(b: &[u8]) -> Bytes16 {
        let b: &[u8; 16] = b[..16].try_into().expect("16 bytes");
        // SAFETY: `b` is 16 readable bytes; SSE2 and NEON are part of the
        // baseline of x86-64 and AArch64.
        #[cfg(target_arch = "x86_64")]
        return Bytes16(unsafe { core::arch::x86_64::_mm_loadu_si128(b.as_ptr().cast()) });
        // SAFETY: as above.
        #[cfg(target_arch = "aarch64")]
        return Bytes16(unsafe { core::arch::aarch64::vld1q_u8(b.as_ptr()) });
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        Bytes16(*b)
    }

    /// Writes the bytes to the first 16 of `b` (panics if shorter).
    #[inline(always)]
    fn store(self, b: &mut [u8]) {
        let b: &mut [u8; 16] = (&mut b[..16]).try_into().expect("16 bytes");
        // SAFETY: `b` is 16 writable bytes; baseline features as in `load`.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            core::arch::x86_64::_mm_storeu_si128(b.as_mut_ptr().cast(), self.0)
        };
        // SAFETY: as above.
        #[cfg(target_arch = "aarch64")]
        unsafe {
            core::arch::aarch64::vst1q_u8(b.as_mut_ptr(), self.0)
        };
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            *b = self.0;
        }
    }

    /// Bytes 0..8 of `self` and `o`, interleaved (`self` first).
    #[inline(always)]
    fn zip_lo(self, o: Bytes16) -> Bytes16 {
        // SAFETY: baseline features as in `load`.
        #[cfg(target_arch = "x86_64")]
        return Bytes16(unsafe { core::arch::x86_64::_mm_unpacklo_epi8(self.0, o.0) });
        // SAFETY: as above.
        #[cfg(target_arch = "aarch64")]
        return Bytes16(unsafe { core::arch::aarch64::vzip1q_u8(self.0, o.0) });
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        Bytes16(interleave(self.0, o.0, 0))
    }

    /// Bytes 8..16 of `self` and `o`, interleaved (`self` first).
    #[inline(always)]
    fn zip_hi(self, o: Bytes16) -> Bytes16 {
        // SAFETY: baseline features as in `load`.
        #[cfg(target_arch = "x86_64")]
        return Bytes16(unsafe { core::arch::x86_64::_mm_unpackhi_epi8(self.0, o.0) });
        // SAFETY: as above.
        #[cfg(target_arch = "aarch64")]
        return Bytes16(unsafe { core::arch::aarch64::vzip2q_u8(self.0, o.0) });
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        Bytes16(interleave(self.0, o.0, 8))
    }
}

/// Bytes `from .. from + 8` of `a` and `b`, interleaved (`a` first): the
/// byte interleaves on targets without a vector unit in their baseline.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn interleave(a: [u8; 16], b: [u8; 16], from: usize) -> [u8; 16] {
    std::array::from_fn(|i| {
        if i % 2 == 0 {
            a[from + i / 2]
        } else {
            b[from + i / 2]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run-by-run builders give, slot by slot, the entry of the symbol
    /// `slot_symbols` names: tables with absent symbols, a symbol owning
    /// every slot but one, several tables, both entry widths.
    #[test]
    fn decode_entries_follow_slot_symbols() {
        let mut a = [0u16; 256];
        a[0] = 4095;
        a[255] = 1;
        let mut b = [0u16; 256];
        for (s, f) in b.iter_mut().enumerate().step_by(3) {
            *f = 1 + (s as u16 % 7);
        }
        let used: u16 = b.iter().sum();
        b[1] = 4096 - used;
        let t = RansTables::new(12, [1; 256], vec![a, b]).unwrap();
        let (wide, narrow) = (build_dec(&t), build_dec_narrow(&t));
        let map: [u8; 256] = std::array::from_fn(|s| (s % 2) as u8);
        let tagged = build_dec_tagged(&t, &map);
        assert_eq!(wide.len(), 2 << 12);
        for (i, &s) in t.slot_symbols().iter().enumerate() {
            let (table, slot) = (i >> 12, (i & 4095) as u32);
            assert_eq!(t.symbol_at(table, slot), s, "slot {i}");
            let f = u32::from(t.freqs(table)[usize::from(s)]);
            let j = slot - u32::from(t.cums(table)[usize::from(s)]);
            assert_eq!(wide[i], dec_entry(f, j, s), "slot {i}");
            assert_eq!(narrow[i], dec_entry_narrow(f, j, s), "slot {i}");
            let tag = u64::from(s % 2) << 56;
            assert_eq!(tagged[i], dec_entry(f, j, s) | tag, "slot {i}");
        }
    }
}
