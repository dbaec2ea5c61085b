//! AVX-512 (F + BW + VL) rANS encoder for round-robin streams (order-0
//! and `Ctx::Plane`): the 32 states as two vectors of 16 lanes; order-1
//! streams go to the AVX2 encoder.
//!
//! The step is the AVX2 kernel's ([`super::avx2`]) on 16 lanes: entries
//! loaded as 16 x 16 bytes and transposed, renormalising lanes' words
//! packed with `vpcompressd` and rotated to the top of the 16 words stored
//! below the write position. On the Zen 5 host (2026-11-29) it encodes
//! order-0 streams 1.4x as fast as AVX2 (3.2-3.4 against 2.4 GiB/s) and
//! streams under a context plane 1.2x (1.97 against 1.6), once each lane's
//! entry index is kept in scalar code (see `encode_rr`); gathering the
//! entries (four `vpgatherdd` of one field each) instead of loading them
//! ran at 40% of the loads (docs/KERNELS.md, "An AVX-512 order-0 encoder
//! again", "Context streams in the AVX-512 encoder").
//!
//! This file is separate from the decoder's (`avx512.rs`) on purpose: in
//! the same file the decoder's pair loop was compiled about 10% slower.

use core::arch::x86_64::*;

use super::packed::{self, BackWords, EncSym};
use super::{Ctx, RansError, RansTables, STATES};

/// See [`super::scalar::encode`].
pub(crate) fn encode(
    data: &[u8],
    ctx: Ctx<'_>,
    t: &RansTables,
    out: &mut Vec<u8>,
) -> Result<(), RansError> {
    match ctx {
        Ctx::Order0 | Ctx::Plane(_) => {
            // SAFETY: this function is only placed in the AVX-512 dispatch
            // table, which `Kernels::for_isa` builds only after
            // `dispatch::supported` confirmed AVX2, POPCNT and AVX-512 F, BW
            // and VL at run time.
            unsafe { encode_rr(data, ctx, t, out) }
        }
        Ctx::Order1 => super::avx2::encode(data, ctx, t, out),
    }
}

#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
fn encode_rr(
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
        |c, rounds, x, w| match c {
            None => {
                let base = t.enc_bases()[0];
                rr_encode(data, t, rounds, x, w, |_, d| base + u32::from(d))
            }
            Some(c) => {
                let bases = t.enc_bases();
                rr_encode(data, t, rounds, x, w, |i, d| {
                    let mut b = bases[usize::from(c[i])];
                    // Keeps the 16 lanes' offsets scalar: vectorised, they
                    // were gathered and extracted lane by lane again
                    // (1.06 GiB/s against 1.6 for the AVX2 encoder).
                    // SAFETY: an empty instruction template.
                    unsafe {
                        core::arch::asm!("/* {0:e} */", inout(reg) b, options(pure, nomem, nostack))
                    };
                    b + u32::from(d)
                })
            }
        },
        |_, _| unreachable!("round-robin streams only"),
    )
}

/// Encoder entries of 16 lanes, as (rcp, bias, xm1, cmpl | shift << 16);
/// `idx(l)` is lane `l`'s entry index, `table * 256 + symbol` for a table
/// of the model whose entries `enc` are.
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
fn enc_load(enc: &[EncSym], idx: impl Fn(usize) -> u32) -> [__m512i; 4] {
    let ld = |l: usize| {
        let i = idx(l) as usize;
        debug_assert!(i < enc.len());
        // SAFETY: `i` is `table * 256 + symbol` with `table` a table of the
        // model (the callers' `entry`: `enc_bases` plus the symbol), so
        // below `enc.len()`; an entry is 16 bytes, 16-aligned.
        unsafe { _mm_load_si128(enc.as_ptr().add(i) as *const __m128i) }
    };
    // Row `k` holds entries k, k + 4, k + 8, k + 12, one per 128-bit lane.
    let row = |k: usize| {
        let v = _mm512_castsi128_si512(ld(k));
        let v = _mm512_inserti32x4::<1>(v, ld(k + 4));
        let v = _mm512_inserti32x4::<2>(v, ld(k + 8));
        _mm512_inserti32x4::<3>(v, ld(k + 12))
    };
    let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
    let t0 = _mm512_unpacklo_epi32(r0, r1);
    let t1 = _mm512_unpackhi_epi32(r0, r1);
    let t2 = _mm512_unpacklo_epi32(r2, r3);
    let t3 = _mm512_unpackhi_epi32(r2, r3);
    [
        _mm512_unpacklo_epi64(t0, t2),
        _mm512_unpackhi_epi64(t0, t2),
        _mm512_unpacklo_epi64(t1, t3),
        _mm512_unpackhi_epi64(t1, t3),
    ]
}

