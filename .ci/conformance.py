#!/usr/bin/env python3
"""Checks nanometrics' exposition output with the real validators.

Usage: conformance.py DIR, where DIR holds what `examples/exposition.rs` wrote:
metrics.prom (text 0.0.4), metrics.om (OpenMetrics 1.0) and model.json (the
families as the registry walk reported them).

1. `promtool check metrics` on metrics.prom: parse errors fail; lint problems
   are accepted only for the legacy names the example declares on purpose
   (they reproduce soketi/drachtio names exactly), and each must be reported.
2. `prometheus_client.parser` on metrics.prom and the strict
   `prometheus_client.openmetrics.parser` on metrics.om; every family, type,
   help, unit, sample name, label set and value must be what the rules in
   docs/exposition-format.md predict from model.json (implemented again here,
   independently of the Rust code).
"""

import json
import math
import subprocess
import sys
from pathlib import Path

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_prom

# promtool lint findings that the example triggers on purpose, by name (without
# prefix): legacy names kept exactly as the servers we port declare them.
EXPECTED_LINT = {
    "drachtio_build_info": 'counter metrics should have "_total" suffix',
    "socket_received_bytes": 'counter metrics should have "_total" suffix',
    "sofia_dialogs_total": 'non-counter metrics should not have "_total" suffix',
    "no_help": "no help text",
}


