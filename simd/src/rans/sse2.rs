//! SSE2 rANS: the 32 states as eight vectors of 4 lanes, with only the
//! x86-64 baseline (no gathers, no `pshufb`, no `pmulld`, no variable
//! shifts).
//!
//! The structure is the AVX2 kernel's ([`super::avx2`]); what differs:
//!
//! * Table lookups are scalar loads of the packed entries of [`packed`]:
//!   a decode entry pair is loaded straight into a vector (`movq` +
//!   `movhpd`), an encoder entry is one 16-byte load, four of them
//!   transposed.
//! * 32-bit products use `pmuludq` on the even lanes and on the odd lanes
//!   shifted down, recombined with 64-bit shifts.
//! * Decoder renormalisation: [`REN`] gives, per lane mask, each lane's
//!   byte offset among the words of this vector (in lane order, so words
//!   are consumed in the reference order); the four words are inserted
//!   with `pinsrw` and blended in. The vector loop only runs while a whole
//!   round of words (64 bytes) is left; the rest goes through the reference
//!   step, so `Truncated` / `Corrupt` come exactly where the reference
//!   reports them and nothing is read past the stream.
//! * Encoder renormalisation stores the word of every lane at an offset
//!   below the write position from [`PUT`]: the lanes that renormalise end
//!   at the write position in lane order, the others go to a spare slot
//!   below them (overwritten later, or in the buffer's padding).
//! * The encoder's `floor(x / f) = mulhi(x, rcp) >> s` has a per-lane
//!   shift `s <= 14`; it is done as a multiplication by `2^(30 - s)` (built
//!   in the exponent of a float) followed by a fixed shift by 30.

// Loops over lanes and states index several arrays in step.
#![allow(clippy::needless_range_loop)]

use core::arch::x86_64::*;

use super::packed::{self, BackWords, EncSym, Reader};
use super::{order1_segment_len, Ctx, RansError, RansTables, RANS_L};
use super::{RansError as E, STATES};

type V = __m128i;

/// Vectors per round.
const VECS: usize = STATES / 4;

/// `REN[m][k]` (`k < 4`): for a lane `k` set in `m`, twice the number of
/// set lanes before it (its word's byte offset); 0 for other lanes.
/// `REN[m][4]`: the bytes the vector consumes.
static REN: [[u8; 8]; 16] = ren_table();

/// `PUT[m][k]` (`k < 4`): how far below the write position the encoder
/// stores lane `k`'s word: for a lane set in `m`, the number of set lanes
/// from `k` up (so the words end at the write position in lane order);
/// for other lanes one below the words (a spare slot, overwritten later).
/// `PUT[m][4]`: the words written.
static PUT: [[u8; 8]; 16] = put_table();

const fn put_table() -> [[u8; 8]; 16] {
    let mut t = [[0u8; 8]; 16];
    let mut m = 0;
    while m < 16 {
        let count = (m as u32).count_ones() as u8;
        let mut k = 0;
        while k < 4 {
            t[m][k] = if (m >> k) & 1 == 1 {
                ((m >> k) as u32).count_ones() as u8
            } else {
                count + 1
            };
            k += 1;
        }
        t[m][4] = count;
        m += 1;
    }
    t
}

const fn ren_table() -> [[u8; 8]; 16] {
    let mut t = [[0u8; 8]; 16];
    let mut m = 0;
    while m < 16 {
        let (mut k, mut c) = (0, 0);
        while k < 4 {
            if (m >> k) & 1 == 1 {
                t[m][k] = 2 * c;
                c += 1;
            }
            k += 1;
        }
        t[m][4] = 2 * c;
        m += 1;
    }
    t
}

/// See [`super::scalar::decode`].
pub(crate) fn decode(
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
        // SAFETY: SSE2 is part of the x86-64 baseline.
        |r, c, x, out| unsafe { rr_rounds(r, c, t, x, out) },
        // SAFETY: as above.
        |r, x, out| unsafe { o1_rounds(r, t, x, out) },
    )
}

