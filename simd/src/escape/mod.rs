//! Escapes of a short delta residual: residual words of two bytes held as
//! one *short* symbol per element, the word itself where it is below
//! [`ESCAPE`], else [`ESCAPE`], with the escaped words' bytes apart (the
//! short form of z4ai's delta chunks, frame format version 4).
//!
//! * [`scalar::split`]: residual planes to the short plane plus the
//!   escaped words' high and low bytes and context bytes, in order;
//! * [`scalar::find`]: the context bytes of the escapes of a short plane;
//! * [`scalar::expand`]: a short plane and the escaped bytes back to the
//!   residual planes.
//!
//! The scalar reference works a step of 64 elements at a time: their
//! escapes as a bit mask, built eight bytes at a time, then one step per
//! set bit. The AVX-512 VBMI2 level compresses and expands bytes by the
//! mask in registers (`vpcompressb`, `vpexpandb`): a few instructions per
//! step whatever the number of escapes.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
pub mod scalar;

/// Short symbol of an escaped word.
pub const ESCAPE: u8 = 255;

/// Elements per step.
pub const STEP: usize = 64;

/// Bytes past the last escape that the outputs of [`scalar::split`] and
/// [`scalar::find`] must have room for (a vector level stores whole steps).
pub const SLACK: usize = STEP;

/// Panics unless [`scalar::split`]'s arguments fit together.
pub(crate) fn check_split(high: &[u8], low: &[u8], ctx: &[u8], short: &[u8], outs: [&[u8]; 3]) {
    let n = high.len();
    assert!(
        low.len() == n && ctx.len() == n && short.len() == n,
        "escape split: planes of different lengths"
    );
    assert!(
        outs.iter().all(|o| o.len() >= n + SLACK),
        "escape split: outputs need room for every element and SLACK"
    );
}
