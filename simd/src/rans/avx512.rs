//! AVX-512 (F + BW + VL) rANS: the 32 states as two vectors of 16 lanes.
//!
//! The structure is the AVX2 kernel's ([`super::avx2`]); what AVX-512 adds:
//! comparisons give lane masks directly, and decoder renormalisation
//! spreads the words with `vpexpandd` (no permutation table). Decode only:
//! the encoder is in `avx512_enc.rs` (order-0 streams; context streams use
//! the AVX2 encoder).

// Loops over lanes and states index several arrays in step.
#![allow(clippy::needless_range_loop)]

use core::arch::x86_64::*;

use super::packed::{self, Reader, Side};
use super::{
    order1_segment_len, Ctx, FirstStream, RansError, RansTables, SecondCtx, SecondStream, RANS_L,
    STATES,
};

/// Whether decode lookups use `vpgatherdq` (true) or scalar loads.
const LOOKUP_GATHER: bool = true;

/// See [`super::scalar::decode`].
pub(crate) fn decode(
    stream: &[u8],
    ctx: Ctx<'_>,
    t: &RansTables,
    out: &mut [u8],
) -> Result<(), RansError> {
    // SAFETY: this function is only placed in the AVX-512 dispatch table,
    // which `Kernels::for_isa` builds only after `dispatch::supported`
    // confirmed AVX2, POPCNT and AVX-512 F, BW and VL at run time.
    unsafe { decode_avx512(stream, ctx, t, out) }
}

