//! AVX2 rANS: the 32 states as four vectors of 8 lanes.
//!
//! Decoding a round (one symbol per state) runs the four vectors in state
//! order, so renormalisation words are consumed in exactly the reference's
//! order: each vector takes its `popcount(mask)` words from the stream and
//! spreads them to the lanes that need one with a `vpermd` from [`EXPAND`].
//! The vector loop only runs while a whole round of words (64 bytes) is
//! left; the rest of the stream goes through the reference step
//! ([`packed::Reader::step`]), so truncation is reported exactly where the
//! reference reports it and nothing is ever read past the stream.
//!
//! Decode lookups use the packed `u64` entries of [`packed`]: two 8-lane
//! `vpgatherdd` of their halves per vector, or eight scalar loads
//! ([`LOOKUP_GATHER`] picks; see `docs/KERNELS.md` for the measurement that
//! decided it); a round-robin model with `scale_bits <= 12` uses the narrow
//! `u32` entries instead, one `vpgatherdd` per vector.
//!
//! A pair decode ([`decode_pair`]) runs the round loops of two streams in
//! one loop, the second one round behind the first; with
//! [`SecondCtx::First`] the first stream's entries are the tagged ones
//! ([`RansTables::dec_entries_tagged`]) and the second stream's table
//! offsets are `tag << bits` of the first stream's lanes of that round.
//! Order-1 decoding tags a model's entries with its own context map the
//! same way, so each round's offsets come from the previous round's lanes.
//!
//! Encoding walks the rounds backwards, vectors 3..0, and writes the words
//! of each vector below the previous ones: [`COMPRESS_TOP`] moves the lanes
//! that renormalise to the top of the vector, in lane order, and the whole
//! 16-byte vector is stored so that it ends at the write position (the
//! bytes below are overwritten later or lie in the buffer's padding).
//! Encoder entries are four 16-byte loads per 4 lanes and a 4x4 transpose.

// Loops over lanes and states index several arrays in step.
#![allow(clippy::needless_range_loop)]

use core::arch::x86_64::*;

use super::packed::{self, BackWords, EncSym, Reader, Side};
use super::{
    order1_segment_len, Ctx, FirstStream, RansError, RansTables, SecondCtx, SecondStream, RANS_L,
};
use super::{RansError as E, STATES};

/// Whether decode lookups use `vpgatherdq` (true) or scalar loads.
const LOOKUP_GATHER: bool = true;

/// `EXPAND[m][k]`: for a lane `k` set in `m`, how many set lanes precede it.
static EXPAND: [[u32; 8]; 256] = expand_table();
/// `COMPRESS_TOP[m]`: the set lanes of `m` in order, at positions
/// `8 - popcount(m) .. 8`.
static COMPRESS_TOP: [[u32; 8]; 256] = compress_top_table();

const fn expand_table() -> [[u32; 8]; 256] {
    let mut t = [[0u32; 8]; 256];
    let mut m = 0;
    while m < 256 {
        let (mut k, mut c) = (0, 0);
        while k < 8 {
            if (m >> k) & 1 == 1 {
                t[m][k] = c;
                c += 1;
            }
            k += 1;
        }
        m += 1;
    }
    t
}

