//! Archive access for loaders: open a `.z4` model archive from a path or a
//! memory buffer, list its tensors, decode one tensor into a caller buffer.
//!
//! A `z4ai_archive` handle owns the Rust [`Archive`] reader plus C copies
//! of every tensor's description (NUL-terminated names, `int64_t` shapes),
//! made once at open, so that `z4ai_archive_tensor_info` hands out pointers
//! that stay valid until `z4ai_archive_close` without allocating per call.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::PathBuf;

use super::codes::*;
use super::params::z4ai_params;
use super::{code_of, guard, out_buf, size_arg, size_ret};
use crate::archive::{slice_at, Archive, ReadAt, TensorInfo};
use crate::error::Result;

/// An open model archive (opaque to C).
///
/// Created by `z4ai_archive_open` or `z4ai_archive_open_memory`, released
/// by `z4ai_archive_close`.
#[allow(non_camel_case_types)] // the C name, as the header spells it
pub struct z4ai_archive {
    archive: Archive,
    tensors: Vec<CTensor>,
    by_name: HashMap<Vec<u8>, usize>,
}

/// C copies of one tensor's description.
struct CTensor {
    name: CString,
    dtype: CString,
    file: CString,
    shape: Vec<i64>,
    raw_size: i64,
    compressed_size: i64,
    offset: i64,
}

/// The description of one tensor, filled by `z4ai_archive_tensor_info`.
///
/// Every pointer stays valid until the archive is closed; none may be
/// freed by the caller.
#[repr(C)]
#[allow(non_camel_case_types)] // the C name, as the header spells it
pub struct z4ai_tensor_info {
    /// Tensor name, NUL-terminated UTF-8 (a NUL inside the stored name is
    /// shown as U+FFFD).
    pub name: *const c_char,
    /// The dtype as the model file names it ("BF16", "F32", "Q4_K", ...).
    pub dtype: *const c_char,
    /// The file it belongs to (its path inside a folder archive).
    pub file: *const c_char,
    /// `ndim` dimensions as the model file lists them.
    pub shape: *const i64,
    /// Number of dimensions (0 for a scalar).
    pub ndim: i64,
    /// Bytes the tensor decodes to: the capacity `z4ai_archive_tensor_into`
    /// needs.
    pub raw_size: i64,
    /// Bytes of its compressed frame(s) in the archive.
    pub compressed_size: i64,
    /// Offset of its bytes in the original model file.
    pub offset: i64,
}

