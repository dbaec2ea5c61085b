"""torch CPU tensors as inputs (skipped when torch is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

import z4ai

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dt,codec", [
    ("bfloat16", "bf16"), ("float16", "fp16"), ("float32", "fp32"), ("int8", "i8"), ("bool", "u8"),
])
def test_tensor_in(dt, codec):
    t = (torch.randn(64, 33) * 0.02).to(getattr(torch, dt))
    blob = z4ai.compress(t)
    assert z4ai.info(blob)["dtype"] == codec
    raw = t.contiguous().view(-1).view(torch.uint8).numpy().tobytes()
    assert z4ai.decompress(blob) == raw
    a = z4ai.decompress_array(z4ai.compress_array(t))
    assert a.shape == (64, 33) and a.tobytes() == raw
    if dt != "bfloat16":
        assert a.dtype == np.dtype(dt)


def test_non_contiguous_tensor():
    with pytest.raises(ValueError):
        z4ai.compress(torch.zeros(10, 10).t())
