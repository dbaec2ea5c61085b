//! Pinned numbers of the C ABI: error codes, dtype codes, effort codes,
//! and the static strings that name them.
//!
//! Error codes -2..=-11, -14, -15 and -17 are [`crate::Error::code`]; -1,
//! -12, -13 and -16 exist only at the C boundary. None of these numbers is ever renumbered or
//! reused; new errors get new, more negative codes.

use std::ffi::{c_char, c_int, CStr};
use std::panic::catch_unwind;

use super::params::dtype_arg;
use super::{c_str, guard};

/// The panic boundary for functions that return a static string: a panic
/// (which none of them can raise today) gives the "generic error" text.
fn guard_ptr(body: impl FnOnce() -> *const c_char + std::panic::UnwindSafe) -> *const c_char {
    catch_unwind(body).unwrap_or_else(|_| c_str(c"generic error"))
}

/// Error codes returned (as negative `int64_t` values) by the functions of
/// this API. They are ABI: never renumbered, never reused; new errors get
/// new, more negative codes. -2..=-11, -14, -15 and -17 are
/// [`crate::Error::code`].
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum z4ai_error {
    /// Generic or unknown failure (also: allocation of a params object failed).
    Z4AI_ERROR_GENERIC = -1,
    /// The input does not start with the z4ai magic bytes.
    Z4AI_ERROR_BAD_MAGIC = -2,
    /// The frame was written by a format version this build cannot read.
    Z4AI_ERROR_UNSUPPORTED_VERSION = -3,
    /// The input ended before a structure was complete.
    Z4AI_ERROR_TRUNCATED = -4,
    /// A field of the frame holds a value the format forbids.
    Z4AI_ERROR_CORRUPT = -5,
    /// A header, block or chunk checksum did not match.
    Z4AI_ERROR_CHECKSUM_MISMATCH = -6,
    /// A delta frame was decoded against a reference other than its own.
    Z4AI_ERROR_REFERENCE_MISMATCH = -7,
    /// The destination buffer is too small.
    Z4AI_ERROR_DST_TOO_SMALL = -8,
    /// An argument or option is out of range: a negative size, an unknown
    /// dtype or effort, a bad chunk size, overlapping buffers.
    Z4AI_ERROR_INVALID_ARGUMENT = -9,
    /// A requested range lies outside the content.
    Z4AI_ERROR_OUT_OF_RANGE = -10,
    /// Reading or writing a file failed.
    Z4AI_ERROR_IO = -11,
    /// A required pointer argument was NULL.
    Z4AI_ERROR_NULL_POINTER = -12,
    /// The library panicked (a bug: please report it). No state was changed
    /// that the caller can observe, except the contents of the destination.
    Z4AI_ERROR_PANIC = -13,
    /// One tensor (or region) of an archive failed to decode or did not
    /// match its checksum.
    Z4AI_ERROR_TENSOR = -14,
    /// A model file's header or an archive's structure is malformed.
    Z4AI_ERROR_MALFORMED = -15,
    /// No tensor with the requested name or number is in the archive.
    Z4AI_ERROR_NOT_FOUND = -16,
    /// A delta frame was given to a decoder without its reference (use
    /// `z4ai_decompress_delta`).
    Z4AI_ERROR_REFERENCE_REQUIRED = -17,
}

/// Element types, for `z4ai_params_set_dtype`. The values are the dtype
/// codes of the frame format (ABI).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum z4ai_dtype {
    /// Opaque bytes: one plane, no field split.
    Z4AI_DTYPE_BYTES = 0,
    /// bfloat16.
    Z4AI_DTYPE_BF16 = 1,
    /// IEEE binary16.
    Z4AI_DTYPE_F16 = 2,
    /// IEEE binary32.
    Z4AI_DTYPE_F32 = 3,
    /// IEEE binary64.
    Z4AI_DTYPE_F64 = 4,
    /// OCP FP8 E4M3.
    Z4AI_DTYPE_F8E4M3 = 5,
    /// OCP FP8 E5M2.
    Z4AI_DTYPE_F8E5M2 = 6,
    /// Signed 8-bit integers.
    Z4AI_DTYPE_I8 = 7,
    /// Unsigned 8-bit integers.
    Z4AI_DTYPE_U8 = 8,
    /// Signed 16-bit integers.
    Z4AI_DTYPE_I16 = 9,
    /// Signed 32-bit integers.
    Z4AI_DTYPE_I32 = 10,
    /// Signed 64-bit integers.
    Z4AI_DTYPE_I64 = 11,
}

