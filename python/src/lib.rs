//! `z4ai._z4ai`: the native half of the `z4ai` Python package.
//!
//! Everything here is a thin layer over the `z4ai` crate:
//! - inputs are read in place through the buffer protocol (any C-contiguous
//!   exporter: `bytes`, `bytearray`, `memoryview`, `mmap`, numpy arrays);
//! - outputs are written straight into the memory Python will own (a fresh
//!   `bytes`, or the caller's writable buffer);
//! - the GIL is released for every piece of coding work and file I/O.
//!
//! The friendly API (dtype inference from numpy, the array wrapper,
//! docstrings, type stubs) lives in `z4ai/__init__.py`; the exception
//! classes live in `z4ai/_errors.py` and are looked up from here.

use std::ffi::c_int;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyType};

use z4ai::{DType, DecodeOptions, Effort, Error, Options};

// ---------------------------------------------------------------------------
// Errors

/// Python exception class for a Rust error variant, from `z4ai._errors`.
fn error_class<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyType>> {
    macro_rules! cls {
        ($name:literal) => {{
            static CELL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
            CELL.import(py, "z4ai._errors", $name).map(|t| t.clone())
        }};
    }
    match e {
        Error::Truncated { .. } => cls!("TruncatedError"),
        Error::ChecksumMismatch { .. } => cls!("ChecksumError"),
        Error::BadMagic => cls!("BadMagicError"),
        Error::UnsupportedVersion(_) => cls!("UnsupportedVersionError"),
        Error::Corrupt(_) => cls!("CorruptError"),
        Error::ReferenceMismatch => cls!("ReferenceMismatchError"),
        Error::ReferenceRequired { .. } => cls!("ReferenceRequiredError"),
        Error::BufferTooSmall { .. } => cls!("BufferTooSmallError"),
        Error::InvalidOption(_) => cls!("InvalidOptionError"),
        Error::OutOfRange { .. } => cls!("OutOfRangeError"),
        _ => cls!("Z4aiError"),
    }
}

/// Converts a codec error into the matching `z4ai` exception (I/O errors
/// become the built-in `OSError` subclasses, e.g. `FileNotFoundError`).
fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let e = match e {
        Error::Io(io) => return io_to_py(py, io),
        e => e,
    };
    let msg = e.to_string();
    let code = e.code();
    match error_class(py, &e) {
        Ok(cls) => {
            let err = PyErr::from_type(cls, (msg,));
            // The C API's pinned code, for callers that switch on numbers.
            let _ = err.value(py).setattr("code", code);
            err
        }
        Err(import_failed) => import_failed,
    }
}

/// An I/O error; one that carries a codec error (the streaming decoder
/// reports frame errors through `io::Read`) is unwrapped first.
fn io_to_py(py: Python<'_>, e: io::Error) -> PyErr {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        let kind = e.kind();
        match e.into_inner().map(|b| b.downcast::<Error>()) {
            Some(Ok(inner)) => return to_py(py, *inner),
            Some(Err(other)) => return PyOSError::new_err(io::Error::new(kind, other).to_string()),
            None => return PyOSError::new_err(kind.to_string()),
        }
    }
    PyErr::from(e)
}

trait IntoPyResult<T> {
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

impl<T> IntoPyResult<T> for io::Result<T> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| io_to_py(py, e))
    }
}

// ---------------------------------------------------------------------------
// Buffers

/// A buffer-protocol view held for the lifetime of the value: the exporter
/// keeps its memory in place (a `bytearray` cannot be resized, an `mmap`
/// cannot be closed) until it is released on drop.
struct Buffer {
    // Boxed: the exporter may keep pointers into the Py_buffer itself.
    view: Box<ffi::Py_buffer>,
}

// SAFETY: the view only describes memory the exporter keeps alive and in
// place until PyBuffer_Release; releasing it is done with the interpreter
// attached (see Drop). Sharing the raw pointer across threads is what the
// slices handed to the coding threads do.
unsafe impl Send for Buffer {}
unsafe impl Sync for Buffer {}

