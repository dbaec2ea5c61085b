#!/usr/bin/env python3
"""Checkpoint deltas: z4ai compress_delta vs the BitX baseline, with bounds.

BitX (ZipLLM): XOR new and old, split each word into an exponent byte stream
and a sign+mantissa byte stream, zstd-3 each. Bounds: order-0 entropy of the
integer difference in the order-preserving domain, and the same conditioned
on the old value's exponent. For fp32 those are plug-in entropies over up
to 2^32 symbols, most of them seen once, so they read far too low; the
estimate column is what a coder would spend that models the difference's
sign, bit length and the two bits below its leading one given the old
exponent, and stores the bits below those verbatim (an achievable code
length up to its model, not a bound: a coder with finer contexts can beat
it a little). Every z4ai round trip is verified.

    .venv-bench/bin/python benches/compare/delta.py --pairs A.safetensors:B.safetensors ...
    .venv-bench/bin/python benches/compare/delta.py --synthetic 32   # MiB, p = 1, 5, 20 %
    .venv-bench/bin/python benches/compare/delta.py --archive-pairs OLD.safetensors:NEW.safetensors ...

--pairs: the files must hold the same tensors in the same order; the tensor
data sections are compared as one buffer with the file's dtype (BF16 or
F32), through `z4ai compress --dtype D --reference` on raw buffers.

--archive-pairs: whole safetensors files, tensors matched by name (same
dtype and shape), through the model archive path (`z4ai compress
--reference OLD.safetensors NEW.safetensors`, version-2 archive, restored
and compared byte for byte). BitX gets the same matching: per matched
tensor XOR + exponent / sign+mantissa streams, zstd-3; unmatched tensors
and the header zstd-3 standalone. Sizes are whole files; bounds are summed
per matched tensor (unmatched tensors at BitX's size). Times are the CLI's
wall clock at -T 1 (MB/s of the new file).
"""
import argparse, json, math, os, subprocess, sys, tempfile, time

import numpy as np
import zstandard

HERE = os.path.dirname(os.path.abspath(__file__))
Z4AI = os.environ.get("Z4AI_BIN", os.path.join(HERE, "..", "..", "target", "release", "z4ai"))


def st_data(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    hdr = json.loads(raw[8:8 + n])
    dts = {v["dtype"] for k, v in hdr.items() if k != "__metadata__"}
    if len(dts) != 1:
        raise SystemExit(f"{path}: mixed dtypes {dts}")
    return raw[8 + n:], dts.pop()


def words(buf, dt):
    return np.frombuffer(buf, dtype=np.uint16 if dt == "bf16" else np.uint32)


def H(x):
    _, c = np.unique(x, return_counts=True)
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum()) * len(x)


def int_diff(new, old, dt):
    """The integer difference in the order-preserving domain, and the old
    elements' exponents."""
    bits = 16 if dt == "bf16" else 32
    w_new, w_old = words(new, dt).astype(np.int64), words(old, dt).astype(np.int64)
    sign = 1 << (bits - 1)
    mask = (1 << bits) - 1
    key = lambda u: np.where(u & sign, ~u & mask, u | sign)
    return key(w_new) - key(w_old), (w_old >> (7 if dt == "bf16" else 23)) & 0xFF


def bounds(new, old, dt):
    d, exp_old = int_diff(new, old, dt)
    h0 = H(d)
    joint = H(d * 256 + exp_old) - H(exp_old)
    # An unchanged tensor has zero entropy: report an infinite ratio.
    ratio = lambda h: len(new) * 8 / h if h > 0 else float("inf")
    return ratio(h0), ratio(joint)


def estimate(new, old, dt):
    """Ratio of the magnitude-class estimate (see the module doc)."""
    d, exp_old = int_diff(new, old, dt)
    a = np.abs(d)
    length = np.frexp(a.astype(np.float64))[1].astype(np.int64)  # bit length, 0 for 0
    top = 2
    below = np.maximum(length - 1 - top, 0)
    head = np.where(length > 1, (a >> below) & ((1 << top) - 1), 0)
    cls = ((length * 2 + (d < 0)) << top) | head
    h = H(cls * 256 + exp_old) - H(exp_old) + float(below.sum())
    return len(new) * 8 / h if h > 0 else float("inf")


