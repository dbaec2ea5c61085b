//! Unit tests of the C boundary, called from Rust. The C consumer test is
//! `tests/c_api.rs`.

use std::ffi::{c_int, c_void, CStr};
use std::ptr;

use super::*;
use crate::{DType, Error};

#[test]
fn pinned_codes_match_error_code() {
    let cases: [(Error, i64); 13] = [
        (Error::BadMagic, Z4AI_ERROR_BAD_MAGIC),
        (Error::UnsupportedVersion(9), Z4AI_ERROR_UNSUPPORTED_VERSION),
        (
            Error::Truncated {
                what: "x",
                needed: 1,
                available: 0,
            },
            Z4AI_ERROR_TRUNCATED,
        ),
        (Error::Corrupt("x".into()), Z4AI_ERROR_CORRUPT),
        (
            Error::ChecksumMismatch {
                what: "x",
                chunk: None,
            },
            Z4AI_ERROR_CHECKSUM_MISMATCH,
        ),
        (Error::ReferenceMismatch, Z4AI_ERROR_REFERENCE_MISMATCH),
        (
            Error::BufferTooSmall { needed: 2, got: 1 },
            Z4AI_ERROR_DST_TOO_SMALL,
        ),
        (
            Error::InvalidOption("x".into()),
            Z4AI_ERROR_INVALID_ARGUMENT,
        ),
        (
            Error::OutOfRange {
                offset: 0,
                len: 1,
                size: 0,
            },
            Z4AI_ERROR_OUT_OF_RANGE,
        ),
        (Error::Io(std::io::Error::other("x")), Z4AI_ERROR_IO),
        (
            Error::Tensor {
                name: "w".into(),
                source: Box::new(Error::ReferenceMismatch),
            },
            Z4AI_ERROR_TENSOR,
        ),
        (
            Error::Malformed {
                what: "archive",
                detail: "x".into(),
            },
            Z4AI_ERROR_MALFORMED,
        ),
        (
            Error::ReferenceRequired {
                what: "frame",
                detail: String::new(),
            },
            Z4AI_ERROR_REFERENCE_REQUIRED,
        ),
    ];
    for (e, c) in cases {
        assert_eq!(e.code(), c, "{e}");
    }
    // The ABI numbers themselves, spelled out: never renumber.
    let all = [
        Z4AI_ERROR_GENERIC,
        Z4AI_ERROR_BAD_MAGIC,
        Z4AI_ERROR_UNSUPPORTED_VERSION,
        Z4AI_ERROR_TRUNCATED,
        Z4AI_ERROR_CORRUPT,
        Z4AI_ERROR_CHECKSUM_MISMATCH,
        Z4AI_ERROR_REFERENCE_MISMATCH,
        Z4AI_ERROR_DST_TOO_SMALL,
        Z4AI_ERROR_INVALID_ARGUMENT,
        Z4AI_ERROR_OUT_OF_RANGE,
        Z4AI_ERROR_IO,
        Z4AI_ERROR_NULL_POINTER,
        Z4AI_ERROR_PANIC,
        Z4AI_ERROR_TENSOR,
        Z4AI_ERROR_MALFORMED,
        Z4AI_ERROR_NOT_FOUND,
        Z4AI_ERROR_REFERENCE_REQUIRED,
    ];
    assert_eq!(
        all,
        [-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15, -16, -17]
    );
}

#[test]
fn dtype_enum_is_the_frame_code() {
    use z4ai_dtype::*;
    let c = [
        Z4AI_DTYPE_BYTES,
        Z4AI_DTYPE_BF16,
        Z4AI_DTYPE_F16,
        Z4AI_DTYPE_F32,
        Z4AI_DTYPE_F64,
        Z4AI_DTYPE_F8E4M3,
        Z4AI_DTYPE_F8E5M2,
        Z4AI_DTYPE_I8,
        Z4AI_DTYPE_U8,
        Z4AI_DTYPE_I16,
        Z4AI_DTYPE_I32,
        Z4AI_DTYPE_I64,
    ];
    assert_eq!(c.len(), DType::ALL.len());
    for (c, d) in c.into_iter().zip(DType::ALL) {
        assert_eq!(c as c_int, c_int::from(d.code()), "{d}");
    }
    assert_eq!(
        [Z4AI_EFFORT_FAST, Z4AI_EFFORT_DEFAULT, Z4AI_EFFORT_MAX],
        [0, 1, 2]
    );
}