impl Buffer {
    /// Acquires a C-contiguous view of `obj`; `what` names the argument in
    /// error messages.
    fn get(obj: &Bound<'_, PyAny>, writable: bool, what: &str) -> PyResult<Buffer> {
        let py = obj.py();
        // SAFETY: PyObject_CheckBuffer only inspects the type.
        if unsafe { ffi::PyObject_CheckBuffer(obj.as_ptr()) } == 0 {
            let kind = if writable {
                "a writable bytes-like object (bytearray, memoryview, numpy array)"
            } else {
                "a bytes-like object (bytes, bytearray, memoryview, numpy array)"
            };
            return Err(PyTypeError::new_err(format!(
                "{what} must be {kind}, not {}",
                obj.get_type().name()?
            )));
        }
        let mut view: Box<ffi::Py_buffer> = Box::new(ffi::Py_buffer::new());
        // Strides are requested so any exporter answers; contiguity is
        // checked below with a message that names the argument. No format
        // is requested: the bytes are read as bytes whatever the dtype.
        let flags: c_int = ffi::PyBUF_STRIDES | if writable { ffi::PyBUF_WRITABLE } else { 0 };
        // SAFETY: `view` is a valid, writable Py_buffer; on success it must
        // be released exactly once (Drop does it).
        if unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), &mut *view, flags) } != 0 {
            let cause = PyErr::fetch(py);
            let err = if writable {
                PyTypeError::new_err(format!("{what} must be a writable buffer ({cause})"))
            } else {
                PyTypeError::new_err(format!("{what}: {cause}"))
            };
            err.set_cause(py, Some(cause));
            return Err(err);
        }
        let buf = Buffer { view };
        // SAFETY: the view was filled in by a successful GetBuffer.
        if unsafe { ffi::PyBuffer_IsContiguous(&*buf.view, b'C' as _) } == 0 {
            return Err(PyValueError::new_err(format!(
                "{what} must be C-contiguous (use numpy.ascontiguousarray or bytes(...))"
            )));
        }
        Ok(buf)
    }

    fn len(&self) -> usize {
        self.view.len as usize
    }

    fn ptr(&self) -> NonNull<u8> {
        NonNull::new(self.view.buf.cast::<u8>()).unwrap_or(NonNull::dangling())
    }

    fn as_slice(&self) -> &[u8] {
        if self.len() == 0 {
            return &[];
        }
        // SAFETY: a successful C-contiguous view covers `len` readable bytes
        // at `buf` for as long as it is held.
        unsafe { std::slice::from_raw_parts(self.ptr().as_ptr(), self.len()) }
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        if self.len() == 0 {
            return &mut [];
        }
        debug_assert_eq!(self.view.readonly, 0);
        // SAFETY: the view was acquired with PyBUF_WRITABLE; `&mut self`
        // makes this the only slice handed out from it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr().as_ptr(), self.len()) }
    }

    /// Whether the two views share any byte.
    fn overlaps(&self, other: &Buffer) -> bool {
        let (a, b) = (self.ptr().as_ptr() as usize, other.ptr().as_ptr() as usize);
        self.len() > 0 && other.len() > 0 && a < b + other.len() && b < a + self.len()
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: the view came from a successful GetBuffer and is released
        // once, with the interpreter attached.
        Python::attach(|_| unsafe { ffi::PyBuffer_Release(&mut *self.view) });
    }
}

