"""Concurrent calls from Python threads (the GIL is released while coding)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import z4ai
from conftest import make_array


def test_concurrent_compress_decompress():
    arrays = [make_array(n, 200_000, seed=i) for i, n in enumerate(
        ["float32", "float16", "bfloat16", "int8", "float64", "int32", "uint8", "bfloat16"])]
    ref_blobs = [z4ai.compress(a, threads=1) for a in arrays]
    ref_arr = [z4ai.compress_array(a, threads=1) for a in arrays]

    def job(i):
        a = arrays[i % len(arrays)]
        blob = z4ai.compress(a, threads=1 + i % 2)
        out = z4ai.decompress(blob, threads=i % 3)
        arr_blob = z4ai.compress_array(a)
        back = z4ai.decompress_array(arr_blob)
        part = z4ai.decompress_range(blob, 1000, 5000)
        return i, blob, out, arr_blob, back, part

    with ThreadPoolExecutor(max_workers=8) as ex:
        results = list(ex.map(job, range(32)))
    for i, blob, out, arr_blob, back, part in results:
        a = arrays[i % len(arrays)]
        assert blob == ref_blobs[i % len(arrays)]
        assert out == a.tobytes()
        assert arr_blob == ref_arr[i % len(arrays)]
        assert back.dtype == a.dtype and back.tobytes() == a.tobytes()
        assert part == a.tobytes()[1000:6000]


def test_concurrent_decompress_into_shared_blob(bf16_bytes):
    blob = z4ai.compress(bf16_bytes, dtype="bf16")
    outs = [bytearray(len(bf16_bytes)) for _ in range(8)]

    def job(i):
        return z4ai.decompress_into(blob, outs[i])

    with ThreadPoolExecutor(max_workers=8) as ex:
        assert list(ex.map(job, range(8))) == [len(bf16_bytes)] * 8
    assert all(o == bf16_bytes for o in outs)


def test_concurrent_errors_are_per_thread(small_frame):
    bad = small_frame[:-10]

    def job(i):
        try:
            (z4ai.decompress(bad) if i % 2 else z4ai.decompress(small_frame))
            return "ok"
        except z4ai.TruncatedError:
            return "truncated"

    with ThreadPoolExecutor(max_workers=6) as ex:
        got = list(ex.map(job, range(24)))
    assert got == ["ok", "truncated"] * 12


def test_gil_is_released():
    """A pure-Python thread keeps running while a long compress runs."""
    a = make_array("float32", 8 << 20)  # 32 MiB
    ticks = 0
    stop = threading.Event()

    def spin():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0)

    t = threading.Thread(target=spin)
    t.start()
    try:
        start = ticks
        t0 = time.perf_counter()
        z4ai.compress(a, effort="max", threads=1)
        elapsed = time.perf_counter() - t0
        during = ticks - start
    finally:
        stop.set()
        t.join()
    # With the GIL held for the whole call the spinner could not run at all.
    assert elapsed > 0 and during > 10
