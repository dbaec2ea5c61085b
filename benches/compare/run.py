#!/usr/bin/env python3
"""Side-by-side comparison of z4ai against its peers on the same bytes.

Every codec gets a fresh copy of the same buffer, every round trip is checked
byte for byte, and all codecs are measured in one run (interleaved, so that
background load on a shared machine hits all of them alike).

    benches/compare/run.sh --quick            # ~2-3 min, 8 MiB inputs
    benches/compare/run.sh                    # full: 32 MiB, all scenarios, real corpus

See README.md in this directory.
"""
import argparse, datetime, hashlib, importlib.util, json, os, platform, shutil
import resource, statistics, struct, subprocess, sys, tempfile, time, warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import readme_table  # noqa: E402  (the README's tables, from the same report)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
NCPU = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
MB = 1e6


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def loud(msg):
    bar = "!" * 78
    log(f"\n{bar}\n!!! {msg}\n{bar}\n")


# ----------------------------------------------------------------------------------------
# dtypes
# ----------------------------------------------------------------------------------------
ESIZE = {"bf16": 2, "fp16": 2, "fp32": 4, "fp64": 8, "e4m3": 1, "e5m2": 1, "i8": 1, "u8": 1,
         "i16": 2, "i32": 4, "i64": 8, "bytes": 1}
ST2DT = {"BF16": "bf16", "F16": "fp16", "F32": "fp32", "F64": "fp64", "F8_E4M3": "e4m3",
         "F8_E5M2": "e5m2", "I8": "i8", "U8": "u8", "I16": "i16", "I32": "i32", "I64": "i64",
         "BOOL": "u8", "U16": "i16", "U32": "i32", "U64": "i64"}
DT2ST = {"bf16": "BF16", "fp16": "F16", "fp32": "F32", "fp64": "F64", "e4m3": "F8_E4M3",
         "e5m2": "F8_E5M2", "i8": "I8", "u8": "U8", "i16": "I16", "i32": "I32", "i64": "I64",
         "bytes": "U8"}
ZIPNN_DT = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


# ----------------------------------------------------------------------------------------
# entropy bounds (numpy)
# ----------------------------------------------------------------------------------------
def _h(counts):
    c = counts[counts > 0].astype(np.float64)
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum())


def h0(sym, nsym):
    return _h(np.bincount(sym.ravel(), minlength=nsym))


def h1(sym, nsym):
    """Empirical order-1 entropy H(x_i | x_{i-1}) in bits/symbol."""
    s = sym.astype(np.int64)
    pair = s[1:] * nsym + s[:-1]
    hj = _h(np.bincount(pair, minlength=nsym * nsym))
    hp = _h(np.bincount(s[:-1], minlength=nsym))
    return hj - hp


def h_cond(a, b, na, nb):
    """H(b | a) for symbols a (context) and b, elementwise."""
    j = a.astype(np.int64) * nb + b.astype(np.int64)
    return _h(np.bincount(j, minlength=na * nb)) - h0(a, na)


