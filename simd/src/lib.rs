//! Hand-written kernels for the z4ai codec, with run-time dispatch.
//!
//! Each kernel family lives in its own module with a portable scalar
//! reference (`scalar.rs`) that *is* the specification, plus per-ISA variants
//! that must produce byte-identical output:
//!
//! * [`planes`]: field rotation fused with byte-plane split / merge,
//! * [`hist`]: order-0 and context (order-1 / cross-plane) histograms,
//! * [`rans`]: 32-way interleaved rANS, order-0, cross-plane context and
//!   order-1 (segmented), encode and decode,
//! * [`checksum`]: XXH3-64, the long-input loop in vector registers,
//! * [`cut`]: dedup's content-defined cut search (a rolling hash),
//! * [`escape`]: the escapes of short delta residuals, split, found and
//!   expanded by a mask per 64 bytes.
//!
//! Dispatch: [`Kernels::for_isa`] is the only constructor, so holding a
//! `Kernels` proves the CPU can run it. [`Isa::active`] is detected once and
//! may be lowered (never raised) with `Z4AI_SIMD=scalar|sse2|avx2|avx512|neon`.
#![deny(missing_docs)]

use std::sync::OnceLock;

pub mod checksum;
pub mod cut;
pub mod escape;
pub mod hist;
pub mod planes;
pub mod rans;

mod dispatch;

pub use dispatch::Kernels;
pub use rans::{RansError, RansTables};

/// An instruction-set level. Levels are ordered within a platform: a level
/// without its own variant of a kernel uses the one of the level below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust; the reference every other level is tested against.
    Scalar,
    /// x86-64 SSE2 (baseline on every x86-64 CPU).
    Sse2,
    /// x86-64 AVX2.
    Avx2,
    /// x86-64 AVX-512 F + BW + VL + DQ; where the CPU also has VBMI and
    /// VBMI2, some kernels take a faster form ([`Kernels::forms`]).
    Avx512,
    /// aarch64 Advanced SIMD.
    Neon,
}

impl Isa {
    /// Every level, in order.
    pub const ALL: [Isa; 5] = [Isa::Scalar, Isa::Sse2, Isa::Avx2, Isa::Avx512, Isa::Neon];

    /// The lower-case name used by `Z4AI_SIMD` and printed by the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Sse2 => "sse2",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// Parses a level name as `Z4AI_SIMD` spells it.
    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether this CPU can run kernels of this level.
    pub fn is_supported(self) -> bool {
        dispatch::supported(self)
    }

    /// The best level this CPU supports, ignoring `Z4AI_SIMD`.
    pub fn detect() -> Isa {
        Isa::ALL
            .into_iter()
            .rev()
            .find(|isa| isa.is_supported())
            .unwrap_or(Isa::Scalar)
    }

    /// Every level this CPU supports, lowest first (always starts with `Scalar`).
    pub fn supported_levels() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_supported()).collect()
    }

    /// The process-wide level: [`Isa::detect`], lowered by `Z4AI_SIMD` when
    /// that names a supported lower level. An unknown name or a level this
    /// CPU cannot run leaves the detected level in place, except that a
    /// supported level is always honoured as a cap. Decided once.
    pub fn active() -> Isa {
        static ACTIVE: OnceLock<Isa> = OnceLock::new();
        *ACTIVE.get_or_init(|| {
            let detected = Isa::detect();
            match std::env::var("Z4AI_SIMD")
                .ok()
                .as_deref()
                .and_then(Isa::from_name)
            {
                Some(want) => cap(detected, want),
                None => detected,
            }
        })
    }
}

/// The highest supported level that is not above `want` on this platform.
fn cap(detected: Isa, want: Isa) -> Isa {
    if want.is_supported() {
        return want.min(detected);
    }
    // A level of another platform (neon on x86) or one this CPU lacks: take the
    // best supported level below it, which for a foreign level is scalar.
    Isa::ALL
        .into_iter()
        .rev()
        .find(|isa| isa.is_supported() && *isa <= want && !foreign(*isa, want))
        .unwrap_or(Isa::Scalar)
}

fn foreign(have: Isa, want: Isa) -> bool {
    let x86 = |i: Isa| matches!(i, Isa::Sse2 | Isa::Avx2 | Isa::Avx512);
    (want == Isa::Neon && x86(have)) || (x86(want) && have == Isa::Neon)
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for isa in Isa::ALL {
            assert_eq!(Isa::from_name(isa.name()), Some(isa));
        }
        assert_eq!(Isa::from_name("AVX2"), Some(Isa::Avx2));
        assert_eq!(Isa::from_name("mmx"), None);
    }

    #[test]
    fn scalar_always_supported_and_cap_only_lowers() {
        assert!(Isa::Scalar.is_supported());
        let d = Isa::detect();
        assert!(d.is_supported());
        for want in Isa::ALL {
            let got = cap(d, want);
            assert!(got.is_supported());
            assert!(got <= d);
        }
        assert_eq!(cap(d, Isa::Scalar), Isa::Scalar);
    }
}