#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
fn decode_avx512(
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

/// Loads the packed decode entries at `idx`: (`freq`, `bias | sym << 16`).
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
fn lookup(dec: &[u64], idx: __m512i) -> (__m512i, __m512i) {
    let (a, b) = if LOOKUP_GATHER {
        // SAFETY: every index is `table << bits | slot` with `table` a
        // table of the model and `slot < 2^bits`, so below `dec.len()`.
        unsafe {
            let p = dec.as_ptr() as *const i64;
            (
                _mm512_i32gather_epi64::<8>(_mm512_castsi512_si256(idx), p),
                _mm512_i32gather_epi64::<8>(_mm512_extracti64x4_epi64::<1>(idx), p),
            )
        }
    } else {
        let mut ix = [0u32; 16];
        // SAFETY: `ix` is 64 bytes, the size of the store.
        unsafe { _mm512_storeu_si512(ix.as_mut_ptr() as *mut __m512i, idx) };
        // SAFETY: every index is below `dec.len()` (see the gather above).
        let e = |k: usize| unsafe { *dec.get_unchecked(ix[k] as usize) as i64 };
        (
            _mm512_set_epi64(e(7), e(6), e(5), e(4), e(3), e(2), e(1), e(0)),
            _mm512_set_epi64(e(15), e(14), e(13), e(12), e(11), e(10), e(9), e(8)),
        )
    };
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    (
        _mm512_permutex2var_epi32(a, even, b),
        _mm512_permutex2var_epi32(a, odd, b),
    )
}

#[derive(Clone, Copy)]
struct Consts {
    slot_mask: __m512i,
    low16: __m512i,
    l: __m512i,
    bits: __m128i,
}

#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
fn consts(t: &RansTables) -> Consts {
    Consts {
        slot_mask: _mm512_set1_epi32((1 << t.scale_bits()) - 1),
        low16: _mm512_set1_epi32(0xFFFF),
        l: _mm512_set1_epi32(RANS_L as i32),
        bits: _mm_cvtsi32_si128(t.scale_bits() as i32),
    }
}

#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
fn dec_step(k: &Consts, dec: &[u64], x: __m512i, base: __m512i) -> (__m512i, __m512i) {
    let idx = _mm512_add_epi32(_mm512_and_si512(x, k.slot_mask), base);
    let (f, hi) = lookup(dec, idx);
    let xn = _mm512_add_epi32(
        _mm512_mullo_epi32(f, _mm512_srl_epi32(x, k.bits)),
        _mm512_and_si512(hi, k.low16),
    );
    (xn, _mm512_srli_epi32::<16>(hi))
}

/// [`dec_step`] on narrow entries ([`packed::dec_entry_narrow`]).
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
fn dec_step_narrow(k: &Consts, dec: &[u32], x: __m512i, base: __m512i) -> (__m512i, __m512i) {
    let idx = _mm512_add_epi32(_mm512_and_si512(x, k.slot_mask), base);
    // SAFETY: every index is `table << bits | slot` with `table` a table of
    // the model and `slot < 2^bits`, so below `dec.len()`.
    let e = unsafe { _mm512_i32gather_epi32::<4>(idx, dec.as_ptr() as *const i32) };
    let low12 = _mm512_set1_epi32(0xFFF);
    let xs = _mm512_srl_epi32(x, k.bits);
    let f1 = _mm512_and_si512(e, low12);
    let bias = _mm512_and_si512(_mm512_srli_epi32::<12>(e), low12);
    let xn = _mm512_add_epi32(_mm512_add_epi32(_mm512_mullo_epi32(f1, xs), xs), bias);
    (xn, _mm512_srli_epi32::<24>(e))
}

/// Renormalises the lanes of `x` below `L`; the caller guarantees 32
/// readable bytes at `r.pos`.
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
fn renorm(k: &Consts, r: &mut Reader<'_>, x: __m512i) -> __m512i {
    let m = _mm512_cmplt_epi32_mask(x, k.l);
    debug_assert!(r.pos + 32 <= r.data.len());
    // SAFETY: the callers only run a vector round while at least 64 bytes
    // (32 per vector, 2 vectors) are left after `r.pos`.
    let w = unsafe { _mm256_loadu_si256(r.data.as_ptr().add(r.pos) as *const __m256i) };
    let w = _mm512_maskz_expand_epi32(m, _mm512_cvtepu16_epi32(w));
    r.pos += 2 * m.count_ones() as usize;
    _mm512_mask_mov_epi32(x, m, _mm512_or_si512(_mm512_slli_epi32::<16>(x), w))
}

#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
fn load_states(x: &[u32; STATES]) -> [__m512i; 2] {
    // SAFETY: `x` holds 32 `u32`, two 64-byte vectors.
    std::array::from_fn(|g| unsafe { _mm512_loadu_si512(x.as_ptr().add(16 * g) as *const __m512i) })
}

#[inline]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
fn store_states(xs: &[__m512i; 2], x: &mut [u32; STATES]) {
    for (g, v) in xs.iter().enumerate() {
        // SAFETY: as in `load_states`.
        unsafe { _mm512_storeu_si512(x.as_mut_ptr().add(16 * g) as *mut __m512i, *v) };
    }
}

/// A round-robin stream being decoded: its reader, states and tables.
struct RrStream<'a, 'd> {
    r: Reader<'d>,
    xs: [__m512i; 2],
    dec: &'a [u64],
    /// Narrow entries ([`RansTables::dec_entries_narrow`]), or empty.
    narrow: &'a [u32],
    bases: [u32; 256],
    /// The context map, 64 contexts per vector (for [`Self::bases_vbmi`]).
    map: [__m512i; 4],
    base0: __m512i,
    k: Consts,
}

impl<'a, 'd> RrStream<'a, 'd> {
    /// The stream at `r`'s position with states `x`; hand both back with
    /// [`Self::store`].
    #[inline]
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
    fn new(r: &Reader<'d>, t: &'a RansTables, x: &[u32; STATES]) -> RrStream<'a, 'd> {
        let bases = t.dec_bases();
        RrStream {
            r: Reader {
                data: r.data,
                pos: r.pos,
            },
            xs: load_states(x),
            dec: t.dec_entries_unless_narrow(),
            narrow: t.dec_entries_narrow().unwrap_or(&[]),
            bases,
            map: std::array::from_fn(|q| {
                // SAFETY: the map holds 256 bytes, four vectors.
                unsafe { _mm512_loadu_si512(t.ctx_map().as_ptr().add(64 * q) as *const __m512i) }
            }),
            base0: _mm512_set1_epi32(bases[0] as i32),
            k: consts(t),
        }
    }

    /// Writes the position and states back.
    #[inline]
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
    fn store(&self, r: &mut Reader<'_>, x: &mut [u32; STATES]) {
        r.pos = self.r.pos;
        store_states(&self.xs, x);
    }

    /// Whether a vector round may read its words (64 bytes, 2 vectors).
    #[inline]
    fn can_round(&self) -> bool {
        self.r.left() >= 64
    }

    /// The table offsets of the 32 lanes of round `round`: from the
    /// contexts `ctx` at the round's indices (with [`Self::bases_vbmi`]
    /// when `VBMI`), or table 0 without them.
    ///
    /// Panics unless `ctx` holds the round's indices.
    #[inline]
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
    fn bases<const VBMI: bool>(&self, round: usize, ctx: Option<&[u8]>) -> [__m512i; 2] {
        let Some(c) = ctx else {
            return [self.base0; 2];
        };
        let c = &c[round * STATES..(round + 1) * STATES];
        if VBMI {
            // SAFETY: only the loops of `decode_pair_vbmi` instantiate this
            // with `VBMI`, and `decode_pair` calls that only where the CPU
            // has AVX-512 VBMI.
            return unsafe { self.bases_vbmi(c) };
        }
        // SAFETY: `c` holds 32 bytes; the gather indices are bytes, below
        // `bases.len() == 256`.
        std::array::from_fn(|g| unsafe {
            let cb = _mm_loadu_si128(c.as_ptr().add(16 * g) as *const __m128i);
            _mm512_i32gather_epi32::<4>(_mm512_cvtepu8_epi32(cb), self.bases.as_ptr() as *const i32)
        })
    }

    /// [`Self::bases`] of the 32 contexts `c` without a gather: the
    /// context map is looked up with byte permutes (two `vpermi2b` for the
    /// contexts below and from 128, a blend on the top bit), the table
    /// indices are widened and shifted. In a pair decode of two planes
    /// under contexts the gathers of the offsets took as long as those of
    /// the entries (docs/KERNELS.md, "Context offsets by byte permutes").
    #[inline]
    #[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,avx512vbmi,popcnt")]
    fn bases_vbmi(&self, c: &[u8]) -> [__m512i; 2] {
        assert!(c.len() >= STATES);
        // SAFETY: `c` holds 32 bytes (asserted), a 256-bit load.
        let cv = unsafe { _mm256_loadu_si256(c.as_ptr() as *const __m256i) };
        let cv = _mm512_castsi256_si512(cv);
        let low = _mm512_permutex2var_epi8(self.map[0], cv, self.map[1]);
        let high = _mm512_permutex2var_epi8(self.map[2], cv, self.map[3]);
        let tables = _mm512_mask_blend_epi8(_mm512_movepi8_mask(cv), low, high);
        // Written out, not `array::map`: that call was left out of line
        // (it cost the pair loop a quarter once code elsewhere changed).
        let offsets = |h| _mm512_sll_epi32(_mm512_cvtepu8_epi32(h), self.k.bits);
        [
            offsets(_mm512_castsi512_si128(tables)),
            offsets(_mm512_extracti32x4_epi32::<1>(tables)),
        ]
    }
}

/// One vector round of the [`RrStream`] `$s`: decodes symbols
/// `32 * $round ..+ 32` into `$out` with the 32 lanes' table offsets
/// `$bases` (narrow entries when `$narrow`), and evaluates to the symbols'
/// lanes as [`dec_step`] gives them. Panics unless `$out` holds those
/// symbols; the caller checks [`RrStream::can_round`] first.
///
/// A macro rather than a method so that the round is always compiled into
/// its loop: as an `#[inline]` method LLVM left it out of line in some of
/// the pair loops, which then kept the states in memory between rounds
/// (docs/KERNELS.md, "Inlining the decode round").
macro_rules! round_on {
    ($s:expr, $narrow:expr, $round:expr, $bases:expr, $out:expr) => {{
        let s: &mut RrStream<'_, '_> = $s;
        let bases: [__m512i; 2] = $bases;
        let i0 = $round * STATES;
        let out = &mut $out[i0..i0 + STATES];
        let mut syms = [_mm512_setzero_si512(); 2];
        for g in 0..2 {
            let (xn, sym) = if $narrow {
                dec_step_narrow(&s.k, s.narrow, s.xs[g], bases[g])
            } else {
                dec_step(&s.k, s.dec, s.xs[g], bases[g])
            };
            s.xs[g] = renorm(&s.k, &mut s.r, xn);
            // SAFETY: `out` holds 32 bytes.
            unsafe {
                _mm_storeu_si128(
                    out.as_mut_ptr().add(16 * g) as *mut __m128i,
                    _mm512_cvtepi32_epi8(sym),
                )
            };
            syms[g] = sym;
        }
        syms
    }};
}

/// [`round_on!`] with the table offsets from the contexts `$ctx` at the
/// round's indices (table 0 without them).
macro_rules! round {
    ($s:expr, $narrow:expr, $round:expr, $ctx:expr, $out:expr) => {
        round!($s, $narrow, $round, $ctx, $out, false)
    };
    ($s:expr, $narrow:expr, $round:expr, $ctx:expr, $out:expr, $vbmi:expr) => {{
        let s: &mut RrStream<'_, '_> = $s;
        let bases = s.bases::<{ $vbmi }>($round, $ctx);
        round_on!(s, $narrow, $round, bases, $out)
    }};
}

/// Decodes whole rounds of a round-robin stream while a round of words is
/// surely there; returns how many symbols were decoded.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
fn rr_rounds(
    r: &mut Reader<'_>,
    ctx: Option<&[u8]>,
    t: &RansTables,
    x: &mut [u32; STATES],
    out: &mut [u8],
) -> usize {
    let mut s = RrStream::new(r, t, x);
    let rounds = out.len() / STATES;
    let mut done = 0;
    while done < rounds && s.can_round() {
        if s.narrow.is_empty() {
            round!(&mut s, false, done, ctx, out);
        } else {
            round!(&mut s, true, done, ctx, out);
        }
        done += 1;
    }
    s.store(r, x);
    done * STATES
}

/// See [`crate::Kernels::rans_decode_pair`]: context offsets by gathers.
pub(crate) fn decode_pair(
    first: FirstStream<'_>,
    second: SecondStream<'_>,
) -> Result<(), RansError> {
    // SAFETY: as in `decode`.
    unsafe { decode_pair_gather(first, second) }
}

/// See [`crate::Kernels::rans_decode_pair`]: context offsets by byte
/// permutes ([`RrStream::bases_vbmi`]).
pub(crate) fn decode_pair_permuted(
    first: FirstStream<'_>,
    second: SecondStream<'_>,
) -> Result<(), RansError> {
    // SAFETY: this function is only placed in the AVX-512 VBMI form of the
    // dispatch table, which `Kernels::for_isa` and `Kernels::forms` build
    // only where the CPU has AVX-512 VBMI besides what `decode` needs.
    unsafe { decode_pair_vbmi(first, second) }
}

/// Defines a pair decoder (`$decode`, with its round loop `$rounds` and
/// that loop's body `$loop`) compiled for the target features `$features`,
/// taking the table offsets of context streams by byte permutes when
/// `$vbmi` ([`RrStream::bases_vbmi`]) and by gathers otherwise. Two
/// definitions because a function's target features cannot follow a const
/// parameter, and the permutes need AVX-512 VBMI, which not every AVX-512
/// CPU has (Skylake-SP and Cascade Lake lack it).
macro_rules! pair_decoder {
    ($decode:ident, $rounds:ident, $loop:ident, $features:literal, $vbmi:literal) => {
        #[target_feature(enable = $features)]
        fn $decode(first: FirstStream<'_>, second: SecondStream<'_>) -> Result<(), RansError> {
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
                    $rounds(a, first_ctx, t_first, oa, b, plane_b, t_second, ob, tagged)
                },
            )
        }

        /// Decodes whole rounds of two round-robin streams in one loop, so
        /// that each one's dependency chain (gather, multiply, renormalise)
        /// overlaps the other's, while both have a round of words; returns
        /// the symbols decoded of each. The second stream runs one round
        /// behind the first: given the first stream's `tagged` entries
        /// ([`SecondCtx::First`]) its table offsets are the tags of the
        /// first stream's lanes of that round, `tag << bits`, with no
        /// memory round trip or gather; otherwise they come from its plane
        /// `cb` (or table 0).
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = $features)]
        fn $rounds(
            a: &mut Side<'_>,
            ca: Option<&[u8]>,
            ta: &RansTables,
            oa: &mut [u8],
            b: &mut Side<'_>,
            cb: Option<&[u8]>,
            tb: &RansTables,
            ob: &mut [u8],
            tagged: Option<&[u64]>,
        ) -> (usize, usize) {
            let mut sa = RrStream::new(&a.r, ta, &a.x);
            if let Some(d) = tagged {
                // The tags are in the wide entries.
                sa.dec = d;
                sa.narrow = &[];
            }
            let mut sb = RrStream::new(&b.r, tb, &b.x);
            let t = tagged.is_some();
            let done = match (sa.narrow.is_empty(), sb.narrow.is_empty()) {
                (true, true) => $loop::<false, false>(&mut sa, ca, oa, &mut sb, cb, ob, t),
                (true, false) => $loop::<false, true>(&mut sa, ca, oa, &mut sb, cb, ob, t),
                (false, true) => $loop::<true, false>(&mut sa, ca, oa, &mut sb, cb, ob, t),
                (false, false) => $loop::<true, true>(&mut sa, ca, oa, &mut sb, cb, ob, t),
            };
            sa.store(&mut a.r, &mut a.x);
            sb.store(&mut b.r, &mut b.x);
            done
        }

        /// The loop of the pair decoder, with narrow entries for the first
        /// stream (`NA`) and the second (`NB`) or not; returns the symbols
        /// decoded of each and leaves the states and positions in `sa` and
        /// `sb`.
        #[inline]
        #[target_feature(enable = $features)]
        fn $loop<const NA: bool, const NB: bool>(
            sa: &mut RrStream<'_, '_>,
            ca: Option<&[u8]>,
            oa: &mut [u8],
            sb: &mut RrStream<'_, '_>,
            cb: Option<&[u8]>,
            ob: &mut [u8],
            tagged: bool,
        ) -> (usize, usize) {
            let (rounds_a, rounds_b) = (oa.len() / STATES, ob.len() / STATES);
            let bits_b = sb.k.bits;
            // `da` rounds of the first stream done, `db` of the second; db < da.
            let (mut da, mut db) = (0, 0);
            if rounds_a > 0 && rounds_b > 0 && sa.can_round() {
                let mut s = round!(sa, NA, 0, ca, oa, $vbmi);
                da = 1;
                while da < rounds_a && db < rounds_b && sa.can_round() && sb.can_round() {
                    let next = round!(sa, NA, da, ca, oa, $vbmi);
                    if tagged {
                        let base = |v| _mm512_sll_epi32(_mm512_srli_epi32::<8>(v), bits_b);
                        let bases = [base(s[0]), base(s[1])];
                        round_on!(sb, NB, db, bases, ob);
                    } else {
                        round!(sb, NB, db, cb, ob, $vbmi);
                    }
                    s = next;
                    da += 1;
                    db += 1;
                }
            }
            (da * STATES, db * STATES)
        }
    };
}

