#!/usr/bin/env python3
"""Checks a scrape recorded through the `metrics` facade recorder with the real
validators.

Usage: facade_conformance.py DIR, where DIR holds what
`examples/facade_exposition.rs` wrote: facade.prom (text 0.0.4) and facade.om
(OpenMetrics 1.0).

1. `promtool check metrics` on facade.prom: parse errors fail; lint findings
   are accepted only for the names the example records without `_total` or
   without a description, on purpose.
2. `prometheus_client.parser` on facade.prom and the strict
   `prometheus_client.openmetrics.parser` on facade.om must accept them and
   read back the families and values the example recorded.
"""

import math
import subprocess
import sys
from pathlib import Path

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_prom

EXPECTED_LINT = {
    ("http_requests", 'counter metrics should have "_total" suffix'),
    ("http_requests", "no help text"),
    ("no_suffix", 'counter metrics should have "_total" suffix'),
    ("no_suffix", "no help text"),
    ("ratio", "no help text"),
}


def fail(msg):
    print("facade conformance: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    out = Path(sys.argv[1])
    prom = (out / "facade.prom").read_text()
    om = (out / "facade.om").read_text()

    r = subprocess.run(["promtool", "check", "metrics"], input=prom, capture_output=True, text=True)
    report = (r.stdout + r.stderr).strip()
    print(f"promtool check metrics (rc={r.returncode}):\n{report}")
    if r.returncode not in (0, 3):
        fail("promtool found errors in the 0.0.4 output")
    for line in report.splitlines():
        name, _, problem = line.partition(" ")
        if (name, problem) not in EXPECTED_LINT:
            fail(f"promtool: unexpected finding {line!r}")

    for text, parse, fmt in [(prom, parse_prom, "0.0.4"), (om, parse_om, "OpenMetrics")]:
        try:
            families = {f.name: f for f in parse(text)}
        except Exception as e:  # noqa: BLE001 - any parser error fails the stage
            fail(f"{fmt}: the parser refused the output: {e}")
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in families.values() for s in f.samples}
        want = {
            ("requests_total", (("method", "GET"),)): 3,
            ("requests_total", (("method", "PUT"),)): 7,
            ("connected", ()): 8.5,
            ("latency_seconds_count", (("route", "/events"),)): 4,
            ("rx_bytes_total", (("app", 'app "1"\n\\'),)): 512,
            ("nanometrics_facade_rejected_total", (("metric", "connected"), ("reason", "kind"))): 1,
        }
        for key, value in want.items():
            if samples.get(key) != value:
                fail(f"{fmt}: {key} is {samples.get(key)!r}, want {value}")
        if not math.isnan(samples.get(("ratio", (("app", 'app "1"\n\\'),)), 0.0)):
            fail(f"{fmt}: ratio should be NaN")
        if families["requests"].documentation != 'Requests served, by "method".\nSecond line \\ here.':
            fail(f"{fmt}: HELP of requests: {families['requests'].documentation!r}")
        if fmt == "OpenMetrics" and families["latency_seconds"].unit != "seconds":
            fail("OpenMetrics: latency_seconds should have the unit seconds")
    print(f"facade conformance: OK ({len(families)} families)")


if __name__ == "__main__":
    main()
