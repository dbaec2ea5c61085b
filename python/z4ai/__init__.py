"""z4ai: lossless compression for neural-network weights.

A thin Python layer over the native Rust engine. Float tensors are split
into byte planes after rotating the sign bit out of the exponent, and each
plane of each ~1 MiB chunk is entropy-coded (rANS) in parallel; every frame
carries XXH3 checksums, so damage is detected, never returned as data.

>>> import numpy as np, z4ai
>>> w = (np.random.default_rng(0).standard_normal(1 << 16) * 0.02).astype(np.float32)
>>> blob = z4ai.compress(w)                 # dtype inferred from the array
>>> z4ai.decompress(blob) == w.tobytes()
True
>>> a = z4ai.decompress_array(z4ai.compress_array(w.reshape(256, 256)))
>>> a.dtype, a.shape
(dtype('float32'), (256, 256))

Input buffers (``bytes``, ``bytearray``, ``memoryview``, ``mmap``, numpy
arrays) are read in place, without a copy; outputs are written straight
into the returned ``bytes`` or the caller's buffer / array. The GIL is
released while coding, so Python threads calling z4ai run in parallel, and
each call also uses ``threads`` worker threads of its own (0 = all cores).

See ``docs/PYTHON.md`` in the repository for the full reference, the array
wrapper's byte layout, and benchmark numbers.
"""

from __future__ import annotations

import builtins
import os
import struct
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from . import _z4ai as _native
from ._errors import (
    BadMagicError,
    BufferTooSmallError,
    ChecksumError,
    CorruptError,
    InvalidOptionError,
    OutOfRangeError,
    ReferenceMismatchError,
    ReferenceRequiredError,
    TruncatedError,
    UnsupportedVersionError,
    Z4aiError,
)

try:  # bfloat16 / float8 numpy dtypes, when installed
    import ml_dtypes as _ml_dtypes
except ImportError:  # pragma: no cover - exercised by the no-ml_dtypes test
    _ml_dtypes = None

__version__: str = _native.__version__

#: Kernel level the native engine dispatched to on this CPU.
ISA: str = _native.ISA

#: Default, smallest and largest ``chunk_size`` (bytes).
DEFAULT_CHUNK_SIZE: int = _native.DEFAULT_CHUNK_SIZE
#: Default ``chunk_size`` of delta frames (bytes).
DEFAULT_DELTA_CHUNK_SIZE: int = _native.DEFAULT_DELTA_CHUNK_SIZE
MIN_CHUNK_SIZE: int = _native.MIN_CHUNK_SIZE
MAX_CHUNK_SIZE: int = _native.MAX_CHUNK_SIZE

#: Effort tiers, fastest first.
EFFORTS: Tuple[str, ...] = ("fast", "default", "max")

#: Codec dtypes, by canonical name.
DTYPES: Tuple[str, ...] = tuple(_native.dtypes())

__all__ = [
    "__version__",
    "ISA",
    "EFFORTS",
    "DTYPES",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_DELTA_CHUNK_SIZE",
    "MIN_CHUNK_SIZE",
    "MAX_CHUNK_SIZE",
    "compress",
    "decompress",
    "decompress_into",
    "compress_delta",
    "decompress_delta",
    "compress_array",
    "decompress_array",
    "compress_file",
    "decompress_file",
    "decompressed_size",
    "decompress_range",
    "compress_bound",
    "info",
    "Archive",
    "open",
    "load_file",
    "save_file",
    "Z4aiError",
    "CorruptError",
    "BadMagicError",
    "UnsupportedVersionError",
    "TruncatedError",
    "ChecksumError",
    "ReferenceMismatchError",
    "ReferenceRequiredError",
    "BufferTooSmallError",
    "InvalidOptionError",
    "OutOfRangeError",
]

# --------------------------------------------------------------------------
# dtypes

