//! NEON rANS: the 32 states as eight vectors of 4 lanes (`uint32x4_t`).
//!
//! The structure is the AVX2 kernel's (`rans/avx2.rs`); NEON has no
//! gathers, so table lookups are scalar loads of the packed entries of
//! [`packed`] into vector lanes, and the arithmetic stays in vectors.
//!
//! Decoding a round runs the eight vectors in state order. A vector's lanes
//! below `L` form a 4-bit mask; the vector takes `popcount(mask)` words from
//! the stream (an 8-byte load) and [`EXPAND`] gives the `tbl` pattern that
//! moves word `c` to the `c`-th set lane, so words are consumed in exactly
//! the reference's order. The vector loop only runs while a whole round of
//! words (64 bytes) is left; the rest goes through the reference step
//! ([`packed::Reader::step`]), so `Truncated` / `Corrupt` are reported
//! exactly where the reference reports them and nothing is read past the
//! stream.
//!
//! Encoding walks the rounds backwards, vectors 7..0, and writes the words
//! of each vector below the previous ones: [`COMPRESS_TOP`] is the `tbl`
//! pattern that puts the low 16 bits of the renormalising lanes, in lane
//! order, at the top of 8 bytes, which are stored so that they end at the
//! write position (the bytes below are overwritten later or lie in the
//! buffer's padding). `floor(x / f)` is `mulhi(x, rcp) >> shift`
//! (`umull` / `umull2`, `uzp2`, `ushl`), as proven in [`packed`].

use core::arch::aarch64::*;

use super::packed::{self, BackWords, EncSym, Reader};
use super::{order1_segment_len, Ctx, RansError, RansTables, RANS_L, STATES};

/// Vectors per round.
const VECS: usize = STATES / 4;
/// Bytes a vector round may read at most: one word per state.
const ROUND_BYTES: usize = 2 * STATES;
/// Marks a byte `tbl` sets to zero (out of range of a 16-byte table).
const ZERO: u8 = 0xFF;

/// `[e(0), e(1), e(2), e(3)]` for the lanes `$l` of a vector, written out
/// (`std::array::from_fn` with a closure is not inlined here).
macro_rules! lanes4 {
    (|$l:ident| $e:expr) => {
        [
            {
                let $l: usize = 0;
                $e
            },
            {
                let $l: usize = 1;
                $e
            },
            {
                let $l: usize = 2;
                $e
            },
            {
                let $l: usize = 3;
                $e
            },
        ]
    };
}

/// Runs `$body` once per vector of a round, `$g` = 0..8 (`up`) or 8..0
/// (`down`), as straight-line code: with every index constant the states
/// stay in registers (a `for` loop over the vectors is not unrolled by the
/// compiler and keeps them on the stack).
macro_rules! each_vec {
    (up $g:ident $body:block) => {
        each_vec!(@ $g $body 0 1 2 3 4 5 6 7)
    };
    (down $g:ident $body:block) => {
        each_vec!(@ $g $body 7 6 5 4 3 2 1 0)
    };
    (@ $g:ident $body:block $($i:literal)*) => {
        $({
            let $g: usize = $i;
            $body
        })*
    };
}

/// `EXPAND[m]`: for each lane `k` set in the 4-bit mask `m`, the bytes of
/// word `c` (the number of set lanes below `k`) in the low half of the lane.
static EXPAND: [[u8; 16]; 16] = expand_table();
/// `COMPRESS_TOP[m]`: the low 16 bits of the lanes set in `m`, in lane
/// order, at words `4 - popcount(m) .. 4` of 8 bytes.
static COMPRESS_TOP: [[u8; 8]; 16] = compress_top_table();

const fn expand_table() -> [[u8; 16]; 16] {
    let mut t = [[ZERO; 16]; 16];
    let mut m = 0;
    while m < 16 {
        let (mut k, mut c) = (0, 0u8);
        while k < 4 {
            if (m >> k) & 1 == 1 {
                t[m][4 * k] = 2 * c;
                t[m][4 * k + 1] = 2 * c + 1;
                c += 1;
            }
            k += 1;
        }
        m += 1;
    }
    t
}

