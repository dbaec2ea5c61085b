//! Exactly invertible redundancy transforms, chosen per chunk (palette,
//! quantization lattice) or per block (dedup).
//!
//! Reduced precision needs no transform of its own: after the field split,
//! always-zero low mantissa bits make whole planes constant or nearly so,
//! and the plane coder already stores those in a few bytes (see
//! `docs/TRANSFORMS.md` for the measurements).

pub mod dedup;
pub mod lattice;
pub mod palette;
