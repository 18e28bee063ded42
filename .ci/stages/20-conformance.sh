#!/usr/bin/env bash
# Conformance of the text encoder with the real validators: promtool (Debian
# package `prometheus`) on the text 0.0.4 output, and Python's
# prometheus_client parsers (0.0.4 and strict OpenMetrics) on both formats,
# over the output of a running process (examples/exposition.rs), and over
# a scrape recorded through the `metrics` facade (examples/facade_exposition.rs).
# Installs the validators when missing; a validator that cannot be installed
# fails the stage, it never skips.
set -euo pipefail
cd "$(dirname "$0")/../.."

. .ci/lib.sh
ensure_prometheus
ensure_prometheus_client
PYTHON=python3
echo "promtool: $(promtool --version 2>&1 | head -1)"
echo "prometheus_client: $("$PYTHON" -c 'import importlib.metadata as m; print(m.version("prometheus_client"))')"

out=target/conformance
rm -rf "$out"
cargo run --quiet --example exposition -- "$out"
"$PYTHON" .ci/conformance.py "$out"
# A scrape recorded through the `metrics` facade recorder (feature
# `metrics-facade`): promtool and both Python parsers must accept it.
cargo run --quiet --features metrics-facade --example facade_exposition -- "$out/facade"
"$PYTHON" .ci/facade_conformance.py "$out/facade"