# numpy extension types (ml_dtypes) the codec has a field layout for.
_EXT_CODEC = {
    "bfloat16": "bf16",
    "float8_e4m3fn": "e4m3",
    "float8_e5m2": "e5m2",
}
# Codec dtype -> numpy dtype of a plain frame's content (decompress_array).
_CODEC_NUMPY = {
    "bytes": "uint8",
    "fp16": "float16",
    "fp32": "float32",
    "fp64": "float64",
    "i8": "int8",
    "u8": "uint8",
    "i16": "int16",
    "i32": "int32",
    "i64": "int64",
}
_CODEC_EXT = {v: k for k, v in _EXT_CODEC.items()}
# Stand-in when ml_dtypes is missing: same width, unsigned integers.
_EXT_FALLBACK = {"bfloat16": "uint16", "float8_e4m3fn": "uint8", "float8_e5m2": "uint8"}


def _codec_dtype_of(dt: np.dtype) -> str:
    """The codec dtype that fits the bytes of a numpy dtype best."""
    if dt.hasobject:
        raise TypeError("arrays of Python objects cannot be compressed")
    if dt.fields is not None or dt.subdtype is not None:
        return "bytes"
    if dt.name in _EXT_CODEC:
        return _EXT_CODEC[dt.name]
    if dt.byteorder == ">" and dt.itemsize > 1:
        return "bytes"  # the codec's field layouts are little-endian
    size, kind = dt.itemsize, dt.kind
    if kind == "f":
        return {2: "fp16", 4: "fp32", 8: "fp64"}.get(size, "bytes")
    if kind == "c":
        return {8: "fp32", 16: "fp64"}.get(size, "bytes")
    if kind == "b":
        return "u8"
    if kind in "iumM":
        if size == 1:
            return "u8" if kind == "u" else "i8"
        return {2: "i16", 4: "i32", 8: "i64"}.get(size, "bytes")
    return "bytes"


def _resolve_dtype(dtype: Any) -> Optional[str]:
    """A dtype argument (codec name or alias, numpy dtype, numpy / ml_dtypes
    / torch scalar type) as a codec dtype name; None stays None."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        try:
            return _native.dtype_name(dtype)
        except InvalidOptionError:
            pass
        name = dtype[6:] if dtype.startswith("torch.") else dtype
        if name in _EXT_CODEC:
            return _EXT_CODEC[name]
        try:
            return _codec_dtype_of(np.dtype(name))
        except TypeError:
            pass
        # Raise the codec's own message for an unknown name.
        return _native.dtype_name(dtype)
    if type(dtype).__module__.startswith("torch"):
        return _resolve_dtype(str(dtype))
    try:
        return _codec_dtype_of(np.dtype(dtype))
    except TypeError:
        raise TypeError(f"dtype must be a str or numpy dtype, not {type(dtype).__name__}") from None


def _is_ext(dt: np.dtype) -> bool:
    """Whether a dtype is an ml_dtypes extension type (bfloat16, float8_*, ...)."""
    return dt.type.__module__.split(".")[0] == "ml_dtypes"


def _numpy_dtype_from_name(name: str) -> np.dtype:
    """The numpy dtype a stored descriptor names (see docs/PYTHON.md):
    numpy's ``dtype.str`` for its own types (it starts with a byte-order
    character), the ml_dtypes type name for extension types."""
    if name[:1] in ("<", ">", "|", "="):
        return np.dtype(name)
    if _ml_dtypes is not None and isinstance(getattr(_ml_dtypes, name, None), type):
        return np.dtype(getattr(_ml_dtypes, name))
    if name in _EXT_FALLBACK:
        return np.dtype(_EXT_FALLBACK[name])
    raise TypeError(f"unknown dtype {name!r} (is ml_dtypes installed?)")


def _descriptor(dt: np.dtype) -> str:
    """The stored descriptor of a numpy dtype."""
    if _is_ext(dt):
        return dt.name
    if dt.fields is not None or dt.subdtype is not None or dt.hasobject:
        raise TypeError(f"compress_array does not support structured dtype {dt}")
    desc = dt.str
    if np.dtype(desc) != dt:
        raise TypeError(f"compress_array does not support dtype {dt}")
    return desc


# --------------------------------------------------------------------------
# buffers

_ARRAY_MAGIC = b"Z4NA"
_ARRAY_VERSION = 1
_MAX_NDIM = 64


def _check_threads(threads: int) -> int:
    if not isinstance(threads, int) or isinstance(threads, bool):
        raise TypeError(f"threads must be an int, not {type(threads).__name__}")
    if threads < 0:
        raise InvalidOptionError(f"invalid option: threads must be >= 0, got {threads}")
    return threads


def _is_torch(obj: Any) -> bool:
    return type(obj).__module__.startswith("torch") and hasattr(obj, "dtype") and hasattr(obj, "numel")


def _torch_bytes(t: Any) -> Tuple[np.ndarray, str]:
    """A CPU torch tensor as a flat uint8 numpy view (no copy when it is
    already contiguous on the CPU) and its codec dtype."""
    import torch  # only reached with a torch tensor in hand

    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if not t.is_contiguous():
        raise ValueError("data must be C-contiguous (call .contiguous() first)")
    codec = _resolve_dtype(str(t.dtype)) if t.dtype != torch.bool else "u8"
    return t.reshape(-1).view(torch.uint8).numpy(), codec or "bytes"


def _input(data: Any, name: str = "data") -> Tuple[Any, Optional[str]]:
    """(object the native module can read in place, inferred codec dtype)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return data, None
    if isinstance(data, np.ndarray):
        if not data.flags.c_contiguous:
            raise ValueError(f"{name} must be C-contiguous (use numpy.ascontiguousarray)")
        dtype = _codec_dtype_of(data.dtype)
        # A uint8 view of the same memory: readable whatever the dtype
        # (numpy cannot export extension dtypes such as bfloat16 directly).
        return data.reshape(-1).view(np.uint8), dtype
    if _is_torch(data):
        return _torch_bytes(data)
    if isinstance(data, (str, int, float, list, tuple)) or data is None:
        raise TypeError(
            f"{name} must be a bytes-like object (bytes, bytearray, memoryview, numpy array), "
            f"not {type(data).__name__}"
        )
    return data, None  # any other buffer exporter: the native side checks it


