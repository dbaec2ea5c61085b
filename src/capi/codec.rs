//! One-shot compression and decompression of caller-owned buffers.
//!
//! Argument order follows zstd: destination and its capacity first, then
//! source and its size, then the parameters. Every size is `int64_t`;
//! results are non-negative sizes or negative error codes.

use std::ffi::c_void;

use super::params::z4ai_params;
use super::{code_of, disjoint, guard, in_buf, out_buf, size_arg, size_ret};
use crate::engine::Verify;
use crate::{DecodeOptions, Options};

use super::codes::*;

/// The caller's parameters, or the defaults for NULL.
///
/// # Safety
///
/// `p` must be NULL or a live object from `z4ai_params_new` that nobody
/// modifies during the call.
unsafe fn params_or_default(p: *const z4ai_params) -> (Options, DecodeOptions) {
    // SAFETY: by the contract above, `p` is NULL (`as_ref` gives None) or
    // points to a live object that is only read while we hold it.
    match unsafe { p.as_ref() } {
        Some(p) => (p.options().clone(), p.decode_options()),
        None => (Options::default(), DecodeOptions::default()),
    }
}

/// A destination capacity that always suffices for compressing `src_size`
/// bytes with `params` (NULL: defaults; only the chunk size matters).
/// Returns the bound, or `Z4AI_ERROR_INVALID_ARGUMENT` for a negative
/// size or a bound that does not fit in `int64_t`.
///
/// # Safety
///
/// `params` must be NULL or a live object from `z4ai_params_new`.
///
/// Thread safety: safe from any thread; `params` may be shared with other
/// threads that only read it (compress / decompress calls), not with a
/// concurrent setter.
#[no_mangle]
pub unsafe extern "C" fn z4ai_compress_bound(src_size: i64, params: *const z4ai_params) -> i64 {
    guard(|| {
        let n = size_arg(src_size)?;
        // SAFETY: forwarded from this function's contract.
        let (opts, _) = unsafe { params_or_default(params) };
        size_ret(crate::compress_bound(n, &opts) as u64)
    })
}

/// Compresses `src_size` bytes at `src` into one self-describing frame at
/// `dst`, using `params` (NULL: defaults, i.e. dtype bytes, effort default,
/// all cores).
///
/// Returns the frame size (at most `z4ai_compress_bound(src_size)`), or a
/// negative code: `Z4AI_ERROR_DST_TOO_SMALL` when the frame does not fit in
/// `dst_capacity` bytes (nothing useful is written then),
/// `Z4AI_ERROR_NULL_POINTER` for a NULL buffer with a non-zero size,
/// `Z4AI_ERROR_INVALID_ARGUMENT` for negative sizes or overlapping buffers.
///
/// Each part of the frame is copied into `dst` once, as it is produced;
/// only the pages of `dst` the frame lands on are touched, so a capacity of
/// `z4ai_compress_bound(src_size)` costs no more memory than the frame.
///
/// # Safety
///
/// `src` must be NULL or point to `src_size` readable bytes, `dst` NULL or
/// `dst_capacity` writable bytes, not overlapping `src`; `params` NULL or
/// a live params object.
///
/// Thread safety: safe to call concurrently from many threads on distinct
/// destination buffers; sources and one `params` object may be shared
/// between such calls as long as nothing writes them meanwhile. Each call
/// runs on `threads` workers of a process-wide pool.
#[no_mangle]
pub unsafe extern "C" fn z4ai_compress(
    dst: *mut c_void,
    dst_capacity: i64,
    src: *const c_void,
    src_size: i64,
    params: *const z4ai_params,
) -> i64 {
    guard(|| {
        disjoint(dst, dst_capacity, src, src_size)?;
        // SAFETY: forwarded from this function's contract; the two
        // buffers were just checked to be disjoint.
        let (src, dst) = unsafe { (in_buf(src, src_size)?, out_buf(dst, dst_capacity)?) };
        // SAFETY: forwarded from this function's contract.
        let (opts, _) = unsafe { params_or_default(params) };
        let n = crate::compress_into(src, dst, &opts).map_err(code_of)?;
        size_ret(n as u64)
    })
}