fn text(p: *const std::ffi::c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: the functions under test return static NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()
}

#[test]
fn error_names_are_static_distinct_and_total() {
    let mut seen = std::collections::HashSet::new();
    for code in -17..=-1 {
        assert!(
            seen.insert(text(z4ai_error_name(code))),
            "duplicate for {code}"
        );
    }
    assert_eq!(text(z4ai_error_name(0)), "no error");
    assert_eq!(text(z4ai_error_name(12345)), "no error");
    for code in [-18, -1000, i64::MIN] {
        assert_eq!(text(z4ai_error_name(code)), "unknown error code");
    }
    assert!(!seen.contains("unknown error code"));
}

#[test]
fn version_and_dtype_names() {
    assert_eq!(text(z4ai_version()), crate::VERSION);
    let v: Vec<u32> = crate::VERSION
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(z4ai_version_number(), v[0] * 10000 + v[1] * 100 + v[2]);
    for d in DType::ALL {
        let code = std::ffi::c_int::from(d.code());
        assert_eq!(text(z4ai_dtype_name(code)), d.name());
        assert_eq!(z4ai_dtype_width(code), d.width() as i64);
    }
    assert_eq!(text(z4ai_dtype_name(12)), "unknown");
    assert_eq!(text(z4ai_dtype_name(-1)), "unknown");
    assert_eq!(z4ai_dtype_width(99), Z4AI_ERROR_INVALID_ARGUMENT);
}

#[test]
fn panic_becomes_code() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = guard(|| panic!("boom"));
    std::panic::set_hook(prev);
    assert_eq!(r, Z4AI_ERROR_PANIC);
    assert_eq!(guard(|| Ok(7)), 7);
    assert_eq!(guard(|| Err(-4)), -4);
}

#[test]
fn params_setters_validate() {
    let p = z4ai_params_new();
    assert!(!p.is_null());
    // SAFETY: `p` is live until freed at the end; NULL is a tested input.
    unsafe {
        assert_eq!(
            z4ai_params_set_dtype(p, z4ai_dtype::Z4AI_DTYPE_BF16 as c_int),
            0
        );
        assert_eq!(z4ai_params_set_dtype(p, 12), Z4AI_ERROR_INVALID_ARGUMENT);
        assert_eq!(z4ai_params_set_dtype(p, -1), Z4AI_ERROR_INVALID_ARGUMENT);
        assert_eq!((*p).options().dtype, DType::BF16);
        assert_eq!(z4ai_params_set_effort(p, Z4AI_EFFORT_MAX), 0);
        assert_eq!(z4ai_params_set_effort(p, 3), Z4AI_ERROR_INVALID_ARGUMENT);
        assert_eq!(z4ai_params_set_threads(p, 3), 0);
        assert_eq!(z4ai_params_set_threads(p, -1), Z4AI_ERROR_INVALID_ARGUMENT);
        assert_eq!((*p).options().threads, 3);
        assert_eq!(z4ai_params_set_chunk_size(p, 4096), 0);
        assert_eq!(
            z4ai_params_set_chunk_size(p, 4095),
            Z4AI_ERROR_INVALID_ARGUMENT
        );
        assert_eq!(
            z4ai_params_set_chunk_size(p, -4096),
            Z4AI_ERROR_INVALID_ARGUMENT
        );
        assert_eq!(
            z4ai_params_set_chunk_size(p, (64 << 20) + 1),
            Z4AI_ERROR_INVALID_ARGUMENT
        );
        assert_eq!((*p).options().chunk_size, 4096);
        let null = ptr::null_mut();
        assert_eq!(z4ai_params_set_dtype(null, 1), Z4AI_ERROR_NULL_POINTER);
        assert_eq!(z4ai_params_set_effort(null, 1), Z4AI_ERROR_NULL_POINTER);
        assert_eq!(z4ai_params_set_threads(null, 1), Z4AI_ERROR_NULL_POINTER);
        assert_eq!(
            z4ai_params_set_chunk_size(null, 4096),
            Z4AI_ERROR_NULL_POINTER
        );
        z4ai_params_free(p);
        z4ai_params_free(null);
    }
}