def entropy_bounds(data, dt):
    """Bits per element of several bounds; ratios = element bits / bound bits."""
    es = ESIZE.get(dt, 1)
    n = len(data) // es
    buf = np.frombuffer(data, dtype=np.uint8, count=n * es)
    ebits = 8 * es
    out = {"element_bits": ebits}
    if dt in ("bf16", "fp16"):
        x = buf.view("<u2")
        r = ((x << np.uint16(1)) | (x >> np.uint16(15))).astype(np.uint16)  # sign to bit 0
        e = (r >> np.uint16(8)).astype(np.uint8)   # bf16: 8 exp bits; fp16: 5 exp + 3 mant
        m = (r & np.uint16(0xFF)).astype(np.uint8)
        he0, he1, hm = h0(e, 256), h1(e, 256), h0(m, 256)
        out.update({"exp_o0": he0, "exp_o1": he1, "mant_o0": [hm],
                    "bound_o0": he0 + hm, "bound_o1": he1 + hm,
                    "joint": h0(r, 65536),
                    "joint_note": "order-0 entropy of whole 16-bit elements"})
    elif dt == "fp32":
        x = buf.view("<u4")
        r = ((x << np.uint32(1)) | (x >> np.uint32(31))).astype(np.uint32)
        e = (r >> np.uint32(24)).astype(np.uint8)
        m2 = ((r >> np.uint32(16)) & np.uint32(0xFF)).astype(np.uint8)
        m1 = ((r >> np.uint32(8)) & np.uint32(0xFF)).astype(np.uint8)
        m0 = (r & np.uint32(0xFF)).astype(np.uint8)
        he0, he1 = h0(e, 256), h1(e, 256)
        hm = [h0(m2, 256), h0(m1, 256), h0(m0, 256)]
        out.update({"exp_o0": he0, "exp_o1": he1, "mant_o0": hm,
                    "bound_o0": he0 + sum(hm), "bound_o1": he1 + sum(hm),
                    "joint": he0 + h_cond(e, m2, 256, 256) + hm[1] + hm[2],
                    "joint_note": "fp32: H(exp) + H(top mantissa byte | exp) + o0 of the two low bytes"})
    elif es == 1:
        hb0, hb1 = h0(buf, 256), h1(buf, 256)
        out.update({"exp_o0": None, "exp_o1": None, "mant_o0": [],
                    "bound_o0": hb0, "bound_o1": hb1, "joint": hb0,
                    "joint_note": "byte dtype: o0 / o1 of the bytes"})
    else:
        planes = buf.reshape(n, es)
        hs = [h0(np.ascontiguousarray(planes[:, i]), 256) for i in range(es)]
        joint = h0(buf.view("<u2"), 65536) if es == 2 else None
        out.update({"exp_o0": None, "exp_o1": None, "mant_o0": hs,
                    "bound_o0": sum(hs), "bound_o1": None, "joint": joint,
                    "joint_note": "integer dtype: o0 of each byte plane; joint = whole 16-bit elements"})
    for k in ("bound_o0", "bound_o1", "joint"):
        v = out.get(k)
        out["ratio_" + k] = (ebits / v) if v else None
    return out


# ----------------------------------------------------------------------------------------
# codecs: compress(buf) -> blob, decompress(blob) -> bytes-like
# ----------------------------------------------------------------------------------------
class Codec:
    name = "?"
    slow = False          # slow codecs: one repetition, skipped above --slow-max-mb
    tc = td = 1           # compress / decompress threads

    def supports(self, dt):
        return True

    def prepare(self, inp):
        pass

    def cleanup(self):
        pass


class Zstd(Codec):
    def __init__(self, level, long, threads):
        import zstandard as zstd
        self.zstd = zstd
        self.name = f"zstd-{level}" + ("-long" if long else "")
        self.level, self.long = level, long
        self.tc, self.td = threads, 1
        self.slow = level >= 15
        kw = dict(threads=threads if threads > 1 else 0)
        if long:
            kw.update(enable_ldm=True, window_log=27)
        self.params = zstd.ZstdCompressionParameters.from_level(level, **kw)

    def compress(self, buf):
        return self.zstd.ZstdCompressor(compression_params=self.params).compress(buf)

    def decompress(self, blob):
        return self.zstd.ZstdDecompressor(max_window_size=1 << 31).decompress(blob)


class Blosc2(Codec):
    def __init__(self, bitshuffle, threads, clevel=5):
        import blosc2
        self.b = blosc2
        self.name = ("blosc2-bitshuf-zstd" if bitshuffle else "blosc2-shuf-zstd")
        self.filter = blosc2.Filter.BITSHUFFLE if bitshuffle else blosc2.Filter.SHUFFLE
        self.clevel = clevel
        self.tc = self.td = threads
        self.typesize = 1

    def prepare(self, inp):
        self.typesize = ESIZE.get(inp.dtype, 1)

    def compress(self, buf):
        self.b.set_nthreads(self.tc)
        parts, step = [], (1 << 31) - (1 << 20)   # blosc2.compress is limited to < 2 GiB
        mv = memoryview(buf)
        for o in range(0, max(len(mv), 1), step):
            parts.append(self.b.compress(mv[o:o + step], typesize=self.typesize,
                                         clevel=self.clevel, filter=self.filter,
                                         codec=self.b.Codec.ZSTD))
        return parts

    def decompress(self, blob):
        self.b.set_nthreads(self.td)
        return b"".join(self.b.decompress(p) for p in blob)