const fn compress_top_table() -> [[u32; 8]; 256] {
    let mut t = [[0u32; 8]; 256];
    let mut m = 0usize;
    while m < 256 {
        let mut pos = 8 - m.count_ones() as usize;
        let mut k = 0;
        while k < 8 {
            if (m >> k) & 1 == 1 {
                t[m][pos] = k as u32;
                pos += 1;
            }
            k += 1;
        }
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
    // SAFETY: this function is only placed in the dispatch tables of the
    // AVX2 and AVX-512 levels, which `Kernels::for_isa` builds only after
    // `dispatch::supported` confirmed AVX2 and POPCNT at run time.
    unsafe { decode_avx2(stream, ctx, t, out) }
}

/// See [`super::scalar::encode`].
pub(crate) fn encode(
    data: &[u8],
    ctx: Ctx<'_>,
    t: &RansTables,
    out: &mut Vec<u8>,
) -> Result<(), RansError> {
    // SAFETY: as in `decode`: reachable only through an AVX2-checked table.
    unsafe { encode_avx2(data, ctx, t, out) }
}

#[target_feature(enable = "avx2,popcnt")]
fn decode_avx2(
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

/// Loads the packed decode entries at `idx`: (`freq`, `bias | sym << 16 |
/// tag << 24`).
#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn lookup(dec: &[u64], idx: __m256i) -> (__m256i, __m256i) {
    if LOOKUP_GATHER {
        // Two 8-lane `vpgatherdd` of the entries' halves: the fields come
        // out in lane order (two 4-lane `vpgatherdq` need an index permute
        // and two `shufps` to get there, all on the shuffle port; measured
        // 3-6% slower, docs/KERNELS.md).
        // SAFETY: every index is `table << bits | slot` with `table` a
        // table of the model and `slot < 2^bits`, so below `dec.len()`; an
        // entry is the two `u32` at byte offsets `8 * idx` and `8 * idx + 4`.
        unsafe {
            let p = dec.as_ptr() as *const i32;
            (
                _mm256_i32gather_epi32::<8>(p, idx),
                _mm256_i32gather_epi32::<8>(p.add(1), idx),
            )
        }
    } else {
        let mut ix = [0u32; 8];
        // SAFETY: `ix` is 32 bytes, the size of the store.
        unsafe { _mm256_storeu_si256(ix.as_mut_ptr() as *mut __m256i, idx) };
        // SAFETY: every index is below `dec.len()` (see the gather above).
        let e = |k: usize| unsafe { *dec.get_unchecked(ix[k] as usize) };
        let f = |k: usize| e(k) as u32 as i32;
        let h = |k: usize| (e(k) >> 32) as u32 as i32;
        (
            _mm256_setr_epi32(f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7)),
            _mm256_setr_epi32(h(0), h(1), h(2), h(3), h(4), h(5), h(6), h(7)),
        )
    }
}

/// The model constants one vector step needs.
#[derive(Clone, Copy)]
struct Consts {
    slot_mask: __m256i,
    low16: __m256i,
    l: __m256i,
    bits: __m128i,
}

#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn consts(t: &RansTables) -> Consts {
    Consts {
        slot_mask: _mm256_set1_epi32((1 << t.scale_bits()) - 1),
        low16: _mm256_set1_epi32(0xFFFF),
        l: _mm256_set1_epi32(RANS_L as i32),
        bits: _mm_cvtsi32_si128(t.scale_bits() as i32),
    }
}

/// One decode step of 8 states whose tables start at `base`; returns the
/// new states (before renormalisation) and the upper halves of the
/// entries, `bias | sym << 16 | tag << 24`.
#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn dec_step_hi(k: &Consts, dec: &[u64], x: __m256i, base: __m256i) -> (__m256i, __m256i) {
    let idx = _mm256_add_epi32(_mm256_and_si256(x, k.slot_mask), base);
    let (f, hi) = lookup(dec, idx);
    let xn = _mm256_add_epi32(
        _mm256_mullo_epi32(f, _mm256_srl_epi32(x, k.bits)),
        _mm256_and_si256(hi, k.low16),
    );
    (xn, hi)
}

/// [`dec_step_hi`] on narrow entries ([`packed::dec_entry_narrow`]):
/// returns the new states and the entries (symbol in byte 3).
#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn dec_step_narrow(k: &Consts, dec: &[u32], x: __m256i, base: __m256i) -> (__m256i, __m256i) {
    let idx = _mm256_add_epi32(_mm256_and_si256(x, k.slot_mask), base);
    // SAFETY: every index is `table << bits | slot` with `table` a table of
    // the model and `slot < 2^bits`, so below `dec.len()`.
    let e = unsafe { _mm256_i32gather_epi32::<4>(dec.as_ptr() as *const i32, idx) };
    let low12 = _mm256_set1_epi32(0xFFF);
    let xs = _mm256_srl_epi32(x, k.bits);
    let f1 = _mm256_and_si256(e, low12);
    let bias = _mm256_and_si256(_mm256_srli_epi32::<12>(e), low12);
    let xn = _mm256_add_epi32(_mm256_add_epi32(_mm256_mullo_epi32(f1, xs), xs), bias);
    (xn, e)
}

/// A stream's decode entries: wide (`u64`) always, narrow (`u32`) where the
/// model's scale allows ([`RansTables::dec_entries_narrow`]).
#[derive(Clone, Copy)]
struct Entries<'a> {
    wide: &'a [u64],
    narrow: &'a [u32],
}

