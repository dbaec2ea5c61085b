"""Bad input: truncated and bit-flipped frames, wrong types, bad options."""

from __future__ import annotations

import numpy as np
import pytest

import z4ai


def test_hierarchy():
    E = z4ai
    assert issubclass(E.CorruptError, E.Z4aiError)
    for cls in (E.BadMagicError, E.UnsupportedVersionError, E.TruncatedError, E.ChecksumError):
        assert issubclass(cls, E.CorruptError)
    for cls in (
        E.ReferenceMismatchError,
        E.ReferenceRequiredError,
        E.BufferTooSmallError,
        E.InvalidOptionError,
        E.OutOfRangeError,
    ):
        assert issubclass(cls, E.Z4aiError) and issubclass(cls, ValueError)
    assert not issubclass(E.CorruptError, ValueError)
    assert E.Z4aiError.__module__ == "z4ai._errors"


DECODERS = [
    ("decompress", lambda b: z4ai.decompress(b)),
    ("decompress_into", lambda b: z4ai.decompress_into(b, bytearray(1 << 20))),
    ("decompressed_size", lambda b: z4ai.decompressed_size(b)),
    ("decompress_range", lambda b: z4ai.decompress_range(b, 0, 100)),
    ("info", lambda b: z4ai.info(b)),
    ("decompress_array", lambda b: z4ai.decompress_array(b)),
]


@pytest.mark.parametrize("name,fn", DECODERS, ids=[d[0] for d in DECODERS])
def test_not_a_frame(name, fn):
    for junk in (b"", b"Z4", b"hello world, this is not a frame" * 10, bytes(100)):
        with pytest.raises(z4ai.CorruptError) as ei:
            fn(junk)
        assert ei.value.code in (-2, -4, -5)
    with pytest.raises(z4ai.BadMagicError) as ei:
        fn(b"ZSTD" + bytes(200))
    assert ei.value.code == -2
    assert "magic" in str(ei.value)


@pytest.mark.parametrize("name,fn", DECODERS, ids=[d[0] for d in DECODERS])
def test_every_truncation(name, fn, small_frame):
    step = max(1, len(small_frame) // 300)
    for cut in list(range(0, 64)) + list(range(64, len(small_frame), step)):
        with pytest.raises(z4ai.CorruptError):
            fn(small_frame[:cut])


def test_truncated_is_truncated_error(small_frame):
    with pytest.raises(z4ai.TruncatedError) as ei:
        z4ai.decompress(small_frame[:-1])
    assert ei.value.code == -4
    assert "truncated" in str(ei.value)


def test_bit_flips_never_return_wrong_data(small_frame, bf16_bytes):
    content = bf16_bytes[: 64 << 10]
    rng = np.random.default_rng(7)
    positions = sorted(set(rng.integers(0, len(small_frame), 400).tolist()) | set(range(0, 48)))
    seen = set()
    for pos in positions:
        for bit in (0, 5):
            bad = bytearray(small_frame)
            bad[pos] ^= 1 << bit
            try:
                out = z4ai.decompress(bytes(bad))
            except z4ai.CorruptError as e:
                seen.add(type(e).__name__)
                continue
            assert out == content, f"flip at {pos} bit {bit} returned wrong data"
    assert "ChecksumError" in seen


def test_checksum_error(small_frame):
    # flip a byte deep in the last chunk's payload
    bad = bytearray(small_frame)
    bad[len(bad) - 200] ^= 0xFF
    with pytest.raises(z4ai.CorruptError) as ei:
        z4ai.decompress(bytes(bad))
    assert isinstance(ei.value, z4ai.Z4aiError)


def test_trailing_bytes_ignored(small_frame, bf16_bytes):
    # As in the Rust API and the CLI: a frame may be followed by other data.
    content = bf16_bytes[: 64 << 10]
    assert z4ai.decompress(small_frame + b"\x00junk") == content
    assert z4ai.decompressed_size(small_frame + b"\x00junk") == len(content)


@pytest.mark.parametrize("bad", ["a string", 12, 3.5, None, [1, 2, 3], (1,), {"a": 1}, object()])
def test_wrong_input_types(bad):
    with pytest.raises(TypeError):
        z4ai.compress(bad)
    for fn in (z4ai.decompress, z4ai.decompressed_size, z4ai.info, z4ai.decompress_array):
        with pytest.raises(TypeError):
            fn(bad)
    with pytest.raises(TypeError):
        z4ai.decompress_range(bad, 0, 1)


def test_non_contiguous_inputs(small_frame):
    a = np.zeros((100, 100), np.float32)
    for bad in (a[:, ::2], a.T, np.asfortranarray(a), a[::3]):
        with pytest.raises(ValueError, match="contiguous"):
            z4ai.compress(bad)
    with pytest.raises(ValueError, match="contiguous"):
        z4ai.compress(memoryview(bytes(100))[::2])
    blob = np.frombuffer(small_frame + small_frame, np.uint8)[::2]
    with pytest.raises(ValueError, match="contiguous"):
        z4ai.decompress(blob)
    with pytest.raises(ValueError, match="contiguous"):
        z4ai.decompress(memoryview(small_frame)[::2])


def test_invalid_options():
    data = bytes(1000)
    for kwargs in (
        {"dtype": "fp12"},
        {"dtype": "complex256x"},
        {"effort": "extreme"},
        {"effort": ""},
        {"chunk_size": 10},
        {"chunk_size": 1 << 40},
        {"threads": -1},
    ):
        with pytest.raises(z4ai.InvalidOptionError) as ei:
            z4ai.compress(data, **kwargs)
        assert isinstance(ei.value, ValueError), kwargs
        assert ei.value.code == -9
    with pytest.raises(TypeError):
        z4ai.compress(data, effort=3)
    with pytest.raises(TypeError):
        z4ai.compress(data, threads="2")
    with pytest.raises(TypeError):
        z4ai.compress(data, dtype=3.5)
    with pytest.raises(z4ai.InvalidOptionError):
        z4ai.decompress(z4ai.compress(data), threads=-2)


def test_effort_case_insensitive():
    assert z4ai.decompress(z4ai.compress(b"x" * 100, effort="FAST")) == b"x" * 100


def test_message_is_rusts():
    with pytest.raises(z4ai.InvalidOptionError, match="unknown effort 'extreme'"):
        z4ai.compress(b"", effort="extreme")
    with pytest.raises(z4ai.InvalidOptionError, match="unknown dtype 'fp12'"):
        z4ai.compress(b"", dtype="fp12")