const fn compress_top_table() -> [[u8; 8]; 16] {
    let mut t = [[ZERO; 8]; 16];
    let mut m = 0usize;
    while m < 16 {
        let mut pos = 4 - m.count_ones() as usize;
        let mut k = 0;
        while k < 4 {
            if (m >> k) & 1 == 1 {
                t[m][2 * pos] = 4 * k as u8;
                t[m][2 * pos + 1] = 4 * k as u8 + 1;
                pos += 1;
            }
            k += 1;
        }
        m += 1;
    }
    t
}

/// Number of set bits of a 4-bit mask (one nibble per mask value).
#[inline]
fn popcount4(m: usize) -> usize {
    ((0x4332_3221_3221_2110u64 >> (4 * m)) & 0xF) as usize
}

/// See [`super::scalar::decode`].
pub(crate) fn decode(
    stream: &[u8],
    ctx: Ctx<'_>,
    t: &RansTables,
    out: &mut [u8],
) -> Result<(), RansError> {
    // SAFETY: NEON (Advanced SIMD) is part of the aarch64 baseline, so
    // every aarch64 CPU this code runs on has it.
    unsafe { decode_neon(stream, ctx, t, out) }
}

/// See [`super::scalar::encode`].
pub(crate) fn encode(
    data: &[u8],
    ctx: Ctx<'_>,
    t: &RansTables,
    out: &mut Vec<u8>,
) -> Result<(), RansError> {
    // SAFETY: as in `decode`.
    unsafe { encode_neon(data, ctx, t, out) }
}

#[target_feature(enable = "neon")]
fn decode_neon(
    stream: &[u8],
    ctx: Ctx<'_>,
    t: &RansTables,
    out: &mut [u8],
) -> Result<(), RansError> {
    packed::decode_with(
        stream,
        ctx,
        t,
        out,
        |r, c, x, out| rr_rounds(r, c, t, x, out),
        |r, x, out| o1_rounds(r, t, x, out),
    )
}

/// The lanes of `v` as an array.
#[inline]
#[target_feature(enable = "neon")]
fn lanes(v: uint32x4_t) -> [u32; 4] {
    [
        vgetq_lane_u32::<0>(v),
        vgetq_lane_u32::<1>(v),
        vgetq_lane_u32::<2>(v),
        vgetq_lane_u32::<3>(v),
    ]
}

/// A 4-bit mask of the all-ones lanes of a comparison result.
#[inline]
#[target_feature(enable = "neon")]
fn mask_bits(m: uint32x4_t) -> usize {
    // SAFETY: reads 16 bytes of a 4 x u32 array.
    let weights = unsafe { vld1q_u32([1u32, 2, 4, 8].as_ptr()) };
    vaddvq_u32(vandq_u32(m, weights)) as usize
}

/// The model constants one vector step needs.
#[derive(Clone, Copy)]
struct Consts {
    slot_mask: u32,
    low16: uint32x4_t,
    l: uint32x4_t,
    /// `-scale_bits` in every lane: `ushl` by it shifts right.
    neg_bits: int32x4_t,
}

#[inline]
#[target_feature(enable = "neon")]
fn consts(t: &RansTables) -> Consts {
    Consts {
        slot_mask: (1 << t.scale_bits()) - 1,
        low16: vdupq_n_u32(0xFFFF),
        l: vdupq_n_u32(RANS_L),
        neg_bits: vdupq_n_s32(-(t.scale_bits() as i32)),
    }
}

/// One decode step of 4 states whose tables start at `base` (per lane);
/// returns the new states (before renormalisation) and the high halves of
/// the entries (`slot - cum | sym << 16`).
#[inline]
#[target_feature(enable = "neon")]
fn dec_step(k: &Consts, dec: &[u64], x: uint32x4_t, base: [u32; 4]) -> (uint32x4_t, uint32x4_t) {
    let xl = lanes(x);
    let idx: [usize; 4] = lanes4!(|l| ((xl[l] & k.slot_mask) + base[l]) as usize);
    debug_assert!(idx.iter().all(|&i| i < dec.len()));
    // SAFETY: every index is `table << bits | slot` with `table` a table of
    // the model (`base` comes from `dec_bases`) and `slot < 2^bits`, so below
    // `dec.len()`; each entry is 8 bytes.
    let (a, b) = unsafe {
        let p = dec.as_ptr();
        (
            vcombine_u64(vld1_u64(p.add(idx[0])), vld1_u64(p.add(idx[1]))),
            vcombine_u64(vld1_u64(p.add(idx[2])), vld1_u64(p.add(idx[3]))),
        )
    };
    let (a, b) = (vreinterpretq_u32_u64(a), vreinterpretq_u32_u64(b));
    // Low halves: `freq`; high halves: `slot - cum | sym << 16`.
    let (f, hi) = (vuzp1q_u32(a, b), vuzp2q_u32(a, b));
    let xn = vmlaq_u32(vandq_u32(hi, k.low16), f, vshlq_u32(x, k.neg_bits));
    (xn, hi)
}

