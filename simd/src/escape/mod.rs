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
//! set bit. AVX2 (and AVX-512 without VBMI2) compresses and expands eight
//! bytes at a time with `pshufb` and a table of controls; the AVX-512
//! VBMI2 form compresses and expands 64 in registers (`vpcompressb`,
//! `vpexpandb`): a few instructions per step whatever the number of
//! escapes.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
pub mod scalar;

/// Short symbol of an escaped word.
pub const ESCAPE: u8 = 255;

/// Elements per step.
pub const STEP: usize = 64;

/// Bytes past the last escape that the outputs of [`scalar::split`] and
/// [`scalar::find`] must have room for (a vector level stores whole steps).
pub const SLACK: usize = STEP;

/// Bytes per group of the byte-shuffle tables.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const GROUP: usize = 8;

/// For each 8-bit mask: the shuffle control that packs the bytes of the
/// set bits to the front (the rest of the control, 0x80, selects zero in
/// `pshufb` and `tbl`).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
static COMPRESS: [[u8; GROUP]; 256] = shuffle_table(false);
/// For each 8-bit mask: the shuffle control that places bytes 0, 1, ... at
/// the set bits, in order, and zero elsewhere.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
static EXPAND: [[u8; GROUP]; 256] = shuffle_table(true);

/// [`COMPRESS`] or (`expand`) [`EXPAND`].
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const fn shuffle_table(expand: bool) -> [[u8; GROUP]; 256] {
    let mut t = [[0x80u8; GROUP]; 256];
    let mut m = 0;
    while m < 256 {
        let (mut i, mut j) = (0, 0);
        while i < GROUP {
            if m & (1 << i) != 0 {
                if expand {
                    t[m][i] = j as u8;
                } else {
                    t[m][j] = i as u8;
                }
                j += 1;
            }
            i += 1;
        }
        m += 1;
    }
    t
}

/// The group of `src` from `j` (at most [`GROUP`] bytes), zero-padded:
/// for reading escaped bytes a group at a time near their end.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn group_at(src: &[u8], j: usize) -> [u8; GROUP] {
    let mut b = [0; GROUP];
    let end = (j + GROUP).min(src.len());
    b[..end - j].copy_from_slice(&src[j..end]);
    b
}

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

/// Panics unless [`scalar::find`]'s arguments fit together.
pub(crate) fn check_find(short: &[u8], ctx: &[u8], limit: usize, esc_ctx: &[u8]) {
    assert_eq!(ctx.len(), short.len(), "escape find: contexts per element");
    assert!(
        esc_ctx.len() >= limit + SLACK,
        "escape find: room for limit + SLACK"
    );
}

/// Panics unless [`scalar::expand`]'s arguments fit together (the count
/// of escapes is checked as they are placed).
pub(crate) fn check_expand(high: &[u8], low: &[u8], hi: &[u8], lo: &[u8]) {
    assert_eq!(
        high.len(),
        low.len(),
        "escape expand: planes of different lengths"
    );
    assert_eq!(hi.len(), lo.len(), "escape expand: escaped bytes");
}