class ZipNNCodec(Codec):
    def __init__(self, threads):
        self.name = "zipnn"
        self.tc = self.td = threads
        self.z = None

    def supports(self, dt):
        return dt in ZIPNN_DT

    def prepare(self, inp):
        from zipnn import ZipNN
        self.z = ZipNN(input_format="byte", bytearray_dtype=ZIPNN_DT[inp.dtype], threads=self.tc)

    def compress(self, buf):
        return self.z.compress(buf)   # buf is a private bytearray copy (ZipNN mutates it)

    def decompress(self, blob):
        return self.z.decompress(blob)


class Lmzip(Codec):
    """lmzip is file based: the buffer is wrapped as a one-tensor .safetensors file on
    tmpfs (so lmzip sees the dtype); ratio = buffer bytes / archive bytes (the
    archive also carries the ~100-byte safetensors header, a slight handicap);
    timing includes tmpfs file I/O."""

    def __init__(self, threads, tmp):
        import lmz
        self.lmz = lmz
        self.name = "lmzip"
        self.tc = self.td = threads
        self.tmp = tmp
        self.hdr = b""

    def prepare(self, inp):
        dt = inp.dtype
        es = ESIZE.get(dt, 1)
        n = len(inp.data)
        st = DT2ST.get(dt, "U8") if n % es == 0 else "U8"
        cnt = n if st == "U8" else n // es
        h = json.dumps({"data": {"dtype": st, "shape": [cnt], "data_offsets": [0, n]}}).encode()
        h += b" " * (-len(h) % 8)
        self.hdr = struct.pack("<Q", len(h)) + h
        self.src = os.path.join(self.tmp, "lmz-in.safetensors")
        self.arc = os.path.join(self.tmp, "lmz.lmz")
        self.dst = os.path.join(self.tmp, "lmz-out.safetensors")

    def compress(self, buf):
        with open(self.src, "wb") as f:
            f.write(self.hdr)
            f.write(buf)
        if os.path.exists(self.arc):
            os.remove(self.arc)
        self.lmz.compress(self.src, self.arc, level=1, workers=self.tc)
        with open(self.arc, "rb") as f:
            return f.read()

    def decompress(self, blob):
        with open(self.arc, "wb") as f:
            f.write(blob)
        if os.path.exists(self.dst):
            os.remove(self.dst)
        self.lmz.decompress(self.arc, self.dst, workers=self.td)
        with open(self.dst, "rb") as f:
            out = f.read()
        if out[:len(self.hdr)] != self.hdr:
            return b"<header mismatch>"
        return memoryview(out)[len(self.hdr):]

    def cleanup(self):
        for p in (getattr(self, "src", None), getattr(self, "arc", None), getattr(self, "dst", None)):
            if p and os.path.exists(p):
                os.remove(p)


# ----------------------------------------------------------------------------------------
# z4ai via its CLI
# ----------------------------------------------------------------------------------------
def z4ai_version(exe):
    try:
        return subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:  # noqa: BLE001
        return f"unknown ({e})"


def z4ai_bench(exe, path, dt, threads, repeat, efforts):
    cmd = [exe, "bench", path, "--dtype", dt, "-e", efforts, "-T", str(threads),
           "--repeat", str(repeat), "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed rc={p.returncode}: {p.stderr.strip()[-500:]}")
    return json.loads(p.stdout)


def z4ai_cli_roundtrip(exe, path, data, dt, effort, threads, tmp):
    """Independent check: compress + decompress through files, compare bytes."""
    z = os.path.join(tmp, "rt.z4")
    o = os.path.join(tmp, "rt.out")
    for f in (z, o):
        if os.path.exists(f):
            os.remove(f)
    r1 = subprocess.run([exe, "compress", "-e", effort, "--dtype", dt, "-T", str(threads),
                         "-f", "-o", z, path], capture_output=True, text=True, timeout=3600)
    if r1.returncode != 0:
        return {"ok": False, "error": "compress: " + r1.stderr.strip()[-300:]}
    r2 = subprocess.run([exe, "decompress", "-T", str(threads), "-f", "-o", o, z],
                        capture_output=True, text=True, timeout=3600)
    if r2.returncode != 0:
        return {"ok": False, "error": "decompress: " + r2.stderr.strip()[-300:]}
    with open(o, "rb") as f:
        back = f.read()
    size = os.path.getsize(z)
    for f in (z, o):
        os.remove(f)
    return {"ok": back == data, "file_bytes": size}