/// See [`super::scalar::encode`].
pub(crate) fn encode(
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
        // SAFETY: SSE2 is part of the x86-64 baseline.
        |c, rounds, x, w| unsafe { rr_encode(data, c, t, rounds, x, w) },
        // SAFETY: as above.
        |x, w| unsafe { o1_encode(data, t, x, w) },
    )
}

/// The model constants a vector step needs.
#[derive(Clone, Copy)]
struct Consts {
    slot_mask: V,
    low16: V,
    high32: V,
    l: V,
    bits: V,
}

#[inline]
#[target_feature(enable = "sse2")]
fn consts(t: &RansTables) -> Consts {
    Consts {
        slot_mask: _mm_set1_epi32((1 << t.scale_bits()) - 1),
        low16: _mm_set1_epi32(0xFFFF),
        high32: _mm_set_epi32(-1, 0, -1, 0),
        l: _mm_set1_epi32(RANS_L as i32),
        bits: _mm_cvtsi32_si128(t.scale_bits() as i32),
    }
}

/// `if m { a } else { b }` per lane (`m` all-ones or zero per lane).
#[inline]
#[target_feature(enable = "sse2")]
fn select(m: V, a: V, b: V) -> V {
    _mm_or_si128(_mm_and_si128(m, a), _mm_andnot_si128(m, b))
}

/// The low 32 bits of `a * b` per lane.
#[inline]
#[target_feature(enable = "sse2")]
fn mullo(a: V, b: V) -> V {
    let even = _mm_mul_epu32(a, b);
    let odd = _mm_mul_epu32(_mm_srli_epi64::<32>(a), _mm_srli_epi64::<32>(b));
    _mm_or_si128(
        _mm_and_si128(even, _mm_set_epi32(0, -1, 0, -1)),
        _mm_slli_epi64::<32>(odd),
    )
}

/// One decode step of 4 states whose tables start at `base[k]`; returns
/// the new states (before renormalisation) and the symbols (one per `u32`).
#[inline]
#[target_feature(enable = "sse2")]
fn dec_step(k: &Consts, dec: &[u64], x: V, base: [u32; 4]) -> (V, V) {
    let mut slot = [0u32; 4];
    // SAFETY: `slot` is 16 bytes, the size of the store.
    unsafe { _mm_storeu_si128(slot.as_mut_ptr().cast(), _mm_and_si128(x, k.slot_mask)) };
    let idx: [usize; 4] = std::array::from_fn(|l| (base[l] + slot[l]) as usize);
    debug_assert!(idx.iter().all(|&i| i < dec.len()));
    // SAFETY: every index is `table << bits | slot` with `table` a table of
    // the model and `slot < 2^bits`, so below `dec.len()`.
    let e = |l: usize| unsafe { dec.as_ptr().add(idx[l]) };
    // SAFETY: `e(l)` points at a `u64` entry; `movq` / `movhpd` load 8 bytes.
    let (a, b) = unsafe {
        (
            _mm_castpd_si128(_mm_loadh_pd(
                _mm_castsi128_pd(_mm_loadl_epi64(e(0).cast())),
                e(2).cast(),
            )),
            _mm_castpd_si128(_mm_loadh_pd(
                _mm_castsi128_pd(_mm_loadl_epi64(e(1).cast())),
                e(3).cast(),
            )),
        )
    };
    // `a` holds the entries of lanes 0 and 2, `b` those of lanes 1 and 3:
    // `freq` in the low half of each, where `pmuludq` reads it. The products
    // are below 2^31 (see the module docs of `scalar`), so their high halves
    // are zero.
    let y = _mm_srl_epi32(x, k.bits);
    let even = _mm_mul_epu32(a, y);
    let odd = _mm_mul_epu32(b, _mm_srli_epi64::<32>(y));
    let hi = _mm_or_si128(_mm_srli_epi64::<32>(a), _mm_and_si128(b, k.high32));
    let xn = _mm_add_epi32(
        _mm_or_si128(even, _mm_slli_epi64::<32>(odd)),
        _mm_and_si128(hi, k.low16),
    );
    (xn, _mm_srli_epi32::<16>(hi))
}

