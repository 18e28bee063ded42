"""The demo's Grafana dashboard as Grafana's file provisioning and its
variables see it, for .ci/demo_e2e.py.

File provisioning (and the dashboard HTTP API) load the JSON as it is: an
`__inputs` placeholder such as `${DS_PROMETHEUS}` is only replaced by the
UI's import dialog, so anywhere else it is left unresolved and every panel
fails. `load` refuses that, a datasource that is not the `datasource`
variable, and a `$variable` that is neither defined nor one of Grafana's
built-ins. `expand` substitutes variables the way Grafana does for a
Prometheus data source: a multi-value or "All" variable becomes a regex
(`allValue`, or the selected values escaped and joined with `|`).
"""

import json
import re

BUILTINS = {"__rate_interval", "__interval", "__range", "__all"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def _walk(node, path=""):
    """Yields (path, value) for every string in a JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def load(path):
    """The dashboard at `path`, checked as file provisioning would need it."""
    with open(path) as f:
        dash = json.load(f)
    errors = []
    if not isinstance(dash, dict) or not dash.get("uid") or not dash.get("title"):
        raise SystemExit(f"{path}: not a dashboard object with a uid and a title")
    for where, s in _walk({k: v for k, v in dash.items() if k != "__inputs"}):
        if "${DS_" in s:
            errors.append(f"{where}: unresolved import placeholder {s!r}")
    variables = dash.get("templating", {}).get("list", [])
    names = [v.get("name") for v in variables]
    if len(set(names)) != len(names):
        errors.append(f"variables defined twice: {names}")
    by_name = {v["name"]: v for v in variables}
    ds = by_name.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        errors.append("no `datasource` variable of type datasource for prometheus")
    for v in variables:
        if v.get("type") == "query" and v.get("datasource") != DATASOURCE:
            errors.append(f"variable {v['name']}: datasource {v.get('datasource')} is not {DATASOURCE}")
    for i, p in enumerate(dash.get("panels", [])):
        refs = [p.get("datasource")] + [t.get("datasource") for t in p.get("targets", [])]
        if any(r != DATASOURCE for r in refs):
            errors.append(f"panel {i} ({p.get('title')}): datasource {refs} is not {DATASOURCE}")
    for where, s in _walk({"panels": dash.get("panels", []), "templating": dash.get("templating", {})}):
        for m in VAR.finditer(s):
            name = m.group(1) or m.group(2)
            if name not in by_name and name not in BUILTINS:
                errors.append(f"{where}: ${name} is not a variable")
    if errors:
        raise SystemExit(f"{path}: not provisionable:\n  " + "\n  ".join(errors))
    return dash


def variables(dash):
    return {v["name"]: v for v in dash.get("templating", {}).get("list", [])}


def value(var, selected):
    """What Grafana substitutes for `var` with `selected` (a list of values,
    or None for "All") in a Prometheus query."""
    if var.get("type") == "textbox":
        return var["query"] if selected is None else selected[0]
    if selected is None:
        return var.get("allValue") or ".*"
    escaped = [re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\\\1", s) for s in selected]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def expand(text, values):
    """`text` with every `$name` / `${name}` in `values` replaced."""
    return VAR.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), text)


def label_values_query(text):
    """(selector, label) of a `label_values(selector, label)` variable query."""
    m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", text.strip())
    if not m:
        raise SystemExit(f"not a label_values() query: {text!r}")
    return m.group(1), m.group(2)


def exprs(dash):
    return [t["expr"] for p in dash["panels"] for t in p["targets"]]
