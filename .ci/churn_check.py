#!/usr/bin/env python3
"""Validates the scrapes that `examples/churn.rs` kept.

Usage: churn_check.py DIR, where DIR holds what the example wrote:
scrape-NNNN.om and final.om (OpenMetrics 1.0), each with a text 0.0.4 scrape
taken right after it (scrape-NNNN.prom, final.prom), and live.tsv (the rooms
open at the end: backend, room, clienttype, value, tab-separated).

1. `promtool check metrics` on every .prom file must exit 0 and report
   nothing (promtool reads only the 0.0.4 format; fed OpenMetrics it reads
   `# EOF` as a comment and lints the counter's OpenMetrics family name).
2. Python's text 0.0.4 parser on every .prom file, and the strict OpenMetrics
   parser on every .om file, every family and sample consumed; each scrape
   must hold the room gauge (each room once, labels exactly backend, room,
   clienttype, whole values from 0 to 8, never the overflow series) and no
   overflow counter series (the family never overflowed).
3. final.om must show exactly the rooms of live.tsv with their values.

Every rejection is printed with its file; any makes the exit status 1.
"""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_prom

ROOMS = "signaling_room_sessions"
OVERFLOW = "nanometrics_label_overflow"
LABELS = ("backend", "room", "clienttype")
MAX_SESSIONS = 8


def promtool(path):
    """promtool's complaint about a .prom file, or None."""
    with open(path, "rb") as f:
        r = subprocess.run(["promtool", "check", "metrics"], stdin=f, capture_output=True, text=True)
    report = (r.stdout + r.stderr).strip()
    if r.returncode != 0 or report:
        return f"promtool check metrics: exit {r.returncode}: {report or '(no output)'}"
    return None


def rooms_of(text, parse, overflow_family):
    """{(backend, room, clienttype): value} of a scrape, checking its shape."""
    families = list(parse(text))  # consumes the parser: its errors surface here
    # The OpenMetrics parser drops a sample repeated on the next line (it
    # takes it for a timestamp truncation): every sample line must come back.
    lines = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    samples = sum(len(m.samples) for m in families)
    if samples != lines:
        raise ValueError(f"{lines} sample lines but {samples} samples parsed (a repeated series?)")
    found = {m.name: m for m in families}
    # A family that never overflowed adds no overflow counter series.
    if list(found) != [ROOMS] or len(families) != 1:
        raise ValueError(f"families {[m.name for m in families]}, expected {ROOMS} alone ({overflow_family} means it overflowed)")
    if found[ROOMS].type != "gauge":
        raise ValueError(f"{ROOMS} has type {found[ROOMS].type}, expected gauge")
    rooms = {}
    for s in found[ROOMS].samples:
        if s.name != ROOMS or set(s.labels) != set(LABELS):
            raise ValueError(f"unexpected sample {s.name} {s.labels}")
        key = tuple(s.labels[n] for n in LABELS)
        if "__overflow__" in key:
            raise ValueError(f"the overflow series appears: {s.labels}")
        if s.value != int(s.value) or not 0 <= s.value <= MAX_SESSIONS:
            raise ValueError(f"value {s.value} of {s.labels} is not a whole number in 0..={MAX_SESSIONS}")
        if key in rooms:
            raise ValueError(f"room shown twice: {s.labels}")
        rooms[key] = int(s.value)
    return rooms


def check_om(path):
    return rooms_of(path.read_text(), parse_om, OVERFLOW)


def check_prom(path):
    # prometheus_client's 0.0.4 parser names the counter family without
    # `_total`, as OpenMetrics does.
    return rooms_of(path.read_text(), parse_prom, OVERFLOW)


def main():
    d = Path(sys.argv[1])
    oms = sorted(d.glob("scrape-*.om")) + [d / "final.om"]
    if len(oms) < 2 or not oms[-1].exists():
        print(f"churn_check: FAIL: {d}: no kept scrapes or no final.om", file=sys.stderr)
        sys.exit(1)
    failures = []
    proms = []
    for om in oms:
        prom = om.with_suffix(".prom")
        if not prom.exists():
            failures.append(f"{prom}: missing (the 0.0.4 scrape next to {om.name})")
        else:
            proms.append(prom)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for prom, err in zip(proms, pool.map(promtool, proms)):
            if err:
                failures.append(f"{prom}: {err}")
    final = None
    for path, check in [(p, check_om) for p in oms] + [(p, check_prom) for p in proms]:
        try:
            rooms = check(path)
        except Exception as e:  # a parser rejection or a shape error
            failures.append(f"{path}: {type(e).__name__}: {e}")
            continue
        if path == d / "final.om":
            final = rooms
    if final is not None:
        live = {}
        for line in (d / "live.tsv").read_text().splitlines():
            backend, room, clienttype, value = line.split("\t")
            live[(backend, room, clienttype)] = int(value)
        if final != live:
            missing = sorted(k for k in live if final.get(k) != live[k])[:5]
            extra = sorted(k for k in final if live.get(k) != final[k])[:5]
            failures.append(f"{d / 'final.om'}: not the {len(live)} open rooms of live.tsv: "
                            f"missing or other value {missing}, unexpected {extra}")
    for f in failures:
        print(f"churn_check: FAIL: {f}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"churn_check: {len(oms)} OpenMetrics scrapes accepted by the strict parser, "
          f"{len(proms)} text 0.0.4 scrapes by promtool and the 0.0.4 parser; "
          f"final.om shows exactly the {len(final)} open rooms")


if __name__ == "__main__":
    main()