/// Renormalises the lanes of `x` below `L` from the words at `r.pos`.
///
/// The caller guarantees 8 readable bytes at `r.pos`.
#[inline]
#[target_feature(enable = "neon")]
fn renorm(k: &Consts, r: &mut Reader<'_>, x: uint32x4_t) -> uint32x4_t {
    let m = vcltq_u32(x, k.l);
    let mb = mask_bits(m);
    debug_assert!(r.pos + 8 <= r.data.len());
    // SAFETY: the callers only run a vector round while at least 64 bytes
    // (at most 8 per vector, 8 vectors) are left after `r.pos`; `mb < 16`,
    // the length of `EXPAND`, whose rows are 16 bytes.
    let (w, perm) = unsafe {
        (
            vld1_u8(r.data.as_ptr().add(r.pos)),
            vld1q_u8(EXPAND.get_unchecked(mb).as_ptr()),
        )
    };
    let w = vreinterpretq_u32_u8(vqtbl1q_u8(vcombine_u8(w, vdup_n_u8(0)), perm));
    r.pos += 2 * popcount4(mb);
    vbslq_u32(m, vorrq_u32(vshlq_n_u32::<16>(x), w), x)
}

/// Stores the symbols of vector `g` (byte 2 of each lane of `hi`, the
/// entries' high halves) at `dst[4 * g..4 * g + 4]`, in lane order.
#[inline]
#[target_feature(enable = "neon")]
fn store_syms(hi: uint32x4_t, g: usize, dst: &mut [u8; STATES]) {
    const PICK: [u8; 16] = [2, 6, 10, 14, ZERO, ZERO, ZERO, ZERO, 0, 0, 0, 0, 0, 0, 0, 0];
    // SAFETY: reads the 16 bytes of `PICK`.
    let pick = unsafe { vld1q_u8(PICK.as_ptr()) };
    let b = vgetq_lane_u32::<0>(vreinterpretq_u32_u8(vqtbl1q_u8(
        vreinterpretq_u8_u32(hi),
        pick,
    )));
    assert!(g < VECS);
    // SAFETY: `4 * g + 4 <= 32`, the length of `dst`; an unaligned write.
    unsafe { (dst.as_mut_ptr().add(4 * g) as *mut u32).write_unaligned(b.to_le()) };
}

#[inline]
#[target_feature(enable = "neon")]
fn load_states(x: &[u32; STATES]) -> [uint32x4_t; VECS] {
    // SAFETY: `x` holds 32 `u32`, eight 16-byte vectors.
    let ld = |g: usize| unsafe { vld1q_u32(x.as_ptr().add(4 * g)) };
    [ld(0), ld(1), ld(2), ld(3), ld(4), ld(5), ld(6), ld(7)]
}

#[inline]
#[target_feature(enable = "neon")]
fn store_states(xs: &[uint32x4_t; VECS], x: &mut [u32; STATES]) {
    for (g, v) in xs.iter().enumerate() {
        // SAFETY: as in `load_states`.
        unsafe { vst1q_u32(x.as_mut_ptr().add(4 * g), *v) };
    }
}

/// Decodes whole rounds of a round-robin stream while a round of words is
/// surely there; returns how many symbols were decoded.
#[target_feature(enable = "neon")]
fn rr_rounds(
    r: &mut Reader<'_>,
    ctx: Option<&[u8]>,
    t: &RansTables,
    x: &mut [u32; STATES],
    out: &mut [u8],
) -> usize {
    match ctx {
        None => rr_rounds_with::<false>(r, &[], t, x, out),
        Some(c) => rr_rounds_with::<true>(r, c, t, x, out),
    }
}

