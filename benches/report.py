#!/usr/bin/env python3
"""Summarises criterion results as markdown tables (and JSON for the plot).

Reads target/criterion/*/*/**/new/{benchmark,sample}.json. For each benchmark
the per-sample figure is time/iterations (ns per op; the contention benches
already return aggregate time, see benches/src/lib.rs). Reports the median of
the samples and their interquartile range [p25, p75] as the spread.

Cells whose timed threads were on a CPU less than 90% of wall time × threads
(another process held a core) are flagged "⚠NN%" (see take_occupancy in
benches/src/lib.rs).

With --runs DIR1,DIR2,... (criterion directories of separate processes, see
BENCH_PROCESSES in benches/run.sh) each cell is the median of the per-process
medians, and the spread is the range [min–max] of those medians.

Usage: python3 benches/report.py [TARGET_DIR | --runs D1,D2,...] [--json OUT.json] [--groups g1,g2]
"""
import json
import os
import statistics
import sys


def quantile(xs, q):
    xs = sorted(xs)
    if len(xs) == 1:
        return xs[0]
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def load_occupancy(root):
    """Last recorded CPU occupancy per benchmark id (see take_occupancy)."""
    occ = {}
    # A process's copy (run.sh with BENCH_PROCESSES) or target/'s own.
    path = os.path.join(root, "criterion-occupancy.jsonl")
    if not os.path.exists(path):
        path = os.path.join(os.path.dirname(os.path.abspath(root)), "criterion-occupancy.jsonl")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                if d.get("occupancy"):
                    occ[d["id"]] = d["occupancy"]
    return occ


def load(root):
    occ = load_occupancy(root)
    rows = []
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "sample.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            meta = json.load(f)
        with open(os.path.join(dirpath, "sample.json")) as f:
            sample = json.load(f)
        per = [t / i for t, i in zip(sample["times"], sample["iters"]) if i > 0]
        if not per:
            continue
        rows.append(
            {
                "group": meta["group_id"],
                "function": meta["function_id"] or "",
                "param": meta["value_str"] or "",
                "median_ns": statistics.median(per),
                "p25_ns": quantile(per, 0.25),
                "p75_ns": quantile(per, 0.75),
                "samples": len(per),
                "occupancy": occ.get(
                    "/".join(x for x in (meta["group_id"], meta["function_id"], meta["value_str"]) if x)
                ),
            }
        )
    return rows


def combine(runs):
    """One row per benchmark from several processes' rows: the median of the
    per-process medians, spread = range of those medians."""
    by_id = {}
    for rows in runs:
        for r in rows:
            by_id.setdefault((r["group"], r["function"], r["param"]), []).append(r)
    out = []
    for key, rs in by_id.items():
        medians = [r["median_ns"] for r in rs]
        occs = [r["occupancy"] for r in rs if r.get("occupancy") is not None]
        out.append(
            {
                "group": key[0],
                "function": key[1],
                "param": key[2],
                "median_ns": statistics.median(medians),
                "p25_ns": min(medians),
                "p75_ns": max(medians),
                "samples": sum(r["samples"] for r in rs),
                "processes": len(rs),
                "process_medians_ns": medians,
                "occupancy": min(occs) if occs else None,
            }
        )
    return out


def fmt_ns(x):
    if x >= 1e6:
        return f"{x / 1e6:.3g} ms"
    if x >= 1e3:
        return f"{x / 1e3:.3g} µs"
    return f"{x:.3g} ns"


def param_key(p):
    try:
        return (0, float(p), p)
    except ValueError:
        return (1, 0.0, p)


def table(rows, group):
    rows = [r for r in rows if r["group"] == group]
    params = sorted({r["param"] for r in rows}, key=param_key)
    funcs = []
    for r in rows:
        if r["function"] not in funcs:
            funcs.append(r["function"])
    funcs.sort()
    cell = {(r["function"], r["param"]): r for r in rows}
    head = "| " + group + " | " + " | ".join(p or "-" for p in params) + " |"
    out = [head, "|" + "---|" * (len(params) + 1)]
    for fn in funcs:
        cols = []
        for p in params:
            r = cell.get((fn, p))
            if r is None:
                cols.append("")
            else:
                c = f"{fmt_ns(r['median_ns'])} [{fmt_ns(r['p25_ns'])}–{fmt_ns(r['p75_ns'])}]"
                occ = r.get("occupancy")
                # Flag runs whose timed threads were often off-CPU.
                if occ is not None and occ < 0.9:
                    c += f" ⚠{occ:.0%}"
                cols.append(c)
        out.append(f"| {fn} | " + " | ".join(cols) + " |")
    return "\n".join(out)


def main(argv):
    root = "target/criterion"
    runs = None
    out_json = None
    groups = None
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--json":
            out_json = args.pop(0)
        elif a == "--groups":
            groups = args.pop(0).split(",")
        elif a == "--runs":
            runs = [d for d in args.pop(0).split(",") if d]
        else:
            root = os.path.join(a, "criterion") if os.path.isdir(os.path.join(a, "criterion")) else a
    if runs:
        rows = combine([load(d) for d in runs])
    else:
        rows = load(root)
    if groups is None:
        groups = sorted({r["group"] for r in rows})
    for g in groups:
        print(table(rows, g))
        print()
    if out_json:
        with open(out_json, "w") as f:
            json.dump(sorted(rows, key=lambda r: (r["group"], r["function"], param_key(r["param"]))), f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