/// The decoded size of the frame in `src[0..src_size]`, read from its
/// header or, for streamed frames, from its block headers (no chunk is
/// decoded; the frame's structure is validated first).
///
/// Returns the size or a negative code (`Z4AI_ERROR_BAD_MAGIC`,
/// `Z4AI_ERROR_TRUNCATED`, `Z4AI_ERROR_CORRUPT`, ...).
///
/// # Safety
///
/// `src` must be NULL or point to `src_size` readable bytes.
///
/// Thread safety: safe from any thread; `src` may be shared with readers.
#[no_mangle]
pub unsafe extern "C" fn z4ai_decompressed_size(src: *const c_void, src_size: i64) -> i64 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let src = unsafe { in_buf(src, src_size) }?;
        let n = crate::decompressed_size(src).map_err(code_of)?;
        i64::try_from(n).map_err(|_| Z4AI_ERROR_CORRUPT)
    })
}

/// Decompresses the frame in `src[0..src_size]` straight into `dst` (no
/// intermediate buffer). `params` may be NULL; only its thread count is
/// used.
///
/// Returns the number of bytes written (the content size), or a negative
/// code: `Z4AI_ERROR_DST_TOO_SMALL` when `dst_capacity` is below
/// `z4ai_decompressed_size`, the frame errors (`Z4AI_ERROR_BAD_MAGIC` ..
/// `Z4AI_ERROR_CHECKSUM_MISMATCH`), `Z4AI_ERROR_NULL_POINTER`,
/// `Z4AI_ERROR_INVALID_ARGUMENT`, `Z4AI_ERROR_REFERENCE_REQUIRED` for a
/// delta frame (decode those with `z4ai_decompress_delta`). On error the
/// contents of `dst` are unspecified; every decoded chunk is checked
/// against its checksum before success is returned.
///
/// # Safety
///
/// `src` must be NULL or point to `src_size` readable bytes, `dst` NULL or
/// `dst_capacity` writable bytes (they may be uninitialised) not
/// overlapping `src`; `params` NULL or a live params object.
///
/// Thread safety: as `z4ai_compress`.
#[no_mangle]
pub unsafe extern "C" fn z4ai_decompress(
    dst: *mut c_void,
    dst_capacity: i64,
    src: *const c_void,
    src_size: i64,
    params: *const z4ai_params,
) -> i64 {
    guard(|| {
        disjoint(dst, dst_capacity, src, src_size)?;
        // SAFETY: forwarded from this function's contract; the two
        // buffers were just checked to be disjoint. The decoder only
        // writes `dst` before reading it (see `out_buf`).
        let (src, dst) = unsafe { (in_buf(src, src_size)?, out_buf(dst, dst_capacity)?) };
        // SAFETY: forwarded from this function's contract.
        let (_, dopts) = unsafe { params_or_default(params) };
        let n = crate::decompress_into_with(src, dst, &dopts).map_err(code_of)?;
        size_ret(n as u64)
    })
}

/// Decompresses `len` bytes starting at byte `offset` of the content of
/// the frame in `src[0..src_size]` into `dst`, decoding only the chunks
/// that overlap the range. `params` may be NULL; only its thread count is
/// used.
///
/// Returns `len`, or a negative code: `Z4AI_ERROR_OUT_OF_RANGE` when
/// `offset + len` exceeds the content size, `Z4AI_ERROR_DST_TOO_SMALL`
/// when `dst_capacity < len`, `Z4AI_ERROR_INVALID_ARGUMENT` for negative
/// values, `Z4AI_ERROR_REFERENCE_REQUIRED` for a delta frame, the frame
/// errors, `Z4AI_ERROR_NULL_POINTER`.
/// The overlapping
/// chunks are decoded in library memory and the range copied out.
///
/// # Safety
///
/// As `z4ai_decompress`.
///
/// Thread safety: as `z4ai_compress`.
#[no_mangle]
pub unsafe extern "C" fn z4ai_decompress_range(
    dst: *mut c_void,
    dst_capacity: i64,
    src: *const c_void,
    src_size: i64,
    offset: i64,
    len: i64,
    params: *const z4ai_params,
) -> i64 {
    guard(|| {
        let offset = u64::try_from(offset).map_err(|_| Z4AI_ERROR_INVALID_ARGUMENT)?;
        let want = size_arg(len)?;
        disjoint(dst, dst_capacity, src, src_size)?;
        // SAFETY: forwarded from this function's contract; the two
        // buffers were just checked to be disjoint.
        let (src, dst) = unsafe { (in_buf(src, src_size)?, out_buf(dst, dst_capacity)?) };
        if dst.len() < want {
            return Err(Z4AI_ERROR_DST_TOO_SMALL);
        }
        // SAFETY: forwarded from this function's contract.
        let (_, dopts) = unsafe { params_or_default(params) };
        let bytes =
            crate::engine::decompress_range(src, offset, want as u64, dopts.threads, dopts.isa)
                .map_err(code_of)?;
        dst[..bytes.len()].copy_from_slice(&bytes);
        size_ret(bytes.len() as u64)
    })
}