/// [`rr_rounds`] with contexts from `ctx` (`PLANE`) or context 0.
#[target_feature(enable = "neon")]
fn rr_rounds_with<const PLANE: bool>(
    r: &mut Reader<'_>,
    ctx: &[u8],
    t: &RansTables,
    x: &mut [u32; STATES],
    out: &mut [u8],
) -> usize {
    let rounds = out.len() / STATES;
    if rounds == 0 || r.left() < ROUND_BYTES {
        return 0;
    }
    let dec = t.dec_entries();
    let bases = t.dec_bases();
    let k = consts(t);
    let mut xs = load_states(x);
    // A local reader keeps the position in a register.
    let mut rd = Reader {
        data: r.data,
        pos: r.pos,
    };
    let mut done = 0;
    while done < rounds && rd.left() >= ROUND_BYTES {
        let i0 = done * STATES;
        let c: &[u8; STATES] = match PLANE {
            true => ctx[i0..i0 + STATES].try_into().unwrap(),
            false => &[0; STATES],
        };
        let dst: &mut [u8; STATES] = (&mut out[i0..i0 + STATES]).try_into().unwrap();
        each_vec!(up g {
            let base = match PLANE {
                true => lanes4!(|l| bases[usize::from(c[4 * g + l])]),
                false => [bases[0]; 4],
            };
            let (xn, hi) = dec_step(&k, dec, xs[g], base);
            xs[g] = renorm(&k, &mut rd, xn);
            store_syms(hi, g, dst);
        });
        done += 1;
    }
    r.pos = rd.pos;
    store_states(&xs, x);
    done * STATES
}

/// Lane numbers: `4g .. 4g + 4` in vector `g`.
#[inline]
#[target_feature(enable = "neon")]
fn lane_ids() -> [uint32x4_t; VECS] {
    const IDS: [u32; STATES] = {
        let mut a = [0; STATES];
        let mut i = 0;
        while i < STATES {
            a[i] = i as u32;
            i += 1;
        }
        a
    };
    // SAFETY: reads 16 bytes at `4 * g` of a 32 x u32 array, `g < 8`.
    let ld = |g: usize| unsafe { vld1q_u32(IDS.as_ptr().add(4 * g)) };
    [ld(0), ld(1), ld(2), ld(3), ld(4), ld(5), ld(6), ld(7)]
}

/// Decodes order-1 rounds while a round of words is surely there; returns
/// how many rounds were decoded.
#[target_feature(enable = "neon")]
fn o1_rounds(r: &mut Reader<'_>, t: &RansTables, x: &mut [u32; STATES], out: &mut [u8]) -> usize {
    let n = out.len();
    let q = order1_segment_len(n);
    if q == 0 || r.left() < ROUND_BYTES {
        return 0;
    }
    let dec = t.dec_entries();
    let bases = t.dec_bases();
    let k = consts(t);
    let ids = lane_ids();
    let mut xs = load_states(x);
    let mut rd = Reader {
        data: r.data,
        pos: r.pos,
    };
    // Table offsets under the previous round's symbols: the contexts of
    // this round (context 0 in round 0).
    let mut base = [[bases[0]; 4]; VECS];
    let mut round = 0;
    let mut tmp: packed::O1Block = [[0; STATES]; packed::O1_BLOCK];
    let mut rows = 0;
    while round < q && rd.left() >= ROUND_BYTES {
        let act = vdupq_n_u32(packed::o1_active(n, q, round) as u32);
        each_vec!(up g {
            let (xn, hi) = dec_step(&k, dec, xs[g], base[g]);
            let live = vcltq_u32(ids[g], act);
            // Idle lanes keep their state, which is >= L, so `renorm` leaves
            // them alone and takes no word for them.
            xs[g] = renorm(&k, &mut rd, vbslq_u32(live, xn, xs[g]));
            store_syms(hi, g, &mut tmp[rows]);
            // Symbols are bytes, `bases` has 256 entries.
            let h = lanes(hi);
            base[g] = lanes4!(|l| bases[(h[l] >> 16) as usize & 0xFF]);
        });
        rows += 1;
        round += 1;
        if rows == packed::O1_BLOCK {
            packed::o1_scatter(&tmp, q, round - rows, rows, out);
            rows = 0;
        }
    }
    packed::o1_scatter(&tmp, q, round - rows, rows, out);
    r.pos = rd.pos;
    store_states(&xs, x);
    round
}

