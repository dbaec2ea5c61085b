//! 32-way interleaved rANS with 16-bit renormalisation.
//!
//! Parameters (fixed by the format): 32 states, each a `u32` kept in
//! `[L, 2^31)` with `L = 2^15`; probabilities quantised to `2^scale_bits`
//! (`1 ..= 15`); renormalisation moves one 16-bit word at a time.
//!
//! A stream is: the 32 final encoder states (`u32` little-endian, state 0
//! first), then the 16-bit words (little-endian) in the order the decoder
//! consumes them. A valid stream decodes to states that all equal `L` with
//! every word consumed, which the decoder checks.
//!
//! The model is a [`RansTables`]: up to 256 frequency tables and a map from
//! context byte to table. Three ways of choosing the context of symbol `i`
//! ([`Ctx`]):
//!
//! * `Order0`: context 0 for every symbol. Symbol `i` is coded by state
//!   `i % 32` (round robin).
//! * `Plane(ctx)`: the context is `ctx[i]`, a byte of an already-decoded
//!   plane. Round robin as above.
//! * `Order1`: the context is the previous symbol. The input is cut into 32
//!   contiguous segments of `q = ceil(n / 32)` symbols (the last ones shorter
//!   or empty); state `j` codes segment `j`, whose first symbol has context 0.
//!   The decoder runs round `r = 0 .. q`, and within a round states `0 .. 32`
//!   in order, each decoding symbol `j * q + r` when it exists.
//!
//! Decoding one symbol with table `t`: `slot = x & (M - 1)`, `s` the symbol
//! whose cumulative range holds `slot`, `x = freq[s] * (x >> bits) + slot -
//! cum[s]`, then if `x < L`, `x = (x << 16) | next_word`.

pub mod scalar;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512_enc;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
#[cfg(target_arch = "x86_64")]
pub(crate) mod sse2;
// Only the SIMD kernels use the packed forms.
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)]
pub(crate) mod packed;

use std::borrow::Cow;
use std::sync::OnceLock;

/// Number of interleaved states.
pub const STATES: usize = 32;
/// Lower bound of the normalised state interval.
pub const RANS_L: u32 = 1 << 15;
/// Largest allowed probability scale.
pub const MAX_SCALE_BITS: u32 = 15;
/// Bound on the decode tables a model may need: `tables << scale_bits`.
pub const MAX_SLOTS: usize = 1 << 20;
/// Bytes of the state header at the start of every stream.
pub const HEADER_BYTES: usize = STATES * 4;

/// Where the context of each symbol comes from.
#[derive(Clone, Copy, Debug)]
pub enum Ctx<'a> {
    /// Context 0 for every symbol.
    Order0,
    /// The previous symbol of the same segment (see the module docs).
    Order1,
    /// The byte at the same index of another, already-known plane.
    Plane(&'a [u8]),
}

/// Where the contexts of the second stream of a pair decode come from
/// (see [`crate::Kernels::rans_decode_pair`]).
#[derive(Clone, Copy, Debug)]
pub enum SecondCtx<'a> {
    /// Context 0 for every symbol.
    Order0,
    /// The byte at the same index of another, already-known plane.
    Plane(&'a [u8]),
    /// The symbol at the same index of the first stream's output.
    First,
}

impl<'a> SecondCtx<'a> {
    /// The context bytes, given the first stream's output (`None`: order-0).
    pub fn bytes(self, first: &'a [u8]) -> Option<&'a [u8]> {
        match self {
            SecondCtx::Order0 => None,
            SecondCtx::Plane(c) => Some(c),
            SecondCtx::First => Some(first),
        }
    }
}

/// One stream of a pair decode ([`crate::Kernels::rans_decode_pair`]): its
/// bytes, where its contexts come from, its model and its output.
#[derive(Debug)]
pub struct PairStream<'a, C> {
    /// The encoded stream.
    pub stream: &'a [u8],
    /// Its contexts: `Option<&[u8]>` (order-0, or a known plane) for the
    /// first stream, [`SecondCtx`] for the second.
    pub ctx: C,
    /// Its model.
    pub tables: &'a RansTables,
    /// Where its symbols go.
    pub out: &'a mut [u8],
}

/// The first stream of a pair.
pub type FirstStream<'a> = PairStream<'a, Option<&'a [u8]>>;
/// The second stream of a pair.
pub type SecondStream<'a> = PairStream<'a, SecondCtx<'a>>;

impl<C: Copy> PairStream<'_, C> {
    /// The same stream, with its output borrowed again.
    pub fn reborrow(&mut self) -> PairStream<'_, C> {
        PairStream {
            stream: self.stream,
            ctx: self.ctx,
            tables: self.tables,
            out: self.out,
        }
    }
}