/// One encoder step of 16 states: renormalise every lane above its `xm1`
/// (into `w`) and code its symbol. Returns the new states and the lanes
/// whose symbol has no frequency.
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
fn enc_step(x: __m512i, e: &[__m512i; 4], w: &mut BackWords) -> (__m512i, __mmask16) {
    let [rcp, bias, xm1, cs] = *e;
    let missing = _mm512_cmpeq_epi32_mask(xm1, _mm512_set1_epi32(-1));
    let m = _mm512_cmpgt_epi32_mask(x, xm1);
    let cnt = m.count_ones() as usize;
    // The renormalising lanes' low words packed at the bottom, then
    // rotated to the top of the 16 words stored just below `w.pos`.
    let packed = _mm512_maskz_compress_epi32(m, x);
    let rot = _mm512_and_si512(
        _mm512_add_epi32(
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
            _mm512_set1_epi32(cnt as i32),
        ),
        _mm512_set1_epi32(15),
    );
    let words = _mm512_cvtepi32_epi16(_mm512_permutexvar_epi32(rot, packed));
    debug_assert!(w.pos >= 16 && w.pos <= w.buf.len());
    // SAFETY: `w.pos >= PAD (16)` (the buffer holds one word per symbol
    // plus the padding, and each step takes at most one word per symbol),
    // so the 16 words below `w.pos` are inside the buffer; those below
    // `w.pos - cnt` are rewritten by later steps or left as padding.
    unsafe { _mm256_storeu_si256(w.buf.as_mut_ptr().add(w.pos - 16) as *mut __m256i, words) };
    w.pos -= cnt;
    let xr = _mm512_mask_mov_epi32(x, m, _mm512_srli_epi32::<16>(x));
    // floor(x / f) = mulhi(x, rcp) >> shift, in even and odd lanes.
    let pe = _mm512_mul_epu32(xr, rcp);
    let po = _mm512_mul_epu32(_mm512_srli_epi64::<32>(xr), _mm512_srli_epi64::<32>(rcp));
    let qv = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64::<32>(pe), po);
    let qv = _mm512_srlv_epi32(qv, _mm512_srli_epi32::<16>(cs));
    let xn = _mm512_add_epi32(
        _mm512_add_epi32(xr, bias),
        _mm512_mullo_epi32(qv, _mm512_and_si512(cs, _mm512_set1_epi32(0xFFFF))),
    );
    (xn, missing)
}

/// Encodes the `rounds` whole rounds of a round-robin stream, last round
/// first; `entry(i, symbol)` is the index of symbol `i`'s encoder entry.
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
fn rr_encode(
    data: &[u8],
    t: &RansTables,
    rounds: usize,
    x: &mut [u32; STATES],
    w: &mut BackWords,
    entry: impl Fn(usize, u8) -> u32,
) -> Result<(), RansError> {
    let enc = t.enc_entries();
    let mut bad: __mmask16 = 0;
    // SAFETY: `x` holds 32 `u32`, two 64-byte vectors.
    let mut xs: [__m512i; 2] = std::array::from_fn(|g| unsafe {
        _mm512_loadu_si512(x.as_ptr().add(16 * g) as *const __m512i)
    });
    for k in (0..rounds).rev() {
        for g in (0..2).rev() {
            let i = k * STATES + 16 * g;
            let d = &data[i..i + 16];
            let e = enc_load(enc, |l| entry(i + l, d[l]));
            let (xn, miss) = enc_step(xs[g], &e, w);
            xs[g] = xn;
            bad |= miss;
        }
    }
    if bad != 0 {
        return Err(RansError::SymbolNotInTable);
    }
    for (g, v) in xs.iter().enumerate() {
        // SAFETY: as for the loads above.
        unsafe { _mm512_storeu_si512(x.as_mut_ptr().add(16 * g) as *mut __m512i, *v) };
    }
    Ok(())
}