impl Entries<'_> {
    /// [`dec_step_narrow`] when `NARROW`, else [`dec_step_hi`]; the symbol
    /// is byte [`sym_byte`] of the second output.
    #[inline]
    #[target_feature(enable = "avx2,popcnt")]
    fn step<const NARROW: bool>(
        &self,
        k: &Consts,
        x: __m256i,
        base: __m256i,
    ) -> (__m256i, __m256i) {
        if NARROW {
            dec_step_narrow(k, self.narrow, x, base)
        } else {
            dec_step_hi(k, self.wide, x, base)
        }
    }
}

/// The byte of a step's second output that holds the symbol.
const fn sym_byte(narrow: bool) -> i8 {
    if narrow {
        3
    } else {
        2
    }
}

/// Renormalises the lanes of `x` below `L` from the words at `r.pos`.
///
/// The caller guarantees 16 readable bytes at `r.pos`.
#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn renorm(k: &Consts, r: &mut Reader<'_>, x: __m256i) -> __m256i {
    let m = _mm256_cmpgt_epi32(k.l, x);
    let mb = _mm256_movemask_ps(_mm256_castsi256_ps(m)) as usize;
    debug_assert!(r.pos + 16 <= r.data.len());
    // SAFETY: the callers only run a vector round while at least 64 bytes
    // (16 per vector, 4 vectors) are left after `r.pos`.
    let w = unsafe { _mm_loadu_si128(r.data.as_ptr().add(r.pos) as *const __m128i) };
    // SAFETY: `mb < 256`, the length of `EXPAND`; each row is 32 bytes.
    let perm = unsafe { _mm256_loadu_si256(EXPAND.get_unchecked(mb).as_ptr() as *const __m256i) };
    let w = _mm256_permutevar8x32_epi32(_mm256_cvtepu16_epi32(w), perm);
    r.pos += 2 * mb.count_ones() as usize;
    _mm256_blendv_epi8(x, _mm256_or_si256(_mm256_slli_epi32::<16>(x), w), m)
}

/// Packs byte `byte` of every `u32` of four vectors (the symbols of
/// [`Entries::step`]) into 32 bytes in lane order.
#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn pack_hi(h: &[__m256i; 4], byte: i8) -> __m256i {
    // Vector `g` puts its four symbols of each 128-bit half at bytes
    // `4g .. 4g + 4` of that half.
    let pick = |g: i8| {
        let b = |k: i8| if k / 4 == g { 4 * (k % 4) + byte } else { -1 };
        _mm256_setr_epi8(
            b(0),
            b(1),
            b(2),
            b(3),
            b(4),
            b(5),
            b(6),
            b(7),
            b(8),
            b(9),
            b(10),
            b(11),
            b(12),
            b(13),
            b(14),
            b(15),
            b(0),
            b(1),
            b(2),
            b(3),
            b(4),
            b(5),
            b(6),
            b(7),
            b(8),
            b(9),
            b(10),
            b(11),
            b(12),
            b(13),
            b(14),
            b(15),
        )
    };
    let v = _mm256_or_si256(
        _mm256_or_si256(
            _mm256_shuffle_epi8(h[0], pick(0)),
            _mm256_shuffle_epi8(h[1], pick(1)),
        ),
        _mm256_or_si256(
            _mm256_shuffle_epi8(h[2], pick(2)),
            _mm256_shuffle_epi8(h[3], pick(3)),
        ),
    );
    _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn load_states(x: &[u32; STATES]) -> [__m256i; 4] {
    // SAFETY: `x` holds 32 `u32`, four 32-byte vectors.
    std::array::from_fn(|g| unsafe { _mm256_loadu_si256(x.as_ptr().add(8 * g) as *const __m256i) })
}

#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn store_states(xs: &[__m256i; 4], x: &mut [u32; STATES]) {
    for (g, v) in xs.iter().enumerate() {
        // SAFETY: as in `load_states`.
        unsafe { _mm256_storeu_si256(x.as_mut_ptr().add(8 * g) as *mut __m256i, *v) };
    }
}