pair_decoder!(
    decode_pair_gather,
    pair_rounds_gather,
    pair_loop_gather,
    "avx2,avx512f,avx512bw,avx512vl,popcnt",
    false
);
pair_decoder!(
    decode_pair_vbmi,
    pair_rounds_vbmi,
    pair_loop_vbmi,
    "avx2,avx512f,avx512bw,avx512vl,avx512vbmi,popcnt",
    true
);

/// Lanes `0 .. act - 16 * g` of vector `g`.
#[inline]
fn live_mask(act: usize, g: usize) -> __mmask16 {
    let k = act.saturating_sub(16 * g).min(16);
    ((1u32 << k) - 1) as __mmask16
}

/// Decodes order-1 rounds while a round of words is surely there; returns
/// how many rounds were decoded. The entries are tagged with the model's
/// own context map ([`RansTables::dec_entries_tagged`]), so the next
/// round's table offsets come from this round's lookups (`tag << bits`)
/// rather than from a second gather behind them (docs/KERNELS.md,
/// "Order-1 offsets from tagged entries").
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl,popcnt")]
fn o1_rounds(r: &mut Reader<'_>, t: &RansTables, x: &mut [u32; STATES], out: &mut [u8]) -> usize {
    let n = out.len();
    let q = order1_segment_len(n);
    if q == 0 || r.left() < 64 {
        return 0;
    }
    let dec = t.dec_entries_tagged(t.ctx_map());
    let k = consts(t);
    let mut xs = load_states(x);
    // The offsets of the first round, under context 0.
    let mut bases = [_mm512_set1_epi32((t.table_of(0) as i32) << t.scale_bits()); 2];
    let mut round = 0;
    let mut tmp: packed::O1Block = [[0; STATES]; packed::O1_BLOCK];
    let mut rows = 0;
    while round < q && r.left() >= 64 {
        let act = packed::o1_active(n, q, round);
        for g in 0..2 {
            // `s` is `sym | tag << 8`.
            let (xn, s) = dec_step(&k, &dec, xs[g], bases[g]);
            // Idle lanes keep their state, which is >= L, so `renorm` takes
            // no word for them.
            xs[g] = renorm(&k, r, _mm512_mask_mov_epi32(xs[g], live_mask(act, g), xn));
            bases[g] = _mm512_sll_epi32(_mm512_srli_epi32::<8>(s), k.bits);
            // SAFETY: a row of `tmp` is 32 bytes; this writes 16 of them.
            unsafe {
                _mm_storeu_si128(
                    tmp[rows].as_mut_ptr().add(16 * g) as *mut __m128i,
                    _mm512_cvtepi32_epi8(s),
                )
            };
        }
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
