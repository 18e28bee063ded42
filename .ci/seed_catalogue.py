#!/usr/bin/env python3
"""soketi's and sockudo's documented metric catalogues, read from the seed
documents themselves, and a check of a live scrape against them.

The seeds (`../shared/seeds/000_*.txt`: soketi, `002_*.txt`: sockudo, next
to the repository, else their committed copies in `tests/seeds/docs/`, which
must equal them where both exist; `SEEDS_DIR` overrides) give:
- soketi: every `# TYPE` line of its trimmed output (name and type; it
  documents no labels) and its `# HELP` text;
- sockudo: every `- **`sockudo_…`**: description` line of "Available
  Metrics" (the type from its example output's `# TYPE` where there is one,
  else from the description: "histogram", "Current…"/"Active…" a gauge,
  "Total…"/"Number of…" a counter), the label names its example output and
  PromQL use on each family, and the histogram buckets its example shows.

`tests/seeds/mod.rs` declares the same sets for the seed conformance stage,
with label names for every family (sockudo's are only partly documented);
this script reads it too and checks that both agree on names and types, and
that its labels include every documented one. Those full label sets are what
the demo must serve.

Run alone (`python3 .ci/seed_catalogue.py`) it checks the two catalogues
against each other; `.ci/demo_e2e.py` imports it to check a scrape of the
demo (`check_scrape`).
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


# Copies of the two seed documents, committed so that a clone without
# ../shared/seeds next to it can still run the check; where the originals
# are present, the copies must equal them.
COPIES = os.path.join(REPO, "tests", "seeds", "docs")


def seeds_dir():
    if os.environ.get("SEEDS_DIR"):
        return os.environ["SEEDS_DIR"]
    shared = os.path.join(REPO, "..", "shared", "seeds")
    if not os.path.isdir(shared):
        return COPIES
    for name in sorted(os.listdir(COPIES)):
        with open(os.path.join(COPIES, name), "rb") as a, open(os.path.join(shared, name), "rb") as b:
            if a.read() != b.read():
                raise SystemExit(f"tests/seeds/docs/{name} differs from {shared}/{name}: copy it again")
    return shared


def _seed_file(prefix):
    d = seeds_dir()
    if not os.path.isdir(d):
        raise SystemExit(f"{d}: no seed documents there (set SEEDS_DIR to the folder of 000_*.txt and 002_*.txt)")
    names = sorted(f for f in os.listdir(d) if f.startswith(prefix) and f.endswith(".txt"))
    if len(names) != 1:
        raise SystemExit(f"{d}: expected one {prefix}*.txt, found {names}")
    with open(os.path.join(d, names[0]), encoding="utf-8") as f:
        return f.read()


def _family(ty, labels=(), buckets=(), help=None):
    return {"type": ty, "labels": set(labels), "buckets": set(buckets), "help": help}


def soketi_documented():
    """(prefix, {unprefixed name: family}) from seed 000."""
    text = _seed_file("000_")
    types = re.findall(r"^# TYPE (\S+) (\w+)\s*$", text, re.M)
    if not types:
        raise SystemExit("seed 000: no # TYPE lines")
    prefix = os.path.commonprefix([n for n, _ in types])
    prefix = prefix[: prefix.rfind("_") + 1]
    helps = {n: h.strip() for n, h in re.findall(r"^# HELP (\S+) (.*)$", text, re.M)}
    return prefix, {n[len(prefix):]: _family(t, help=helps.get(n)) for n, t in types}


def _type_from_description(name, desc):
    d = desc.lower()
    if "histogram" in d:
        return "histogram"
    if d.startswith(("current", "active")):
        return "gauge"
    if d.startswith(("total", "number of")):
        return "counter"
    raise SystemExit(f"seed 002: cannot tell the type of {name} from {desc!r}")


def sockudo_documented():
    """(prefix, {unprefixed name: family}) from seed 002."""
    text = _seed_file("002_")
    listed = re.findall(r"^- \*\*`(sockudo_\w+)`\*\*: (.+)$", text, re.M)
    if not listed:
        raise SystemExit("seed 002: no metric list")
    prefix = "sockudo_"
    typed = dict(re.findall(r"^# TYPE (sockudo_\w+) (\w+)\s*$", text, re.M))
    fams = {}
    for name, desc in listed:
        ty = typed.get(name) or _type_from_description(name, desc)
        fams[name[len(prefix):]] = _family(ty)
    # Labels and buckets of example samples, then label matchers in PromQL.
    for name, suffix, labels in re.findall(
        r"^(sockudo_\w+?)(_bucket|_sum|_count)?\{([^}]*)\}\s+\S+\s*$", text, re.M
    ):
        short = name[len(prefix):]
        if short not in fams:
            short += suffix
        fam = fams.get(short)
        if fam is None:
            raise SystemExit(f"seed 002: example sample {name}{suffix} of no listed family")
        for k, v in re.findall(r'(\w+)="([^"]*)"', labels):
            if k == "le":
                fam["buckets"].add(float(v))
            else:
                fam["labels"].add(k)
    for name, matchers in re.findall(r"(sockudo_\w+)\{([^}]*)\}", text):
        fam = fams.get(name[len(prefix):])
        if fam is not None:
            fam["labels"].update(re.findall(r"(\w+)\s*[=!]~?", matchers))
    return prefix, fams


def repo_catalogue(server):
    """{unprefixed name: family} of `server` as tests/seeds/mod.rs declares it."""
    with open(os.path.join(REPO, "tests", "seeds", "mod.rs"), encoding="utf-8") as f:
        src = f.read()
    block = re.search(r"pub const %s: Seed = Seed \{(.*?)\n\};" % server.upper(), src, re.S)
    if not block:
        raise SystemExit(f"tests/seeds/mod.rs: no {server.upper()} seed")
    kinds = {"c": "counter", "g": "gauge", "h": "histogram"}
    out = {}
    for kind, name, labels in re.findall(r'\b([cgh])\(\s*"(\w+)",\s*&\[([^\]]*)\]', block.group(1)):
        out[name] = _family(kinds[kind], re.findall(r'"(\w+)"', labels))
    return out


def catalogues():
    """{server: (prefix, {name: family})}: the documented names, types and
    buckets, with tests/seeds/mod.rs' label sets (checked to include every
    documented label)."""
    out = {}
    for server, documented in (("soketi", soketi_documented), ("sockudo", sockudo_documented)):
        prefix, doc = documented()
        repo = repo_catalogue(server)
        if set(doc) != set(repo):
            raise SystemExit(
                f"{server}: the seed documents {sorted(set(doc) - set(repo))} that "
                f"tests/seeds/mod.rs lacks, and mod.rs has {sorted(set(repo) - set(doc))} the seed does not"
            )
        for name, fam in doc.items():
            r = repo[name]
            if r["type"] != fam["type"]:
                raise SystemExit(f"{server}: {name} is a {fam['type']} in the seed, a {r['type']} in mod.rs")
            if not fam["labels"] <= r["labels"]:
                raise SystemExit(f"{server}: {name}: documented labels {fam['labels']} not all in mod.rs' {r['labels']}")
            fam["labels"] = r["labels"]
        out[server] = (prefix, doc)
    return out


LEGACY_LINT = (
    'counter metrics should have "_total" suffix',
    'non-counter metrics should not have "_total" suffix',
)


def check_scrape(text, om, prefixes, cats=None):
    """Checks a scrape (`text`: 0.0.4, `om`: OpenMetrics) against the
    catalogues, with `prefixes` = {server: the prefix the scrape uses}: every
    family present with its type and exactly its labels, documented buckets
    and HELP texts present; promtool accepts the text (lint findings only on legacy names
    the seeds document) and the strict OpenMetrics parser the OpenMetrics.
    Returns the number of families checked."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
    from prometheus_client.parser import text_string_to_metric_families as parse_004

    cats = cats or catalogues()
    expected = {}
    for server, (_, fams) in cats.items():
        for name, fam in fams.items():
            expected[prefixes[server] + name] = fam

    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    if lint.returncode not in (0, 3):
        raise SystemExit(f"promtool check metrics failed ({lint.returncode}): {lint.stdout}{lint.stderr}")
    for line in (lint.stdout + lint.stderr).splitlines():
        metric = line.split(" ", 1)[0]
        if not (metric in expected and line.endswith(LEGACY_LINT)):
            raise SystemExit(f"unexpected promtool finding: {line}")

    errors = []
    text_fams = {f.name: f for f in parse_004(text)}
    for full, fam in sorted(expected.items()):
        stripped = full[: -len("_total")] if full.endswith("_total") else full
        f = text_fams.get(full) or text_fams.get(stripped)
        if f is None or f.type != fam["type"]:
            errors.append(f"text: {full} missing or not a {fam['type']} ({f and f.type})")
            continue
        if not f.samples:
            errors.append(f"text: {full} has no series")
        for s in f.samples:
            labels = set(s.labels) - {"le"}
            if labels != fam["labels"]:
                errors.append(f"text: {s.name}{s.labels}: labels {sorted(labels)} != {sorted(fam['labels'])}")
                break
        if fam["help"] is not None and f.documentation != fam["help"]:
            errors.append(f"text: {full}: HELP {f.documentation!r} != the documented {fam['help']!r}")
        les = {float(s.labels["le"]) for s in f.samples if s.name.endswith("_bucket")}
        if not fam["buckets"] <= les:
            errors.append(f"text: {full} lacks documented buckets {sorted(fam['buckets'] - les)}")

    om_fams = {f.name: f for f in parse_om(om)}  # raises on any OpenMetrics error
    om_samples = {s.name for f in om_fams.values() for s in f.samples}
    for full, fam in sorted(expected.items()):
        sample = f"{full}_count" if fam["type"] == "histogram" else full
        if sample not in om_samples:
            errors.append(f"OpenMetrics: no {sample} sample")
            continue
        stripped = full[: -len("_total")] if full.endswith("_total") else full
        f = om_fams.get(stripped) or om_fams.get(full)
        # A counter whose name lacks `_total` is `unknown` in OpenMetrics
        # (docs/exposition-format.md); every other type is kept.
        want = "unknown" if fam["type"] == "counter" and not full.endswith("_total") else fam["type"]
        if f is None or f.type != want:
            errors.append(f"OpenMetrics: {full} is {f and f.type}, expected {want}")
    if errors:
        raise SystemExit("scrape does not match the seed catalogues:\n  " + "\n  ".join(errors))
    return len(expected)


def main():
    cats = catalogues()
    for server, (prefix, fams) in cats.items():
        kinds = {}
        for f in fams.values():
            kinds[f["type"]] = kinds.get(f["type"], 0) + 1
        print(f"{server}: {len(fams)} families under {prefix} ({kinds}); seed and tests/seeds/mod.rs agree")
    if len(sys.argv) > 1:
        raise SystemExit("usage: seed_catalogue.py (no arguments; SEEDS_DIR overrides ../shared/seeds)")


if __name__ == "__main__":
    main()