/// Renormalises the lanes of `x` below `L` from the words at `r.pos`.
///
/// The caller guarantees 8 readable bytes at `r.pos`.
#[inline]
#[target_feature(enable = "sse2")]
fn renorm(k: &Consts, r: &mut Reader<'_>, x: V) -> V {
    let m = _mm_cmplt_epi32(x, k.l);
    let ren = &REN[_mm_movemask_ps(_mm_castsi128_ps(m)) as usize];
    debug_assert!(r.pos + 8 <= r.data.len());
    // SAFETY: the callers only run a vector round while at least 64 bytes
    // (8 per vector, 8 vectors) are left after `r.pos`, and every offset in
    // `REN` is at most 6.
    let word = |l: usize| unsafe {
        i32::from(
            r.data
                .as_ptr()
                .add(r.pos + usize::from(ren[l]))
                .cast::<u16>()
                .read_unaligned(),
        )
    };
    let w = _mm_cvtsi32_si128(word(0));
    let w = _mm_insert_epi16::<2>(w, word(1));
    let w = _mm_insert_epi16::<4>(w, word(2));
    let w = _mm_insert_epi16::<6>(w, word(3));
    r.pos += usize::from(ren[4]);
    select(m, _mm_or_si128(_mm_slli_epi32::<16>(x), w), x)
}

/// Packs four vectors of symbols (`u32` each, < 256) into 16 bytes in lane
/// order.
#[inline]
#[target_feature(enable = "sse2")]
fn pack_syms(s: &[V]) -> V {
    _mm_packus_epi16(_mm_packs_epi32(s[0], s[1]), _mm_packs_epi32(s[2], s[3]))
}

#[inline]
#[target_feature(enable = "sse2")]
fn load_states(x: &[u32; STATES]) -> [V; VECS] {
    // SAFETY: `x` holds 32 `u32`, eight 16-byte vectors.
    std::array::from_fn(|g| unsafe { _mm_loadu_si128(x.as_ptr().add(4 * g).cast()) })
}

#[inline]
#[target_feature(enable = "sse2")]
fn store_states(xs: &[V; VECS], x: &mut [u32; STATES]) {
    for (g, v) in xs.iter().enumerate() {
        // SAFETY: as in `load_states`.
        unsafe { _mm_storeu_si128(x.as_mut_ptr().add(4 * g).cast(), *v) };
    }
}

/// Stores 32 symbols (eight vectors of `u32`) to `dst` in lane order.
#[inline]
#[target_feature(enable = "sse2")]
fn store_syms(syms: &[V; VECS], dst: &mut [u8; STATES]) {
    // SAFETY: `dst` is 32 bytes, two 16-byte stores.
    unsafe {
        _mm_storeu_si128(dst.as_mut_ptr().cast(), pack_syms(&syms[..4]));
        _mm_storeu_si128(dst.as_mut_ptr().add(16).cast(), pack_syms(&syms[4..]));
    }
}

/// Decodes whole rounds of a round-robin stream while a round of words is
/// surely there; returns how many symbols were decoded.
#[target_feature(enable = "sse2")]
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

#[inline]
#[target_feature(enable = "sse2")]
fn rr_rounds_with<const PLANE: bool>(
    r: &mut Reader<'_>,
    ctx: &[u8],
    t: &RansTables,
    x: &mut [u32; STATES],
    out: &mut [u8],
) -> usize {
    let rounds = out.len() / STATES;
    if rounds == 0 || r.left() < 64 {
        return 0;
    }
    let dec = t.dec_entries();
    let bases = t.dec_bases();
    let k = consts(t);
    let mut xs = load_states(x);
    let mut done = 0;
    while done < rounds && r.left() >= 64 {
        let i0 = done * STATES;
        let mut syms = [_mm_setzero_si128(); VECS];
        for g in 0..VECS {
            let base: [u32; 4] = if PLANE {
                let c = &ctx[i0 + 4 * g..i0 + 4 * g + 4];
                std::array::from_fn(|l| bases[usize::from(c[l])])
            } else {
                [bases[0]; 4]
            };
            let (xn, s) = dec_step(&k, dec, xs[g], base);
            xs[g] = renorm(&k, r, xn);
            syms[g] = s;
        }
        let dst: &mut [u8; STATES] = (&mut out[i0..i0 + STATES]).try_into().unwrap();
        store_syms(&syms, dst);
        done += 1;
    }
    store_states(&xs, x);
    done * STATES
}