def bitx(new, old, dt):
    x = words(new, dt) ^ words(old, dt)
    c = zstandard.ZstdCompressor(level=3)
    if dt == "bf16":
        exp = ((x >> 7) & 0xFF).astype(np.uint8)
        sm = (((x >> 15) << 7) | (x & 0x7F)).astype(np.uint8)
        streams = [exp, sm]
    else:
        exp = ((x >> 23) & 0xFF).astype(np.uint8)
        sm = ((x >> 31) << 23) | (x & 0x7FFFFF)
        streams = [exp] + [((sm >> s) & 0xFF).astype(np.uint8) for s in (0, 8, 16)]
    return len(new) / sum(len(c.compress(s.tobytes())) for s in streams)


def z4ai(new, old, dt, effort):
    with tempfile.TemporaryDirectory() as d:
        a, b, z, o = (os.path.join(d, n) for n in ("old", "new", "new.z4", "out"))
        open(a, "wb").write(old)
        open(b, "wb").write(new)
        subprocess.run([Z4AI, "compress", "--dtype", dt, "-e", effort, "--reference", a, "-f", "-o", z, b], check=True)
        subprocess.run([Z4AI, "decompress", "--reference", a, "-f", "-o", o, z], check=True)
        if open(o, "rb").read() != new:
            print("!!! z4ai delta round trip NOT EXACT !!!", file=sys.stderr)
            return float("nan")
        return len(new) / os.path.getsize(z)


def synthetic(mib, seed=7):
    rng = np.random.default_rng(seed)
    n = mib * (1 << 20) // 2
    f = rng.standard_normal(n, dtype=np.float32) * np.float32(0.02)
    u = f.view(np.uint32)
    base = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    out = []
    for p in (1, 5, 20):
        key = np.where(base & 0x8000, ~base & 0xFFFF, base | 0x8000).astype(np.int32)
        m = rng.random(n) < p / 100
        d = rng.integers(1, 4, n) * rng.choice([-1, 1], n)
        k2 = np.where(m, key + d, key).astype(np.uint16)
        new = np.where(k2 & 0x8000, k2 & 0x7FFF, ~k2 & 0xFFFF).astype(np.uint16)
        q = p / 100
        ent = -(q * math.log2(q) + (1 - q) * math.log2(1 - q)) + q * math.log2(6)
        out.append((f"synthetic p={p}%", new.tobytes(), base.tobytes(), "bf16", 16 / ent))
    return out


def st_tensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    hdr = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        out[k] = (v["dtype"], tuple(v["shape"]), raw[base + b:base + e])
    return raw, raw[:base], out


def bitx_bytes(new, old, dt):
    """Bytes BitX needs for one tensor (dt: bf16, fp32 or None = bytes)."""
    c = zstandard.ZstdCompressor(level=3)
    if dt is None:
        x = np.frombuffer(new, np.uint8) ^ np.frombuffer(old, np.uint8)
        return len(c.compress(x.tobytes()))
    return round(len(new) / bitx(new, old, dt))