# ----------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------
class Inp:
    def __init__(self, name, group, dtype, data, source, meta=None):
        self.name, self.group, self.dtype, self.data = name, group, dtype, data
        self.source, self.meta = source, meta or {}


def load_scenarios_module(path):
    spec = importlib.util.spec_from_file_location("z4_scenarios", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def synthetic_inputs(mod, nbytes, seed, only):
    for scn, (_gen, dts, desc) in mod.SCENARIOS.items():
        for dt in dts:
            name = f"{scn}-{dt}"
            if only and scn not in only and name not in only:
                continue
            x = mod.make_synthetic(scn, dt, nbytes, seed)
            yield Inp(name, f"synthetic {dt}", dt, x.data, "synthetic",
                      {"recipe": desc, "info": {k: v for k, v in x.info.items() if k != "layout"}})


def read_safetensors_data(path):
    with open(path, "rb") as f:
        (hl,) = struct.unpack("<Q", f.read(8))
        hdr = json.loads(f.read(hl))
        data = f.read()
    by = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        by[v["dtype"]] = by.get(v["dtype"], 0) + (b - a)
    dom = max(by, key=by.get) if by else "U8"
    dt = ST2DT.get(dom, "bytes")
    return data, dt, {"dtype_bytes": by, "dominant": dom, "header_bytes": 8 + hl,
                      "file_bytes": os.path.getsize(path),
                      "dominant_fraction": (by.get(dom, 0) / len(data)) if data else 0}


def real_inputs(root, only, max_mb):
    files = []
    for dp, _dn, fn in os.walk(root):
        for f in fn:
            if f.endswith(".safetensors"):
                files.append(os.path.join(dp, f))
    for p in sorted(files):
        rel = os.path.relpath(p, root)
        if only and not any(s in rel for s in only):
            continue
        if max_mb and os.path.getsize(p) > max_mb * MB:
            log(f"skip {rel}: larger than --real-max-mb {max_mb}")
            continue
        data, dt, meta = read_safetensors_data(p)
        es = ESIZE.get(dt, 1)
        if len(data) % es:
            meta["note"] = f"data section not a multiple of {es}; measured as bytes"
            dt = "bytes"
        grp = "real " + rel.split(os.sep)[0]
        yield Inp(rel.replace(".safetensors", ""), grp, dt, data, p, meta)


# ----------------------------------------------------------------------------------------
# measurement
# ----------------------------------------------------------------------------------------
def cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)   # all threads of this process
    return r.ru_utime + r.ru_stime


def merge_rounds(rounds):
    """Median over rounds of each round's best-of-N (ratio/size from the first round)."""
    if len(rounds) == 1:
        return rounds[0]
    out = {}
    for k, v in rounds[0].items():
        vs = [r[k] for r in rounds if k in r]
        m = dict(v)
        for f in ("c_mbs", "d_mbs"):
            m[f + "_rounds"] = [x[f] for x in vs]
            m[f] = statistics.median(m[f + "_rounds"])
        m["exact"] = all(x["exact"] for x in vs)
        m["timing"] = v["timing"] + f"; median of {len(vs)} rounds"
        out[k] = m
    return out