/// A fresh `bytes` of `len` bytes, filled by `fill` with the GIL released.
/// `fill` must write every byte the object will hold: all `len`, unless the
/// caller shrinks it after (the object is discarded on error).
fn new_bytes<'py>(
    py: Python<'py>,
    len: usize,
    fill: impl FnOnce(&mut [u8]) -> Result<(), Error> + Send,
) -> PyResult<Bound<'py, PyBytes>> {
    let len_ss = ffi::Py_ssize_t::try_from(len)
        .map_err(|_| PyValueError::new_err("output too large for a bytes object"))?;
    // SAFETY: a NULL source asks CPython for an uninitialised bytes object
    // of `len` bytes, which is ours alone until we return it. It is not
    // zeroed first: the decoders write every byte of the content before
    // returning Ok (they are checked against the content hash), and nothing
    // reads the memory before that, just as with a numpy.empty buffer.
    unsafe {
        let obj = ffi::PyBytes_FromStringAndSize(std::ptr::null(), len_ss);
        let bytes = Bound::from_owned_ptr_or_err(py, obj)?.cast_into_unchecked::<PyBytes>();
        if len > 0 {
            let ptr = ffi::PyBytes_AsString(obj).cast::<u8>();
            let out = std::slice::from_raw_parts_mut(ptr, len);
            py.detach(|| fill(out)).py(py)?;
        }
        Ok(bytes)
    }
}

// ---------------------------------------------------------------------------
// Options

fn parse_dtype(py: Python<'_>, dtype: Option<&str>) -> PyResult<DType> {
    match dtype {
        None => Ok(DType::Bytes),
        Some(s) => s.parse::<DType>().py(py),
    }
}

fn options(
    py: Python<'_>,
    dtype: Option<&str>,
    effort: &str,
    threads: usize,
    chunk_size: Option<usize>,
) -> PyResult<Options> {
    let mut opts = Options::new(parse_dtype(py, dtype)?)
        .effort(effort.parse::<Effort>().py(py)?)
        .threads(threads);
    if let Some(c) = chunk_size {
        opts = opts.chunk_size(c);
    }
    Ok(opts)
}

fn decode_opts(threads: usize) -> DecodeOptions {
    DecodeOptions { threads, isa: None }
}

// ---------------------------------------------------------------------------
// One-shot functions

/// compress(data, dtype=None, effort="default", threads=0, chunk_size=None) -> bytes
#[pyfunction]
#[pyo3(signature = (data, dtype=None, effort="default", threads=0, chunk_size=None))]
fn compress<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    dtype: Option<&str>,
    effort: &str,
    threads: usize,
    chunk_size: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let opts = options(py, dtype, effort, threads, chunk_size)?;
    let input = Buffer::get(data, false, "data")?;
    let src = input.as_slice();
    compressed_bytes(
        py,
        z4ai::compress_bound(src.len(), &opts),
        threads,
        || z4ai::compress_parts(src, &opts),
        |out| z4ai::compress_into(src, out, &opts),
    )
}

/// Frames whose bound is at least this many bytes are written straight
/// into a `bytes` of the bound's size, which is then shrunk in place.
/// Allocations this large are fresh memory maps (glibc's largest mmap
/// threshold is 32 MiB), so the pages past the frame are never touched:
/// the object costs the frame's memory, not the bound's.
const DIRECT_BYTES: usize = 32 << 20;

/// A `bytes` holding a frame at most `bound` bytes long. Large frames are
/// compressed by `direct` into the object itself, which then shrinks to
/// the frame (one set of fresh pages, as the Rust API's `Vec`); smaller
/// ones by `parts` into the engine's parts, copied into a `bytes` of the
/// frame's size (spread over the call's threads). The GIL is released
/// while either runs.
fn compressed_bytes<'py>(
    py: Python<'py>,
    bound: usize,
    threads: usize,
    parts: impl FnOnce() -> Result<z4ai::FrameParts, Error> + Send,
    direct: impl FnOnce(&mut [u8]) -> Result<usize, Error> + Send,
) -> PyResult<Bound<'py, PyBytes>> {
    if bound < DIRECT_BYTES {
        let frame = py.detach(parts).py(py)?;
        return new_bytes(py, frame.len(), |out| {
            frame.copy_to(out, threads);
            Ok(())
        });
    }
    let mut len = 0;
    let bytes = new_bytes(py, bound, |out| {
        len = direct(out)?;
        Ok(())
    })?;
    // SAFETY: `bytes` was created above and has not been shared: its only
    // reference is ours, nothing has hashed it, and `len <= bound`
    // (compress_into never reports more than it wrote into `out`).
    unsafe { shrink_new_bytes(&bytes, len) };
    Ok(bytes)
}

