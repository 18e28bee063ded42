#!/usr/bin/env python3
"""Seed metric sets against the real validators (see 25-seed-conformance.sh).

For each seed server's exposition (examples/seed_exposition.rs):
- promtool check metrics on text 0.0.4: no error; the only lint findings
  allowed are the legacy names the seed itself documents (a counter without
  `_total`, a gauge with it: ../shared/seeds/NOTES.md);
- Python's prometheus_client text parser reads every documented family with
  its documented type, and the strict OpenMetrics parser reads the OpenMetrics
  output without error, every documented name present as a sample;
- both formats carry exactly the same samples (names, labels, values).
"""
import subprocess
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_004

LEGACY_LINT = (
    'counter metrics should have "_total" suffix',
    'non-counter metrics should not have "_total" suffix',
)


def samples(text):
    return sorted(l for l in text.splitlines() if l and not l.startswith("#"))


def check(directory, server):
    prom = open(f"{directory}/{server}.prom").read()
    om = open(f"{directory}/{server}.om").read()
    specs = [l.split() for l in open(f"{directory}/{server}.families").read().splitlines()]

    lint = subprocess.run(["promtool", "check", "metrics"], input=prom, capture_output=True, text=True)
    if lint.returncode not in (0, 3):
        raise SystemExit(f"{server}: promtool failed ({lint.returncode}): {lint.stdout}{lint.stderr}")
    names = {n for n, _ in specs}
    for line in (lint.stdout + lint.stderr).splitlines():
        metric = line.split(" ", 1)[0]
        if not (metric in names and line.endswith(LEGACY_LINT)):
            raise SystemExit(f"{server}: unexpected promtool finding: {line}")

    fams = {(f.name, f.type) for f in parse_004(prom)}
    for name, ty in specs:
        # The Python 0.0.4 parser names counter families without `_total`.
        stripped = name[: -len("_total")] if name.endswith("_total") else name
        if (name, ty) not in fams and (stripped, ty) not in fams:
            raise SystemExit(f"{server}: {name} not parsed as a {ty}: {sorted(f for f in fams if stripped in f[0])}")

    om_samples = {s.name for f in parse_om(om) for s in f.samples}
    missing = [n for n, ty in specs if ty != "histogram" and n not in om_samples]
    missing += [n for n, ty in specs if ty == "histogram" and f"{n}_count" not in om_samples]
    if missing:
        raise SystemExit(f"{server}: OpenMetrics output lacks {missing}")

    if samples(prom) != samples(om):
        raise SystemExit(f"{server}: the two formats carry different samples")
    print(f"{server}: {len(specs)} families, {len(samples(prom))} samples: promtool and both parsers agree")


if __name__ == "__main__":
    directory = sys.argv[1]
    for server in ("soketi", "pws", "sockudo", "signaling", "drachtio"):
        check(directory, server)