/// Decodes whole rounds of a round-robin stream while a round of words is
/// surely there; returns how many symbols were decoded.
#[target_feature(enable = "avx2,popcnt")]
fn rr_rounds(
    r: &mut Reader<'_>,
    ctx: Option<&[u8]>,
    t: &RansTables,
    x: &mut [u32; STATES],
    out: &mut [u8],
) -> usize {
    let m = Model::new(t, ctx, t.dec_entries_unless_narrow());
    if m.narrow() {
        rr_rounds_with::<true>(r, &m, x, out)
    } else {
        rr_rounds_with::<false>(r, &m, x, out)
    }
}

/// [`rr_rounds`] with wide or narrow entries.
#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn rr_rounds_with<const NARROW: bool>(
    r: &mut Reader<'_>,
    m: &Model<'_>,
    x: &mut [u32; STATES],
    out: &mut [u8],
) -> usize {
    let rounds = out.len() / STATES;
    if rounds == 0 || r.left() < 64 {
        return 0;
    }
    let mut xs = load_states(x);
    let mut done = 0;
    while done < rounds && r.left() >= 64 {
        let i0 = done * STATES;
        let mut hs = [_mm256_setzero_si256(); 4];
        for g in 0..4 {
            let (xn, h) = m.dec.step::<NARROW>(&m.k, xs[g], m.base(i0, g));
            xs[g] = renorm(&m.k, r, xn);
            hs[g] = h;
        }
        // SAFETY: `i0 + 32 <= rounds * 32 <= out.len()`.
        unsafe {
            _mm256_storeu_si256(
                out.as_mut_ptr().add(i0) as *mut __m256i,
                pack_hi(&hs, sym_byte(NARROW)),
            );
        }
        done += 1;
    }
    store_states(&xs, x);
    done * STATES
}

/// See [`crate::Kernels::rans_decode_pair`].
pub(crate) fn decode_pair(
    first: FirstStream<'_>,
    second: SecondStream<'_>,
) -> Result<(), RansError> {
    // SAFETY: as in `decode`.
    unsafe { decode_pair_avx2(first, second) }
}

#[target_feature(enable = "avx2,popcnt")]
fn decode_pair_avx2(first: FirstStream<'_>, second: SecondStream<'_>) -> Result<(), RansError> {
    let (first_ctx, t_first, t_second) = (first.ctx, first.tables, second.tables);
    let plane_b = match second.ctx {
        SecondCtx::Plane(c) => Some(c),
        _ => None,
    };
    packed::decode_pair_with(
        first,
        second,
        |r, c, t, x, out| rr_rounds(r, c, t, x, out),
        |a, oa, b, ob, tagged| {
            let mut sa = Model::new(t_first, first_ctx, t_first.dec_entries_unless_narrow());
            if let Some(d) = tagged {
                // The tags are in the wide entries.
                sa.dec = Entries {
                    wide: d,
                    narrow: &[],
                };
            }
            let sb = Model::new(t_second, plane_b, t_second.dec_entries_unless_narrow());
            let tag = tagged.is_some();
            match (sa.narrow(), sb.narrow()) {
                (false, false) => pair_rounds::<false, false>(a, &sa, oa, b, &sb, ob, tag),
                (false, true) => pair_rounds::<false, true>(a, &sa, oa, b, &sb, ob, tag),
                (true, false) => pair_rounds::<true, false>(a, &sa, oa, b, &sb, ob, tag),
                (true, true) => pair_rounds::<true, true>(a, &sa, oa, b, &sb, ob, tag),
            }
        },
    )
}

/// What a round loop needs of one stream's model.
struct Model<'a> {
    k: Consts,
    dec: Entries<'a>,
    ctx: Option<&'a [u8]>,
    bases: [u32; 256],
    base0: __m256i,
}

