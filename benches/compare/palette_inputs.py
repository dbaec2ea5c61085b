#!/usr/bin/env python3
"""Synthetic inputs for wide palettes (257..65536 distinct values per chunk).

Deterministic (fixed seeds); writes NAME.bin files of --size bytes each:

  codebook4k-fp32   weights snapped to the nearest of 4096 fp32 centroids
                    (k-means weight clustering), centroids N(0, 0.02)
  int8col-fp32      INT8 codes with a per-column absmax scale (256 columns),
                    dequantised in fp32: a lattice per row group fails, the
                    value set is <= 255 * 256
  int16tensor-fp32  INT16 codes, one per-tensor scale, dequantised in fp32
  bf16-fp64         bf16 values (N(0, 0.02)) widened to fp64
  fp16-fp64         fp16 values (N(0, 0.02)) widened to fp64

Usage: python3 benches/compare/palette_inputs.py --size 32MiB --out /tmp/z4p
"""
import argparse
import os

import numpy as np


def bf16_round(f32):
    u = f32.astype(np.float32).view(np.uint32)
    r = ((u >> 16) & 1) + 0x7FFF
    return ((u + r) & 0xFFFF0000).view(np.float32)


def codebook(n, rng):
    c = np.sort(rng.standard_normal(4096).astype(np.float32) * 0.02)
    w = rng.standard_normal(n).astype(np.float32) * 0.02
    i = np.clip(np.searchsorted(c, w), 1, len(c) - 1)
    left = c[i - 1]
    right = c[i]
    return np.where(w - left < right - w, left, right).astype(np.float32)


def int8col(n, rng):
    cols = 256
    rows = n // cols
    col_std = (0.02 * np.exp(0.3 * rng.standard_normal(cols))).astype(np.float32)
    W = rng.standard_normal((rows, cols), dtype=np.float32) * col_std[None, :]
    s = (np.abs(W).max(axis=0) / 127).astype(np.float32)
    q = np.clip(np.rint(W / s), -127, 127).astype(np.float32)
    return (q * s[None, :]).astype(np.float32).reshape(-1)


def int16tensor(n, rng):
    W = rng.standard_normal(n, dtype=np.float32) * 0.02
    s = np.float32(np.abs(W).max() / 32767)
    q = np.clip(np.rint(W / s), -32767, 32767).astype(np.float32)
    return (q * s).astype(np.float32)


def bf16_fp64(n, rng):
    return bf16_round(rng.standard_normal(n).astype(np.float32) * 0.02).astype(np.float64)


def fp16_fp64(n, rng):
    return (rng.standard_normal(n) * 0.02).astype(np.float16).astype(np.float64)


INPUTS = {
    "codebook4k-fp32": (codebook, 4),
    "int8col-fp32": (int8col, 4),
    "int16tensor-fp32": (int16tensor, 4),
    "bf16-fp64": (bf16_fp64, 8),
    "fp16-fp64": (fp16_fp64, 8),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="32MiB")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    size = a.size.lower()
    nbytes = int(size[:-3]) << 20 if size.endswith("mib") else int(size)
    os.makedirs(a.out, exist_ok=True)
    for seed, (name, (gen, width)) in enumerate(INPUTS.items()):
        arr = gen(nbytes // width, np.random.default_rng(1000 + seed))
        assert arr.nbytes == nbytes, (name, arr.nbytes)
        with open(os.path.join(a.out, name + ".bin"), "wb") as f:
            f.write(arr.tobytes())
        print(name, "distinct", len(np.unique(arr)))


if __name__ == "__main__":
    main()
