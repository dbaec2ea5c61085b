//! The C API: the `extern "C"` surface declared in `include/z4ai.h`.
//!
//! The shape follows zstd and blosc2: the caller owns every buffer, sizes
//! are `int64_t`, and every function that can fail returns a negative
//! error code (pinned forever, see [`codes`]) or a non-negative result.
//! `z4ai_compress_bound` gives a destination capacity that always
//! suffices; `z4ai_decompressed_size` reads the content size of a frame so
//! that the caller can allocate the destination before decoding into it.
//!
//! Every exported function
//!
//! * checks each pointer argument for NULL (a NULL buffer is accepted only
//!   with a size of 0; a NULL params pointer means "defaults" wherever it is
//!   documented to) and each size for being negative;
//! * runs its body inside [`std::panic::catch_unwind`], so no Rust panic
//!   ever unwinds into C: a panic (a bug) returns `Z4AI_ERROR_PANIC`;
//! * decodes straight into the caller's buffer (no intermediate copy);
//!   compression and range decoding produce a Rust vector first and copy
//!   it out (the engine has no compress-into entry point yet).
//!
//! The header is generated from this module by cbindgen (`cbindgen.toml`
//! at the repository root) and checked in; `tests/c_api.rs` fails when it
//! drifts. `docs/C_API.md` is the user-facing guide.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

mod archive;
mod codec;
mod codes;
mod params;

pub use archive::*;
pub use codec::*;
pub use codes::*;
pub use params::*;

use std::ffi::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::Error;

/// Runs `body` behind the panic boundary and flattens its result to the
/// C convention: a non-negative value, or a negative error code.
fn guard(body: impl FnOnce() -> Result<i64, i64>) -> i64 {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(code)) => code,
        Err(_) => Z4AI_ERROR_PANIC,
    }
}

/// Maps a crate error to its pinned code.
fn code_of(e: Error) -> i64 {
    e.code()
}

/// Converts a C size to `usize`, rejecting negative values (and, on 32-bit
/// targets, values that do not fit).
fn size_arg(n: i64) -> Result<usize, i64> {
    usize::try_from(n).map_err(|_| Z4AI_ERROR_INVALID_ARGUMENT)
}

/// Converts a result size back to `int64_t`.
fn size_ret(n: u64) -> Result<i64, i64> {
    i64::try_from(n).map_err(|_| Z4AI_ERROR_INVALID_ARGUMENT)
}

/// Borrows a caller's input buffer.
///
/// # Safety
///
/// When `ptr` is non-NULL it must point to `len` readable bytes that stay
/// valid and unmodified for `'a`.
unsafe fn in_buf<'a>(ptr: *const c_void, len: i64) -> Result<&'a [u8], i64> {
    let len = size_arg(len)?;
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Z4AI_ERROR_NULL_POINTER);
    }
    // SAFETY: `ptr` is non-NULL (checked above) and the caller guarantees
    // `len` readable bytes at it that nobody writes for 'a; they lie in one
    // allocation, so `len` is at most isize::MAX.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// Borrows a caller's output buffer.
///
/// # Safety
///
/// When `ptr` is non-NULL it must point to `len` writable bytes that no
/// one else reads or writes for `'a`. The bytes may be uninitialised: every
/// user of the returned slice in this module only writes it (the decoder
/// writes each byte of its output before it reads it back for the
/// checksum).
unsafe fn out_buf<'a>(ptr: *mut c_void, len: i64) -> Result<&'a mut [u8], i64> {
    let len = size_arg(len)?;
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(Z4AI_ERROR_NULL_POINTER);
    }
    // SAFETY: `ptr` is non-NULL and the caller guarantees `len` writable
    // bytes that nothing else accesses for 'a (callers of this helper also
    // reject overlap with the input buffer first, see `disjoint`).
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr.cast::<u8>(), len) })
}

/// Rejects source and destination ranges that overlap: Rust may not hold a
/// shared and an exclusive borrow of the same bytes, and decoding in place
/// would read what it has just written.
fn disjoint(dst: *mut c_void, dst_len: i64, src: *const c_void, src_len: i64) -> Result<(), i64> {
    let (d, s) = (dst as usize, src as usize);
    let (dl, sl) = (size_arg(dst_len)?, size_arg(src_len)?);
    if dl == 0 || sl == 0 || d.saturating_add(dl) <= s || s.saturating_add(sl) <= d {
        Ok(())
    } else {
        Err(Z4AI_ERROR_INVALID_ARGUMENT)
    }
}

/// A static NUL-terminated string as a C pointer.
fn c_str(s: &'static std::ffi::CStr) -> *const c_char {
    s.as_ptr()
}

#[cfg(test)]
mod tests;
