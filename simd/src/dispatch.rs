//! The dispatch table: one function pointer per kernel, chosen per ISA.
//!
//! A level without its own variant of a kernel inherits the variant of the
//! level below it, down to the scalar reference. With the `check-kernels`
//! feature every call also runs the scalar reference and asserts that the
//! outputs are identical.

use crate::checksum::Xxh3Progress;
#[cfg(feature = "check-kernels")]
use crate::rans::PairStream;
use crate::rans::{Ctx, FirstStream, RansError, RansTables, SecondStream};
use crate::{checksum, cut, escape, hist, planes, rans, Isa};

type PlaneFn = fn(&[u8], usize, bool, &mut [u8]);
type MergeFn = fn(&[&[u8]], bool, &mut [u8]);
type HashFn = fn(&[u8]) -> u64;
type Hash128Fn = fn(&[u8]) -> u128;
type AdvanceFn = fn(&mut Xxh3Progress, &[u8], usize);
type FinishFn = fn(Xxh3Progress, &[u8]) -> u64;
type CutFn = fn(&[u8], usize, usize) -> Option<usize>;
type Hist0Fn = fn(&[u8], &mut [u32; 256]);
type HistCtxFn = fn(&[u8], &[u8], &mut [u32]);
type EncodeFn = fn(&[u8], Ctx<'_>, &RansTables, &mut Vec<u8>) -> Result<(), RansError>;
type DecodeFn = fn(&[u8], Ctx<'_>, &RansTables, &mut [u8]) -> Result<(), RansError>;
type DecodePairFn = fn(FirstStream<'_>, SecondStream<'_>) -> Result<(), RansError>;
type EscSplitFn = fn(&[u8], &[u8], &[u8], &mut [u8], &mut [u8], &mut [u8], &mut [u8]) -> usize;
type EscFindFn = fn(&[u8], &[u8], usize, &mut [u8]) -> Option<usize>;
type EscExpandFn = fn(&mut [u8], &mut [u8], &[u8], &[u8]);

#[cfg(target_arch = "x86_64")]
cpufeatures::new!(cpu_avx2, "avx2", "popcnt");
#[cfg(target_arch = "x86_64")]
cpufeatures::new!(cpu_avx512, "avx512f", "avx512bw", "avx512vl", "avx512dq");
#[cfg(target_arch = "x86_64")]
cpufeatures::new!(cpu_avx512_vbmi, "avx512vbmi", "avx512vbmi2");

/// Whether this CPU can run `isa`.
pub(crate) fn supported(isa: Isa) -> bool {
    match isa {
        Isa::Scalar => true,
        #[cfg(target_arch = "x86_64")]
        Isa::Sse2 => true,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => cpu_avx2::get(),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => cpu_avx512::get() && cpu_avx2::get(),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => true,
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// A table of kernels for one ISA level. Only [`Kernels::for_isa`] builds
/// one, so holding a `Kernels` proves the CPU can run every entry.
#[derive(Clone, Copy)]
pub struct Kernels {
    isa: Isa,
    /// The form's name: the level's, or where a level has forms for
    /// optional CPU features, the form's ([`Kernels::forms`]).
    name: &'static str,
    split: PlaneFn,
    merge: MergeFn,
    hist0: Hist0Fn,
    hist_ctx: HistCtxFn,
    rans_encode: EncodeFn,
    rans_decode: DecodeFn,
    /// A fused decoder of two streams, where the level has one.
    rans_decode_pair: Option<DecodePairFn>,
    xxh3: HashFn,
    xxh3_advance: AdvanceFn,
    xxh3_finish: FinishFn,
    xxh3_128: Hash128Fn,
    cut: CutFn,
    esc_split: EscSplitFn,
    esc_find: EscFindFn,
    esc_expand: EscExpandFn,
}

impl std::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernels").field("isa", &self.isa).finish()
    }
}

const SCALAR: Kernels = Kernels {
    isa: Isa::Scalar,
    name: "scalar",
    split: planes::scalar::split,
    merge: planes::scalar::merge_from,
    hist0: hist::scalar::order0,
    hist_ctx: hist::scalar::context,
    rans_encode: rans::scalar::encode,
    rans_decode: rans::scalar::decode,
    rans_decode_pair: None,
    xxh3: checksum::scalar,
    xxh3_advance: checksum::advance_none,
    xxh3_finish: checksum::finish_scalar,
    xxh3_128: checksum::scalar_128,
    cut: cut::scalar::find_cut,
    esc_split: escape::scalar::split,
    esc_find: escape::scalar::find,
    esc_expand: escape::scalar::expand,
};

/// SSE2: plane, histogram and rANS kernels and the prefetched cut search;
/// the checksum is scalar's.
#[cfg(target_arch = "x86_64")]
const SSE2: Kernels = Kernels {
    isa: Isa::Sse2,
    name: "sse2",
    split: planes::sse2::split,
    merge: planes::sse2::merge,
    hist0: hist::unrolled::order0,
    hist_ctx: hist::sse2::context,
    rans_encode: rans::sse2::encode,
    rans_decode: rans::sse2::decode,
    cut: cut::prefetched::find_cut,
    ..SCALAR
};

#[cfg(target_arch = "x86_64")]
const AVX2: Kernels = Kernels {
    isa: Isa::Avx2,
    name: "avx2",
    split: planes::avx2::split,
    merge: planes::avx2::merge,
    hist0: hist::unrolled::order0,
    hist_ctx: hist::sse2::context,
    rans_encode: rans::avx2::encode,
    rans_decode: rans::avx2::decode,
    rans_decode_pair: Some(rans::avx2::decode_pair),
    xxh3: checksum::avx2::hash,
    xxh3_advance: checksum::avx2::advance,
    xxh3_finish: checksum::avx2::finish,
    xxh3_128: checksum::avx2::hash128,
    cut: cut::avx2::find_cut,
    esc_split: escape::avx2::split,
    esc_find: escape::avx2::find,
    esc_expand: escape::avx2::expand,
};

#[cfg(target_arch = "x86_64")]
const AVX512: Kernels = Kernels {
    isa: Isa::Avx512,
    name: "avx512-novbmi",
    split: planes::avx512::split,
    merge: planes::avx512::merge,
    hist0: hist::unrolled::order0,
    hist_ctx: hist::sse2::context,
    // Order-0 and plane-context streams at AVX-512, order-1 streams by the
    // AVX2 encoder.
    rans_encode: rans::avx512_enc::encode,
    rans_decode: rans::avx512::decode,
    rans_decode_pair: Some(rans::avx512::decode_pair),
    xxh3: checksum::avx512::hash,
    xxh3_advance: checksum::avx512::advance,
    xxh3_finish: checksum::avx512::finish,
    xxh3_128: checksum::avx512::hash128,
    cut: cut::avx512::find_cut,
    esc_split: escape::avx2::split,
    esc_find: escape::avx2::find,
    esc_expand: escape::avx2::expand,
};

/// AVX-512 on CPUs with VBMI and VBMI2 (Ice Lake, Zen 4 and later): the
/// pair decoder looks contexts up in the context map with byte permutes,
/// and the escape kernels compress and expand bytes by a mask.
#[cfg(target_arch = "x86_64")]
const AVX512_VBMI: Kernels = Kernels {
    name: "avx512",
    rans_decode_pair: Some(rans::avx512::decode_pair_permuted),
    esc_split: escape::avx512::split,
    esc_find: escape::avx512::find,
    esc_expand: escape::avx512::expand,
    ..AVX512
};

/// NEON: plane, histogram, rANS and escape kernels; a pair decode is two NEON
/// decodes in turn (see `docs/KERNELS.md`).
#[cfg(target_arch = "aarch64")]
const NEON: Kernels = Kernels {
    isa: Isa::Neon,
    name: "neon",
    split: planes::neon::split,
    merge: planes::neon::merge,
    hist0: hist::unrolled::order0,
    hist_ctx: hist::neon::context,
    rans_encode: rans::neon::encode,
    rans_decode: rans::neon::decode,
    esc_split: escape::neon::split,
    esc_find: escape::neon::find,
    esc_expand: escape::neon::expand,
    ..SCALAR
};

impl Kernels {
    /// The kernels of `isa`, or `None` when this CPU cannot run that level.
    pub fn for_isa(isa: Isa) -> Option<Kernels> {
        if !supported(isa) {
            return None;
        }
        Some(match isa {
            Isa::Scalar => SCALAR,
            #[cfg(target_arch = "x86_64")]
            Isa::Sse2 => SSE2,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => AVX2,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if cpu_avx512_vbmi::get() => AVX512_VBMI,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => AVX512,
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => NEON,
            #[allow(unreachable_patterns)]
            _ => return None,
        })
    }

    /// Every form of `isa`'s kernels this CPU runs: [`Kernels::for_isa`]'s,
    /// and on an AVX-512 CPU with VBMI and VBMI2 also the form for AVX-512
    /// CPUs without them, so that tests and benches cover both here.
    pub fn forms(isa: Isa) -> Vec<Kernels> {
        // Only x86-64 has a second form to add.
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut forms: Vec<Kernels> = Kernels::for_isa(isa).into_iter().collect();
        #[cfg(target_arch = "x86_64")]
        if isa == Isa::Avx512 && forms.first().is_some_and(|k| k.name != AVX512.name) {
            forms.push(AVX512);
        }
        forms
    }

    /// The kernels of [`Isa::active`].
    pub fn active() -> Kernels {
        Kernels::for_isa(Isa::active()).unwrap_or(SCALAR)
    }

    /// The scalar reference kernels.
    pub fn scalar() -> Kernels {
        SCALAR
    }

    /// The level these kernels were built for.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The name of this form of the level's kernels (the level's name, but
    /// `avx512-novbmi` for AVX-512 without VBMI).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// See [`planes::scalar::split`].
    pub fn split_planes(&self, src: &[u8], width: usize, rotate: bool, dst: &mut [u8]) {
        (self.split)(src, width, rotate, dst);
        #[cfg(feature = "check-kernels")]
        {
            let mut want = vec![0u8; dst.len()];
            (SCALAR.split)(src, width, rotate, &mut want);
            assert!(
                dst == &want[..],
                "split_planes[{}] differs from scalar",
                self.isa
            );
        }
    }

    /// See [`planes::scalar::merge`].
    pub fn merge_planes(&self, src: &[u8], width: usize, rotate: bool, dst: &mut [u8]) {
        planes::check_args(src, width, dst);
        self.merge_planes_from(&planes::plane_slices(src, width)[..width], rotate, dst);
    }

    /// See [`planes::scalar::merge_from`].
    pub fn merge_planes_from(&self, src: &[&[u8]], rotate: bool, dst: &mut [u8]) {
        (self.merge)(src, rotate, dst);
        #[cfg(feature = "check-kernels")]
        {
            let mut want = vec![0u8; dst.len()];
            (SCALAR.merge)(src, rotate, &mut want);
            assert!(
                dst == &want[..],
                "merge_planes_from[{}] differs from scalar",
                self.isa
            );
        }
    }

    /// XXH3-64 (seed 0) of `data`; see [`checksum`].
    pub fn xxh3_64(&self, data: &[u8]) -> u64 {
        let h = (self.xxh3)(data);
        #[cfg(feature = "check-kernels")]
        assert_eq!(
            h,
            (SCALAR.xxh3)(data),
            "xxh3_64[{}] differs from scalar",
            self.isa
        );
        h
    }

    /// XXH3-128 (seed 0) of `data`; see [`checksum`].
    pub fn xxh3_128(&self, data: &[u8]) -> u128 {
        let h = (self.xxh3_128)(data);
        #[cfg(feature = "check-kernels")]
        assert_eq!(
            h,
            (SCALAR.xxh3_128)(data),
            "xxh3_128[{}] differs from scalar",
            self.isa
        );
        h
    }

    /// Hashes the part of `buf` written so far (its first `ready` bytes)
    /// into `st`, while it is in cache; see [`checksum::Xxh3Progress`].
    pub fn xxh3_advance(&self, st: &mut Xxh3Progress, buf: &[u8], ready: usize) {
        (self.xxh3_advance)(st, buf, ready);
    }

    /// [`Kernels::xxh3_64`] of `buf`, the whole buffer `st` was advanced
    /// over.
    pub fn xxh3_finish(&self, st: Xxh3Progress, buf: &[u8]) -> u64 {
        let h = (self.xxh3_finish)(st, buf);
        #[cfg(feature = "check-kernels")]
        assert_eq!(
            h,
            (SCALAR.xxh3)(buf),
            "xxh3_finish[{}] differs from scalar",
            self.isa
        );
        h
    }

    /// The first content-defined cut in `data`; see [`cut::scalar::find_cut`].
    pub fn find_cut(&self, data: &[u8], width: usize, warm: usize) -> Option<usize> {
        let r = (self.cut)(data, width, warm);
        #[cfg(feature = "check-kernels")]
        assert_eq!(
            r,
            (SCALAR.cut)(data, width, warm),
            "find_cut[{}] differs from scalar",
            self.isa
        );
        r
    }

    /// See [`hist::scalar::order0`].
    pub fn hist_order0(&self, data: &[u8], counts: &mut [u32; 256]) {
        #[cfg(feature = "check-kernels")]
        let mut want = *counts;
        (self.hist0)(data, counts);
        #[cfg(feature = "check-kernels")]
        {
            (SCALAR.hist0)(data, &mut want);
            assert!(
                *counts == want,
                "hist_order0[{}] differs from scalar",
                self.isa
            );
        }
    }

    /// See [`escape::scalar::split`].
    #[allow(clippy::too_many_arguments)]
    pub fn escape_split(
        &self,
        high: &[u8],
        low: &[u8],
        ctx: &[u8],
        short: &mut [u8],
        hi: &mut [u8],
        lo: &mut [u8],
        esc_ctx: &mut [u8],
    ) -> usize {
        let m = (self.esc_split)(high, low, ctx, short, hi, lo, esc_ctx);
        #[cfg(feature = "check-kernels")]
        {
            let mut want = [short.to_vec(), hi.to_vec(), lo.to_vec(), esc_ctx.to_vec()];
            let [s, h, l, c] = &mut want;
            let wm = (SCALAR.esc_split)(high, low, ctx, s, h, l, c);
            assert!(
                m == wm
                    && *short == want[0][..]
                    && [&hi[..m], &lo[..m], &esc_ctx[..m]]
                        == [&want[1][..m], &want[2][..m], &want[3][..m]],
                "escape_split[{}] differs from scalar",
                self.isa
            );
        }
        m
    }

    /// See [`escape::scalar::find`].
    pub fn escape_find(
        &self,
        short: &[u8],
        ctx: &[u8],
        limit: usize,
        esc_ctx: &mut [u8],
    ) -> Option<usize> {
        let m = (self.esc_find)(short, ctx, limit, esc_ctx);
        #[cfg(feature = "check-kernels")]
        {
            let mut want = esc_ctx.to_vec();
            let wm = (SCALAR.esc_find)(short, ctx, limit, &mut want);
            assert_eq!(m, wm, "escape_find[{}] differs from scalar", self.isa);
            if let Some(m) = m {
                assert!(
                    esc_ctx[..m] == want[..m],
                    "escape_find[{}] differs from scalar",
                    self.isa
                );
            }
        }
        m
    }

    /// See [`escape::scalar::expand`].
    pub fn escape_expand(&self, high: &mut [u8], low: &mut [u8], hi: &[u8], lo: &[u8]) {
        #[cfg(feature = "check-kernels")]
        let mut want = (high.to_vec(), low.to_vec());
        (self.esc_expand)(high, low, hi, lo);
        #[cfg(feature = "check-kernels")]
        {
            (SCALAR.esc_expand)(&mut want.0, &mut want.1, hi, lo);
            assert!(
                *high == want.0[..] && *low == want.1[..],
                "escape_expand[{}] differs from scalar",
                self.isa
            );
        }
    }

    /// See [`hist::scalar::context`].
    pub fn hist_context(&self, data: &[u8], ctx: &[u8], counts: &mut [u32]) {
        #[cfg(feature = "check-kernels")]
        let mut want = counts.to_vec();
        (self.hist_ctx)(data, ctx, counts);
        #[cfg(feature = "check-kernels")]
        {
            (SCALAR.hist_ctx)(data, ctx, &mut want);
            assert!(
                *counts == want[..],
                "hist_context[{}] differs from scalar",
                self.isa
            );
        }
    }

    /// Order-1 histogram: each symbol counted under the previous one, the
    /// first under context 0.
    pub fn hist_order1(&self, data: &[u8], counts: &mut [u32]) {
        if let Some((&first, _)) = data.split_first() {
            counts[usize::from(first)] += 1;
            self.hist_context(&data[1..], &data[..data.len() - 1], counts);
        }
    }

    /// See [`rans::scalar::encode`].
    pub fn rans_encode(
        &self,
        data: &[u8],
        ctx: Ctx<'_>,
        t: &RansTables,
        out: &mut Vec<u8>,
    ) -> Result<(), RansError> {
        #[cfg(feature = "check-kernels")]
        let start = out.len();
        let r = (self.rans_encode)(data, ctx, t, out);
        #[cfg(feature = "check-kernels")]
        {
            let mut want = Vec::new();
            let w = (SCALAR.rans_encode)(data, ctx, t, &mut want);
            assert_eq!(r, w, "rans_encode[{}] result differs from scalar", self.isa);
            if r.is_ok() {
                assert!(
                    out[start..] == want[..],
                    "rans_encode[{}] differs from scalar",
                    self.isa
                );
            }
        }
        r
    }

    /// See [`rans::scalar::decode`].
    pub fn rans_decode(
        &self,
        stream: &[u8],
        ctx: Ctx<'_>,
        t: &RansTables,
        out: &mut [u8],
    ) -> Result<(), RansError> {
        let r = (self.rans_decode)(stream, ctx, t, out);
        #[cfg(feature = "check-kernels")]
        {
            let mut want = vec![0u8; out.len()];
            let w = (SCALAR.rans_decode)(stream, ctx, t, &mut want);
            assert_eq!(r, w, "rans_decode[{}] result differs from scalar", self.isa);
            if r.is_ok() {
                assert!(
                    *out == want[..],
                    "rans_decode[{}] differs from scalar",
                    self.isa
                );
            }
        }
        r
    }

    /// Decodes two round-robin streams: `a` (order-0, or under the contexts
    /// of a known plane) and `b` (under its [`crate::rans::SecondCtx`]) — exactly what
    /// two [`Self::rans_decode`] calls give, first then second (errors of
    /// the first win), but faster where the level interleaves the two
    /// streams' work.
    pub fn rans_decode_pair(
        &self,
        mut a: FirstStream<'_>,
        mut b: SecondStream<'_>,
    ) -> Result<(), RansError> {
        let Some(pair) = self.rans_decode_pair else {
            return pair_in_turn(self.rans_decode, a, b);
        };
        let r = pair(a.reborrow(), b.reborrow());
        #[cfg(feature = "check-kernels")]
        {
            let mut wa = vec![0u8; a.out.len()];
            let mut wb = vec![0u8; b.out.len()];
            let w = pair_in_turn(
                SCALAR.rans_decode,
                PairStream {
                    out: &mut wa,
                    ..a.reborrow()
                },
                PairStream {
                    out: &mut wb,
                    ..b.reborrow()
                },
            );
            assert_eq!(
                r, w,
                "rans_decode_pair[{}] result differs from scalar",
                self.isa
            );
            if r.is_ok() {
                assert!(
                    *a.out == wa[..] && *b.out == wb[..],
                    "rans_decode_pair[{}] differs from scalar",
                    self.isa
                );
            }
        }
        r
    }
}

/// Two decodes in turn: the meaning of a pair decode.
fn pair_in_turn(
    decode: DecodeFn,
    a: FirstStream<'_>,
    b: SecondStream<'_>,
) -> Result<(), RansError> {
    decode(
        a.stream,
        a.ctx.map_or(Ctx::Order0, Ctx::Plane),
        a.tables,
        a.out,
    )?;
    let c = b.ctx.bytes(a.out).map_or(Ctx::Order0, Ctx::Plane);
    decode(b.stream, c, b.tables, b.out)
}
