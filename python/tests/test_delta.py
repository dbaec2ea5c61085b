"""compress_delta / decompress_delta."""
import numpy as np
import pytest

import z4ai


def moved(base, percent, seed):
    rng = np.random.default_rng(seed)
    out = base.copy()
    m = rng.random(base.size) < percent / 100
    out[m] = out[m] + rng.integers(1, 4, m.sum()).astype(np.uint16)
    return out


def test_round_trip_and_small():
    rng = np.random.default_rng(1)
    base = (rng.standard_normal(200_000).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    new = moved(base, 2, 2)
    blob = z4ai.compress_delta(new, base, dtype="bf16")
    assert z4ai.decompress_delta(blob, base) == new.tobytes()
    assert len(blob) * 20 < new.nbytes
    # bytes, bytearray and memoryview inputs work too
    blob2 = z4ai.compress_delta(new.tobytes(), bytearray(base.tobytes()), dtype="bf16")
    assert z4ai.decompress_delta(blob2, memoryview(base.tobytes())) == new.tobytes()


def test_wrong_or_missing_reference():
    base = np.arange(50_000, dtype=np.float32)
    new = base + 1
    blob = z4ai.compress_delta(new, base)
    other = base.copy()
    other[0] = -1
    with pytest.raises(z4ai.ReferenceMismatchError):
        z4ai.decompress_delta(blob, other)
    with pytest.raises(z4ai.ReferenceRequiredError) as ei:
        z4ai.decompress(blob)
    assert ei.value.code == -17
    assert isinstance(ei.value, ValueError)
    with pytest.raises(z4ai.ReferenceRequiredError):
        z4ai.decompress_range(blob, 0, 8)