/// Decodes order-1 rounds while a round of words is surely there; returns
/// how many rounds were decoded.
#[target_feature(enable = "sse2")]
fn o1_rounds(r: &mut Reader<'_>, t: &RansTables, x: &mut [u32; STATES], out: &mut [u8]) -> usize {
    let n = out.len();
    let q = order1_segment_len(n);
    if q == 0 || r.left() < 64 {
        return 0;
    }
    let dec = t.dec_entries();
    let bases = t.dec_bases();
    let k = consts(t);
    let lane = _mm_setr_epi32(0, 1, 2, 3);
    let mut xs = load_states(x);
    let mut prev = [0u8; STATES];
    let mut round = 0;
    let mut tmp: packed::O1Block = [[0; STATES]; packed::O1_BLOCK];
    let mut rows = 0;
    while round < q && r.left() >= 64 {
        let act = packed::o1_active(n, q, round);
        let actv = _mm_set1_epi32(act as i32);
        let mut syms = [_mm_setzero_si128(); VECS];
        for g in 0..VECS {
            let base: [u32; 4] = std::array::from_fn(|l| bases[usize::from(prev[4 * g + l])]);
            let (xn, s) = dec_step(&k, dec, xs[g], base);
            let live = _mm_cmpgt_epi32(actv, _mm_add_epi32(lane, _mm_set1_epi32(4 * g as i32)));
            // Idle lanes keep their state, which is >= L, so `renorm` leaves
            // them alone and takes no word for them.
            xs[g] = renorm(&k, r, select(live, xn, xs[g]));
            syms[g] = s;
        }
        store_syms(&syms, &mut prev);
        tmp[rows] = prev;
        rows += 1;
        round += 1;
        if rows == packed::O1_BLOCK {
            packed::o1_scatter(&tmp, q, round - rows, rows, out);
            rows = 0;
        }
    }
    packed::o1_scatter(&tmp, q, round - rows, rows, out);
    store_states(&xs, x);
    round
}

/// Encoder entries of 4 lanes, as (rcp, bias, xm1, cmpl | shift << 16).
#[inline]
#[target_feature(enable = "sse2")]
fn enc_load(enc: &[EncSym], idx: &[usize; 4]) -> [V; 4] {
    debug_assert!(idx.iter().all(|&i| i < enc.len()));
    // SAFETY: every index is `table * 256 + symbol` with `table` a table of
    // the model, so below `enc.len()`; an entry is 16 bytes, 16-aligned.
    let ld = |i: usize| unsafe { _mm_load_si128(enc.as_ptr().add(i).cast()) };
    let (r0, r1, r2, r3) = (ld(idx[0]), ld(idx[1]), ld(idx[2]), ld(idx[3]));
    let t0 = _mm_unpacklo_epi32(r0, r1);
    let t1 = _mm_unpackhi_epi32(r0, r1);
    let t2 = _mm_unpacklo_epi32(r2, r3);
    let t3 = _mm_unpackhi_epi32(r2, r3);
    [
        _mm_unpacklo_epi64(t0, t2),
        _mm_unpackhi_epi64(t0, t2),
        _mm_unpacklo_epi64(t1, t3),
        _mm_unpackhi_epi64(t1, t3),
    ]
}