def measure(inp, codecs, repeat, z4, tmp, failures, slow_max_mb, cli_check=True):
    data = inp.data
    n = len(data)
    res = {}
    # z4ai first (its own in-process timing, best of --repeat)
    if z4["exe"]:
        raw = os.path.join(tmp, "input.bin")
        with open(raw, "wb") as f:
            f.write(data)
        for t in z4["threads"]:
            try:
                j = z4ai_bench(z4["exe"], raw, inp.dtype, t, repeat, z4["efforts"])
            except Exception as e:  # noqa: BLE001
                loud(f"z4ai bench failed on {inp.name}: {e}")
                failures.append(f"{inp.name}: z4ai bench -T {t} failed")
                continue
            for r in j["results"]:
                key = f"z4ai-{r['effort']}@{t}"
                ok = bool(r.get("verified")) and j.get("bytes") == n
                res[key] = {"codec": f"z4ai-{r['effort']}", "threads_c": j.get("threads", t),
                            "threads_d": j.get("threads", t), "compressed": r["compressed_bytes"],
                            # A new output per call, as every peer's compress
                            # returns one (compress_mb_s writes into a kept buffer).
                            "ratio": r["ratio"],
                            "c_mbs": r.get("compress_new_vec_mb_s") or r["compress_mb_s"],
                            "d_mbs": r["decompress_mb_s"], "exact": ok, "isa": j.get("isa"),
                            "timing": "in-process (z4ai bench), best of %d" % repeat}
                if not ok:
                    loud(f"z4ai-{r['effort']} -T {t} NOT VERIFIED on {inp.name}")
                    failures.append(f"{inp.name}: z4ai-{r['effort']}@{t} not verified")
        for eff in (z4["efforts_list"] if cli_check else []):
            rt = z4ai_cli_roundtrip(z4["exe"], raw, data, inp.dtype, eff, 0, tmp)
            for key, v in res.items():
                if v["codec"] == f"z4ai-{eff}":
                    v["cli_roundtrip"] = rt
                    if not rt["ok"]:
                        v["exact"] = False
            if not rt["ok"]:
                loud(f"z4ai CLI round trip ({eff}) NOT EXACT on {inp.name}: {rt}")
                failures.append(f"{inp.name}: z4ai CLI round trip {eff} failed")
        os.remove(raw)

    active = [c for c in codecs if c.supports(inp.dtype)
              and not (c.slow and slow_max_mb and n > slow_max_mb * MB)]
    for c in active:
        c.prepare(inp)
    times = {c: ([], []) for c in active}
    cpu = {c: ([], []) for c in active}
    sizes, exact = {}, {c: True for c in active}
    for rep in range(repeat):
        for c in active:
            if rep > 0 and c.slow:
                continue                     # zstd-19: one repetition (minutes per pass)
            src = bytearray(data)            # fresh private copy for every call
            u0 = cpu_s()
            t0 = time.perf_counter()
            blob = c.compress(src)
            t1 = time.perf_counter()
            u1 = cpu_s()
            del src
            size = sum(len(p) for p in blob) if isinstance(blob, list) else len(blob)
            u2 = cpu_s()
            t2 = time.perf_counter()
            back = c.decompress(blob)
            t3 = time.perf_counter()
            u3 = cpu_s()
            cpu[c][0].append((u1 - u0) / max(t1 - t0, 1e-9))
            cpu[c][1].append((u3 - u2) / max(t3 - t2, 1e-9))
            ok = len(back) == n and bytes(back) == data
            if not ok:
                exact[c] = False
                loud(f"{c.name} (threads {c.tc}) round trip NOT EXACT on {inp.name} "
                     f"({len(back)} bytes back of {n})")
                failures.append(f"{inp.name}: {c.name}@{c.tc} not exact")
            times[c][0].append(t1 - t0)
            times[c][1].append(t3 - t2)
            sizes[c] = size
            del blob, back
    for c in active:
        c.cleanup()
        tc, td = times[c]
        res[f"{c.name}@{c.tc}"] = {
            "codec": c.name, "threads_c": c.tc, "threads_d": c.td, "compressed": sizes[c],
            "ratio": n / sizes[c] if sizes[c] else None,
            "c_mbs": n / MB / min(tc), "d_mbs": n / MB / min(td),
            "c_mbs_median": n / MB / statistics.median(tc), "d_mbs_median": n / MB / statistics.median(td),
            "cpu_per_wall_c": round(statistics.median(cpu[c][0]), 2),
            "cpu_per_wall_d": round(statistics.median(cpu[c][1]), 2),
            "reps": len(tc), "exact": exact[c], "timing": "python wall clock, best of %d" % len(tc)}
    return res


# ----------------------------------------------------------------------------------------
# reporting
# ----------------------------------------------------------------------------------------
def fmt(x, nd=3):
    if x is None:
        return "n/a"
    if x >= 100:
        return f"{x:,.0f}"
    if nd == 0:
        return f"{x:.1f}" if x >= 0.1 else f"{x:.2f}"
    return f"{x:.{nd}f}"