def fail(msg):
    print("conformance: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def canonical(v):
    """Go's strconv.FormatFloat(v, 'g', -1, 64), plus '.0' if it reads as an int."""
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0.0" if math.copysign(1, v) < 0 else "0.0"
    r = repr(abs(v))  # shortest round-trip digits
    mant, _, exp = r.partition("e")
    exp = int(exp or 0)
    intpart, _, frac = mant.partition(".")
    digits = (intpart + frac).lstrip("0")
    dp = len(intpart) + exp - (len(intpart + frac) - len((intpart + frac).lstrip("0")))
    digits = digits.rstrip("0")
    e = dp - 1
    sign = "-" if v < 0 else ""
    if e < -4 or e >= 6:
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{m}e{'-' if e < 0 else '+'}{abs(e):02d}"
    if dp <= 0:
        s = "0." + "0" * (-dp) + digits
    elif dp >= len(digits):
        s = digits + "0" * (dp - len(digits)) + ".0"
    else:
        s = digits[:dp] + "." + digits[dp:]
    return sign + s


def value(series):
    if "int" in series:
        return int(series["int"])
    return float(series["float"])


def expected(model, fmt):
    """[(family, type, help, unit, [(sample, {labels}, value)])] as the parser sees it."""
    prefix = model["prefix"]
    claimed = set()

    def claim(base, suffixes):
        names = [base + s for s in suffixes]
        if any(n in claimed for n in names):
            return False
        claimed.update(names)
        return True

    out = []
    for f in model["families"]:
        name, kind = f["name"], f["kind"]
        if fmt == "prom":
            ok = claim(name, ["", "_bucket", "_count", "_sum"] if kind == "histogram" else [""])
            if not ok:
                continue
            ty = {"counter": "counter", "gauge": "gauge", "info": "gauge", "histogram": "histogram"}[kind]
            fam = name
        else:
            plan = None
            if kind == "counter" and name.endswith("_total") and len(name) > 6:
                if claim(name[:-6], ["", "_total", "_created"]):
                    plan = ("counter", name[:-6])
            elif kind == "info":
                if name.endswith("_info") and len(name) > 5:
                    if claim(name[:-5], ["", "_info"]):
                        plan = ("info", name[:-5])
                elif claim(name, [""]):
                    plan = ("gauge", name)
            elif kind == "gauge" and claim(name, [""]):
                plan = ("gauge", name)
            elif kind == "histogram" and claim(name, ["", "_bucket", "_count", "_sum", "_created"]):
                plan = ("histogram", name)
            if plan is None and kind != "histogram" and claim(name, [""]):
                plan = ("unknown", name)
            if plan is None:
                continue
            ty, fam = plan
        unit = f["unit"]
        if fmt == "prom" or ty == "info" or not (fam.endswith("_" + unit) and unit):
            unit = ""
        samples = []
        sname = prefix + name
        for s in f["series"]:
            labels = dict(s["labels"])
            if "histogram" in s:
                h = s["histogram"]
                bounds = [float(b) for b in h["bounds"]]
                for b, c in zip(bounds, h["buckets"]):
                    samples.append((sname + "_bucket", {**labels, "le": canonical(b)}, c))
                samples.append((sname + "_bucket", {**labels, "le": "+Inf"}, h["count"]))
                total = float(h["sum"])
                if fmt == "prom" or ((not bounds or bounds[0] >= 0) and total >= 0):
                    samples.append((sname + "_sum", labels, total))
                    samples.append((sname + "_count", labels, h["count"]))
            else:
                v = value(s)
                if fmt == "om" and ty == "counter" and (math.isnan(v) or v < 0):
                    continue
                samples.append((sname, labels, v))
        pfam = prefix + fam
        if fmt == "prom" and ty == "counter":
            # prometheus_client's 0.0.4 parser names counters the OpenMetrics
            # way: the family loses `_total`, samples without it gain it.
            if pfam.endswith("_total"):
                pfam = pfam[:-6]
            else:
                samples = [(n + "_total", l, v) for (n, l, v) in samples]
        out.append((pfam, ty, f["help"], unit, samples))
    return out


def same_value(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b or (float(a) == float(b) and not isinstance(a, bool))


def compare(fmt, got, want):
    if len(got) != len(want):
        fail(f"{fmt}: {len(got)} families parsed, {len(want)} expected:\n"
             f"  got  {[g[0] for g in got]}\n  want {[w[0] for w in want]}")
    for g, w in zip(got, want):
        if g[:4] != w[:4]:
            fail(f"{fmt}: family {g[:4]!r} != expected {w[:4]!r}")
        if len(g[4]) != len(w[4]):
            fail(f"{fmt}: {g[0]}: {len(g[4])} samples, expected {len(w[4])}: {g[4]} vs {w[4]}")
        for gs, ws in zip(g[4], w[4]):
            if gs[0] != ws[0] or gs[1] != ws[1] or not same_value(gs[2], ws[2]):
                fail(f"{fmt}: sample {gs!r} != expected {ws!r}")


def families(parsed):
    return [
        (m.name, m.type, m.documentation, m.unit,
         [(s.name, dict(s.labels), s.value) for s in m.samples])
        for m in parsed
    ]


def promtool(path, prefix):
    r = subprocess.run(["promtool", "check", "metrics"], stdin=open(path, "rb"),
                       capture_output=True, text=True)
    report = (r.stdout + r.stderr).strip()
    print(f"promtool check metrics (rc={r.returncode}):\n{report}")
    if r.returncode not in (0, 3):
        fail("promtool found errors in the 0.0.4 output")
    seen = {}
    for line in report.splitlines():
        name, _, problem = line.partition(" ")
        if not name.startswith(prefix):
            fail(f"promtool: unexpected output line {line!r}")
        name = name[len(prefix):]
        if EXPECTED_LINT.get(name) != problem:
            fail(f"promtool: unexpected lint problem {line!r}")
        seen[name] = problem
    if seen != EXPECTED_LINT:
        fail(f"promtool: expected lint findings {EXPECTED_LINT}, got {seen}")
    if (r.returncode == 3) != bool(seen):
        fail("promtool exit status does not match its findings")


def exemplars(parsed, prefix):
    """The exemplars examples/exposition.rs sets, as the strict parser reads
    them: a counter total's and two histogram buckets'."""
    got = {}
    for fam in parsed:
        for s in fam.samples:
            if s.exemplar is not None:
                got[(s.name, s.labels.get("le"))] = (s.exemplar.labels, s.exemplar.value)
    want = {
        (f"{prefix}new_connections_total", None): ({"trace_id": "4bf92f3577b34da6"}, 1234.0),
        (f"{prefix}fanout_seconds_bucket", "0.025"): ({"trace_id": "00f067aa0ba902b7"}, 0.02),
        (f"{prefix}fanout_seconds_bucket", "+Inf"): ({"trace_id": "a\\b\nc", "span": "1"}, 50.0),
    }
    if got != want:
        fail(f"OpenMetrics exemplars: parsed {got}, expected {want}")
    return got


def main():
    d = Path(sys.argv[1])
    model = json.loads((d / "model.json").read_text())
    prom = (d / "metrics.prom").read_text()
    om = (d / "metrics.om").read_text()
    promtool(d / "metrics.prom", model["prefix"])
    compare("text 0.0.4", families(parse_prom(prom)), expected(model, "prom"))
    compare("OpenMetrics", families(parse_om(om)), expected(model, "om"))
    exemplars(parse_om(om), model["prefix"])
    n = sum(len(f["series"]) for f in model["families"])
    print(f"conformance: promtool and prometheus_client agree on {len(model['families'])} "
          f"families, {n} series, in both formats")


if __name__ == "__main__":
    main()
