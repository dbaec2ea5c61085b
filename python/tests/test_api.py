"""compress / decompress and the frame functions, every dtype and effort."""

from __future__ import annotations

import array
import mmap

import numpy as np
import pytest

import z4ai
from conftest import ALL_DTYPES, EXT_DTYPES, NUMPY_DTYPES, make_array


def test_version_and_constants():
    assert isinstance(z4ai.__version__, str) and z4ai.__version__
    assert z4ai.EFFORTS == ("fast", "default", "max")
    assert "bf16" in z4ai.DTYPES and "bytes" in z4ai.DTYPES and len(z4ai.DTYPES) == 12
    assert z4ai.MIN_CHUNK_SIZE <= z4ai.DEFAULT_CHUNK_SIZE <= z4ai.MAX_CHUNK_SIZE
    assert z4ai.DEFAULT_CHUNK_SIZE <= z4ai.DEFAULT_DELTA_CHUNK_SIZE <= z4ai.MAX_CHUNK_SIZE
    assert isinstance(z4ai.ISA, str)
    for name in z4ai.__all__:
        assert hasattr(z4ai, name), name


@pytest.mark.parametrize("effort", ["fast", "default", "max"])
def test_round_trip_every_codec_dtype(effort, bf16_bytes):
    data = bf16_bytes[: 200_003]  # odd length: a partial element at the end
    for dt in z4ai.DTYPES:
        blob = z4ai.compress(data, dtype=dt, effort=effort)
        assert isinstance(blob, bytes)
        assert z4ai.decompress(blob) == data
        assert z4ai.info(blob)["dtype"] == dt


def test_bf16_compresses(bf16_bytes):
    blob = z4ai.compress(bf16_bytes, dtype="bf16")
    assert len(blob) < 0.8 * len(bf16_bytes)
    assert z4ai.decompress(blob) == bf16_bytes


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_numpy_dtype_inferred(name):
    a = make_array(name, 50_000)
    blob = z4ai.compress(a)
    want = {**NUMPY_DTYPES, **EXT_DTYPES}[name]
    assert z4ai.info(blob)["dtype"] == want
    assert z4ai.decompress(blob) == a.tobytes()
    # an explicit dtype wins over the inferred one
    blob2 = z4ai.compress(a, dtype="bytes")
    assert z4ai.info(blob2)["dtype"] == "bytes"
    assert z4ai.decompress(blob2) == a.tobytes()


def test_dtype_aliases(bf16_bytes):
    data = bf16_bytes[:10_000]
    for alias, canon in [
        ("bfloat16", "bf16"), ("BF16", "bf16"), ("float16", "fp16"), ("half", "fp16"),
        ("float32", "fp32"), ("F32", "fp32"), ("double", "fp64"), ("int8", "i8"),
        ("uint8", "u8"), ("F8_E4M3", "e4m3"), ("uint16", "i16"), ("torch.bfloat16", "bf16"),
        (np.float32, "fp32"), (np.dtype("float16"), "fp16"), (np.int64, "i64"),
    ]:
        blob = z4ai.compress(data, dtype=alias)
        assert z4ai.info(blob)["dtype"] == canon, alias
        assert z4ai.decompress(blob) == data


def test_ml_dtypes_dtype_argument():
    ml = pytest.importorskip("ml_dtypes")
    blob = z4ai.compress(b"\x00" * 64, dtype=ml.bfloat16)
    assert z4ai.info(blob)["dtype"] == "bf16"


@pytest.mark.parametrize(
    "wrap",
    [
        bytes,
        bytearray,
        memoryview,
        lambda b: np.frombuffer(b, dtype=np.uint8),
        lambda b: np.frombuffer(b, dtype=np.uint8).reshape(1, -1),
        lambda b: array.array("B", b),
        lambda b: memoryview(np.frombuffer(b, dtype=np.uint16 if len(b) % 2 == 0 else np.uint8)),
    ],
    ids=["bytes", "bytearray", "memoryview", "ndarray", "ndarray2d", "array", "mv_u16"],
)
def test_input_kinds(wrap, bf16_bytes):
    data = bf16_bytes[:80_000]
    want = z4ai.compress(data, dtype="bf16")
    assert z4ai.compress(wrap(data), dtype="bf16") == want
    # blobs may be any buffer too
    assert z4ai.decompress(wrap(want)) == data
    assert z4ai.decompressed_size(wrap(want)) == len(data)
    assert z4ai.decompress_range(wrap(want), 10, 20) == data[10:30]
    assert z4ai.info(wrap(want))["content_size"] == len(data)