impl<'a> Model<'a> {
    /// The model `t` with contexts `ctx` (none: order-0) and wide entries
    /// `wide` (those of `t`, empty where it has narrow ones, or tagged ones).
    #[inline]
    #[target_feature(enable = "avx2,popcnt")]
    fn new(t: &'a RansTables, ctx: Option<&'a [u8]>, wide: &'a [u64]) -> Model<'a> {
        let bases = t.dec_bases();
        Model {
            k: consts(t),
            dec: Entries {
                wide,
                narrow: t.dec_entries_narrow().unwrap_or(&[]),
            },
            ctx,
            bases,
            base0: _mm256_set1_epi32(bases[0] as i32),
        }
    }

    /// Whether the model has narrow entries.
    #[inline]
    fn narrow(&self) -> bool {
        !self.dec.narrow.is_empty()
    }

    /// Table offsets of the lanes of vector `g` of the round starting at
    /// symbol `i0`, from the context plane (or table 0).
    ///
    /// Panics if the plane does not hold those 8 contexts.
    #[inline]
    #[target_feature(enable = "avx2,popcnt")]
    fn base(&self, i0: usize, g: usize) -> __m256i {
        match self.ctx {
            None => self.base0,
            Some(c) => {
                let c: &[u8; 8] = c[i0 + 8 * g..i0 + 8 * g + 8].try_into().unwrap();
                // SAFETY: `c` is 8 bytes, the size of the load; the gather
                // indices are bytes, below `bases.len() == 256`.
                unsafe {
                    let cb = _mm_loadl_epi64(c.as_ptr() as *const __m128i);
                    _mm256_i32gather_epi32::<4>(
                        self.bases.as_ptr() as *const i32,
                        _mm256_cvtepu8_epi32(cb),
                    )
                }
            }
        }
    }
}

/// Decodes whole rounds of both streams of a pair in one loop while both
/// have a round of words; the second stream runs one round behind the first
/// and, when `tagged`, takes its table offsets from the tags of the first
/// stream's entries of that round (`(tag << bits)`), not from a plane.
/// Returns the symbols decoded of each stream. `NA` and `NB`: whether the
/// first and the second stream use narrow entries (never `NA` when
/// `tagged`).
#[allow(clippy::too_many_arguments)]
#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn pair_rounds<const NA: bool, const NB: bool>(
    a: &mut Side<'_>,
    sa: &Model<'_>,
    oa: &mut [u8],
    b: &mut Side<'_>,
    sb: &Model<'_>,
    ob: &mut [u8],
    tagged: bool,
) -> (usize, usize) {
    let (rounds_a, rounds_b) = (oa.len() / STATES, ob.len() / STATES);
    if rounds_a == 0 || rounds_b == 0 || a.r.left() < 64 {
        return (0, 0);
    }
    let bits_b = sb.k.bits;
    let mut xa = load_states(&a.x);
    let mut xb = load_states(&b.x);
    let mut ha = [_mm256_setzero_si256(); 4];
    for g in 0..4 {
        let (xn, h) = sa.dec.step::<NA>(&sa.k, xa[g], sa.base(0, g));
        xa[g] = renorm(&sa.k, &mut a.r, xn);
        ha[g] = h;
    }
    // SAFETY: `32 <= rounds_a * 32 <= oa.len()`.
    unsafe { _mm256_storeu_si256(oa.as_mut_ptr() as *mut __m256i, pack_hi(&ha, sym_byte(NA))) };
    let (mut da, mut db) = (1, 0);
    while da < rounds_a && db < rounds_b && a.r.left() >= 64 && b.r.left() >= 64 {
        let (ia, ib) = (da * STATES, db * STATES);
        let mut hn = [_mm256_setzero_si256(); 4];
        let mut hb = [_mm256_setzero_si256(); 4];
        for g in 0..4 {
            let (xn, h) = sa.dec.step::<NA>(&sa.k, xa[g], sa.base(ia, g));
            xa[g] = renorm(&sa.k, &mut a.r, xn);
            hn[g] = h;
            let base = if tagged {
                _mm256_sll_epi32(_mm256_srli_epi32::<24>(ha[g]), bits_b)
            } else {
                sb.base(ib, g)
            };
            let (xn, h) = sb.dec.step::<NB>(&sb.k, xb[g], base);
            xb[g] = renorm(&sb.k, &mut b.r, xn);
            hb[g] = h;
        }
        // SAFETY: `ia + 32 <= rounds_a * 32 <= oa.len()`, and likewise for
        // `ib` and `ob`.
        unsafe {
            _mm256_storeu_si256(
                oa.as_mut_ptr().add(ia) as *mut __m256i,
                pack_hi(&hn, sym_byte(NA)),
            );
            _mm256_storeu_si256(
                ob.as_mut_ptr().add(ib) as *mut __m256i,
                pack_hi(&hb, sym_byte(NB)),
            );
        }
        ha = hn;
        da += 1;
        db += 1;
    }
    store_states(&xa, &mut a.x);
    store_states(&xb, &mut b.x);
    (da * STATES, db * STATES)
}

