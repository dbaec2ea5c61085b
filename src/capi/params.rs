//! `z4ai_params`: the opaque options object of the C API.
//!
//! One object carries what [`Options`] carries for compression and what
//! [`DecodeOptions`] carries for decompression (the thread count). Setters
//! validate eagerly, so a bad value is reported where it is set, and leave
//! the object unchanged on error.

use std::ffi::c_int;

use super::codes::*;
use super::guard;
use crate::{DType, DecodeOptions, Effort, Options, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE};

/// Compression and decompression parameters (opaque to C).
///
/// Created with `z4ai_params_new`, released with `z4ai_params_free`.
/// Defaults: dtype bytes, effort default, threads 0 (all cores), chunk
/// size 512 KiB, 2 MiB for delta frames (`DEFAULT_CHUNK_SIZE`,
/// `DEFAULT_DELTA_CHUNK_SIZE` in Rust).
#[allow(non_camel_case_types)] // the C name, as the header spells it
pub struct z4ai_params {
    opts: Options,
}

impl z4ai_params {
    pub(super) fn options(&self) -> &Options {
        &self.opts
    }

    pub(super) fn decode_options(&self) -> DecodeOptions {
        DecodeOptions {
            threads: self.opts.threads,
            isa: self.opts.isa,
        }
    }
}

/// The dtype of a C dtype code.
pub(super) fn dtype_arg(dtype: c_int) -> Result<DType, i64> {
    u8::try_from(dtype)
        .ok()
        .and_then(DType::from_code)
        .ok_or(Z4AI_ERROR_INVALID_ARGUMENT)
}

/// Borrows a params object for a setter.
///
/// # Safety
///
/// `p` must be NULL or a pointer returned by `z4ai_params_new` and not yet
/// freed, with no other access to it for `'a`.
unsafe fn params_mut<'a>(p: *mut z4ai_params) -> Result<&'a mut z4ai_params, i64> {
    // SAFETY: the caller guarantees `p` is NULL (rejected by `as_mut`) or a
    // live, exclusively held object from `z4ai_params_new`.
    unsafe { p.as_mut() }.ok_or(Z4AI_ERROR_NULL_POINTER)
}

/// Allocates a params object holding the defaults.
///
/// Returns NULL only if allocation failed (or on an internal panic).
///
/// Thread safety: safe to call from any thread; the new object belongs to
/// the caller.
#[no_mangle]
pub extern "C" fn z4ai_params_new() -> *mut z4ai_params {
    std::panic::catch_unwind(|| {
        Box::into_raw(Box::new(z4ai_params {
            opts: Options::default(),
        }))
    })
    .unwrap_or(std::ptr::null_mut())
}

/// Releases a params object. NULL is accepted and ignored (like `free`).
///
/// # Safety
///
/// `p` must be NULL or a pointer returned by `z4ai_params_new` that has
/// not been freed yet; it must not be used afterwards.
///
/// Thread safety: no other thread may be using `p`.
#[no_mangle]
pub unsafe extern "C" fn z4ai_params_free(p: *mut z4ai_params) {
    if p.is_null() {
        return;
    }
    // Dropping `Options` cannot panic; the boundary is kept for uniformity.
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `p` is non-NULL and, by the contract above, came from
        // `Box::into_raw` in `z4ai_params_new` and is freed only once.
        drop(unsafe { Box::from_raw(p) });
    });
}

/// Sets the element type (`Z4AI_DTYPE_*`). Returns 0, or
/// `Z4AI_ERROR_NULL_POINTER`, or `Z4AI_ERROR_INVALID_ARGUMENT` for an
/// unknown code (the object is then unchanged).
///
/// # Safety
///
/// `p` must be NULL or a live object from `z4ai_params_new`.
///
/// Thread safety: no other thread may use `p` during the call.
#[no_mangle]
pub unsafe extern "C" fn z4ai_params_set_dtype(p: *mut z4ai_params, dtype: c_int) -> i64 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let p = unsafe { params_mut(p) }?;
        p.opts.dtype = dtype_arg(dtype)?;
        Ok(0)
    })
}

/// Sets the effort tier (`Z4AI_EFFORT_*`). Returns 0, or
/// `Z4AI_ERROR_NULL_POINTER`, or `Z4AI_ERROR_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `p` must be NULL or a live object from `z4ai_params_new`.
///
/// Thread safety: no other thread may use `p` during the call.
#[no_mangle]
pub unsafe extern "C" fn z4ai_params_set_effort(p: *mut z4ai_params, effort: c_int) -> i64 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let p = unsafe { params_mut(p) }?;
        p.opts.effort = match effort {
            Z4AI_EFFORT_FAST => Effort::Fast,
            Z4AI_EFFORT_DEFAULT => Effort::Default,
            Z4AI_EFFORT_MAX => Effort::Max,
            _ => return Err(Z4AI_ERROR_INVALID_ARGUMENT),
        };
        Ok(0)
    })
}

/// Sets the worker thread count for compression and decompression;
/// 0 (the default) uses every core. Returns 0, or
/// `Z4AI_ERROR_NULL_POINTER`, or `Z4AI_ERROR_INVALID_ARGUMENT` when
/// `threads` is negative or above 65536.
///
/// # Safety
///
/// `p` must be NULL or a live object from `z4ai_params_new`.
///
/// Thread safety: no other thread may use `p` during the call.
#[no_mangle]
pub unsafe extern "C" fn z4ai_params_set_threads(p: *mut z4ai_params, threads: i64) -> i64 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let p = unsafe { params_mut(p) }?;
        if !(0..=65536).contains(&threads) {
            return Err(Z4AI_ERROR_INVALID_ARGUMENT);
        }
        p.opts.threads = threads as usize;
        Ok(0)
    })
}

/// Sets the chunk size in bytes (the unit of parallelism and random
/// access) of every frame, plain and delta, 4 KiB to 64 MiB. Returns 0, or `Z4AI_ERROR_NULL_POINTER`, or
/// `Z4AI_ERROR_INVALID_ARGUMENT` outside that range.
///
/// # Safety
///
/// `p` must be NULL or a live object from `z4ai_params_new`.
///
/// Thread safety: no other thread may use `p` during the call.
#[no_mangle]
pub unsafe extern "C" fn z4ai_params_set_chunk_size(p: *mut z4ai_params, bytes: i64) -> i64 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let p = unsafe { params_mut(p) }?;
        let bytes = usize::try_from(bytes).map_err(|_| Z4AI_ERROR_INVALID_ARGUMENT)?;
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&bytes) {
            return Err(Z4AI_ERROR_INVALID_ARGUMENT);
        }
        p.opts = p.opts.clone().chunk_size(bytes);
        Ok(0)
    })
}