def _byte_view(blob: Any, name: str = "blob") -> memoryview:
    """A flat, zero-copy byte view of a blob argument."""
    if isinstance(blob, np.ndarray):
        if not blob.flags.c_contiguous:
            raise ValueError(f"{name} must be C-contiguous")
        return memoryview(blob.reshape(-1).view(np.uint8))
    try:
        mv = memoryview(blob)
    except TypeError:
        raise TypeError(
            f"{name} must be a bytes-like object (bytes, bytearray, memoryview, numpy array), "
            f"not {type(blob).__name__}"
        ) from None
    if mv.format == "B" and mv.ndim == 1:
        return mv
    if not mv.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    return mv.cast("B")


def _split(blob: Any) -> Tuple[Optional[Tuple[np.dtype, str, Tuple[int, ...]]], Any]:
    """Splits an array wrapper off a blob: ((dtype, descriptor, shape) or
    None, the z4ai frame as a zero-copy view)."""
    mv = _byte_view(blob)
    if len(mv) < 4 or mv[:4] != _ARRAY_MAGIC:
        return None, mv
    n = len(mv)
    if n < 7:
        raise TruncatedError(f"truncated array header: needed 7 bytes, {n} available")
    version, dlen = mv[4], mv[5]
    if version != _ARRAY_VERSION:
        raise UnsupportedVersionError(f"unsupported array header version {version}")
    if not 1 <= dlen <= 64:
        raise CorruptError(f"corrupt array header: dtype descriptor length {dlen}")
    pos = 6 + dlen
    if n < pos + 1:
        raise TruncatedError(f"truncated array header: needed {pos + 1} bytes, {n} available")
    try:
        desc = bytes(mv[6:pos]).decode("ascii")
        dt = _numpy_dtype_from_name(desc)
    except (UnicodeDecodeError, TypeError, ValueError):
        raise CorruptError(f"corrupt array header: unknown dtype {bytes(mv[6:pos])!r}") from None
    ndim = mv[pos]
    pos += 1
    if ndim > _MAX_NDIM:
        raise CorruptError(f"corrupt array header: {ndim} dimensions")
    end = pos + 8 * ndim
    if n < end:
        raise TruncatedError(f"truncated array header: needed {end} bytes, {n} available")
    shape = struct.unpack_from(f"<{ndim}Q", mv, pos)
    return (dt, desc, shape), mv[end:]