def test_mmap_input(tmp_path, bf16_bytes):
    p = tmp_path / "w.bin"
    p.write_bytes(bf16_bytes)
    with open(p, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        blob = z4ai.compress(m, dtype="bf16")
    assert z4ai.decompress(blob) == bf16_bytes


def test_empty():
    for dt in ("bytes", "bf16", "fp32"):
        blob = z4ai.compress(b"", dtype=dt)
        assert z4ai.decompress(blob) == b""
        assert z4ai.decompressed_size(blob) == 0
        assert z4ai.decompress_into(blob, bytearray(0)) == 0
        assert z4ai.decompress_range(blob, 0, 0) == b""
    a = z4ai.decompress_array(z4ai.compress_array(np.zeros((0, 3), np.float32)))
    assert a.shape == (0, 3) and a.dtype == np.float32


@pytest.mark.parametrize("threads", [0, 1, 2, 3, 8])
def test_threads_same_output(threads, bf16_bytes):
    ref = z4ai.compress(bf16_bytes, dtype="bf16", threads=1)
    assert z4ai.compress(bf16_bytes, dtype="bf16", threads=threads) == ref
    assert z4ai.decompress(ref, threads=threads) == bf16_bytes


def test_chunk_size(bf16_bytes):
    blob = z4ai.compress(bf16_bytes, dtype="bf16", chunk_size=64 << 10)
    inf = z4ai.info(blob)
    assert inf["chunk_size"] == 64 << 10
    assert len(inf["chunks"]) == -(-len(bf16_bytes) // (64 << 10))
    assert z4ai.decompress(blob) == bf16_bytes


def test_decompress_into(bf16_bytes, small_frame):
    content = bf16_bytes[: 64 << 10]
    out = bytearray(len(content) + 10)
    out[-10:] = b"\xaa" * 10
    assert z4ai.decompress_into(small_frame, out) == len(content)
    assert out[: len(content)] == content
    assert out[-10:] == b"\xaa" * 10  # past the content: untouched
    # numpy output of another dtype, written in place
    arr = np.empty(len(content) // 2, dtype=np.uint16)
    assert z4ai.decompress_into(small_frame, arr) == len(content)
    assert arr.tobytes() == content
    # writable memoryview slice
    buf = bytearray(len(content) + 4)
    assert z4ai.decompress_into(small_frame, memoryview(buf)[4:]) == len(content)
    assert buf[4:] == content
    # threads
    out2 = bytearray(len(content))
    assert z4ai.decompress_into(small_frame, out2, threads=2) == len(content)
    assert out2 == content


def test_decompress_into_bf16_array():
    ml = pytest.importorskip("ml_dtypes")
    a = make_array("bfloat16", 10_000)
    blob = z4ai.compress(a)
    out = np.empty_like(a)
    assert z4ai.decompress_into(blob, out) == a.nbytes
    assert out.dtype == ml.bfloat16 and np.array_equal(out.view(np.uint16), a.view(np.uint16))


def test_decompress_into_too_small(small_frame):
    with pytest.raises(z4ai.BufferTooSmallError) as ei:
        z4ai.decompress_into(small_frame, bytearray(100))
    assert isinstance(ei.value, ValueError)
    assert ei.value.code == -8
    assert "buffer too small" in str(ei.value)


def test_decompress_into_bad_out(small_frame):
    with pytest.raises(TypeError):
        z4ai.decompress_into(small_frame, bytes(1 << 20))
    with pytest.raises(TypeError):
        z4ai.decompress_into(small_frame, memoryview(bytes(1 << 20)))
    ro = np.zeros(1 << 20, np.uint8)
    ro.flags.writeable = False
    with pytest.raises(TypeError):
        z4ai.decompress_into(small_frame, ro)
    with pytest.raises(ValueError):
        z4ai.decompress_into(small_frame, np.zeros((1 << 20, 2), np.uint8)[:, 0])
    with pytest.raises(TypeError):
        z4ai.decompress_into(small_frame, "not a buffer")
    with pytest.raises(TypeError):
        z4ai.decompress_into(small_frame, None)
    # decoding a blob onto itself is refused
    buf = bytearray(small_frame) + bytearray(1 << 20)
    with pytest.raises(ValueError):
        z4ai.decompress_into(memoryview(buf)[: len(small_frame)], buf)


def test_decompressed_size(small_frame, bf16_bytes):
    assert z4ai.decompressed_size(small_frame) == 64 << 10
    assert z4ai.decompressed_size(z4ai.compress(bf16_bytes)) == len(bf16_bytes)


def test_decompress_range(bf16_bytes, small_frame):
    content = bf16_bytes[: 64 << 10]
    n = len(content)
    for off, ln in [(0, 0), (0, 1), (0, n), (4095, 2), (4096, 4096), (n - 1, 1), (n, 0), (1234, 30000)]:
        assert z4ai.decompress_range(small_frame, off, ln) == content[off : off + ln]
    for off, ln in [(n, 1), (n - 1, 2), (0, n + 1), (2**63, 2**63), (-1, 1), (0, -1)]:
        with pytest.raises(z4ai.OutOfRangeError) as ei:
            z4ai.decompress_range(small_frame, off, ln)
        assert isinstance(ei.value, ValueError)


def test_info(bf16_bytes):
    blob = z4ai.compress(bf16_bytes, dtype="bf16")
    d = z4ai.info(blob)
    assert d["dtype"] == "bf16"
    assert d["content_size"] == len(bf16_bytes)
    assert d["frame_size"] == len(blob)
    assert d["ratio"] == pytest.approx(len(bf16_bytes) / len(blob))
    cs = z4ai.DEFAULT_CHUNK_SIZE
    assert d["chunk_size"] == cs
    assert d["blocks"] == 1
    assert [c[0] for c in d["chunks"]] == list(range(0, len(bf16_bytes), cs))
    assert sum(c[1] for c in d["chunks"]) == len(bf16_bytes)
    assert len(d["planes"]) == 2
    d2 = z4ai.info(z4ai.compress(bf16_bytes, dtype="bf16", chunk_size=1 << 20))
    assert [c[0] for c in d2["chunks"]] == [0, 1 << 20]
    for p in d["planes"]:
        assert sum(m["chunks"] for m in p["methods"].values()) == len(d["chunks"])
        assert all(m["bytes"] >= 0 for m in p["methods"].values())
        assert isinstance(p["shared_models"], int)
    assert "array" not in d


def test_compress_bound(bf16_bytes):
    for n in (0, 1, 1000, len(bf16_bytes)):
        data = bf16_bytes[:n]
        for eff in z4ai.EFFORTS:
            assert len(z4ai.compress(data, dtype="bf16", effort=eff)) <= z4ai.compress_bound(n, dtype="bf16")
    rnd = np.random.default_rng(5).integers(0, 256, 300_000, dtype=np.uint8)
    assert len(z4ai.compress(rnd)) <= z4ai.compress_bound(rnd.nbytes)


def test_deterministic(bf16_bytes):
    assert z4ai.compress(bf16_bytes, dtype="bf16") == z4ai.compress(bytearray(bf16_bytes), dtype="bf16")


def test_gil_released_output_is_bytes(bf16_bytes):
    blob = z4ai.compress(bf16_bytes, dtype="bf16")
    out = z4ai.decompress(blob)
    assert type(out) is bytes and type(blob) is bytes


def test_large_frames_are_ordinary_bytes():
    """Frames of 32 MiB and more are compressed straight into the bytes
    object, which then shrinks to the frame: it must behave like any other
    bytes (length, content, hashing, slicing, copies, pickling)."""
    import pickle

    rng = np.random.default_rng(5)
    n = 20_000_000  # 40 MB of bf16: above the direct-write threshold
    data = (rng.standard_normal(n).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    raw = data.tobytes()
    for effort in ("fast", "default"):
        blob = z4ai.compress(data, dtype="bf16", effort=effort, threads=2)
        assert isinstance(blob, bytes)
        assert len(blob) < 0.8 * len(raw)
        assert z4ai.compress_bound(len(raw), dtype="bf16") > len(blob)
        assert z4ai.decompress(blob) == raw
        copy = bytes(bytearray(blob))
        assert copy == blob and hash(copy) == hash(blob)
        assert blob[-8:] == copy[-8:] and blob[: len(blob)] == copy
        assert pickle.loads(pickle.dumps(blob)) == blob
        assert len(blob + b"x") == len(blob) + 1
        assert z4ai.decompressed_size(blob) == len(raw)
    # Incompressible input: the frame is as large as frames get, and must
    # still fit the bound the object is allocated at.
    noise = rng.integers(0, 256, 40_000_003, dtype=np.uint8).tobytes()
    for effort in ("fast", "max"):
        blob = z4ai.compress(noise, effort=effort)
        assert len(blob) <= z4ai.compress_bound(len(noise))
        assert z4ai.decompress(blob) == noise
    # Deltas take the same path.
    new = data.copy()
    new[::97] += 1
    dblob = z4ai.compress_delta(new, data, dtype="bf16")
    assert z4ai.decompress_delta(dblob, data) == new.tobytes()
    assert hash(bytes(bytearray(dblob))) == hash(dblob)