/// Errors from building tables or coding a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RansError {
    /// A table does not sum to `2^scale_bits`, the scale is out of range, a
    /// context maps to a missing table, or the tables are too large.
    BadTables,
    /// The encoder met a symbol whose frequency is zero in its table.
    SymbolNotInTable,
    /// The stream ended before the decoder was done.
    Truncated,
    /// A stored state is out of range, words are left over, or the final
    /// states are not the initial ones: the stream is corrupt.
    Corrupt,
}

impl std::fmt::Display for RansError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RansError::BadTables => "invalid rANS frequency tables",
            RansError::SymbolNotInTable => "symbol has zero frequency in its rANS table",
            RansError::Truncated => "rANS stream truncated",
            RansError::Corrupt => "rANS stream corrupt",
        })
    }
}

impl std::error::Error for RansError {}

/// A validated rANS model: frequency tables, the context map, and the
/// decode lookup built from them.
#[derive(Clone, Debug)]
pub struct RansTables {
    scale_bits: u32,
    ctx_map: [u8; 256],
    freq: Vec<[u16; 256]>,
    cum: Vec<[u16; 257]>,
    /// The symbol of every slot, built on first use (by the scalar
    /// decoder): a kernel decodes from its own entries and finds the
    /// symbols of its few reference steps with [`RansTables::symbol_at`],
    /// so that a model read from a frame costs no table it does not use
    /// (building this one was 8% of restoring a delta archive of small
    /// tensors).
    slot2sym: OnceLock<Vec<u8>>,
    /// Kernel-side forms of the same model, built on first use by a SIMD
    /// kernel (the scalar reference never pays for them).
    dec_packed: OnceLock<Vec<u64>>,
    dec_narrow: OnceLock<Vec<u32>>,
    enc_packed: OnceLock<Vec<packed::EncSym>>,
    /// Decode entries tagged for the first context map asked for (see
    /// [`RansTables::dec_entries_tagged`]), with that map.
    dec_tagged: OnceLock<([u8; 256], Vec<u64>)>,
}

impl RansTables {
    /// Builds a model from frequency tables that each sum to `2^scale_bits`;
    /// `ctx_map[c]` names the table used under context `c`.
    pub fn new(
        scale_bits: u32,
        ctx_map: [u8; 256],
        freq: Vec<[u16; 256]>,
    ) -> Result<RansTables, RansError> {
        if scale_bits == 0 || scale_bits > MAX_SCALE_BITS {
            return Err(RansError::BadTables);
        }
        if freq.is_empty() || freq.len() > 256 || (freq.len() << scale_bits) > MAX_SLOTS {
            return Err(RansError::BadTables);
        }
        if ctx_map.iter().any(|&t| usize::from(t) >= freq.len()) {
            return Err(RansError::BadTables);
        }
        let m = 1usize << scale_bits;
        let mut cum = Vec::with_capacity(freq.len());
        for f in &freq {
            let mut c = [0u16; 257];
            let mut acc = 0usize;
            for s in 0..256 {
                c[s] = acc as u16;
                let fs = usize::from(f[s]);
                if acc + fs > m {
                    return Err(RansError::BadTables);
                }
                acc += fs;
            }
            if acc != m {
                return Err(RansError::BadTables);
            }
            // 2^15 fits u16; cum[256] is only read as the table's total.
            c[256] = acc as u16;
            cum.push(c);
        }
        Ok(RansTables {
            scale_bits,
            ctx_map,
            freq,
            cum,
            slot2sym: OnceLock::new(),
            dec_packed: OnceLock::new(),
            dec_narrow: OnceLock::new(),
            enc_packed: OnceLock::new(),
            dec_tagged: OnceLock::new(),
        })
    }

    /// Probability scale: frequencies sum to `2^scale_bits`.
    pub fn scale_bits(&self) -> u32 {
        self.scale_bits
    }

    /// Number of frequency tables.
    pub fn table_count(&self) -> usize {
        self.freq.len()
    }

    /// Table index used under context `ctx`.
    #[inline]
    pub fn table_of(&self, ctx: u8) -> usize {
        usize::from(self.ctx_map[usize::from(ctx)])
    }

    /// The context map.
    pub fn ctx_map(&self) -> &[u8; 256] {
        &self.ctx_map
    }

    /// Frequencies of table `t`.
    #[inline]
    pub fn freqs(&self, t: usize) -> &[u16; 256] {
        &self.freq[t]
    }

    /// Cumulative frequencies of table `t` (`cum[s]` = sum of `freq[..s]`).
    #[inline]
    pub fn cums(&self, t: usize) -> &[u16; 257] {
        &self.cum[t]
    }