def _array_header(desc: str, shape: Tuple[int, ...]) -> bytes:
    d = desc.encode("ascii")
    return (
        _ARRAY_MAGIC
        + bytes((_ARRAY_VERSION, len(d)))
        + d
        + bytes((len(shape),))
        + struct.pack(f"<{len(shape)}Q", *shape)
    )


# --------------------------------------------------------------------------
# one-shot API


def compress(
    data: Any,
    dtype: Any = None,
    effort: str = "default",
    threads: int = 0,
    chunk_size: Optional[int] = None,
) -> bytes:
    """Compress a buffer into a self-describing z4ai frame.

    Args:
        data: ``bytes``, ``bytearray``, ``memoryview``, any C-contiguous
            buffer, or a numpy array (read in place, never copied).
        dtype: element type of ``data``: a codec name (``"bf16"``,
            ``"fp16"``, ``"fp32"``, ``"fp64"``, ``"e4m3"``, ``"e5m2"``,
            ``"i8"``, ``"u8"``, ``"i16"``, ``"i32"``, ``"i64"``,
            ``"bytes"``), an alias (``"bfloat16"``, ``"float32"``, ``"half"``,
            ``"BF16"``, ...), or a numpy dtype. ``None`` infers it from a
            numpy array (``float32`` -> fp32, ``bfloat16`` -> bf16, ...) and
            uses ``"bytes"`` for other buffers.
        effort: ``"fast"``, ``"default"`` or ``"max"``.
        threads: worker threads; 0 uses every core. The output is the same
            at any thread count.
        chunk_size: bytes per independently coded chunk (default
            :data:`DEFAULT_CHUNK_SIZE`, :data:`MIN_CHUNK_SIZE` ..
            :data:`MAX_CHUNK_SIZE`); the unit of parallelism and random
            access.

    Returns:
        The frame. Decompress with :func:`decompress`.

    Raises:
        InvalidOptionError: unknown dtype or effort, chunk size out of range.
        TypeError: ``data`` is not a buffer.
        ValueError: ``data`` is not C-contiguous.
    """
    buf, inferred = _input(data)
    codec = _resolve_dtype(dtype) or inferred
    return _native.compress(buf, codec, effort, _check_threads(threads), chunk_size)


def decompress(blob: Any, threads: int = 0) -> bytes:
    """Decompress a frame (from :func:`compress`, :func:`compress_array` or a
    ``.z4`` file) and return the original bytes.

    Every chunk is checked against its checksum; a damaged frame raises a
    :class:`CorruptError` subclass and never returns wrong data. Bytes after
    the end of the frame are ignored (a frame may be followed by other data).
    A delta frame raises :class:`ReferenceRequiredError`: decode it with
    :func:`decompress_delta` and its reference.
    """
    _, frame = _split(blob)
    return _native.decompress(frame, _check_threads(threads))


def compress_delta(
    data: Any,
    reference: Any,
    dtype: Optional[str] = None,
    effort: str = "default",
    threads: int = 0,
    chunk_size: Optional[int] = None,
) -> bytes:
    """Compress ``data`` as a bit-exact delta against ``reference`` (the
    previous checkpoint, or the base model of a fine-tune), e.g.
    ``compress_delta(step_2000, reference=step_1000, dtype="bf16")``.

    Both are read zero-copy like :func:`compress`; the dtype is inferred from
    a numpy ``data`` when not given. Bytes past the reference's end are coded
    standalone. Decode with :func:`decompress_delta` and the same reference.
    ``chunk_size`` defaults to :data:`DEFAULT_DELTA_CHUNK_SIZE`.
    """
    buf, inferred = _input(data)
    ref, _ = _input(reference)
    codec = _resolve_dtype(dtype) or inferred
    return _native.compress_delta(buf, ref, codec, effort, _check_threads(threads), chunk_size)


def decompress_delta(blob: Any, reference: Any) -> bytes:
    """Decode a frame made by :func:`compress_delta` with its reference.

    Raises :class:`ReferenceMismatchError` when ``reference`` is not the one
    the delta was made against (never returns wrong data).
    """
    ref, _ = _input(reference)
    return _native.decompress_delta(blob, ref)