/// Shrinks a `bytes` to its first `len` bytes in place: the size field
/// (`PyVarObject.ob_size`, part of the stable ABI) and the terminating NUL
/// every `bytes` keeps after its content, which is what CPython's
/// `_PyBytes_Resize` (not in the limited API) does to a new object before
/// giving memory back. The allocation keeps its size; pages past `len`
/// that were never written are never mapped.
///
/// # Safety
///
/// `b` was just created by this module and has not been handed out
/// (reference count 1, not hashed), and `len` is at most its length.
unsafe fn shrink_new_bytes(b: &Bound<'_, PyBytes>, len: usize) {
    let obj = b.as_ptr();
    debug_assert!(len <= ffi::PyBytes_Size(obj) as usize);
    // SAFETY: `len` is within the object's content, so the NUL goes to a
    // byte of the allocation (the content's last byte at worst, before the
    // old terminator); `obj` is a `bytes`, a variable-size object.
    unsafe {
        *ffi::PyBytes_AsString(obj).add(len) = 0;
        (*obj.cast::<ffi::PyVarObject>()).ob_size = len as ffi::Py_ssize_t;
    }
}

/// compress_delta(data, reference, dtype=None, effort="default", threads=0, chunk_size=None) -> bytes
#[pyfunction]
#[pyo3(signature = (data, reference, dtype=None, effort="default", threads=0, chunk_size=None))]
#[allow(clippy::too_many_arguments)]
fn compress_delta<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    reference: &Bound<'py, PyAny>,
    dtype: Option<&str>,
    effort: &str,
    threads: usize,
    chunk_size: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let opts = options(py, dtype, effort, threads, chunk_size)?;
    let input = Buffer::get(data, false, "data")?;
    let base = Buffer::get(reference, false, "reference")?;
    let (src, base) = (input.as_slice(), base.as_slice());
    compressed_bytes(
        py,
        z4ai::compress_bound(src.len(), &opts),
        threads,
        || z4ai::compress_delta_parts(src, base, &opts),
        |out| z4ai::compress_delta_into(src, base, out, &opts),
    )
}

/// decompress_delta(blob, reference) -> bytes
#[pyfunction]
fn decompress_delta<'py>(
    py: Python<'py>,
    blob: &Bound<'py, PyAny>,
    reference: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let input = Buffer::get(blob, false, "blob")?;
    let base = Buffer::get(reference, false, "reference")?;
    let out = py
        .detach(|| z4ai::decompress_delta(input.as_slice(), base.as_slice()))
        .py(py)?;
    new_bytes(py, out.len(), |dst| {
        dst.copy_from_slice(&out);
        Ok(())
    })
}

/// `dst.copy_from_slice(src)` on up to `threads` threads (0 = all cores)
/// for large buffers, where page faults and memory bandwidth make a single
/// thread the bottleneck.
fn parallel_copy(dst: &mut [u8], src: &[u8], threads: usize) {
    const MIN_PER_THREAD: usize = 8 << 20;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let n = if threads == 0 {
        cores
    } else {
        threads.min(cores)
    };
    let n = n.min(src.len() / MIN_PER_THREAD).max(1);
    if n == 1 {
        dst.copy_from_slice(src);
        return;
    }
    let piece = src.len().div_ceil(n).next_multiple_of(4096);
    std::thread::scope(|s| {
        for (d, c) in dst.chunks_mut(piece).zip(src.chunks(piece)) {
            s.spawn(move || d.copy_from_slice(c));
        }
    });
}