/// A caller's buffer read in place; the caller keeps it alive and
/// unmodified until the archive is closed (see `z4ai_archive_open_memory`).
struct BorrowedBytes {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the bytes are only ever read, and the caller of
// `z4ai_archive_open_memory` guarantees that nothing writes or frees them
// while the archive is open, so reading them from any thread is sound.
unsafe impl Send for BorrowedBytes {}
// SAFETY: as above: shared, read-only access from many threads.
unsafe impl Sync for BorrowedBytes {}

impl BorrowedBytes {
    fn slice(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` is non-NULL with `len` readable bytes that stay
        // valid and unmodified while the archive (which owns `self`) is
        // open: checked and promised at `z4ai_archive_open_memory`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl ReadAt for BorrowedBytes {
    fn size(&self) -> u64 {
        self.len as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.slice().read_at(offset, buf)
    }

    fn bytes(&self, offset: u64, len: u64) -> Result<Cow<'_, [u8]>> {
        slice_at(self.slice(), offset, len).map(Cow::Borrowed)
    }

    fn is_memory(&self) -> bool {
        // Unmodified while open: promised at `z4ai_archive_open_memory`.
        true
    }
}

/// A C string for a name that may hold NUL bytes (shown as U+FFFD).
fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{FFFD}")).expect("NUL bytes were replaced")
}

fn c_i64(v: u64) -> std::result::Result<i64, i64> {
    i64::try_from(v).map_err(|_| Z4AI_ERROR_MALFORMED)
}

impl z4ai_archive {
    fn new(archive: Archive) -> std::result::Result<z4ai_archive, i64> {
        let infos: Vec<TensorInfo> = archive.tensors();
        let mut tensors = Vec::with_capacity(infos.len());
        let mut by_name = HashMap::with_capacity(infos.len());
        for (i, t) in infos.into_iter().enumerate() {
            let ct = CTensor {
                name: c_string(&t.name),
                dtype: c_string(&t.dtype),
                file: c_string(&t.file),
                shape: t
                    .shape
                    .iter()
                    .map(|&d| c_i64(d))
                    .collect::<std::result::Result<_, _>>()?,
                raw_size: c_i64(t.raw_size)?,
                compressed_size: c_i64(t.compressed_size)?,
                offset: c_i64(t.offset)?,
            };
            by_name.entry(ct.name.as_bytes().to_vec()).or_insert(i);
            tensors.push(ct);
        }
        Ok(z4ai_archive {
            archive,
            tensors,
            by_name,
        })
    }
}

/// Applies the decode threads / kernel level of `params` (NULL: defaults)
/// and moves the finished handle to `*out`.
///
/// # Safety
///
/// `params` NULL or a live params object; `out` a valid pointer to write.
unsafe fn finish_open(
    archive: Result<Archive>,
    params: *const z4ai_params,
    out: *mut *mut z4ai_archive,
) -> std::result::Result<i64, i64> {
    let mut archive = archive.map_err(code_of)?;
    // SAFETY: by this function's contract, `params` is NULL or live and
    // only read here.
    if let Some(p) = unsafe { params.as_ref() } {
        archive = archive.with_decode_options(p.decode_options());
    }
    let handle = Box::new(z4ai_archive::new(archive)?);
    // SAFETY: `out` is non-NULL (checked by the callers) and writable.
    unsafe { out.write(Box::into_raw(handle)) };
    Ok(0)
}

/// Checks `out` and sets `*out` to NULL so that it is NULL on every error.
///
/// # Safety
///
/// `out` must be NULL or point to a writable `z4ai_archive *`.
unsafe fn clear_out(out: *mut *mut z4ai_archive) -> std::result::Result<(), i64> {
    if out.is_null() {
        return Err(Z4AI_ERROR_NULL_POINTER);
    }
    // SAFETY: non-NULL and writable by the contract.
    unsafe { out.write(std::ptr::null_mut()) };
    Ok(())
}

/// Opens the archive file at `path` (NUL-terminated; UTF-8 on Windows, any
/// bytes on Unix) and sets `*out` to the handle. Reads only the footer and
/// the index; tensors are read with positioned reads when asked for.
/// `params` (NULL: defaults) sets the decode threads and kernel level.
///
/// Returns 0, or a negative code (and `*out` = NULL):
/// `Z4AI_ERROR_NULL_POINTER`, `Z4AI_ERROR_IO` (cannot open or read),
/// `Z4AI_ERROR_MALFORMED` (not an archive, or a damaged index),
/// `Z4AI_ERROR_UNSUPPORTED_VERSION`, `Z4AI_ERROR_TRUNCATED`.
///
/// # Safety
///
/// `path` must be NULL or a NUL-terminated string; `params` NULL or a live
/// params object; `out` NULL or a writable pointer.
///
/// Thread safety: safe from any thread; the returned handle may be used by
/// many threads at once (see `z4ai_archive_tensor_into`).
#[no_mangle]
pub unsafe extern "C" fn z4ai_archive_open(
    path: *const c_char,
    params: *const z4ai_params,
    out: *mut *mut z4ai_archive,
) -> i64 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        unsafe { clear_out(out) }?;
        if path.is_null() {
            return Err(Z4AI_ERROR_NULL_POINTER);
        }
        // SAFETY: non-NULL and NUL-terminated by the contract.
        let path = unsafe { CStr::from_ptr(path) };
        let path = path_of(path)?;
        // SAFETY: `out` was checked above; `params` per the contract.
        unsafe { finish_open(Archive::open(path), params, out) }
    })
}

#[cfg(unix)]
fn path_of(s: &CStr) -> std::result::Result<PathBuf, i64> {
    use std::os::unix::ffi::OsStrExt;
    Ok(PathBuf::from(std::ffi::OsStr::from_bytes(s.to_bytes())))
}

#[cfg(not(unix))]
fn path_of(s: &CStr) -> std::result::Result<PathBuf, i64> {
    s.to_str()
        .map(PathBuf::from)
        .map_err(|_| Z4AI_ERROR_INVALID_ARGUMENT)
}

/// Opens an archive held in memory (`size` bytes at `data`, e.g. a memory
/// map) **without copying it**: the caller must keep the buffer alive and
/// unmodified until `z4ai_archive_close`. Sets `*out` to the handle.
///
/// Returns 0 or a negative code as `z4ai_archive_open` does (no I/O
/// errors; `Z4AI_ERROR_INVALID_ARGUMENT` for a negative size).
///
/// # Safety
///
/// `data` must point to `size` readable bytes that stay valid and
/// unmodified until the handle is closed; `params` NULL or a live params
/// object; `out` NULL or a writable pointer.
///
/// Thread safety: as `z4ai_archive_open`.
#[no_mangle]
pub unsafe extern "C" fn z4ai_archive_open_memory(
    data: *const c_void,
    size: i64,
    params: *const z4ai_params,
    out: *mut *mut z4ai_archive,
) -> i64 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        unsafe { clear_out(out) }?;
        let len = size_arg(size)?;
        if data.is_null() && len > 0 {
            return Err(Z4AI_ERROR_NULL_POINTER);
        }
        let src = BorrowedBytes {
            ptr: data.cast::<u8>(),
            len,
        };
        // SAFETY: `out` was checked above; `params` per the contract.
        unsafe { finish_open(Archive::from_source(Box::new(src)), params, out) }
    })
}

/// Closes an archive and frees everything it holds (the pointers of every
/// `z4ai_tensor_info` it filled become invalid). NULL is accepted and does
/// nothing.
///
/// # Safety
///
/// `archive` must be NULL or a handle from `z4ai_archive_open*` not yet
/// closed, with no call on it running or following.
///
/// Thread safety: must not race with any other use of the same handle.
#[no_mangle]
pub unsafe extern "C" fn z4ai_archive_close(archive: *mut z4ai_archive) {
    if archive.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: a live handle made by `Box::into_raw` in `finish_open`,
        // now given back by its only user.
        drop(unsafe { Box::from_raw(archive) });
    }));
}

/// Borrows a handle for a read-only call.
///
/// # Safety
///
/// `a` must be NULL or a live handle.
unsafe fn handle<'a>(a: *const z4ai_archive) -> std::result::Result<&'a z4ai_archive, i64> {
    // SAFETY: NULL (rejected) or live by the contract; shared access only.
    unsafe { a.as_ref() }.ok_or(Z4AI_ERROR_NULL_POINTER)
}

fn tensor_index(a: &z4ai_archive, index: i64) -> std::result::Result<usize, i64> {
    usize::try_from(index)
        .ok()
        .filter(|&i| i < a.tensors.len())
        .ok_or(Z4AI_ERROR_NOT_FOUND)
}

/// The number of tensors in the archive (all files of a folder archive),
/// or `Z4AI_ERROR_NULL_POINTER`. Tensors are numbered 0..count in file
/// order.
///
/// # Safety
///
/// `archive` must be NULL or a live handle.
///
/// Thread safety: safe to call concurrently on one handle.
#[no_mangle]
pub unsafe extern "C" fn z4ai_archive_tensor_count(archive: *const z4ai_archive) -> i64 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let a = unsafe { handle(archive) }?;
        size_ret(a.tensors.len() as u64)
    })
}

/// Fills `*info` with the description of tensor number `index`.
///
/// Returns 0, `Z4AI_ERROR_NOT_FOUND` for an index outside 0..count, or
/// `Z4AI_ERROR_NULL_POINTER`.
///
/// # Safety
///
/// `archive` NULL or a live handle; `info` NULL or a writable
/// `z4ai_tensor_info`.
///
/// Thread safety: safe to call concurrently on one handle.
#[no_mangle]
pub unsafe extern "C" fn z4ai_archive_tensor_info(
    archive: *const z4ai_archive,
    index: i64,
    info: *mut z4ai_tensor_info,
) -> i64 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let a = unsafe { handle(archive) }?;
        if info.is_null() {
            return Err(Z4AI_ERROR_NULL_POINTER);
        }
        let t = &a.tensors[tensor_index(a, index)?];
        let value = z4ai_tensor_info {
            name: t.name.as_ptr(),
            dtype: t.dtype.as_ptr(),
            file: t.file.as_ptr(),
            shape: t.shape.as_ptr(),
            ndim: t.shape.len() as i64,
            raw_size: t.raw_size,
            compressed_size: t.compressed_size,
            offset: t.offset,
        };
        // SAFETY: `info` is non-NULL and writable by the contract.
        unsafe { info.write(value) };
        Ok(0)
    })
}

/// The number of the tensor named `name` (NUL-terminated; the first one in
/// file order if several files of a folder archive use the name), or
/// `Z4AI_ERROR_NOT_FOUND` / `Z4AI_ERROR_NULL_POINTER`.
///
/// # Safety
///
/// `archive` NULL or a live handle; `name` NULL or a NUL-terminated string.
///
/// Thread safety: safe to call concurrently on one handle.
#[no_mangle]
pub unsafe extern "C" fn z4ai_archive_find_tensor(
    archive: *const z4ai_archive,
    name: *const c_char,
) -> i64 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let a = unsafe { handle(archive) }?;
        if name.is_null() {
            return Err(Z4AI_ERROR_NULL_POINTER);
        }
        // SAFETY: non-NULL and NUL-terminated by the contract.
        let name = unsafe { CStr::from_ptr(name) }.to_bytes();
        a.by_name
            .get(name)
            .map(|&i| i as i64)
            .ok_or(Z4AI_ERROR_NOT_FOUND)
    })
}

/// Decodes tensor number `index` straight into `dst` (capacity
/// `dst_capacity`, at least the tensor's `raw_size`), reading only that
/// tensor's frame(s) from the archive and checking their checksums.
///
/// Returns the tensor's size in bytes, or a negative code:
/// `Z4AI_ERROR_NOT_FOUND`, `Z4AI_ERROR_DST_TOO_SMALL`,
/// `Z4AI_ERROR_NULL_POINTER`, `Z4AI_ERROR_INVALID_ARGUMENT` (negative
/// capacity), `Z4AI_ERROR_TENSOR` (its bytes are damaged: the code of the
/// underlying frame error is not reported separately), `Z4AI_ERROR_IO`.
///
/// # Safety
///
/// `archive` NULL or a live handle; `dst` NULL or `dst_capacity` writable
/// bytes (may be uninitialised) that nothing else accesses during the call
/// and that do not overlap the buffer given to `z4ai_archive_open_memory`.
///
/// Thread safety: many threads may decode tensors of one handle at the same
/// time, into distinct buffers.
#[no_mangle]
pub unsafe extern "C" fn z4ai_archive_tensor_into(
    archive: *const z4ai_archive,
    index: i64,
    dst: *mut c_void,
    dst_capacity: i64,
) -> i64 {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let a = unsafe { handle(archive) }?;
        let i = tensor_index(a, index)?;
        // SAFETY: forwarded from this function's contract.
        let out = unsafe { out_buf(dst, dst_capacity) }?;
        let n = a.archive.tensor_into_at(i, out).map_err(code_of)?;
        size_ret(n as u64)
    })
}