def decompress_into(blob: Any, out: Any, threads: int = 0) -> int:
    """Decompress a frame straight into ``out`` and return the bytes written.

    ``out`` is any writable C-contiguous buffer (``bytearray``, writable
    ``memoryview``, ``mmap``, numpy array of any dtype) holding at least
    :func:`decompressed_size` bytes; bytes past the content are left alone.

    Raises:
        BufferTooSmallError: ``out`` is smaller than the content.
        TypeError: ``out`` is read-only or not a buffer.
    """
    _, frame = _split(blob)
    if isinstance(out, np.ndarray):
        if not out.flags.c_contiguous:
            raise ValueError("out must be C-contiguous")
        if not out.flags.writeable:
            raise TypeError("out must be a writable buffer (the array is read-only)")
        out = out.reshape(-1).view(np.uint8)
    elif isinstance(out, (bytes, str)) or out is None:
        raise TypeError(f"out must be a writable buffer, not {type(out).__name__}")
    return _native.decompress_into(frame, out, _check_threads(threads))


def decompressed_size(blob: Any) -> int:
    """Size in bytes of a frame's content, read without decoding any chunk."""
    _, frame = _split(blob)
    return _native.decompressed_size(frame)


def decompress_range(blob: Any, offset: int, length: int) -> bytes:
    """Decompress ``length`` bytes starting at ``offset`` of the content,
    decoding only the chunks that overlap the range.

    Raises:
        OutOfRangeError: the range does not lie inside the content.
    """
    if offset < 0 or length < 0:
        raise OutOfRangeError(f"range {offset}+{length} is outside the content")
    _, frame = _split(blob)
    return _native.decompress_range(frame, offset, length)


def compress_bound(length: int, dtype: Any = None, chunk_size: Optional[int] = None) -> int:
    """Upper bound of the frame size for ``length`` bytes of input."""
    return _native.compress_bound(length, _resolve_dtype(dtype), chunk_size)


def info(blob: Any) -> Dict[str, Any]:
    """Describe a frame without decoding its data.

    Returns a dict with ``dtype`` (codec name), ``content_size``,
    ``frame_size``, ``ratio``, ``chunk_size``, ``blocks``, ``chunks`` (a list
    of ``(offset, raw_len, comp_len)``) and ``planes`` (per byte plane, most
    significant first: ``{"methods": {name: {"chunks": n, "bytes": n}},
    "shared_models": n}``). For a :func:`compress_array` blob, ``array``
    holds ``{"dtype": numpy dtype name, "shape": tuple, "header_size": n}``
    and ``frame_size``/``ratio`` count the header too.
    """
    head, frame = _split(blob)
    d = _native.frame_info(frame)
    if head is not None:
        dt, desc, shape = head
        hsize = len(_array_header(desc, shape))
        d["array"] = {"dtype": desc if desc[:1].isalpha() else dt.name, "shape": tuple(shape), "header_size": hsize}
        d["frame_size"] += hsize
        d["ratio"] = d["content_size"] / max(d["frame_size"], 1)
    return d


# --------------------------------------------------------------------------
# numpy arrays


def compress_array(
    arr: Any,
    effort: str = "default",
    threads: int = 0,
    dtype: Any = None,
    chunk_size: Optional[int] = None,
) -> bytes:
    """Compress a numpy array, keeping its dtype and shape.

    The result is a small array header (dtype and shape, see
    ``docs/PYTHON.md``) followed by a z4ai frame; :func:`decompress_array`
    returns an equal array, :func:`decompress` the raw bytes. ``dtype``
    overrides the codec dtype inferred from the array (rarely useful).
    Torch CPU tensors are accepted and come back as numpy arrays.
    """
    if _is_torch(arr):
        import torch  # noqa: F401  (only reached with a torch tensor)

        t = arr.detach().cpu()
        name = str(t.dtype)[6:]
        desc = name if name in _EXT_FALLBACK else _descriptor(np.dtype(name))
        shape = tuple(t.shape)
        buf, inferred = _torch_bytes(t)
    else:
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"arr must be a numpy array, not {type(arr).__name__}")
        if not arr.flags.c_contiguous:
            raise ValueError("arr must be C-contiguous (use numpy.ascontiguousarray)")
        desc, shape = _descriptor(arr.dtype), arr.shape
        buf, inferred = _input(arr, "arr")
    if len(shape) > _MAX_NDIM:
        raise ValueError(f"arrays of more than {_MAX_NDIM} dimensions are not supported")
    codec = _resolve_dtype(dtype) or inferred
    frame = _native.compress(buf, codec, effort, _check_threads(threads), chunk_size)
    return _array_header(desc, shape) + frame