def cell(v, best, key, nd=3):
    if v is None:
        return "—"
    s = fmt(v[key], nd)
    if not v["exact"]:
        s = f"~~{s}~~ NOT EXACT"
    elif best is not None and v[key] >= best * (1 - 1e-9):
        s = f"**{s}**"
    return s


def pick(res, codec, threads):
    v = res.get(f"{codec}@{threads}")
    if v is None and threads == 1:
        v = next((x for k, x in res.items() if x["codec"] == codec), None)
    return v


def markdown(report):
    m = report["machine"]
    L = [f"# z4ai vs peers — {report['date']}", "",
         f"Machine: {m['cpu']}, {m['cores']} cores available (load avg at start {m['loadavg_start']}, "
         f"end {m.get('loadavg_end', '?')}); mode: {report['mode']}; "
         f"{'median over %d rounds of ' % report['rounds'] if report['rounds'] > 1 else ''}best of {report['repeat']} "
         f"(zstd-19*: 1, skipped above {report['slow_max_mb']:g} MB); MB = 10^6 bytes of original data.",
         "", "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()), "",
         "Ratio = original / compressed. **bold** = best in the row (z4ai included); "
         "~~struck~~ NOT EXACT = round trip failed. Bound columns are empirical entropy "
         "bounds expressed as ratios (o1 = order-1 exponent + order-0 mantissa planes; "
         "joint = order-0 of whole elements, for fp32 exp + exp-conditioned top mantissa byte + o0 rest). "
         "`z4ai/best peer` < 1.000 means z4ai loses on ratio (marked LOSS).", ""]
    if report["failures"]:
        L += ["**FAILURES:** " + "; ".join(report["failures"]), ""]
    codec_order = report["codec_order"]
    thr = report["threads"]
    groups = []
    for r in report["inputs"]:
        if r["group"] not in groups:
            groups.append(r["group"])
    for g in groups:
        rows = [r for r in report["inputs"] if r["group"] == g]
        present = [c for c in codec_order if any(x["codec"] == c for r in rows for x in r["results"].values())]
        # ratio table
        L += [f"## {g} — ratio", ""]
        hdr = ["input", "dtype", "MB", "bound o0", "bound o1", "bound joint"] + present + ["z4ai/best peer"]
        L += ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
        for r in rows:
            res = r["results"]
            vals = {c: pick(res, c, 1) for c in present}
            exact_vals = [v["ratio"] for v in vals.values() if v and v["exact"] and v["ratio"]]
            best = max(exact_vals) if exact_vals else None
            z = [v["ratio"] for c, v in vals.items() if v and v["exact"] and c.startswith("z4ai")]
            p = [v["ratio"] for c, v in vals.items() if v and v["exact"] and not c.startswith("z4ai")]
            vs = "n/a"
            if z and p:
                q = max(z) / max(p)
                vs = f"{q:.3f}" + (" **LOSS**" if q < 1 else "")
            b = r["bounds"]
            line = [r["name"], r["dtype"], f"{r['bytes'] / MB:.1f}", fmt(b.get("ratio_bound_o0")),
                    fmt(b.get("ratio_bound_o1")), fmt(b.get("ratio_joint"))]
            line += [cell(vals[c], best, "ratio") for c in present]
            line.append(vs)
            L.append("| " + " | ".join(line) + " |")
        L.append("")
        # speed tables
        for t in thr:
            L += [f"## {g} — speed, {t} thread{'s' if t > 1 else ''} (compress / decompress MB/s)", ""]
            hdr = ["input"] + present
            L += ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
            for r in rows:
                vals = {c: r["results"].get(f"{c}@{t}") for c in present}
                bc = max([v["c_mbs"] for v in vals.values() if v and v["exact"]], default=None)
                bd = max([v["d_mbs"] for v in vals.values() if v and v["exact"]], default=None)
                line = [r["name"]]
                for c in present:
                    v = vals[c]
                    if v is None:
                        line.append("—")
                    else:
                        tn = "" if v["threads_c"] == v["threads_d"] == t else f" (T{v['threads_c']}/{v['threads_d']})"
                        line.append(f"{cell(v, bc, 'c_mbs', 0)} / {cell(v, bd, 'd_mbs', 0)}{tn}")
                L.append("| " + " | ".join(line) + " |")
            L.append("")
    L += ["Threads: zstd decompression is single-threaded (zstd-N@T uses T compression threads); "
          "lmzip timing includes tmpfs file I/O; z4ai timing is in-process (`z4ai bench`), peers are "
          "timed from Python around one call. Cells marked (Tc/Td) show the actual thread counts.", ""]
    return "\n".join(L)


