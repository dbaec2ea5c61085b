"""Type stubs of the public z4ai API (see z4ai/__init__.py for the docs)."""

import os
import sys
from typing import Any, Dict, Iterator, KeysView, List, Optional, Tuple, TypedDict, Union

import numpy as np
import numpy.typing as npt

from ._errors import (
    BadMagicError as BadMagicError,
    BufferTooSmallError as BufferTooSmallError,
    ChecksumError as ChecksumError,
    CorruptError as CorruptError,
    InvalidOptionError as InvalidOptionError,
    OutOfRangeError as OutOfRangeError,
    ReferenceMismatchError as ReferenceMismatchError,
    ReferenceRequiredError as ReferenceRequiredError,
    TruncatedError as TruncatedError,
    UnsupportedVersionError as UnsupportedVersionError,
    Z4aiError as Z4aiError,
)

if sys.version_info >= (3, 12):
    from collections.abc import Buffer as _Buffer
else:
    from typing_extensions import Buffer as _Buffer

# Anything exporting the buffer protocol (bytes, bytearray, memoryview,
# mmap, array.array, numpy arrays), or a CPU torch tensor.
BytesLike = Union[_Buffer, npt.NDArray[Any]]
# A codec name or alias ("bf16", "bfloat16", "fp32", ...), a numpy dtype or
# scalar type, an ml_dtypes type, or a torch dtype.
DTypeLike = Union[str, np.dtype[Any], type, Any, None]
PathLike = Union[str, "os.PathLike[str]"]

__version__: str
ISA: str
DEFAULT_CHUNK_SIZE: int
DEFAULT_DELTA_CHUNK_SIZE: int
MIN_CHUNK_SIZE: int
MAX_CHUNK_SIZE: int
EFFORTS: Tuple[str, ...]
DTYPES: Tuple[str, ...]

class _MethodStats(TypedDict):
    chunks: int
    bytes: int

class _PlaneInfo(TypedDict):
    methods: Dict[str, _MethodStats]
    shared_models: int

class _ArrayInfo(TypedDict):
    dtype: str
    shape: Tuple[int, ...]
    header_size: int

class FrameInfo(TypedDict, total=False):
    dtype: str
    content_size: int
    frame_size: int
    ratio: float
    chunk_size: int
    blocks: int
    chunks: List[Tuple[int, int, int]]
    planes: List[_PlaneInfo]
    array: _ArrayInfo

def compress(
    data: BytesLike,
    dtype: DTypeLike = None,
    effort: str = "default",
    threads: int = 0,
    chunk_size: Optional[int] = None,
) -> bytes: ...
def decompress(blob: BytesLike, threads: int = 0) -> bytes: ...
def decompress_into(blob: BytesLike, out: BytesLike, threads: int = 0) -> int: ...
def decompressed_size(blob: BytesLike) -> int: ...
def decompress_range(blob: BytesLike, offset: int, length: int) -> bytes: ...
def compress_bound(length: int, dtype: DTypeLike = None, chunk_size: Optional[int] = None) -> int: ...
def info(blob: BytesLike) -> FrameInfo: ...
def compress_array(
    arr: Any,
    effort: str = "default",
    threads: int = 0,
    dtype: DTypeLike = None,
    chunk_size: Optional[int] = None,
) -> bytes: ...
def decompress_array(blob: BytesLike, threads: int = 0) -> npt.NDArray[Any]: ...
def compress_file(
    src: PathLike,
    dst: Optional[PathLike] = None,
    dtype: DTypeLike = None,
    effort: str = "default",
    threads: int = 0,
    chunk_size: Optional[int] = None,
    overwrite: bool = False,
) -> str: ...
def decompress_file(
    src: PathLike,
    dst: Optional[PathLike] = None,
    threads: int = 0,
    overwrite: bool = False,
) -> str: ...

class Archive:
    def __init__(self, path: PathLike, threads: int = 0) -> None: ...
    def keys(self) -> KeysView[str]: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...
    def __contains__(self, name: object) -> bool: ...
    def __getitem__(self, name: str) -> npt.NDArray[Any]: ...
    def items(self) -> Iterator[Tuple[str, npt.NDArray[Any]]]: ...
    def values(self) -> Iterator[npt.NDArray[Any]]: ...
    def tensor_info(self, name: str) -> Dict[str, Any]: ...
    def get_tensor(self, name: str, framework: str = "np") -> Any: ...
    def metadata(self) -> Dict[str, str]: ...
    @property
    def path(self) -> str: ...
    @property
    def archive_size(self) -> int: ...
    def verify(self) -> int: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Archive": ...
    def __exit__(self, *exc: object) -> None: ...

def open(path: PathLike, threads: int = 0) -> Archive: ...
def load_file(path: PathLike, framework: str = "np", threads: int = 0) -> Dict[str, Any]: ...
def save_file(
    tensors: Dict[str, Any],
    path: PathLike,
    metadata: Optional[Dict[str, str]] = None,
    effort: str = "default",
    threads: int = 0,
    overwrite: bool = True,
) -> str: ...

def compress_delta(
    data: Any,
    reference: Any,
    dtype: Optional[str] = ...,
    effort: str = ...,
    threads: int = ...,
    chunk_size: Optional[int] = ...,
) -> bytes: ...
def decompress_delta(blob: Any, reference: Any) -> bytes: ...
