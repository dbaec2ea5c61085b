"""compress_array / decompress_array: dtype and shape kept, every dtype."""

from __future__ import annotations

import struct

import numpy as np
import pytest

import z4ai
from conftest import ALL_DTYPES, make_array


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("name", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(), (7,), (300, 257), (2, 3, 4, 5), (0,), (4, 0, 2)])
def test_round_trip(name, shape):
    n = int(np.prod(shape))
    a = make_array(name, n).reshape(shape)
    blob = z4ai.compress_array(a)
    b = z4ai.decompress_array(blob)
    assert same(a, b)
    assert b.flags.c_contiguous and b.flags.writeable and b.flags.owndata
    # the wrapped blob is also a valid input for the byte-level functions
    assert z4ai.decompress(blob) == a.tobytes()
    assert z4ai.decompressed_size(blob) == a.nbytes


@pytest.mark.parametrize("effort", ["fast", "default", "max"])
def test_efforts_and_threads(effort):
    a = make_array("bfloat16", 600_000).reshape(600, 1000)
    blob = z4ai.compress_array(a, effort=effort, threads=2)
    assert blob == z4ai.compress_array(a, effort=effort, threads=1)
    assert same(z4ai.decompress_array(blob, threads=2), a)
    assert len(blob) < 0.8 * a.nbytes


def test_info_describes_array():
    a = make_array("float16", 3000).reshape(30, 100)
    blob = z4ai.compress_array(a)
    d = z4ai.info(blob)
    assert d["array"]["dtype"] == "float16"
    assert d["array"]["shape"] == (30, 100)
    assert d["dtype"] == "fp16"
    assert d["frame_size"] == len(blob)
    assert d["content_size"] == a.nbytes


def test_bf16_info_name():
    a = make_array("bfloat16", 100)
    assert z4ai.info(z4ai.compress_array(a))["array"]["dtype"] == "bfloat16"


def test_header_layout():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    blob = z4ai.compress_array(a)
    desc = b"<f4"
    head = b"Z4NA" + bytes([1, len(desc)]) + desc + bytes([2]) + struct.pack("<2Q", 2, 3)
    assert blob.startswith(head)
    assert blob[len(head) : len(head) + 4] == b"Z4AI"
    assert z4ai.decompress(blob[len(head) :]) == a.tobytes()


def test_plain_frame_to_array():
    a = make_array("float32", 1000)
    b = z4ai.decompress_array(z4ai.compress(a))
    assert same(a, b)
    c = z4ai.decompress_array(z4ai.compress(b"abcdef"))
    assert c.dtype == np.uint8 and c.tobytes() == b"abcdef"
    i = make_array("int16", 10)
    assert same(z4ai.decompress_array(z4ai.compress(i)), i)
    # content not a whole number of elements -> bytes
    d = z4ai.decompress_array(z4ai.compress(b"abc", dtype="fp32"))
    assert d.dtype == np.uint8 and d.tobytes() == b"abc"


def test_plain_bf16_frame_to_array():
    ml = pytest.importorskip("ml_dtypes")
    a = make_array("bfloat16", 1000)
    b = z4ai.decompress_array(z4ai.compress(a))
    assert b.dtype == ml.bfloat16 and same(a, b)


def test_without_ml_dtypes(monkeypatch):
    """Without ml_dtypes, bf16 / fp8 arrays come back as uint views of the bits."""
    pytest.importorskip("ml_dtypes")
    a = make_array("bfloat16", 500).reshape(20, 25)
    f8 = make_array("float8_e4m3fn", 64)
    blob, blob8, plain = z4ai.compress_array(a), z4ai.compress_array(f8), z4ai.compress(a)
    monkeypatch.setattr(z4ai, "_ml_dtypes", None)
    b = z4ai.decompress_array(blob)
    assert b.dtype == np.uint16 and b.shape == (20, 25)
    assert b.tobytes() == a.tobytes()
    assert z4ai.decompress_array(blob8).dtype == np.uint8
    assert z4ai.decompress_array(plain).dtype == np.uint16


def test_non_native_byte_order():
    a = np.arange(1000, dtype=">f4")
    b = z4ai.decompress_array(z4ai.compress_array(a))
    assert b.dtype == np.dtype(">f4") and np.array_equal(a, b)


def test_more_numpy_dtypes():
    for a in [
        np.arange(0, 100, dtype="datetime64[s]"),
        np.arange(0, 100, dtype="timedelta64[ms]"),
        np.array([b"ab", b"cd"], dtype="S2"),
        np.array(["x", "yz"], dtype="U2"),
        np.arange(10, dtype=np.complex128),
        np.arange(10, dtype=np.longdouble),
    ]:
        assert same(z4ai.decompress_array(z4ai.compress_array(a)), a)


def test_bad_arguments():
    with pytest.raises(TypeError):
        z4ai.compress_array(b"bytes are not arrays")
    with pytest.raises(TypeError):
        z4ai.compress_array([1.0, 2.0])
    with pytest.raises(TypeError):
        z4ai.compress_array(np.array([object(), None]))
    with pytest.raises(TypeError):
        z4ai.compress_array(np.zeros(3, dtype=[("a", "<f4"), ("b", "<i2")]))
    with pytest.raises(ValueError):
        z4ai.compress_array(np.zeros((10, 10), np.float32)[:, ::2])
    with pytest.raises(ValueError):
        z4ai.compress_array(np.asfortranarray(np.zeros((10, 10), np.float32)))
    with pytest.raises(z4ai.InvalidOptionError):
        z4ai.compress_array(np.zeros(10, np.float32), effort="extreme")


def test_corrupt_headers():
    a = np.arange(600, dtype=np.float32).reshape(20, 30)
    blob = z4ai.compress_array(a)
    hlen = blob.index(b"Z4AI")
    for cut in range(4, hlen):
        with pytest.raises(z4ai.CorruptError):
            z4ai.decompress_array(blob[:cut])
    with pytest.raises(z4ai.UnsupportedVersionError):
        z4ai.decompress_array(blob[:4] + b"\x09" + blob[5:])
    with pytest.raises(z4ai.CorruptError):  # unknown dtype descriptor
        z4ai.decompress_array(blob[:6] + b"<q9" + blob[9:])
    with pytest.raises(z4ai.CorruptError):  # descriptor length 0
        z4ai.decompress_array(blob[:5] + b"\x00" + blob[6:])
    # shape that disagrees with the frame's content
    bad = blob[:hlen - 16] + struct.pack("<2Q", 20, 31) + blob[hlen:]
    with pytest.raises(z4ai.CorruptError):
        z4ai.decompress_array(bad)
    # a shape whose product overflows
    bad = blob[:hlen - 16] + struct.pack("<2Q", 2**63, 4) + blob[hlen:]
    with pytest.raises(z4ai.CorruptError):
        z4ai.decompress_array(bad)
    # damage to the frame behind the header
    flipped = bytearray(blob)
    flipped[-20] ^= 0x10
    with pytest.raises(z4ai.CorruptError):
        z4ai.decompress_array(bytes(flipped))