/// Compresses `src_size` bytes at `src` as a bit-exact delta against
/// `reference[0..reference_size]` (a previous checkpoint, or the base model
/// of a fine-tune) into one frame at `dst`. The frame records the
/// reference's length and checksum; decode it with `z4ai_decompress_delta`
/// and the same reference. `z4ai_compress_bound(src_size)` bounds its size.
///
/// Returns the frame size or a negative code, as `z4ai_compress`, and
/// writes `dst` as it does.
///
/// # Safety
///
/// As `z4ai_compress`; `reference` must be NULL or point to
/// `reference_size` readable bytes (it may overlap `src`, not `dst`).
///
/// Thread safety: as `z4ai_compress`.
#[no_mangle]
pub unsafe extern "C" fn z4ai_compress_delta(
    dst: *mut c_void,
    dst_capacity: i64,
    src: *const c_void,
    src_size: i64,
    reference: *const c_void,
    reference_size: i64,
    params: *const z4ai_params,
) -> i64 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let (src, reference, dst) =
            unsafe { delta_bufs(dst, dst_capacity, src, src_size, reference, reference_size)? };
        // SAFETY: forwarded from this function's contract.
        let (opts, _) = unsafe { params_or_default(params) };
        let n = crate::compress_delta_into(src, reference, dst, &opts).map_err(code_of)?;
        size_ret(n as u64)
    })
}

/// Input, reference and output of a delta call.
type DeltaBufs<'a> = (&'a [u8], &'a [u8], &'a mut [u8]);

/// The input, reference and output buffers of the delta functions, after
/// checking that `dst` overlaps neither input.
///
/// # Safety
///
/// `src` and `reference` must be NULL or point to their sizes in readable
/// bytes, `dst` NULL or `dst_capacity` writable bytes, all valid for `'a`.
unsafe fn delta_bufs<'a>(
    dst: *mut c_void,
    dst_capacity: i64,
    src: *const c_void,
    src_size: i64,
    reference: *const c_void,
    reference_size: i64,
) -> Result<DeltaBufs<'a>, i64> {
    disjoint(dst, dst_capacity, src, src_size)?;
    disjoint(dst, dst_capacity, reference, reference_size)?;
    // SAFETY: forwarded from this function's contract; `dst` was just
    // checked to be disjoint from both inputs (which are only read).
    unsafe {
        Ok((
            in_buf(src, src_size)?,
            in_buf(reference, reference_size)?,
            out_buf(dst, dst_capacity)?,
        ))
    }
}

/// Decompresses a frame made by `z4ai_compress_delta` straight into `dst`,
/// given the same reference. Plain frames decode too (the reference is
/// then ignored).
///
/// Returns the content size or a negative code, as `z4ai_decompress`, plus
/// `Z4AI_ERROR_REFERENCE_MISMATCH` when `reference` is not the one the
/// frame was made against (never wrong output).
///
/// # Safety
///
/// As `z4ai_decompress`; `reference` must be NULL or point to
/// `reference_size` readable bytes (it may overlap `src`, not `dst`).
///
/// Thread safety: as `z4ai_compress`.
#[no_mangle]
pub unsafe extern "C" fn z4ai_decompress_delta(
    dst: *mut c_void,
    dst_capacity: i64,
    src: *const c_void,
    src_size: i64,
    reference: *const c_void,
    reference_size: i64,
    params: *const z4ai_params,
) -> i64 {
    guard(|| {
        // SAFETY: forwarded from this function's contract. The decoder only
        // writes `dst` before reading it (see `out_buf`).
        let (src, reference, dst) =
            unsafe { delta_bufs(dst, dst_capacity, src, src_size, reference, reference_size)? };
        // SAFETY: forwarded from this function's contract.
        let (_, dopts) = unsafe { params_or_default(params) };
        let n = crate::engine::decompress_into(
            src,
            dst,
            dopts.threads,
            dopts.isa,
            Some(reference),
            Verify::Frame,
        )
        .map_err(code_of)?;
        size_ret(n as u64)
    })
}
