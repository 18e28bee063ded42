#!/usr/bin/env python3
"""Turns iai-callgrind's terminal output into markdown tables.

Usage: python3 benches/iai_table.py target/bench-results/iai.txt

One table per iai group: benchmark, instructions, and (when callgrind's branch
simulator was on) conditional branches and their mispredictions.
"""
import re
import sys


def parse(text):
    rows = []
    cur = None
    for line in text.splitlines():
        m = re.match(r"^iai::(\w+)::(\w+) (\w+):(.*)$", line)
        if m:
            bench = m.group(2)
            # Parameterised runs (`#[benches::x(args = [...])]`): name by the
            # string arguments (iai cuts a long description short with `...`,
            # which can leave the last one unterminated).
            args = re.findall(r'"([^"]+?)(?:"|\.\.\.$)', m.group(4))
            if m.group(3) != "run" and args:
                bench = f"{bench} {' '.join(args)}"
            cur = {"group": m.group(1), "bench": bench}
            rows.append(cur)
            continue
        m = re.match(r"^\s+(Instructions|Bc|Bcm):\s+(\d+)\|", line)
        if m and cur is not None:
            cur[m.group(1)] = int(m.group(2))
    return rows


def main(path):
    with open(path) as f:
        rows = parse(f.read())
    groups = []
    for r in rows:
        if r["group"] not in groups:
            groups.append(r["group"])
    for g in groups:
        rs = [r for r in rows if r["group"] == g]
        branches = any("Bc" in r for r in rs)
        if branches:
            print(f"| {g} | instructions | conditional branches | mispredicted |")
            print("|---|---|---|---|")
        else:
            print(f"| {g} | instructions |")
            print("|---|---|")
        for r in rs:
            name = r["bench"]
            ins = r.get("Instructions", "?")
            if branches:
                print(f"| {name} | {ins} | {r.get('Bc', '?')} | {r.get('Bcm', '?')} |")
            else:
                print(f"| {name} | {ins} |")
        print()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/bench-results/iai.txt")