/// Effort tiers, for `z4ai_params_set_effort` (ABI).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum z4ai_effort {
    /// Order-0 exponent coding, raw mantissa, no search.
    Z4AI_EFFORT_FAST = 0,
    /// Shared models, transforms, dedup; a mantissa plane coded only where
    /// it saves at least 1/32 of it (the default).
    Z4AI_EFFORT_DEFAULT = 1,
    /// Every candidate tried, the smallest kept (slow to encode).
    Z4AI_EFFORT_MAX = 2,
}

// The same numbers as Rust constants of the types the functions use.
// (Not `pub`: cbindgen must see them only as enum members.)
pub(crate) const Z4AI_ERROR_GENERIC: i64 = z4ai_error::Z4AI_ERROR_GENERIC as i64;
pub(crate) const Z4AI_ERROR_BAD_MAGIC: i64 = z4ai_error::Z4AI_ERROR_BAD_MAGIC as i64;
pub(crate) const Z4AI_ERROR_UNSUPPORTED_VERSION: i64 =
    z4ai_error::Z4AI_ERROR_UNSUPPORTED_VERSION as i64;
pub(crate) const Z4AI_ERROR_TRUNCATED: i64 = z4ai_error::Z4AI_ERROR_TRUNCATED as i64;
pub(crate) const Z4AI_ERROR_CORRUPT: i64 = z4ai_error::Z4AI_ERROR_CORRUPT as i64;
pub(crate) const Z4AI_ERROR_CHECKSUM_MISMATCH: i64 =
    z4ai_error::Z4AI_ERROR_CHECKSUM_MISMATCH as i64;
pub(crate) const Z4AI_ERROR_REFERENCE_MISMATCH: i64 =
    z4ai_error::Z4AI_ERROR_REFERENCE_MISMATCH as i64;
pub(crate) const Z4AI_ERROR_DST_TOO_SMALL: i64 = z4ai_error::Z4AI_ERROR_DST_TOO_SMALL as i64;
pub(crate) const Z4AI_ERROR_INVALID_ARGUMENT: i64 = z4ai_error::Z4AI_ERROR_INVALID_ARGUMENT as i64;
pub(crate) const Z4AI_ERROR_OUT_OF_RANGE: i64 = z4ai_error::Z4AI_ERROR_OUT_OF_RANGE as i64;
pub(crate) const Z4AI_ERROR_IO: i64 = z4ai_error::Z4AI_ERROR_IO as i64;
pub(crate) const Z4AI_ERROR_NULL_POINTER: i64 = z4ai_error::Z4AI_ERROR_NULL_POINTER as i64;
pub(crate) const Z4AI_ERROR_PANIC: i64 = z4ai_error::Z4AI_ERROR_PANIC as i64;
pub(crate) const Z4AI_ERROR_TENSOR: i64 = z4ai_error::Z4AI_ERROR_TENSOR as i64;
pub(crate) const Z4AI_ERROR_MALFORMED: i64 = z4ai_error::Z4AI_ERROR_MALFORMED as i64;
pub(crate) const Z4AI_ERROR_NOT_FOUND: i64 = z4ai_error::Z4AI_ERROR_NOT_FOUND as i64;
pub(crate) const Z4AI_ERROR_REFERENCE_REQUIRED: i64 =
    z4ai_error::Z4AI_ERROR_REFERENCE_REQUIRED as i64;

pub(crate) const Z4AI_EFFORT_FAST: c_int = z4ai_effort::Z4AI_EFFORT_FAST as c_int;
pub(crate) const Z4AI_EFFORT_DEFAULT: c_int = z4ai_effort::Z4AI_EFFORT_DEFAULT as c_int;
pub(crate) const Z4AI_EFFORT_MAX: c_int = z4ai_effort::Z4AI_EFFORT_MAX as c_int;