def decompress_array(blob: Any, threads: int = 0) -> np.ndarray:
    """Decompress a :func:`compress_array` blob into a new numpy array with
    the original dtype and shape, decoding straight into the array's memory.

    A plain frame (from :func:`compress`) gives a 1-D array of the frame's
    dtype (``uint8`` for ``"bytes"``). ``bfloat16`` / ``float8`` arrays need
    ``ml_dtypes``; without it they come back as a ``uint16`` / ``uint8`` view
    of the same bits.
    """
    head, frame = _split(blob)
    size = _native.decompressed_size(frame)
    if head is None:
        codec = _native.frame_dtype(frame)
        name = _CODEC_EXT.get(codec)
        dt = _numpy_dtype_from_name(name) if name else np.dtype(_CODEC_NUMPY[codec])
        if size % dt.itemsize:
            dt = np.dtype(np.uint8)
        shape: Tuple[int, ...] = (size // dt.itemsize,)
    else:
        dt, _, shape = head
        count = 1
        for s in shape:
            count *= s
        if count * dt.itemsize != size:
            raise CorruptError(
                f"corrupt array header: shape {tuple(shape)} of {dt} is {count * dt.itemsize} bytes, "
                f"the frame holds {size}"
            )
    arr = np.empty(shape, dtype=dt)
    if size:
        _native.decompress_into(frame, arr.reshape(-1).view(np.uint8), _check_threads(threads))
    return arr


# --------------------------------------------------------------------------
# files

PathLike = Union[str, "os.PathLike[str]"]


def _check_dst(src: str, dst: str, overwrite: bool) -> None:
    if os.path.exists(dst):
        if os.path.exists(src) and os.path.samefile(src, dst):
            raise ValueError(f"{dst}: output would overwrite the input")
        if not overwrite:
            raise FileExistsError(f"{dst}: already exists (pass overwrite=True to replace it)")


def compress_file(
    src: PathLike,
    dst: Optional[PathLike] = None,
    dtype: Any = None,
    effort: str = "default",
    threads: int = 0,
    chunk_size: Optional[int] = None,
    overwrite: bool = False,
) -> str:
    """Compress the file ``src`` into a frame at ``dst`` (default
    ``src + ".z4"``) and return the output path.

    Streams with bounded memory (one block of input, 64 chunks, plus its
    coded form), so files larger than memory work. The output is written to a
    temporary file beside ``dst`` and renamed into place; an existing
    ``dst`` is replaced only with ``overwrite=True``. The frame is the same
    format the ``z4ai`` CLI reads and writes.
    """
    src = os.fspath(src)
    dst = os.fspath(dst) if dst is not None else src + ".z4"
    _check_dst(src, dst, overwrite)
    _native.compress_file(src, dst, _resolve_dtype(dtype), effort, _check_threads(threads), chunk_size)
    return dst


def decompress_file(
    src: PathLike,
    dst: Optional[PathLike] = None,
    threads: int = 0,
    overwrite: bool = False,
) -> str:
    """Decompress the frame file ``src`` into ``dst`` (default: ``src``
    without its ``.z4`` suffix) and return the output path.

    Streams with bounded memory; the output appears (by rename) only once
    the whole frame has been decoded and verified. As with
    :func:`decompress` and the CLI, bytes after the end of the frame are
    ignored.
    """
    src = os.fspath(src)
    if dst is None:
        if not src.endswith(".z4") or len(src) <= 3:
            raise ValueError(f"{src}: no .z4 suffix; pass dst")
        dst = src[:-3]
    dst = os.fspath(dst)
    _check_dst(src, dst, overwrite)
    _native.decompress_file(src, dst, _check_threads(threads))
    return dst


# --------------------------------------------------------------------------
# archives: .safetensors model files with per-tensor access

# safetensors dtype name -> numpy dtype name (ml_dtypes names for the
# extension types; without ml_dtypes they come back as same-width uints).
_ST_NUMPY = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16",
    "U32": "uint32", "I32": "int32", "U64": "uint64", "I64": "int64",
    "F16": "float16", "F32": "float32", "F64": "float64",
    "BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
}
_NUMPY_ST = {v: k for k, v in _ST_NUMPY.items()}