#[target_feature(enable = "neon")]
fn encode_neon(
    data: &[u8],
    ctx: Ctx<'_>,
    t: &RansTables,
    out: &mut Vec<u8>,
) -> Result<(), RansError> {
    packed::encode_with(
        data,
        ctx,
        t,
        out,
        |c, rounds, x, w| rr_encode(data, c, t, rounds, x, w),
        |x, w| o1_encode(data, t, x, w),
    )
}

/// Encoder entries of 4 lanes, as (rcp, bias, xm1, cmpl | shift << 16).
#[inline]
#[target_feature(enable = "neon")]
fn enc_load(enc: &[EncSym], idx: [usize; 4]) -> [uint32x4_t; 4] {
    debug_assert!(idx.iter().all(|&i| i < enc.len()));
    // SAFETY: every index is `table * 256 + symbol` with `table` a table of
    // the model, so below `enc.len()`; an entry is 16 bytes (4 x u32).
    let row = |l: usize| unsafe { vld1q_u32(enc.as_ptr().add(idx[l]) as *const u32) };
    let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
    // 4x4 transpose: 32-bit then 64-bit transposes.
    let t0 = vreinterpretq_u64_u32(vtrn1q_u32(r0, r1));
    let t1 = vreinterpretq_u64_u32(vtrn2q_u32(r0, r1));
    let t2 = vreinterpretq_u64_u32(vtrn1q_u32(r2, r3));
    let t3 = vreinterpretq_u64_u32(vtrn2q_u32(r2, r3));
    [
        vreinterpretq_u32_u64(vtrn1q_u64(t0, t2)),
        vreinterpretq_u32_u64(vtrn1q_u64(t1, t3)),
        vreinterpretq_u32_u64(vtrn2q_u64(t0, t2)),
        vreinterpretq_u32_u64(vtrn2q_u64(t1, t3)),
    ]
}

/// One encoder step of 4 states: renormalise the lanes set in `live` (into
/// `w`) and code their symbols; other lanes are unchanged. Returns the new
/// states and, per lane, all-ones where a live symbol has no frequency.
#[inline]
#[target_feature(enable = "neon")]
fn enc_step(
    x: uint32x4_t,
    e: &[uint32x4_t; 4],
    live: uint32x4_t,
    w: &mut BackWords,
) -> (uint32x4_t, uint32x4_t) {
    let [rcp, bias, xm1, cs] = *e;
    let missing = vandq_u32(vceqq_u32(xm1, vdupq_n_u32(u32::MAX)), live);
    let m = vandq_u32(vcgtq_u32(x, xm1), live);
    let mb = mask_bits(m);
    // SAFETY: `mb < 16`, the length of `COMPRESS_TOP`; a row is 8 bytes.
    let perm = unsafe { vld1_u8(COMPRESS_TOP.get_unchecked(mb).as_ptr()) };
    let v = vqtbl1_u8(vreinterpretq_u8_u32(x), perm);
    debug_assert!(w.pos >= 4 && w.pos <= w.buf.len());
    // SAFETY: `w.pos >= PAD (16) >= 4`: the buffer holds one word per
    // symbol plus the padding, and every step takes at most one word per
    // symbol, so the 4 words below `w.pos` are inside the buffer.
    unsafe { vst1_u8(w.buf.as_mut_ptr().add(w.pos - 4) as *mut u8, v) };
    w.pos -= popcount4(mb);
    let xr = vbslq_u32(m, vshrq_n_u32::<16>(x), x);
    let lo = vmull_u32(vget_low_u32(xr), vget_low_u32(rcp));
    let hi = vmull_high_u32(xr, rcp);
    let qv = vuzp2q_u32(vreinterpretq_u32_u64(lo), vreinterpretq_u32_u64(hi));
    let shift = vnegq_s32(vreinterpretq_s32_u32(vshrq_n_u32::<16>(cs)));
    let qv = vshlq_u32(qv, shift);
    let xn = vmlaq_u32(vaddq_u32(xr, bias), qv, vandq_u32(cs, vdupq_n_u32(0xFFFF)));
    (vbslq_u32(live, xn, x), missing)
}