/// The static description of an error code.
fn error_text(code: i64) -> &'static CStr {
    match code {
        0.. => c"no error",
        Z4AI_ERROR_GENERIC => c"generic error",
        Z4AI_ERROR_BAD_MAGIC => c"not a z4ai frame (bad magic)",
        Z4AI_ERROR_UNSUPPORTED_VERSION => c"unsupported frame version",
        Z4AI_ERROR_TRUNCATED => c"truncated input",
        Z4AI_ERROR_CORRUPT => c"corrupt frame",
        Z4AI_ERROR_CHECKSUM_MISMATCH => c"checksum mismatch",
        Z4AI_ERROR_REFERENCE_MISMATCH => c"reference does not match the delta",
        Z4AI_ERROR_DST_TOO_SMALL => c"destination buffer too small",
        Z4AI_ERROR_INVALID_ARGUMENT => c"invalid argument or option",
        Z4AI_ERROR_OUT_OF_RANGE => c"range outside the content",
        Z4AI_ERROR_IO => c"I/O error",
        Z4AI_ERROR_NULL_POINTER => c"NULL pointer argument",
        Z4AI_ERROR_PANIC => c"internal panic (a z4ai bug)",
        Z4AI_ERROR_TENSOR => c"archive tensor failed to decode",
        Z4AI_ERROR_MALFORMED => c"malformed model file or archive",
        Z4AI_ERROR_NOT_FOUND => c"no such tensor in the archive",
        Z4AI_ERROR_REFERENCE_REQUIRED => c"a delta needs its reference",
        _ => c"unknown error code",
    }
}

/// A static, NUL-terminated, English description of `code`.
///
/// Never returns NULL: non-negative values give "no error", codes this
/// version does not know give "unknown error code". The text is for
/// people and may change; the numbers are the ABI.
///
/// Thread safety: safe to call from any thread at any time.
#[no_mangle]
pub extern "C" fn z4ai_error_name(code: i64) -> *const c_char {
    guard_ptr(|| c_str(error_text(code)))
}

/// The library version as a static, NUL-terminated string ("0.1.0").
///
/// Thread safety: safe to call from any thread at any time.
#[no_mangle]
pub extern "C" fn z4ai_version() -> *const c_char {
    const V: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("version contains NUL"),
        };
    guard_ptr(|| c_str(V))
}

/// The library version as `major * 10000 + minor * 100 + patch` (zstd's
/// convention), for compile-time-free run-time checks.
///
/// Thread safety: safe to call from any thread at any time.
#[no_mangle]
pub extern "C" fn z4ai_version_number() -> u32 {
    const fn parse(s: &str) -> u32 {
        let b = s.as_bytes();
        let mut i = 0;
        let mut v = 0;
        while i < b.len() {
            v = v * 10 + (b[i] - b'0') as u32;
            i += 1;
        }
        v
    }
    const N: u32 = parse(env!("CARGO_PKG_VERSION_MAJOR")) * 10000
        + parse(env!("CARGO_PKG_VERSION_MINOR")) * 100
        + parse(env!("CARGO_PKG_VERSION_PATCH"));
    // A constant cannot panic; the boundary is kept for uniformity.
    catch_unwind(|| N).unwrap_or(0)
}

/// The canonical short name of a dtype code ("bf16", "fp32", ...), as a
/// static NUL-terminated string; never NULL: "unknown" for a code that is
/// not a dtype.
///
/// Thread safety: safe to call from any thread at any time.
#[no_mangle]
pub extern "C" fn z4ai_dtype_name(dtype: c_int) -> *const c_char {
    guard_ptr(|| dtype_arg(dtype).map_or(c_str(c"unknown"), |d| c_str(dtype_cstr(d))))
}

/// Element width in bytes of a dtype code, or `Z4AI_ERROR_INVALID_ARGUMENT`.
///
/// Thread safety: safe to call from any thread at any time.
#[no_mangle]
pub extern "C" fn z4ai_dtype_width(dtype: c_int) -> i64 {
    guard(|| Ok(dtype_arg(dtype)?.width() as i64))
}

fn dtype_cstr(d: crate::DType) -> &'static CStr {
    use crate::DType::*;
    match d {
        Bytes => c"bytes",
        BF16 => c"bf16",
        F16 => c"fp16",
        F32 => c"fp32",
        F64 => c"fp64",
        F8E4M3 => c"e4m3",
        F8E5M2 => c"e5m2",
        I8 => c"i8",
        U8 => c"u8",
        I16 => c"i16",
        I32 => c"i32",
        I64 => c"i64",
    }
}