    /// Decode lookup: symbol of every slot, table `t` at `t << scale_bits`
    /// (built on first use).
    #[inline]
    pub fn slot_symbols(&self) -> &[u8] {
        self.slot2sym.get_or_init(|| {
            let mut v = Vec::with_capacity(self.freq.len() << self.scale_bits);
            for f in &self.freq {
                for (s, &n) in f.iter().enumerate() {
                    v.extend(std::iter::repeat_n(s as u8, usize::from(n)));
                }
            }
            v
        })
    }

    /// The symbol owning `slot` (below `2^scale_bits`) of table `t`: the
    /// entry [`RansTables::slot_symbols`] holds, found by a binary search
    /// of the cumulative frequencies instead.
    #[inline]
    pub fn symbol_at(&self, t: usize, slot: u32) -> u8 {
        // The first symbol whose run ends past `slot` owns it (symbols of
        // frequency 0 have empty runs).
        self.cum[t][1..].partition_point(|&c| u32::from(c) <= slot) as u8
    }

    /// Packed decode entries, one per slot (same indexing as
    /// [`RansTables::slot_symbols`]); see [`packed::dec_entry`].
    #[allow(dead_code)] // unused on targets without a SIMD rANS kernel
    pub(crate) fn dec_entries(&self) -> &[u64] {
        self.dec_packed.get_or_init(|| packed::build_dec(self))
    }

    /// [`RansTables::dec_entries`] where a kernel needs them: empty when
    /// [`RansTables::dec_entries_narrow`] exists, which a kernel then uses
    /// instead (building both was 7% of checkpoint-delta decoding).
    #[allow(dead_code)]
    pub(crate) fn dec_entries_unless_narrow(&self) -> &[u64] {
        if self.has_narrow() {
            &[]
        } else {
            self.dec_entries()
        }
    }

    /// Whether the scale allows narrow entries.
    fn has_narrow(&self) -> bool {
        self.scale_bits <= packed::NARROW_MAX_BITS
    }

    /// Narrow (`u32`) decode entries, same indexing as
    /// [`RansTables::dec_entries`], for models with `scale_bits <=`
    /// [`packed::NARROW_MAX_BITS`] (`None` for larger scales); see
    /// [`packed::dec_entry_narrow`].
    #[allow(dead_code)]
    pub(crate) fn dec_entries_narrow(&self) -> Option<&[u32]> {
        self.has_narrow().then(|| {
            &self
                .dec_narrow
                .get_or_init(|| packed::build_dec_narrow(self))[..]
        })
    }

    /// [`RansTables::dec_entries`] with `next_map[s]` in bits 56..64 of the
    /// entry of every slot of symbol `s`: a decoder whose next lookup takes
    /// this one's symbol as its context reads that lookup's table index
    /// from this one, with no second load on the dependency chain. Pair
    /// decoders tag a first stream with its second stream's map, order-1
    /// decoders a model with its own. The entries for the first map asked
    /// for are kept (a block's shared models are always used alike).
    #[allow(dead_code)]
    pub(crate) fn dec_entries_tagged(&self, next_map: &[u8; 256]) -> Cow<'_, [u64]> {
        let build = || packed::build_dec_tagged(self, next_map);
        let (map, entries) = self.dec_tagged.get_or_init(|| (*next_map, build()));
        if map == next_map {
            Cow::Borrowed(entries)
        } else {
            Cow::Owned(build())
        }
    }

    /// Encoder entries, `table * 256 + symbol`; see [`packed::EncSym`].
    #[allow(dead_code)]
    pub(crate) fn enc_entries(&self) -> &[packed::EncSym] {
        self.enc_packed.get_or_init(|| packed::build_enc(self))
    }

    /// `table_of(c) << scale_bits` for every context byte `c`: the offset of
    /// the decode entries used under `c`.
    #[allow(dead_code)]
    pub(crate) fn dec_bases(&self) -> [u32; 256] {
        std::array::from_fn(|c| (self.table_of(c as u8) as u32) << self.scale_bits)
    }

    /// `table_of(c) * 256` for every context byte `c`: the offset of the
    /// encoder entries used under `c`.
    #[allow(dead_code)]
    pub(crate) fn enc_bases(&self) -> [u32; 256] {
        std::array::from_fn(|c| (self.table_of(c as u8) as u32) << 8)
    }
}

/// Bytes a stream may hold at most for `n` symbols: the state header plus
/// one 16-bit word per symbol (each symbol renormalises at most once).
pub fn max_stream_len(n: usize) -> usize {
    HEADER_BYTES + 2 * n
}

/// Segment length used by order-1 streams of `n` symbols.
#[inline]
pub fn order1_segment_len(n: usize) -> usize {
    n.div_ceil(STATES)
}