/// One encoder step of 4 states: renormalise the lanes set in `live` (into
/// `w`) and code their symbols; other lanes are unchanged. Returns the new
/// states and, per lane, all-ones where a live symbol has no frequency.
#[inline]
#[target_feature(enable = "sse2")]
fn enc_step(x: V, e: &[V; 4], live: V, w: &mut BackWords) -> (V, V) {
    let [rcp, bias, xm1, cs] = *e;
    let missing = _mm_and_si128(_mm_cmpeq_epi32(xm1, _mm_set1_epi32(-1)), live);
    let m = _mm_and_si128(_mm_cmpgt_epi32(x, xm1), live);
    let mb = _mm_movemask_ps(_mm_castsi128_ps(m)) as usize;
    let mut xa = [0u32; 4];
    // SAFETY: `xa` is 16 bytes, the size of the store.
    unsafe { _mm_storeu_si128(xa.as_mut_ptr().cast(), x) };
    let put = &PUT[mb];
    let buf = w.buf.as_mut_ptr();
    debug_assert!(w.pos >= 5 && w.pos <= w.buf.len());
    for l in 0..4 {
        // SAFETY: `w.pos >= PAD (16) > 5 >= put[l]`: the buffer holds one
        // word per symbol plus the padding and every step takes at most one
        // word per symbol, so the slot is inside the buffer.
        unsafe { *buf.add(w.pos - usize::from(put[l])) = xa[l] as u16 };
    }
    w.pos -= usize::from(put[4]);
    let xr = select(m, _mm_srli_epi32::<16>(x), x);
    (select(live, code(xr, rcp, bias, cs), x), missing)
}

/// The coding step proper on renormalised states `xr`: `xr + bias +
/// floor(xr / f) * (M - f)`, which is the reference's `((xr / f) << bits) +
/// xr % f + cum`.
#[inline]
#[target_feature(enable = "sse2")]
fn code(xr: V, rcp: V, bias: V, cs: V) -> V {
    // floor(xr / f) = (xr * rcp) >> (32 + s): the high half of the 64-bit
    // product (below 2^31), times 2^(30 - s), shifted right by 30. The
    // power of two is the float with exponent 30 - s (s <= 14, so it
    // converts to an integer exactly).
    let pow = _mm_cvttps_epi32(_mm_castsi128_ps(_mm_sub_epi32(
        _mm_set1_epi32(157 << 23),
        _mm_slli_epi32::<23>(_mm_srli_epi32::<16>(cs)),
    )));
    let hi_even = _mm_srli_epi64::<32>(_mm_mul_epu32(xr, rcp));
    let hi_odd = _mm_srli_epi64::<32>(_mm_mul_epu32(
        _mm_srli_epi64::<32>(xr),
        _mm_srli_epi64::<32>(rcp),
    ));
    let q_even = _mm_srli_epi64::<30>(_mm_mul_epu32(hi_even, pow));
    // The odd quotients land in the high halves after a shift left by 2.
    let q_odd = _mm_slli_epi64::<2>(_mm_mul_epu32(hi_odd, _mm_srli_epi64::<32>(pow)));
    let q = _mm_or_si128(q_even, _mm_and_si128(q_odd, _mm_set_epi32(-1, 0, -1, 0)));
    _mm_add_epi32(
        _mm_add_epi32(xr, bias),
        mullo(q, _mm_and_si128(cs, _mm_set1_epi32(0xFFFF))),
    )
}

#[target_feature(enable = "sse2")]
fn rr_encode(
    data: &[u8],
    ctx: Option<&[u8]>,
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
    let all = _mm_set1_epi32(-1);
    let mut bad = _mm_setzero_si128();
    let mut xs = load_states(x);
    for k in (0..rounds).rev() {
        for g in (0..VECS).rev() {
            let i = k * STATES + 4 * g;
            let d = &data[i..i + 4];
            let idx: [usize; 4] = match ctx {
                None => std::array::from_fn(|l| bases[0] as usize + usize::from(d[l])),
                Some(c) => {
                    let c = &c[i..i + 4];
                    std::array::from_fn(|l| bases[usize::from(c[l])] as usize + usize::from(d[l]))
                }
            };
            let e = enc_load(enc, &idx);
            let (xn, miss) = enc_step(xs[g], &e, all, w);
            xs[g] = xn;
            bad = _mm_or_si128(bad, miss);
        }
    }
    if _mm_movemask_epi8(bad) != 0 {
        return Err(E::SymbolNotInTable);
    }
    store_states(&xs, x);
    Ok(())
}