def _st_numpy_dtype(st: str) -> np.dtype:
    name = _ST_NUMPY.get(st)
    if name is None:
        raise TypeError(f"tensor dtype {st!r} has no numpy equivalent")
    if name in _EXT_FALLBACK:
        return _numpy_dtype_from_name(name)
    return np.dtype(name).newbyteorder("<")


class Archive:
    """A z4ai archive opened for reading: a lazy, read-only mapping from
    tensor name to numpy array.

    Opening reads only the archive's index; ``archive[name]`` reads and
    decodes that tensor's frames alone, straight into a new array. Use
    :func:`open` to create one; it is also a context manager.
    """

    def __init__(self, path: PathLike, threads: int = 0) -> None:
        self._path = os.fspath(path)
        self._native = _native._Archive(self._path, _check_threads(threads))
        self._tensors = {t["name"]: t for t in self._native.tensors()}

    def keys(self):
        """Tensor names, in file order."""
        return self._tensors.keys()

    def __iter__(self):
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    def __contains__(self, name: object) -> bool:
        return name in self._tensors

    def __getitem__(self, name: str) -> np.ndarray:
        return self.get_tensor(name)

    def items(self):
        """(name, array) pairs, each tensor decoded when reached."""
        for name in self._tensors:
            yield name, self.get_tensor(name)

    def values(self):
        for name in self._tensors:
            yield self.get_tensor(name)

    def tensor_info(self, name: str) -> Dict[str, Any]:
        """``{"name", "dtype" (the file's dtype name, e.g. "BF16"), "shape",
        "file", "offset", "raw_size", "compressed_size", "deduplicated"}``."""
        try:
            return dict(self._tensors[name])
        except KeyError:
            raise KeyError(name) from None

    def get_tensor(self, name: str, framework: str = "np") -> Any:
        """Decode one tensor into a new array (``framework="pt"``: a torch
        tensor, sharing the array's memory)."""
        t = self.tensor_info(name)
        dt = _st_numpy_dtype(t["dtype"])
        arr = np.empty(tuple(t["shape"]), dtype=dt)
        if arr.nbytes != t["raw_size"]:
            raise CorruptError(
                f"tensor {name!r}: shape {tuple(t['shape'])} of {t['dtype']} is {arr.nbytes} bytes, "
                f"the archive holds {t['raw_size']}"
            )
        if arr.nbytes:
            self._native.tensor_into(name, arr.reshape(-1).view(np.uint8))
        return _to_framework(arr, t["dtype"], framework)

    def metadata(self) -> Dict[str, str]:
        """The model file's metadata (safetensors' ``__metadata__``)."""
        return dict(self._native.metadata())

    @property
    def path(self) -> str:
        return self._path

    @property
    def archive_size(self) -> int:
        """Bytes of the archive file."""
        return self._native.archive_size()

    def verify(self) -> int:
        """Decode and check everything; returns the bytes verified."""
        return self._native.verify()

    def close(self) -> None:
        """Release the archive (the file is closed once no array needs it)."""
        self._native = None  # type: ignore[assignment]

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<z4ai.Archive {self._path!r}: {len(self)} tensors>"