/// decompress(blob, threads=0) -> bytes
#[pyfunction]
#[pyo3(signature = (blob, threads=0))]
fn decompress<'py>(
    py: Python<'py>,
    blob: &Bound<'py, PyAny>,
    threads: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let input = Buffer::get(blob, false, "blob")?;
    let src = input.as_slice();
    let size = py.detach(|| z4ai::decompressed_size(src)).py(py)?;
    let size =
        usize::try_from(size).map_err(|_| to_py(py, Error::Corrupt("content too large".into())))?;
    let opts = decode_opts(threads);
    new_bytes(py, size, |out| {
        z4ai::decompress_into_with(src, out, &opts).map(|_| ())
    })
}

/// decompress_into(blob, out, threads=0) -> int
#[pyfunction]
#[pyo3(signature = (blob, out, threads=0))]
fn decompress_into(
    py: Python<'_>,
    blob: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
    threads: usize,
) -> PyResult<usize> {
    let input = Buffer::get(blob, false, "blob")?;
    let mut output = Buffer::get(out, true, "out")?;
    if input.overlaps(&output) {
        return Err(PyValueError::new_err("out must not overlap blob"));
    }
    let opts = decode_opts(threads);
    let (src, dst) = (input.as_slice(), output.as_mut_slice());
    py.detach(|| z4ai::decompress_into_with(src, dst, &opts))
        .py(py)
}

/// decompressed_size(blob) -> int
#[pyfunction]
fn decompressed_size(py: Python<'_>, blob: &Bound<'_, PyAny>) -> PyResult<u64> {
    let input = Buffer::get(blob, false, "blob")?;
    let src = input.as_slice();
    py.detach(|| z4ai::decompressed_size(src)).py(py)
}

/// decompress_range(blob, offset, length) -> bytes
#[pyfunction]
fn decompress_range<'py>(
    py: Python<'py>,
    blob: &Bound<'py, PyAny>,
    offset: u64,
    length: u64,
) -> PyResult<Bound<'py, PyBytes>> {
    let input = Buffer::get(blob, false, "blob")?;
    let src = input.as_slice();
    let part = py
        .detach(|| z4ai::decompress_range(src, offset, length))
        .py(py)?;
    Ok(PyBytes::new(py, &part))
}

/// frame_dtype(blob) -> str: the codec dtype in a frame's header.
#[pyfunction]
fn frame_dtype(py: Python<'_>, blob: &Bound<'_, PyAny>) -> PyResult<&'static str> {
    let input = Buffer::get(blob, false, "blob")?;
    let header = z4ai::format::frame::FrameHeader::parse(input.as_slice()).py(py)?;
    Ok(header.dtype.name())
}

/// frame_info(blob) -> dict
#[pyfunction]
fn frame_info<'py>(py: Python<'py>, blob: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let input = Buffer::get(blob, false, "blob")?;
    let src = input.as_slice();
    let info = py.detach(|| z4ai::frame_info(src)).py(py)?;
    let d = PyDict::new(py);
    d.set_item("dtype", info.dtype.name())?;
    d.set_item("content_size", info.content_size)?;
    d.set_item("frame_size", info.frame_size)?;
    d.set_item("ratio", info.ratio())?;
    d.set_item("chunk_size", info.chunk_size)?;
    d.set_item("blocks", info.blocks)?;
    let chunks = PyList::empty(py);
    for c in &info.chunks {
        chunks.append((c.offset, c.raw_len, c.comp_len))?;
    }
    d.set_item("chunks", chunks)?;
    let planes = PyList::empty(py);
    for p in &info.planes {
        let methods = PyDict::new(py);
        for (name, (count, bytes)) in &p.methods {
            let m = PyDict::new(py);
            m.set_item("chunks", count)?;
            m.set_item("bytes", bytes)?;
            methods.set_item(name, m)?;
        }
        let pd = PyDict::new(py);
        pd.set_item("methods", methods)?;
        pd.set_item("shared_models", p.shared_models)?;
        planes.append(pd)?;
    }
    d.set_item("planes", planes)?;
    Ok(d)
}

// ---------------------------------------------------------------------------
// Files (streaming, bounded memory)

