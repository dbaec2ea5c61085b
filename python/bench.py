#!/usr/bin/env python3
"""Throughput of the z4ai Python package against the Rust engine and ZipNN.

On the same bytes (a bf16 array of weight-like values, 256 MiB by default)
and at the same thread count, it measures:

- ``z4ai.compress`` / ``z4ai.decompress`` (fresh ``bytes`` each call) and
  ``z4ai.decompress_into`` (a reused buffer, as the Rust bench decodes);
- the same Rust API calls (``z4ai::compress``, ``z4ai::decompress_with``,
  ``z4ai::decompress_into_with``) timed inside Rust in this process,
  interleaved round by round with the Python calls so both see the same
  machine load (``--blocked``: each kind of call in a block of its own, as
  ZipNN is timed);
- ``z4ai bench FILE --dtype bf16 -e EFFORT -T N --json`` (the CLI binary,
  on the same bytes written to a temporary file);
- ZipNN (``pip install zipnn``), in this process, when it is installed.

Every round trip is verified. Times are medians of ``--repeat`` runs (best
in brackets); the CLI reports only its best, so that ratio is best-to-best.
MB/s = 1e6 bytes of original data per second.

    python python/bench.py --mb 256 --threads 2
    python python/bench.py --json   # machine-readable
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional

import numpy as np

# Run as `python python/bench.py`, the script's folder (holding the source
# package without its native module) would shadow the installed z4ai.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import z4ai  # noqa: E402


def weights_bf16(n_bytes: int, seed: int = 0) -> np.ndarray:
    """bf16 values of a dense layer: N(0, 0.02), round-to-nearest-even."""
    n = n_bytes // 2
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=np.uint16)
    step = 1 << 24
    for i in range(0, n, step):
        f = (rng.standard_normal(min(step, n - i), dtype=np.float32) * np.float32(0.02)).view(np.uint32)
        f = f + np.uint32(0x7FFF) + ((f >> np.uint32(16)) & np.uint32(1))
        out[i : i + step] = (f >> np.uint32(16)).astype(np.uint16)
    try:
        import ml_dtypes

        return out.view(ml_dtypes.bfloat16)
    except ImportError:
        return out


def timed(fn: Callable[[], object], repeat: int) -> Dict[str, float]:
    times = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
        del result
    return {"median_s": statistics.median(times), "best_s": min(times)}


def mbps(n: int, s: float) -> float:
    return n / 1e6 / s


def find_cli(explicit: Optional[str]) -> Optional[str]:
    if explicit:
        return explicit
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for d in (os.environ.get("CARGO_TARGET_DIR"), os.path.join(root, "target")):
        if d:
            p = os.path.join(d if os.path.isabs(d) else os.path.join(root, d), "release", "z4ai")
            if os.access(p, os.X_OK):
                return p
    return shutil.which("z4ai")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=256, help="MiB of bf16 data (default 256)")
    ap.add_argument("--threads", "-T", type=int, default=os.cpu_count() or 1, help="threads for every codec")
    ap.add_argument("--effort", "-e", default="default", choices=z4ai.EFFORTS)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cli", help="path of the z4ai CLI binary (default: target/release/z4ai)")
    ap.add_argument("--no-cli", action="store_true", help="skip the Rust CLI comparison")
    ap.add_argument("--no-zipnn", action="store_true", help="skip ZipNN")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--blocked", action="store_true",
                    help="time each z4ai call kind in its own block of --repeat calls (as ZipNN is "
                         "timed) instead of interleaving Python and Rust call by call")
    args = ap.parse_args(argv)

    n_bytes = args.mb << 20
    T = args.threads
    arr = weights_bf16(n_bytes)
    raw = arr.view(np.uint16)
    n = arr.nbytes
    report: Dict[str, object] = {
        "bytes": n,
        "dtype": "bf16",
        "threads": T,
        "effort": args.effort,
        "repeat": args.repeat,
        "blocked": args.blocked,
        "machine": f"{cpu_name()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "z4ai": z4ai.__version__,
        "isa": z4ai.ISA,
        "results": {},
    }
    results: Dict[str, Dict[str, float]] = report["results"]  # type: ignore[assignment]
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))

    # --- z4ai: Python calls and the same Rust calls, interleaved ----------
    # Each round times the Python call and then the Rust API call on the same
    # bytes (the order alternates), so both see the same machine load; the
    # ratio is the median of the per-round ratios. With --blocked each kind
    # runs in a block of its own (the ratio then pairs the i-th calls).
    log(f"z4ai: {n / 1e6:.0f} MB bf16, {T} threads, effort {args.effort}")
    from z4ai import _z4ai as native

    u8 = raw.reshape(-1).view(np.uint8)
    blob = z4ai.compress(arr, effort=args.effort, threads=T)
    out_py = np.empty_like(u8)
    out_rs = np.empty_like(u8)
    z4ai.decompress_into(blob, out_py, threads=T)  # touch the pages once
    native._rust_decompress_seconds(blob, out_rs, T)
    keys = ("py_c", "rs_c", "py_d", "rs_d", "py_di", "rs_di")
    samples: Dict[str, List[float]] = {k: [] for k in keys}
    # CPU seconds of the whole process (all worker threads) per call: on a
    # loaded machine they show the binding's own cost better than wall time.
    cpu: Dict[str, List[float]] = {k: [] for k in keys}

    def py_time(fn: Callable[[], object]) -> float:
        t = time.perf_counter()
        r = fn()
        dt = time.perf_counter() - t
        del r
        return dt

    def run(key: str, fn: Callable[[], float]) -> None:
        c = time.process_time()
        samples[key].append(fn())
        cpu[key].append(time.process_time() - c)

    pairs = [
        ("py_c", lambda: py_time(lambda: z4ai.compress(arr, effort=args.effort, threads=T))),
        ("rs_c", lambda: native._rust_compress_seconds(u8, "bf16", args.effort, T)[0]),
        ("py_d", lambda: py_time(lambda: z4ai.decompress(blob, threads=T))),
        ("rs_d", lambda: native._rust_decompress_seconds(blob, None, T)),
        ("py_di", lambda: py_time(lambda: z4ai.decompress_into(blob, out_py, threads=T))),
        ("rs_di", lambda: native._rust_decompress_seconds(blob, out_rs, T)),
    ]
    if args.blocked:
        # Each kind in a block of consecutive calls: every call then meets
        # the memory its own previous call freed, as ZipNN's calls do.
        for key, fn in pairs:
            for _ in range(args.repeat):
                run(key, fn)
    for i in range(0 if args.blocked else args.repeat):
        for j in range(0, len(pairs), 2):
            a, b = pairs[j], pairs[j + 1]
            for key, fn in ((a, b) if i % 2 == 0 else (b, a)):
                run(key, fn)
    ok = z4ai.decompress(blob, threads=T) == u8.tobytes() and np.array_equal(out_py, u8) \
        and np.array_equal(out_rs, u8)

    def med(key: str) -> float:
        return mbps(n, statistics.median(samples[key]))

    def best(key: str) -> float:
        return mbps(n, min(samples[key]))

    def paired(py_key: str, rs_key: str) -> float:
        """Median over rounds of Python MB/s / Rust MB/s."""
        return statistics.median(r / p for p, r in zip(samples[py_key], samples[rs_key]))

    results["z4ai-python"] = {
        "ratio": n / len(blob),
        "compress_mb_s": med("py_c"),
        "compress_mb_s_best": best("py_c"),
        "decompress_mb_s": med("py_d"),
        "decompress_mb_s_best": best("py_d"),
        "decompress_into_mb_s": med("py_di"),
        "decompress_into_mb_s_best": best("py_di"),
        "verified": bool(ok),
    }
    results["z4ai-rust-api"] = {
        "ratio": n / len(blob),
        "compress_mb_s": med("rs_c"),
        "compress_mb_s_best": best("rs_c"),
        "decompress_mb_s": med("rs_d"),
        "decompress_mb_s_best": best("rs_d"),
        "decompress_into_mb_s": med("rs_di"),
        "decompress_into_mb_s_best": best("rs_di"),
        "verified": bool(ok),
    }
    report["python_vs_rust_api"] = {
        "compress": paired("py_c", "rs_c"),
        "decompress": paired("py_d", "rs_d"),
        "decompress_into": paired("py_di", "rs_di"),
    }
    report["python_vs_rust_api_cpu"] = {
        "compress": statistics.median(cpu["rs_c"]) / statistics.median(cpu["py_c"]),
        "decompress": statistics.median(cpu["rs_d"]) / statistics.median(cpu["py_d"]),
        "decompress_into": statistics.median(cpu["rs_di"]) / statistics.median(cpu["py_di"]),
    }
    report["samples_s"] = samples
    report["samples_cpu_s"] = cpu

    # --- the Rust API through the CLI's bench --------------------------------
    cli = None if args.no_cli else find_cli(args.cli)
    if cli:
        log(f"z4ai (rust): {cli} bench")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "weights.bf16")
            raw.tofile(path)
            cmd = [cli, "bench", path, "--dtype", "bf16", "-e", args.effort, "-T", str(T),
                   "--repeat", str(args.repeat), "--json"]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = json.loads(res.stdout)["results"][0]
        # `compress` into a new `Vec`, as Python's compress returns new bytes
        # (compress_mb_s is into a buffer kept between runs).
        r["compress_mb_s"] = r.get("compress_new_vec_mb_s") or r["compress_mb_s"]
        results["z4ai-cli-bench"] = {
            "ratio": r["ratio"],
            "compress_mb_s_best": r["compress_mb_s"],
            "decompress_mb_s_best": r["decompress_mb_s"],
            "verified": bool(r["verified"]),
        }
        py = results["z4ai-python"]
        report["python_vs_cli_best"] = {
            "compress": py["compress_mb_s_best"] / r["compress_mb_s"],
            "decompress": py["decompress_mb_s_best"] / r["decompress_mb_s"],
            "decompress_into": py["decompress_into_mb_s_best"] / r["decompress_mb_s"],
        }
    elif not args.no_cli:
        log("z4ai CLI not found (cargo build --release); skipping the Rust comparison")

    # --- ZipNN ----------------------------------------------------------------
    if not args.no_zipnn:
        try:
            from zipnn import ZipNN
        except ImportError:
            log("zipnn not installed (pip install zipnn); skipping it")
        else:
            log("zipnn")
            zn = ZipNN(input_format="byte", bytearray_dtype="bfloat16", threads=T)
            src = raw.tobytes()
            # ZipNN modifies its input in place: every call gets a fresh copy,
            # made outside the timed region.
            ctimes = []
            zblob = b""
            for _ in range(args.repeat):
                copy = bytearray(src)
                t = time.perf_counter()
                zblob = zn.compress(copy)
                ctimes.append(time.perf_counter() - t)
            dtimes = []
            back = b""
            for _ in range(args.repeat):
                zin = bytes(zblob)
                t = time.perf_counter()
                back = zn.decompress(zin)
                dtimes.append(time.perf_counter() - t)
            results["zipnn"] = {
                "ratio": n / len(zblob),
                "compress_mb_s": mbps(n, statistics.median(ctimes)),
                "compress_mb_s_best": mbps(n, min(ctimes)),
                "decompress_mb_s": mbps(n, statistics.median(dtimes)),
                "decompress_mb_s_best": mbps(n, min(dtimes)),
                "verified": bytes(back) == src,
            }

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{n / 1e6:.0f} MB bf16, {T} thread(s), effort {args.effort}, median of {args.repeat} [best]")
        print(f"machine: {report['machine']}; python {report['python']}, kernels {report['isa']}")
        print(f"{'codec':<22} {'ratio':>7} {'compress MB/s':>22} {'decompress MB/s':>22} ok")
        for name, r in results.items():
            def col(key: str) -> str:
                med, best = r.get(key), r.get(key + "_best")
                return (f"{med:8.0f} " if med is not None else " " * 9) + f"[{best:8.0f}]"
            print(f"{name:<22} {r['ratio']:7.4f} {col('compress_mb_s'):>22} {col('decompress_mb_s'):>22} "
                  f"{'yes' if r['verified'] else 'NO'}")
            if "decompress_into_mb_s" in r:
                print(f"{'  (decompress_into)':<22} {'':>7} {'':>22} {col('decompress_into_mb_s'):>22}")
        v = report["python_vs_rust_api"]
        print("python / rust API speed (median of paired rounds): compress {compress:.3f}, "
              "decompress {decompress:.3f}, decompress_into {decompress_into:.3f}".format(**v))
        v = report["python_vs_rust_api_cpu"]
        print("rust API / python CPU seconds (medians): compress {compress:.3f}, "
              "decompress {decompress:.3f}, decompress_into {decompress_into:.3f}".format(**v))
        if "python_vs_cli_best" in report:
            v = report["python_vs_cli_best"]
            print("python / CLI bench (best to best): compress {compress:.3f}, "
                  "decompress {decompress:.3f}, decompress_into {decompress_into:.3f}".format(**v))
    bad = [k for k, r in results.items() if not r["verified"]]
    if bad:
        print(f"ROUND TRIP FAILED: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