def _to_framework(arr: np.ndarray, st_dtype: str, framework: str) -> Any:
    if framework in ("np", "numpy"):
        return arr
    if framework in ("pt", "torch"):
        import torch

        if st_dtype in ("BF16", "F8_E4M3", "F8_E5M2"):
            tdt = {"BF16": torch.bfloat16, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2}[st_dtype]
            raw = torch.from_numpy(arr.view(np.uint16 if st_dtype == "BF16" else np.uint8))
            return raw.view(tdt)
        return torch.from_numpy(arr)
    raise ValueError(f"framework must be 'np' or 'pt', not {framework!r}")


def open(path: PathLike, threads: int = 0) -> Archive:  # noqa: A001 - mirrors safetensors.safe_open
    """Open a z4ai archive (as written by :func:`save_file` or ``z4ai
    compress`` on a ``.safetensors`` file) for lazy per-tensor reading::

        with z4ai.open("model.z4") as f:
            names = list(f.keys())
            w = f["lm_head.weight"]          # numpy array, decoded on demand
            meta = f.metadata()
    """
    return Archive(path, threads)


def load_file(path: PathLike, framework: str = "np", threads: int = 0) -> Dict[str, Any]:
    """Decode every tensor of an archive: ``{name: numpy array}``, or torch
    tensors with ``framework="pt"`` (needs torch)."""
    with open(path, threads) as f:
        return {name: f.get_tensor(name, framework) for name in f.keys()}


def _tensor_bytes(value: Any) -> Tuple[str, Tuple[int, ...], Any]:
    """(safetensors dtype, shape, flat uint8 view) of an array or tensor."""
    if _is_torch(value):
        name = str(value.dtype)[6:]
        shape = tuple(value.shape)
        flat, _ = _torch_bytes(value)
        dt_name = "bfloat16" if name == "bfloat16" else name
    else:
        if not isinstance(value, np.ndarray):
            raise TypeError(f"tensors must be numpy arrays or torch tensors, not {type(value).__name__}")
        value = np.ascontiguousarray(value)
        if value.dtype.byteorder == ">":
            value = value.astype(value.dtype.newbyteorder("<"))
        dt_name, shape = value.dtype.name, value.shape
        flat = value.reshape(-1).view(np.uint8)
    st = _NUMPY_ST.get(dt_name)
    if st is None:
        raise TypeError(f"dtype {dt_name} cannot be stored in a safetensors file")
    return st, shape, flat


def save_file(
    tensors: Dict[str, Any],
    path: PathLike,
    metadata: Optional[Dict[str, str]] = None,
    effort: str = "default",
    threads: int = 0,
    overwrite: bool = True,
) -> str:
    """Write ``tensors`` (name -> numpy array or torch tensor) as a
    safetensors model compressed into a z4ai archive at ``path``; returns
    the path. :func:`open` / :func:`load_file` read it back, and ``z4ai
    decompress`` restores the exact ``.safetensors`` file.

    The safetensors bytes are assembled in memory first (one copy of the
    tensors) and compressed tensor by tensor.
    """
    import json

    if not isinstance(tensors, dict):
        raise TypeError(f"tensors must be a dict, not {type(tensors).__name__}")
    header: Dict[str, Any] = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    parts = []
    offset = 0
    for name in sorted(tensors):
        if not isinstance(name, str):
            raise TypeError("tensor names must be str")
        st, shape, flat = _tensor_bytes(tensors[name])
        header[name] = {"dtype": st, "shape": list(shape), "data_offsets": [offset, offset + flat.nbytes]}
        parts.append(flat)
        offset += flat.nbytes
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-len(hjson) % 8)
    st_bytes = bytearray(8 + len(hjson) + offset)
    struct.pack_into("<Q", st_bytes, 0, len(hjson))
    st_bytes[8 : 8 + len(hjson)] = hjson
    pos = 8 + len(hjson)
    view = np.frombuffer(st_bytes, dtype=np.uint8)
    for flat in parts:
        view[pos : pos + flat.nbytes] = flat
        pos += flat.nbytes
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path}: already exists (pass overwrite=True to replace it)")
    base = os.path.basename(path)
    name = base[:-3] if base.endswith(".z4") else base
    if not name.endswith(".safetensors"):
        name += ".safetensors"
    blob = _native.archive_compress_bytes(st_bytes, name, effort, _check_threads(threads))
    del st_bytes, view
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with builtins.open(tmp, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