def archive_pair(old_p, new_p):
    raw_new, head, new = st_tensors(new_p)
    _, _, old = st_tensors(old_p)
    c = zstandard.ZstdCompressor(level=3)
    bx = len(c.compress(head))
    bits0 = bitsc = bitse = 0.0
    dts = set()
    for name, (dt, shape, data) in new.items():
        o = old.get(name)
        fdt = {"BF16": "bf16", "F32": "fp32"}.get(dt)
        if o is None or o[0] != dt or o[1] != shape or len(data) == 0:
            k = len(c.compress(data)) if data else 0
            bx += k
            bits0 += 8 * k
            bitsc += 8 * k
            bitse += 8 * k
            continue
        dts.add(dt)
        k = bitx_bytes(data, o[2], fdt)
        bx += k
        if fdt:
            h0, hc = bounds(data, o[2], fdt)
            bits0 += len(data) * 8 / h0
            bitsc += len(data) * 8 / hc
            bitse += len(data) * 8 / estimate(data, o[2], fdt)
        else:
            bits0 += 8 * k
            bitsc += 8 * k
            bitse += 8 * k
    with tempfile.TemporaryDirectory() as d:
        z, out = os.path.join(d, "new.z4"), os.path.join(d, "out")
        t = time.perf_counter()
        subprocess.run([Z4AI, "compress", "-T", "1", "--reference", old_p, "-f", "-o", z, new_p], check=True)
        tc = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run([Z4AI, "decompress", "-T", "1", "--reference", old_p, "-f", "-o", out, z], check=True)
        td = time.perf_counter() - t
        if open(out, "rb").read() != raw_new:
            print("!!! z4ai archive delta round trip NOT EXACT !!!", file=sys.stderr)
            return None
        zs = os.path.getsize(z)
    mb = len(raw_new) / 1e6
    n = len(raw_new)
    return dict(zs=zs, bx=bx, r=n / zs, rb=n / bx, h0=n * 8 / bits0, hc=n * 8 / bitsc, est=n * 8 / bitse,
                dts="+".join(sorted(dts)) or "-", cs=mb / tc, ds=mb / td)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", nargs="*", default=[], help="OLD:NEW safetensors pairs")
    ap.add_argument("--synthetic", type=int, default=0, help="MiB of synthetic bf16 (0: none)")
    ap.add_argument("--archive-pairs", nargs="*", default=[], help="OLD:NEW safetensors pairs, archive path")
    ap.add_argument("--effort", default="default")
    a = ap.parse_args()
    if a.archive_pairs:
        print("| pair | dtypes | new bytes | z4ai archive | BitX (zstd-3) | z4ai / BitX | bound: o0 int diff | bound: diff given old exponent | estimate: magnitude class | compress MB/s | decompress MB/s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for pair in a.archive_pairs:
            old_p, new_p = pair.split(":")
            r = archive_pair(old_p, new_p)
            if r is None:
                continue
            name = f"{os.path.basename(old_p)} -> {os.path.basename(new_p)}"
            print(f"| {name} | {r['dts']} | {os.path.getsize(new_p)} | {r['zs']} ({r['r']:.3f}) | {r['bx']} ({r['rb']:.3f}) "
                  f"| {r['bx'] / r['zs']:.3f}x | {r['h0']:.3f} | {r['hc']:.3f} | {r['est']:.3f} | {r['cs']:.0f} | {r['ds']:.0f} |", flush=True)
        if not (a.pairs or a.synthetic):
            return
    rows = []
    for pair in a.pairs:
        old_p, new_p = pair.split(":")
        old, dt = st_data(old_p)
        new, dt2 = st_data(new_p)
        dt = {"BF16": "bf16", "F32": "fp32"}[dt]
        rows.append((f"{os.path.basename(old_p)} -> {os.path.basename(new_p)}", new, old, dt, None))
    if a.synthetic:
        rows += synthetic(a.synthetic)
    print(f"| pair | dtype | z4ai ({a.effort}) | BitX (zstd-3) | z4ai / BitX | bound: o0 int diff | bound: diff given old exponent | estimate: magnitude class | change-pattern entropy |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, new, old, dt, ent in rows:
        z = z4ai(new, old, dt, a.effort)
        b = bitx(new, old, dt)
        h0, hc = bounds(new, old, dt)
        est = estimate(new, old, dt)
        e = f"{ent:.2f}" if ent else "-"
        print(f"| {name} | {dt} | {z:.3f} | {b:.3f} | {z / b:.3f}x | {h0:.3f} | {hc:.3f} | {est:.3f} | {e} |", flush=True)


if __name__ == "__main__":
    main()
