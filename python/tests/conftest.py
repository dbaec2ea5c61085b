"""Shared fixtures: realistic weight-like data for every dtype."""

from __future__ import annotations

import numpy as np
import pytest

try:
    import ml_dtypes
except ImportError:  # pragma: no cover
    ml_dtypes = None

import z4ai

# numpy dtype name -> codec dtype compress() infers for it.
NUMPY_DTYPES = {
    "float32": "fp32",
    "float16": "fp16",
    "float64": "fp64",
    "int8": "i8",
    "uint8": "u8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint16": "i16",
    "uint32": "i32",
    "uint64": "i64",
    "bool": "u8",
    "complex64": "fp32",
}
EXT_DTYPES = {"bfloat16": "bf16", "float8_e4m3fn": "e4m3", "float8_e5m2": "e5m2"}


def make_array(name: str, n: int, seed: int = 0) -> np.ndarray:
    """n elements of a weight-like array of numpy dtype `name`."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(n) * 0.02
    if name in EXT_DTYPES:
        if ml_dtypes is None:
            pytest.skip("ml_dtypes not installed")
        return w.astype(np.float32).astype(getattr(ml_dtypes, name))
    dt = np.dtype(name)
    if dt.kind == "f":
        return w.astype(dt)
    if dt.kind == "c":
        return (w + 1j * rng.standard_normal(n) * 0.02).astype(dt)
    if dt.kind == "b":
        return rng.random(n) < 0.3
    info = np.iinfo(dt)
    lo, hi = max(info.min, -100), min(info.max, 100)
    return rng.integers(lo, hi, n, endpoint=True).astype(dt)


ALL_DTYPES = list(NUMPY_DTYPES) + list(EXT_DTYPES)


@pytest.fixture(params=ALL_DTYPES)
def dtype_name(request):
    return request.param


@pytest.fixture(scope="session")
def bf16_bytes() -> bytes:
    """1.5 MiB of bf16 weights."""
    w = np.random.default_rng(1).standard_normal(3 << 18).astype(np.float32) * 0.02
    return (w.view(np.uint32) >> 16).astype(np.uint16).tobytes()


@pytest.fixture(scope="session")
def small_frame(bf16_bytes) -> bytes:
    """A multi-chunk frame over 64 KiB of content (4 KiB chunks)."""
    return z4ai.compress(bf16_bytes[: 64 << 10], dtype="bf16", chunk_size=4096)