/// Decodes order-1 rounds while a round of words is surely there; returns
/// how many rounds were decoded. As on AVX-512, the entries are tagged with
/// the model's own context map, so the next round's table offsets come from
/// this round's lookups (`tag << bits`), not from a gather behind them.
#[target_feature(enable = "avx2,popcnt")]
fn o1_rounds(r: &mut Reader<'_>, t: &RansTables, x: &mut [u32; STATES], out: &mut [u8]) -> usize {
    let n = out.len();
    let q = order1_segment_len(n);
    if q == 0 || r.left() < 64 {
        return 0;
    }
    let dec = t.dec_entries_tagged(t.ctx_map());
    let k = consts(t);
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mut xs = load_states(x);
    // The offsets of the first round, under context 0.
    let mut bases = [_mm256_set1_epi32((t.table_of(0) as i32) << t.scale_bits()); 4];
    let mut round = 0;
    let mut tmp: packed::O1Block = [[0; STATES]; packed::O1_BLOCK];
    let mut rows = 0;
    while round < q && r.left() >= 64 {
        let act = packed::o1_active(n, q, round);
        let actv = _mm256_set1_epi32(act as i32);
        let mut hs = [_mm256_setzero_si256(); 4];
        for g in 0..4 {
            // `h` is `bias | sym << 16 | tag << 24`.
            let (xn, h) = dec_step_hi(&k, &dec, xs[g], bases[g]);
            let live = _mm256_cmpgt_epi32(
                actv,
                _mm256_add_epi32(lane, _mm256_set1_epi32(8 * g as i32)),
            );
            // Idle lanes keep their state, which is >= L, so `renorm` leaves
            // them alone and takes no word for them.
            xs[g] = renorm(&k, r, _mm256_blendv_epi8(xs[g], xn, live));
            bases[g] = _mm256_sll_epi32(_mm256_srli_epi32::<24>(h), k.bits);
            hs[g] = h;
        }
        // SAFETY: a row of `tmp` is 32 bytes.
        unsafe {
            _mm256_storeu_si256(
                tmp[rows].as_mut_ptr() as *mut __m256i,
                pack_hi(&hs, sym_byte(false)),
            )
        };
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

#[target_feature(enable = "avx2,popcnt")]
fn encode_avx2(
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

/// Encoder entries of 8 lanes, as (rcp, bias, xm1, cmpl | shift << 16).
#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn enc_load(enc: &[EncSym], idx: &[usize; 8]) -> [__m256i; 4] {
    debug_assert!(idx.iter().all(|&i| i < enc.len()));
    // SAFETY: every index is `table * 256 + symbol` with `table` a table of
    // the model, so below `enc.len()`; an entry is 16 bytes.
    let ld = |i: usize| unsafe { _mm_load_si128(enc.as_ptr().add(i) as *const __m128i) };
    let row =
        |k: usize| _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(ld(idx[k])), ld(idx[k + 4]));
    let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
    let t0 = _mm256_unpacklo_epi32(r0, r1);
    let t1 = _mm256_unpackhi_epi32(r0, r1);
    let t2 = _mm256_unpacklo_epi32(r2, r3);
    let t3 = _mm256_unpackhi_epi32(r2, r3);
    [
        _mm256_unpacklo_epi64(t0, t2),
        _mm256_unpackhi_epi64(t0, t2),
        _mm256_unpacklo_epi64(t1, t3),
        _mm256_unpackhi_epi64(t1, t3),
    ]
}

/// One encoder step of 8 states: renormalise the lanes set in `live` (into
/// `w`) and code their symbols; other lanes are unchanged. Returns the new
/// states and, per lane, all-ones where a live symbol has no frequency.
#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn enc_step(x: __m256i, e: &[__m256i; 4], live: __m256i, w: &mut BackWords) -> (__m256i, __m256i) {
    let [rcp, bias, xm1, cs] = *e;
    let missing = _mm256_and_si256(_mm256_cmpeq_epi32(xm1, _mm256_set1_epi32(-1)), live);
    let m = _mm256_and_si256(_mm256_cmpgt_epi32(x, xm1), live);
    let mb = _mm256_movemask_ps(_mm256_castsi256_ps(m)) as usize;
    // SAFETY: `mb < 256`, the length of `COMPRESS_TOP`; a row is 32 bytes.
    let perm =
        unsafe { _mm256_loadu_si256(COMPRESS_TOP.get_unchecked(mb).as_ptr() as *const __m256i) };
    let v = _mm256_permutevar8x32_epi32(x, perm);
    // Low 16 bits of each u32, packed into the low 128 bits.
    let v = _mm256_shuffle_epi8(
        v,
        _mm256_setr_epi8(
            0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5, 8, 9, 12, 13, -1,
            -1, -1, -1, -1, -1, -1, -1,
        ),
    );
    let v = _mm256_permute4x64_epi64::<0b00_00_10_00>(v);
    debug_assert!(w.pos >= 8 && w.pos <= w.buf.len());
    // SAFETY: `w.pos >= PAD (16) >= 8`: the buffer holds one word per
    // symbol plus the padding, and every step takes at most one word per
    // symbol, so the 8 words below `w.pos` are inside the buffer.
    unsafe {
        _mm_storeu_si128(
            w.buf.as_mut_ptr().add(w.pos - 8) as *mut __m128i,
            _mm256_castsi256_si128(v),
        )
    };
    w.pos -= mb.count_ones() as usize;
    let xr = _mm256_blendv_epi8(x, _mm256_srli_epi32::<16>(x), m);
    let pe = _mm256_mul_epu32(xr, rcp);
    let po = _mm256_mul_epu32(_mm256_srli_epi64::<32>(xr), _mm256_srli_epi64::<32>(rcp));
    let qv = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(pe), po);
    let qv = _mm256_srlv_epi32(qv, _mm256_srli_epi32::<16>(cs));
    let xn = _mm256_add_epi32(
        _mm256_add_epi32(xr, bias),
        _mm256_mullo_epi32(qv, _mm256_and_si256(cs, _mm256_set1_epi32(0xFFFF))),
    );
    (_mm256_blendv_epi8(x, xn, live), missing)
}

