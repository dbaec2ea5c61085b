"""compress_file / decompress_file: streaming, paths, overwrite, errors."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

import z4ai
from conftest import make_array


@pytest.fixture
def weights(tmp_path) -> pathlib.Path:
    p = tmp_path / "w.bin"
    p.write_bytes(make_array("bfloat16", 700_000).tobytes())  # 1.4 MB
    return p


def test_round_trip_default_names(weights):
    data = weights.read_bytes()
    out = z4ai.compress_file(weights, dtype="bf16")
    assert out == str(weights) + ".z4"
    blob = pathlib.Path(out).read_bytes()
    assert len(blob) < len(data)
    assert z4ai.decompress(blob) == data
    assert z4ai.info(blob)["dtype"] == "bf16"
    os.remove(weights)
    back = z4ai.decompress_file(out)
    assert back == str(weights)
    assert weights.read_bytes() == data


def test_explicit_paths_many_blocks(weights, tmp_path):
    data = weights.read_bytes()
    dst = tmp_path / "sub.z4"
    # 4 KiB chunks -> 512 KiB blocks (128 chunks) -> the stream spans several blocks
    assert z4ai.compress_file(str(weights), dst, dtype="bfloat16", effort="max", threads=2, chunk_size=4096) == str(dst)
    blob = dst.read_bytes()
    assert z4ai.info(blob)["blocks"] >= 3
    assert z4ai.decompress(blob) == data
    assert z4ai.decompress_range(blob, 300_000, 1000) == data[300_000:301_000]
    out = tmp_path / "restored.bin"
    assert z4ai.decompress_file(dst, out, threads=1) == str(out)
    assert out.read_bytes() == data
    # no temporary files left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["restored.bin", "sub.z4", "w.bin"]


def test_same_bytes_as_oneshot_decoding(weights, tmp_path):
    for eff in z4ai.EFFORTS:
        dst = tmp_path / f"{eff}.z4"
        z4ai.compress_file(weights, dst, dtype="bf16", effort=eff)
        assert z4ai.decompress(dst.read_bytes()) == weights.read_bytes()


def test_file_from_oneshot_frame(weights, tmp_path):
    blob = z4ai.compress(weights.read_bytes(), dtype="bf16")
    src = tmp_path / "one.z4"
    src.write_bytes(blob)
    assert pathlib.Path(z4ai.decompress_file(src)).read_bytes() == weights.read_bytes()


def test_empty_file(tmp_path):
    p = tmp_path / "empty"
    p.write_bytes(b"")
    out = z4ai.compress_file(p)
    assert z4ai.decompress(pathlib.Path(out).read_bytes()) == b""
    p.unlink()
    z4ai.decompress_file(out)
    assert p.read_bytes() == b""


def test_no_clobber(weights, tmp_path):
    dst = tmp_path / "x.z4"
    dst.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        z4ai.compress_file(weights, dst)
    assert dst.read_bytes() == b"precious"
    z4ai.compress_file(weights, dst, overwrite=True)
    assert z4ai.decompress(dst.read_bytes()) == weights.read_bytes()
    with pytest.raises(FileExistsError):
        z4ai.decompress_file(dst, weights)
    with pytest.raises(ValueError):
        z4ai.compress_file(weights, weights, overwrite=True)


def test_missing_and_bad_paths(tmp_path, weights):
    with pytest.raises(FileNotFoundError):
        z4ai.compress_file(tmp_path / "nope.bin")
    with pytest.raises(FileNotFoundError):
        z4ai.decompress_file(tmp_path / "nope.z4")
    with pytest.raises(ValueError, match="suffix"):
        z4ai.decompress_file(weights)
    with pytest.raises(OSError):
        z4ai.compress_file(weights, tmp_path / "no" / "such" / "dir.z4")
    with pytest.raises(z4ai.InvalidOptionError):
        z4ai.compress_file(weights, tmp_path / "o.z4", effort="nope")
    assert not (tmp_path / "o.z4").exists()


def test_corrupt_file_leaves_no_output(weights, tmp_path):
    z = pathlib.Path(z4ai.compress_file(weights, dtype="bf16"))
    blob = z.read_bytes()
    cases = {
        "truncated": (blob[: len(blob) // 2], z4ai.TruncatedError),
        "flipped": (blob[:-300] + bytes([blob[-300] ^ 0x40]) + blob[-299:], z4ai.CorruptError),
        "not a frame": (b"hello" * 100, z4ai.BadMagicError),
    }
    for name, (content, exc) in cases.items():
        src = tmp_path / "bad.z4"
        src.write_bytes(content)
        out = tmp_path / "bad.out"
        with pytest.raises(exc):
            z4ai.decompress_file(src, out)
        assert not out.exists(), name
        leftovers = [p.name for p in tmp_path.iterdir() if ".tmp" in p.name]
        assert leftovers == [], name


def test_trailing_bytes_ignored(weights, tmp_path):
    z = pathlib.Path(z4ai.compress_file(weights, dtype="bf16"))
    z.write_bytes(z.read_bytes() + b"junk")
    out = tmp_path / "o.bin"
    z4ai.decompress_file(z, out)
    assert out.read_bytes() == weights.read_bytes()


def test_threads_concurrent_files(weights, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    def job(i):
        dst = tmp_path / f"c{i}.z4"
        z4ai.compress_file(weights, dst, dtype="bf16")
        return dst.read_bytes()

    with ThreadPoolExecutor(4) as ex:
        blobs = list(ex.map(job, range(8)))
    assert len(set(blobs)) == 1
    assert z4ai.decompress(blobs[0]) == weights.read_bytes()
