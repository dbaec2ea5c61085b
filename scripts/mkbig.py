#!/usr/bin/env python3
"""Writes one safetensors file holding every tensor of the real-weights
corpus (names prefixed f<i>., files in sorted order), for peak-memory
measurements on a file larger than 1 GB (docs/ARCHIVE.md). Streams the
data in 16 MiB pieces.

    python3 scripts/mkbig.py OUT [CORPUS_DIR]   # CORPUS_DIR: /work/real-weights
"""
import glob
import json
import os
import struct
import sys

out = sys.argv[1]
corpus = sys.argv[2] if len(sys.argv) > 2 else "/work/real-weights"
files = sorted(
    glob.glob(os.path.join(corpus, "packages", "*.safetensors"))
    + glob.glob(os.path.join(corpus, "derived", "*.safetensors"))
)
header, plan, off = {}, [], 0
for i, path in enumerate(files):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
    for name, t in h.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        header[f"f{i}.{name}"] = {
            "dtype": t["dtype"],
            "shape": t["shape"],
            "data_offsets": [off, off + b - a],
        }
        plan.append((path, 8 + n + a, b - a))
        off += b - a
js = json.dumps(header, separators=(",", ":")).encode()
js += b" " * (-len(js) % 8)
with open(out, "wb") as o:
    o.write(struct.pack("<Q", len(js)))
    o.write(js)
    for path, at, left in plan:
        with open(path, "rb") as f:
            f.seek(at)
            while left:
                piece = f.read(min(left, 16 << 20))
                o.write(piece)
                left -= len(piece)
