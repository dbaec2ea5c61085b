//! Symbol histograms: order-0 counts of one byte plane, and context counts
//! where each symbol is counted under a context byte (the previous symbol of
//! the same plane for order-1, or the symbol of another plane at the same
//! element for cross-plane models).
//!
//! Counts are *added* to the caller's table so chunks can be accumulated.
//! Context tables are laid out `counts[ctx * 256 + sym]` (65 536 entries).

pub mod scalar;

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod indexed;
#[cfg(target_arch = "aarch64")]
pub mod neon;
#[cfg(target_arch = "x86_64")]
pub mod sse2;
pub mod unrolled;

/// Entries in a context histogram: 256 contexts x 256 symbols.
pub const CTX_TABLE_LEN: usize = 256 * 256;
