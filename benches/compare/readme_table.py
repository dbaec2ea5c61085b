#!/usr/bin/env python3
"""The README's summary tables, from one harness result (run.py's JSON).

run.py writes them next to each report as `<run>.readme.md`; to print them
again from a saved report:

    python3 benches/compare/readme_table.py benches/compare/results/full-*.json

Prints markdown: the machine, versions and date of the run; per input the
ratio of z4ai at `default` (and its best effort), ZipNN, the best other peer
(the largest of these three in bold) and the entropy bounds; then 1-thread and all-thread speeds of z4ai and ZipNN
on iid-bf16. Only reads the JSON: every number comes from the run.
"""
import json
import sys


def best_peer(results, exclude):
    best = None
    for key, v in results.items():
        c = v["codec"]
        if c.startswith("z4ai") or c in exclude or not v["exact"] or not v["ratio"]:
            continue
        if best is None or v["ratio"] > best[1]:
            best = (c, v["ratio"])
    return best


def ratio(results, codec):
    vals = [v["ratio"] for v in results.values() if v["codec"] == codec and v["exact"] and v["ratio"]]
    return max(vals) if vals else None


def f(x):
    return "n/a" if x is None else f"{x:.3f}"


def tables(rep):
    """The README's tables (markdown) for a harness report (run.py's dict)."""
    m = rep["machine"]
    out = [f"Run of {rep['date']} on {m['cpu']}, {m['cores']} cores (load at start "
           f"{m['loadavg_start']}, end {m.get('loadavg_end', '?')}); mode {rep['mode']}, best of "
           f"{rep['repeat']}; " + ", ".join(f"{k} {v}" for k, v in rep["versions"].items()) + ".", "",
           "| input | dtype | z4ai default | z4ai best effort | ZipNN | best other peer | bound o1 / joint |",
           "|---|---|---|---|---|---|---|"]
    for r in rep["inputs"]:
        res = r["results"]
        zd = ratio(res, "z4ai-default")
        zb = max((x for x in (ratio(res, c) for c in ("z4ai-fast", "z4ai-default", "z4ai-max")) if x),
                 default=None)
        bp = best_peer(res, {"zipnn"})
        b = r["bounds"]
        bound = f"{f(b.get('ratio_bound_o1'))} / {f(b.get('ratio_joint'))}"
        zn = ratio(res, "zipnn")
        top = max((x for x in (zd, zn, bp[1] if bp else None) if x), default=None)

        def b_(x):
            return f"**{f(x)}**" if x is not None and x == top else f(x)

        peer = f"{b_(bp[1])} ({bp[0]})" if bp else "n/a"
        out.append(f"| {r['name']} | {r['dtype']} | {b_(zd)} | {f(zb)} | {b_(zn)} | {peer} | {bound} |")
    out += ["", "| iid-bf16 speed, MB/s (compress / decompress) | " +
            " | ".join(f"{t} thread{'s' if t > 1 else ''}" for t in rep["threads"]) + " |",
            "|---|" + "---|" * len(rep["threads"])]
    iid = next((r for r in rep["inputs"] if r["name"] == "iid-bf16"), None)
    if iid:
        for c in ("z4ai-fast", "z4ai-default", "z4ai-max", "zipnn", "zstd-3", "blosc2-shuf-zstd"):
            cells = []
            for t in rep["threads"]:
                v = iid["results"].get(f"{c}@{t}")
                cells.append("—" if v is None else f"{v['c_mbs']:.0f} / {v['d_mbs']:.0f}")
            if any(x != "—" for x in cells):
                out.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as fh:
        print(tables(json.load(fh)))