#[target_feature(enable = "sse2")]
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
    let lane = _mm_setr_epi32(0, 1, 2, 3);
    let mut bad = _mm_setzero_si128();
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
            let act = packed::o1_active(n, q, round);
            let actv = _mm_set1_epi32(act as i32);
            let (s, c) = (&sym[round - r0], &ctx[round - r0]);
            for g in (0..VECS).rev() {
                // Idle lanes read entry `bases[0] + 0`, valid and masked off.
                let idx: [usize; 4] = std::array::from_fn(|l| {
                    bases[usize::from(c[4 * g + l])] as usize + usize::from(s[4 * g + l])
                });
                let e = enc_load(enc, &idx);
                let live = _mm_cmpgt_epi32(actv, _mm_add_epi32(lane, _mm_set1_epi32(4 * g as i32)));
                let (xn, miss) = enc_step(xs[g], &e, live, w);
                xs[g] = xn;
                bad = _mm_or_si128(bad, miss);
            }
        }
        end = r0;
    }
    if _mm_movemask_epi8(bad) != 0 {
        return Err(E::SymbolNotInTable);
    }
    store_states(&xs, x);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector coding step (the `pmuludq` quotient with its per-lane
    /// shift done as a multiplication) equals the reference arithmetic for
    /// every frequency at several scales, on the edges of the state range
    /// (the encoder codes states in `1 ..= xm1`), with a different
    /// frequency in every lane.
    #[test]
    fn code_step_is_exact_for_every_frequency() {
        for bits in [1u32, 2, 7, 10, 12, 14, 15] {
            let m = 1u32 << bits;
            let mut rng = 0x2545_F491_4F6C_DD1Du64;
            let mut next = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            let fs: Vec<u32> = (1..=m).collect();
            for chunk in fs.chunks(4) {
                let f: [u32; 4] = std::array::from_fn(|l| chunk[l % chunk.len()]);
                let e: [EncSym; 4] = std::array::from_fn(|l| {
                    packed::enc_sym(f[l], m - f[l] - (next() as u32 % (m - f[l] + 1)), bits)
                });
                for pick in 0..12 {
                    let x: [u32; 4] = std::array::from_fn(|l| {
                        let xm1 = e[l].xm1;
                        let c = [
                            1,
                            2,
                            f[l] - 1,
                            f[l],
                            f[l] + 1,
                            2 * f[l] - 1,
                            xm1 / 2,
                            xm1 - 1,
                        ];
                        match pick {
                            0..=7 => c[pick].clamp(1, xm1),
                            8 => xm1,
                            _ => 1 + (next() as u32 % xm1),
                        }
                    });
                    // SAFETY: SSE2 is part of the x86-64 baseline; the
                    // loads read 16-byte arrays.
                    let got = unsafe {
                        let v = |a: [u32; 4]| _mm_loadu_si128(a.as_ptr().cast());
                        let lanes = |g: fn(&EncSym) -> u32| v(std::array::from_fn(|l| g(&e[l])));
                        code(
                            v(x),
                            lanes(|e| e.rcp),
                            lanes(|e| e.bias),
                            lanes(|e| e.cmpl_shift),
                        )
                    };
                    let mut g = [0u32; 4];
                    // SAFETY: `g` is 16 bytes.
                    unsafe { _mm_storeu_si128(g.as_mut_ptr().cast(), got) };
                    for l in 0..4 {
                        let start = e[l].bias - if f[l] == 1 { m - 1 } else { 0 };
                        let want = ((x[l] / f[l]) << bits) + x[l] % f[l] + start;
                        assert_eq!(g[l], want, "bits {bits} f {} x {}", f[l], x[l]);
                    }
                }
            }
        }
    }
}