/// Writes through a temporary file next to `dst`, renamed into place on
/// success and removed on failure.
fn write_atomically<T>(
    dst: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> Result<T, Error>,
) -> Result<T, Error> {
    let dir = match dst.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dst
        .file_name()
        .ok_or_else(|| Error::InvalidOption(format!("{}: not a file name", dst.display())))?;
    let tmp = dir.join(format!(
        ".{}.z4.tmp{}.{:?}",
        name.to_string_lossy(),
        std::process::id(),
        std::thread::current().id()
    ));
    let result = (|| {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let v = body(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, dst)?;
        Ok(v)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// compress_file(src, dst, dtype=None, effort="default", threads=0, chunk_size=None) -> int
///
/// Streams `src` into a frame at `dst`; returns the frame size.
#[pyfunction]
#[pyo3(signature = (src, dst, dtype=None, effort="default", threads=0, chunk_size=None))]
fn compress_file(
    py: Python<'_>,
    src: PathBuf,
    dst: PathBuf,
    dtype: Option<&str>,
    effort: &str,
    threads: usize,
    chunk_size: Option<usize>,
) -> PyResult<u64> {
    let opts = options(py, dtype, effort, threads, chunk_size)?;
    py.detach(|| -> Result<u64, Error> {
        let mut input = File::open(&src)?;
        write_atomically(&dst, |w| {
            let mut enc = z4ai::Encoder::new(&mut *w, &opts)?;
            io::copy(&mut input, &mut enc)?;
            enc.finish()?;
            Ok(())
        })?;
        Ok(fs::metadata(&dst)?.len())
    })
    .py(py)
}

/// decompress_file(src, dst, threads=0) -> int
///
/// Streams the frame at `src` into `dst`; returns the content size.
#[pyfunction]
#[pyo3(signature = (src, dst, threads=0))]
fn decompress_file(py: Python<'_>, src: PathBuf, dst: PathBuf, threads: usize) -> PyResult<u64> {
    let opts = decode_opts(threads);
    py.detach(|| -> Result<u64, Error> {
        let input = BufReader::with_capacity(1 << 20, File::open(&src)?);
        write_atomically(&dst, |w| {
            // Bytes after the end block are ignored, as by the one-shot
            // decoders and the CLI (a frame may be followed by other data).
            let mut dec = z4ai::Decoder::with_options(input, &opts)?;
            copy_unwrapping(&mut dec, w)
        })
    })
    .py(py)
}

/// `io::copy` that hands back a codec error the decoder reported through
/// `io::Read` as that error.
fn copy_unwrapping<R: Read, W: Write>(r: &mut R, w: &mut W) -> Result<u64, Error> {
    io::copy(r, w).map_err(|e| {
        if e.get_ref().is_some_and(|i| i.is::<Error>()) {
            match e.into_inner().map(|b| b.downcast::<Error>()) {
                Some(Ok(inner)) => *inner,
                Some(Err(other)) => Error::Io(io::Error::other(other)),
                None => Error::Corrupt("decoder failed".into()),
            }
        } else {
            Error::Io(e)
        }
    })
}

// ---------------------------------------------------------------------------
// Module

/// dtype names the codec accepts, canonical first.
#[pyfunction]
fn dtypes() -> Vec<&'static str> {
    DType::ALL.iter().map(|d| d.name()).collect()
}

/// Bytes per element of a dtype name or alias.
#[pyfunction]
fn dtype_width(py: Python<'_>, dtype: &str) -> PyResult<usize> {
    Ok(dtype.parse::<DType>().py(py)?.width())
}

/// Canonical name of a dtype name or alias.
#[pyfunction]
fn dtype_name(py: Python<'_>, dtype: &str) -> PyResult<&'static str> {
    Ok(dtype.parse::<DType>().py(py)?.name())
}

/// Upper bound of the frame size for `length` bytes of input.
#[pyfunction]
#[pyo3(signature = (length, dtype=None, chunk_size=None))]
fn compress_bound(
    py: Python<'_>,
    length: usize,
    dtype: Option<&str>,
    chunk_size: Option<usize>,
) -> PyResult<usize> {
    let opts = options(py, dtype, "default", 0, chunk_size)?;
    Ok(z4ai::compress_bound(length, &opts))
}

/// _rust_compress_seconds(data, dtype, effort, threads) -> (seconds, frame size)
///
/// Times one `z4ai::compress` call made from Rust on the bytes of `data`
/// (for bench.py: the Rust API's speed, measured in the same process and
/// under the same conditions as the Python calls it is compared with).
#[pyfunction]
fn _rust_compress_seconds(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    dtype: Option<&str>,
    effort: &str,
    threads: usize,
) -> PyResult<(f64, usize)> {
    let opts = options(py, dtype, effort, threads, None)?;
    let input = Buffer::get(data, false, "data")?;
    let src = input.as_slice();
    py.detach(|| -> Result<(f64, usize), Error> {
        let t = std::time::Instant::now();
        let frame = z4ai::compress(src, &opts)?;
        let secs = t.elapsed().as_secs_f64();
        Ok((secs, frame.len()))
    })
    .py(py)
}

/// _rust_decompress_seconds(blob, out, threads) -> seconds
///
/// Times one `z4ai::decompress_into_with` call made from Rust into `out`
/// (as the CLI's bench decodes: into a reused buffer), or with `out=None`
/// one `z4ai::decompress_with` call (a fresh Vec, like `z4ai.decompress`).
#[pyfunction]
#[pyo3(signature = (blob, out, threads))]
fn _rust_decompress_seconds(
    py: Python<'_>,
    blob: &Bound<'_, PyAny>,
    out: Option<&Bound<'_, PyAny>>,
    threads: usize,
) -> PyResult<f64> {
    let input = Buffer::get(blob, false, "blob")?;
    let mut output = out.map(|o| Buffer::get(o, true, "out")).transpose()?;
    let opts = decode_opts(threads);
    let src = input.as_slice();
    let dst = output.as_mut().map(|b| b.as_mut_slice());
    py.detach(|| -> Result<f64, Error> {
        let t = std::time::Instant::now();
        match dst {
            Some(dst) => {
                z4ai::decompress_into_with(src, dst, &opts)?;
            }
            None => {
                let v = z4ai::decompress_with(src, &opts)?;
                let secs = t.elapsed().as_secs_f64();
                drop(v);
                return Ok(secs);
            }
        }
        Ok(t.elapsed().as_secs_f64())
    })
    .py(py)
}

// ---------------------------------------------------------------------------
// Archives (.safetensors and other model files, per-tensor access)

/// An open z4ai archive (`z4ai::archive::Archive`); tensors are read and
/// decoded only when asked for.
#[pyclass(name = "_Archive", module = "z4ai._z4ai", frozen)]
struct PyArchive {
    inner: z4ai::archive::Archive,
}

#[pymethods]
impl PyArchive {
    #[new]
    #[pyo3(signature = (path, threads=0))]
    fn new(py: Python<'_>, path: PathBuf, threads: usize) -> PyResult<PyArchive> {
        let inner = py
            .detach(|| z4ai::archive::Archive::open(&path))
            .py(py)?
            .with_decode_options(decode_opts(threads));
        Ok(PyArchive { inner })
    }

    /// Every tensor, in file order, as dicts.
    fn tensors<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.inner
            .tensors()
            .into_iter()
            .map(|t| {
                let d = PyDict::new(py);
                d.set_item("name", &t.name)?;
                d.set_item("dtype", &t.dtype)?;
                d.set_item("shape", t.shape.clone())?;
                d.set_item("file", &t.file)?;
                d.set_item("offset", t.offset)?;
                d.set_item("raw_size", t.raw_size)?;
                d.set_item("compressed_size", t.compressed_size)?;
                d.set_item("deduplicated", t.deduplicated)?;
                Ok(d)
            })
            .collect()
    }

    /// Decodes tensor `name` into `out`; returns the bytes written.
    fn tensor_into(&self, py: Python<'_>, name: &str, out: &Bound<'_, PyAny>) -> PyResult<usize> {
        let mut output = Buffer::get(out, true, "out")?;
        let dst = output.as_mut_slice();
        let inner = &self.inner;
        py.detach(|| inner.tensor_into(name, dst)).py(py)
    }

    /// The model file's metadata (safetensors' `__metadata__`).
    fn metadata(&self, py: Python<'_>) -> PyResult<std::collections::BTreeMap<String, String>> {
        self.inner.metadata().py(py)
    }

    /// Bytes of the archive file.
    fn archive_size(&self) -> u64 {
        self.inner.archive_size()
    }

    /// Decodes and checks everything; returns the bytes verified.
    fn verify(&self, py: Python<'_>) -> PyResult<u64> {
        let inner = &self.inner;
        py.detach(|| inner.verify()).py(py)
    }
}

/// archive_compress_bytes(data, name, effort="default", threads=0, chunk_size=None) -> bytes
///
/// Compresses a model file held in memory (e.g. safetensors bytes) into an
/// archive; `name` is recorded as its file name.
#[pyfunction]
#[pyo3(signature = (data, name, effort="default", threads=0, chunk_size=None))]
fn archive_compress_bytes<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    name: &str,
    effort: &str,
    threads: usize,
    chunk_size: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut opts = z4ai::archive::ArchiveOptions {
        effort: effort.parse::<Effort>().py(py)?,
        threads,
        ..Default::default()
    };
    if let Some(c) = chunk_size {
        opts = opts.chunk_size(c);
    }
    let input = Buffer::get(data, false, "data")?;
    let src = input.as_slice();
    let out = py
        .detach(|| z4ai::archive::compress_bytes(src, name, &opts))
        .py(py)?;
    new_bytes(py, out.len(), |dst| {
        parallel_copy(dst, &out, threads);
        Ok(())
    })
}

/// The native core of the z4ai package. Use `import z4ai`.
#[pymodule]
fn _z4ai(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", z4ai::VERSION)?;
    m.add("ISA", z4ai::Isa::active().name())?;
    m.add("DEFAULT_CHUNK_SIZE", z4ai::DEFAULT_CHUNK_SIZE)?;
    m.add("DEFAULT_DELTA_CHUNK_SIZE", z4ai::DEFAULT_DELTA_CHUNK_SIZE)?;
    m.add("MIN_CHUNK_SIZE", z4ai::MIN_CHUNK_SIZE)?;
    m.add("MAX_CHUNK_SIZE", z4ai::MAX_CHUNK_SIZE)?;
    m.add_function(wrap_pyfunction!(compress, m)?)?;
    m.add_function(wrap_pyfunction!(decompress, m)?)?;
    m.add_function(wrap_pyfunction!(compress_delta, m)?)?;
    m.add_function(wrap_pyfunction!(decompress_delta, m)?)?;
    m.add_function(wrap_pyfunction!(decompress_into, m)?)?;
    m.add_function(wrap_pyfunction!(decompressed_size, m)?)?;
    m.add_function(wrap_pyfunction!(decompress_range, m)?)?;
    m.add_function(wrap_pyfunction!(frame_info, m)?)?;
    m.add_function(wrap_pyfunction!(frame_dtype, m)?)?;
    m.add_function(wrap_pyfunction!(compress_file, m)?)?;
    m.add_function(wrap_pyfunction!(decompress_file, m)?)?;
    m.add_function(wrap_pyfunction!(compress_bound, m)?)?;
    m.add_function(wrap_pyfunction!(dtypes, m)?)?;
    m.add_function(wrap_pyfunction!(dtype_width, m)?)?;
    m.add_function(wrap_pyfunction!(dtype_name, m)?)?;
    m.add_function(wrap_pyfunction!(_rust_compress_seconds, m)?)?;
    m.add_function(wrap_pyfunction!(archive_compress_bytes, m)?)?;
    m.add_class::<PyArchive>()?;
    m.add_function(wrap_pyfunction!(_rust_decompress_seconds, m)?)?;
    Ok(())
}