#[target_feature(enable = "avx2,popcnt")]
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
    let all = _mm256_set1_epi32(-1);
    let mut bad = _mm256_setzero_si256();
    let mut xs = load_states(x);
    for k in (0..rounds).rev() {
        for g in (0..4).rev() {
            let i = k * STATES + 8 * g;
            let d = &data[i..i + 8];
            let idx: [usize; 8] = match ctx {
                None => std::array::from_fn(|l| bases[0] as usize + usize::from(d[l])),
                Some(c) => {
                    let c = &c[i..i + 8];
                    std::array::from_fn(|l| bases[usize::from(c[l])] as usize + usize::from(d[l]))
                }
            };
            let e = enc_load(enc, &idx);
            let (xn, miss) = enc_step(xs[g], &e, all, w);
            xs[g] = xn;
            bad = _mm256_or_si256(bad, miss);
        }
    }
    if _mm256_testz_si256(bad, bad) == 0 {
        return Err(E::SymbolNotInTable);
    }
    store_states(&xs, x);
    Ok(())
}

#[target_feature(enable = "avx2,popcnt")]
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
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mut bad = _mm256_setzero_si256();
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
            let actv = _mm256_set1_epi32(act as i32);
            let (s, c) = (&sym[round - r0], &ctx[round - r0]);
            for g in (0..4).rev() {
                // Idle lanes read entry `bases[0] + 0`, valid and masked off.
                let idx: [usize; 8] = std::array::from_fn(|l| {
                    bases[usize::from(c[8 * g + l])] as usize + usize::from(s[8 * g + l])
                });
                let e = enc_load(enc, &idx);
                let live = _mm256_cmpgt_epi32(
                    actv,
                    _mm256_add_epi32(lane, _mm256_set1_epi32(8 * g as i32)),
                );
                let (xn, miss) = enc_step(xs[g], &e, live, w);
                xs[g] = xn;
                bad = _mm256_or_si256(bad, miss);
            }
        }
        end = r0;
    }
    if _mm256_testz_si256(bad, bad) == 0 {
        return Err(E::SymbolNotInTable);
    }
    store_states(&xs, x);
    Ok(())
}