def machine_info():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": NCPU, "os_cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "loadavg_start": "%.2f %.2f %.2f" % os.getloadavg()}


def versions(z4exe):
    v = {"z4ai": z4ai_version(z4exe) if z4exe else "missing", "numpy": np.__version__}
    try:
        import zstandard
        v["zstandard"] = f"{zstandard.__version__} (libzstd {'.'.join(map(str, zstandard.ZSTD_VERSION))})"
    except Exception:  # noqa: BLE001
        v["zstandard"] = "missing"
    try:
        import blosc2
        v["blosc2"] = f"{blosc2.__version__} (c-blosc2 {blosc2.blosclib_version.split()[0]})"
    except Exception:  # noqa: BLE001
        v["blosc2"] = "missing"
    for mod, key in (("zipnn", "zipnn"), ("lmz", "lmzip")):
        try:
            from importlib.metadata import version
            v[key] = version({"lmz": "lmzip"}.get(mod, mod))
        except Exception:  # noqa: BLE001
            v[key] = "missing"
    return v


# ----------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="8 MiB, a few scenarios and codecs, real files only if --real is given")
    ap.add_argument("--size", default=None, help="synthetic buffer size (default 32MiB, quick 8MiB)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--scenarios-py", default=os.environ.get(
        "Z4AI_SCENARIOS", os.path.join(REPO, "..", "shared", "bench", "scenarios.py")))
    ap.add_argument("--only", default="", help="comma list of scenarios or scenario-dtype names")
    ap.add_argument("--real", default=os.environ.get("Z4AI_REAL"),
                    help="OUT dir of fetch-real.sh (all *.safetensors below it); full mode defaults "
                         "to REPO/../real-weights when it exists; '' = none")
    ap.add_argument("--real-only", default="", help="comma list of substrings selecting real files")
    ap.add_argument("--real-max-mb", type=float, default=0, help="skip real files above this size")
    ap.add_argument("--no-synthetic", action="store_true")
    ap.add_argument("--slow-max-mb", type=float, default=64,
                    help="skip slow codecs (zstd-19*) on inputs above this size; 0 = never skip")
    ap.add_argument("--z4ai", default=os.environ.get("Z4AI_BIN", os.path.join(REPO, "target", "release", "z4ai")))
    ap.add_argument("--repeat", type=int, default=None, help="best of N (default 3, quick 2)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat the whole best-of-N measurement R times per input and report "
                         "the median of the R bests (noisy shared machines)")
    ap.add_argument("--threads", default="", help="comma list of thread counts (default 1,all)")
    ap.add_argument("--codecs", default="", help="comma list of codec names to keep (peers)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--tag", default="")
    a = ap.parse_args()

    quick = a.quick
    if a.real is None:
        dflt = os.path.abspath(os.path.join(REPO, "..", "real-weights"))
        a.real = dflt if (not quick and os.path.isdir(dflt)) else ""
        if not quick and not a.real:
            log(f"note: no real corpus at {dflt}; build it with ../shared/data/fetch-real.sh or pass --real")
    sizes = a.size or ("8MiB" if quick else "32MiB")
    repeat = a.repeat or (2 if quick else 3)
    thr = [int(x) if x != "all" else NCPU for x in a.threads.split(",") if x] or sorted({1, NCPU})
    t_all = max(thr)

    if not os.path.isfile(a.scenarios_py):
        sys.exit(f"scenarios.py not found at {a.scenarios_py} (set --scenarios-py or Z4AI_SCENARIOS)")
    mod = load_scenarios_module(a.scenarios_py)
    nbytes = mod.parse_size(sizes)

    z4exe = a.z4ai if os.path.isfile(a.z4ai) and os.access(a.z4ai, os.X_OK) else None
    if not z4exe:
        loud(f"z4ai binary not found at {a.z4ai}: build it with `cargo build --release` "
             "(or pass --z4ai / Z4AI_BIN). SKIPPING z4ai, running the peers only.")

    tmp = tempfile.mkdtemp(prefix="z4cmp-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    warnings.filterwarnings("ignore")

    # codec set
    codecs = []
    for t in thr:
        codecs.append(ZipNNCodec(t))
    if quick:
        codecs += [Zstd(3, False, 1), Zstd(19, True, t_all), Blosc2(True, t_all), Lmzip(t_all, tmp)]
        only = set(a.only.split(",")) - {""} or {"iid-bf16", "iid-fp16", "iid-fp32", "structured-bf16",
                                                 "sparse50-bf16", "int8tensor-fp32"}
        efforts = "all"
    else:
        for t in thr:
            codecs += [Zstd(3, False, t), Zstd(3, True, t), Blosc2(False, t), Blosc2(True, t), Lmzip(t, tmp)]
        codecs += [Zstd(19, False, t_all), Zstd(19, True, t_all)]
        only = set(a.only.split(",")) - {""}
        efforts = "all"
    if a.codecs:
        keep = set(a.codecs.split(","))
        codecs = [c for c in codecs if c.name in keep]
    z4 = {"exe": z4exe, "threads": thr, "efforts": efforts, "efforts_list": ["fast", "default", "max"]}
    codec_order = ["z4ai-fast", "z4ai-default", "z4ai-max"] if z4exe else []
    for c in codecs:
        if c.name not in codec_order:
            codec_order.append(c.name)

    report = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "mode": "quick" if quick else "full", "repeat": repeat, "rounds": a.rounds, "threads": thr,
              "size_bytes": nbytes, "slow_max_mb": a.slow_max_mb, "seed": a.seed, "machine": machine_info(), "versions": versions(z4exe),
              "scenarios_py": os.path.abspath(a.scenarios_py), "real_dir": a.real or None,
              "codec_order": codec_order, "inputs": [], "failures": []}
    log(f"machine: {report['machine']['cpu']}, {NCPU} cores; versions: {report['versions']}")

    def inputs():
        if not a.no_synthetic:
            yield from synthetic_inputs(mod, nbytes, a.seed, only)
        if a.real:
            if not os.path.isdir(a.real):
                loud(f"--real {a.real} is not a directory; skipping real files")
            else:
                yield from real_inputs(a.real, [s for s in a.real_only.split(",") if s], a.real_max_mb)

    t_start = time.time()
    try:
        for inp in inputs():
            t0 = time.time()
            b = entropy_bounds(inp.data, inp.dtype)
            res = merge_rounds([measure(inp, codecs, repeat, z4, tmp, report["failures"],
                                        a.slow_max_mb, cli_check=(r == 0))
                                for r in range(a.rounds)])
            report["inputs"].append({"name": inp.name, "group": inp.group, "dtype": inp.dtype,
                                     "bytes": len(inp.data), "source": inp.source,
                                     "sha256_16": hashlib.sha256(inp.data).hexdigest()[:16],
                                     "meta": inp.meta, "bounds": b, "results": res})
            best = max((v for v in res.values() if v["exact"]), key=lambda v: v["ratio"] or 0, default=None)
            zb = max((v["ratio"] for v in res.values() if v["codec"].startswith("z4ai") and v["exact"]), default=None)
            log(f"{inp.name:48s} {len(inp.data) / MB:7.1f} MB  bound-o1 {fmt(b.get('ratio_bound_o1'))}  "
                f"z4ai {fmt(zb)}  best {best['codec'] if best else '-'} {fmt(best['ratio'] if best else None)}  "
                f"({time.time() - t0:.1f}s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report["machine"]["loadavg_end"] = "%.2f %.2f %.2f" % os.getloadavg()
    report["elapsed_s"] = round(time.time() - t_start, 1)

    os.makedirs(a.out, exist_ok=True)
    stem = (a.tag or report["mode"]) + "-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    md = markdown(report)
    with open(os.path.join(a.out, stem + ".md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(a.out, stem + ".json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(a.out, stem + ".readme.md"), "w") as f:
        f.write(readme_table.tables(report) + "\n")
    print(md)
    log(f"\nwrote {a.out}/{stem}.md, .json and .readme.md (the README's tables) in {report['elapsed_s']} s")
    if report["failures"]:
        loud("ROUND-TRIP FAILURES: " + "; ".join(report["failures"]))
        sys.exit(2)


if __name__ == "__main__":
    main()