/// Encodes the first `rounds` whole rounds of a round-robin stream, last
/// round first.
#[target_feature(enable = "neon")]
fn rr_encode(
    data: &[u8],
    ctx: Option<&[u8]>,
    t: &RansTables,
    rounds: usize,
    x: &mut [u32; STATES],
    w: &mut BackWords,
) -> Result<(), RansError> {
    match ctx {
        None => rr_encode_with::<false>(data, &[], t, rounds, x, w),
        Some(c) => rr_encode_with::<true>(data, c, t, rounds, x, w),
    }
}

/// [`rr_encode`] with contexts from `ctx` (`PLANE`) or context 0.
#[target_feature(enable = "neon")]
fn rr_encode_with<const PLANE: bool>(
    data: &[u8],
    ctx: &[u8],
    t: &RansTables,
    rounds: usize,
    x: &mut [u32; STATES],
    w: &mut BackWords,
) -> Result<(), RansError> {
    if rounds == 0 {
        return Ok(());
    }
    let enc = t.enc_entries();
    let bases = t.enc_bases();
    let all = vdupq_n_u32(u32::MAX);
    let mut bad = vdupq_n_u32(0);
    let mut xs = load_states(x);
    for k in (0..rounds).rev() {
        let i0 = k * STATES;
        let d: &[u8; STATES] = data[i0..i0 + STATES].try_into().unwrap();
        let c: &[u8; STATES] = match PLANE {
            true => ctx[i0..i0 + STATES].try_into().unwrap(),
            false => &[0; STATES],
        };
        each_vec!(down g {
            let idx: [usize; 4] = match PLANE {
                true => lanes4!(|l| {
                    bases[usize::from(c[4 * g + l])] as usize + usize::from(d[4 * g + l])
                }),
                false => lanes4!(|l| bases[0] as usize + usize::from(d[4 * g + l])),
            };
            let e = enc_load(enc, idx);
            let (xn, miss) = enc_step(xs[g], &e, all, w);
            xs[g] = xn;
            bad = vorrq_u32(bad, miss);
        });
    }
    if vmaxvq_u32(bad) != 0 {
        return Err(RansError::SymbolNotInTable);
    }
    store_states(&xs, x);
    Ok(())
}

#[target_feature(enable = "neon")]
fn o1_encode(
    data: &[u8],
    t: &RansTables,
    x: &mut [u32; STATES],
    w: &mut BackWords,
) -> Result<(), RansError> {
    let n = data.len();
    let q = order1_segment_len(n);
    if q == 0 {
        return Ok(());
    }
    let enc = t.enc_entries();
    let bases = t.enc_bases();
    let ids = lane_ids();
    let mut bad = vdupq_n_u32(0);
    let mut xs = load_states(x);
    let (mut sym, mut ctx) = (
        [[0; STATES]; packed::O1_BLOCK],
        [[0; STATES]; packed::O1_BLOCK],
    );
    let mut end = q;
    while end > 0 {
        let r0 = end.saturating_sub(packed::O1_BLOCK);
        packed::o1_gather(data, q, r0, end - r0, &mut sym, &mut ctx);
        for round in (r0..end).rev() {
            let act = vdupq_n_u32(packed::o1_active(n, q, round) as u32);
            let (s, c) = (&sym[round - r0], &ctx[round - r0]);
            each_vec!(down g {
                // Idle lanes read entry `bases[0] + 0`, valid and masked off.
                let idx: [usize; 4] = lanes4!(|l| {
                    bases[usize::from(c[4 * g + l])] as usize + usize::from(s[4 * g + l])
                });
                let e = enc_load(enc, idx);
                let live = vcltq_u32(ids[g], act);
                let (xn, miss) = enc_step(xs[g], &e, live, w);
                xs[g] = xn;
                bad = vorrq_u32(bad, miss);
            });
        }
        end = r0;
    }
    if vmaxvq_u32(bad) != 0 {
        return Err(RansError::SymbolNotInTable);
    }
    store_states(&xs, x);
    Ok(())
}