#[test]
fn round_trip_and_argument_errors() {
    let data: Vec<u8> = (0..20_000u32)
        .flat_map(|i| (((i as f32) * 0.37).sin() * 0.02).to_bits().to_le_bytes()[2..].to_vec())
        .collect();
    let n = data.len() as i64;
    let src = data.as_ptr().cast::<c_void>();
    let p = z4ai_params_new();
    // SAFETY: every pointer passed below is NULL (a tested input), `p`
    // (live until freed), or points into a live Vec with the length given.
    unsafe {
        z4ai_params_set_dtype(p, z4ai_dtype::Z4AI_DTYPE_BF16 as c_int);
        z4ai_params_set_chunk_size(p, 4096);
        let bound = z4ai_compress_bound(n, p);
        assert!(bound > n);
        assert_eq!(z4ai_compress_bound(-1, p), Z4AI_ERROR_INVALID_ARGUMENT);
        let mut frame = vec![0u8; bound as usize];
        let dst = frame.as_mut_ptr().cast::<c_void>();
        let fl = z4ai_compress(dst, bound, src, n, p);
        assert!(fl > 0 && fl < n, "{fl}");
        assert_eq!(z4ai_compress(dst, 10, src, n, p), Z4AI_ERROR_DST_TOO_SMALL);
        assert_eq!(
            z4ai_compress(dst, bound, ptr::null(), n, p),
            Z4AI_ERROR_NULL_POINTER
        );
        assert_eq!(
            z4ai_compress(ptr::null_mut(), bound, src, n, p),
            Z4AI_ERROR_NULL_POINTER
        );
        assert_eq!(
            z4ai_compress(dst, -1, src, n, p),
            Z4AI_ERROR_INVALID_ARGUMENT
        );
        assert_eq!(
            z4ai_compress(dst, bound, src, -5, p),
            Z4AI_ERROR_INVALID_ARGUMENT
        );
        // Overlapping source and destination.
        assert_eq!(
            z4ai_compress(dst, bound, dst.cast_const(), 100, p),
            Z4AI_ERROR_INVALID_ARGUMENT
        );
        let fl = z4ai_compress(dst, bound, src, n, p);
        frame.truncate(fl as usize);
        let f = frame.as_ptr().cast::<c_void>();

        assert_eq!(z4ai_decompressed_size(f, fl), n);
        assert_eq!(
            z4ai_decompressed_size(ptr::null(), fl),
            Z4AI_ERROR_NULL_POINTER
        );
        assert_eq!(z4ai_decompressed_size(f, 3), Z4AI_ERROR_TRUNCATED);
        let mut out = vec![0u8; data.len()];
        let o = out.as_mut_ptr().cast::<c_void>();
        assert_eq!(z4ai_decompress(o, n, f, fl, ptr::null()), n);
        assert_eq!(out, data);
        assert_eq!(
            z4ai_decompress(o, n - 1, f, fl, p),
            Z4AI_ERROR_DST_TOO_SMALL
        );
        assert_eq!(z4ai_decompress(o, n, f, 0, p), Z4AI_ERROR_TRUNCATED);
        out.fill(0);
        assert_eq!(z4ai_decompress_range(o, n, f, fl, 5000, 9000, p), 9000);
        assert_eq!(out[..9000], data[5000..14000]);
        assert_eq!(
            z4ai_decompress_range(o, n, f, fl, n - 1, 2, p),
            Z4AI_ERROR_OUT_OF_RANGE
        );
        assert_eq!(
            z4ai_decompress_range(o, 10, f, fl, 0, 11, p),
            Z4AI_ERROR_DST_TOO_SMALL
        );
        assert_eq!(
            z4ai_decompress_range(o, n, f, fl, -1, 2, p),
            Z4AI_ERROR_INVALID_ARGUMENT
        );
        assert_eq!(z4ai_decompress_range(o, n, f, fl, 0, 0, p), 0);
        // An empty input round-trips through NULL pointers.
        let el = z4ai_compress(dst, bound, ptr::null(), 0, ptr::null());
        assert!(el > 0);
        assert_eq!(z4ai_decompress(ptr::null_mut(), 0, dst, el, ptr::null()), 0);
        z4ai_params_free(p);
    }
}
