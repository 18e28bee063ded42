#!/usr/bin/env bash
# Conformance of the text encoder with the real validators: promtool (Debian
# package `prometheus`) on the text 0.0.4 output, and Python's
# prometheus_client parsers (0.0.4 and strict OpenMetrics) on both formats,
# over the output of a running process (examples/exposition.rs).
# Installs the validators when missing; a validator that cannot be installed
# fails the stage, it never skips.
set -euo pipefail
cd "$(dirname "$0")/../.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v promtool >/dev/null 2>&1; then
  echo "installing promtool (apt package prometheus)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
command -v promtool >/dev/null 2>&1 || { echo "promtool missing" >&2; exit 1; }

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null 2>&1 || { echo "$PYTHON missing" >&2; exit 1; }
if ! "$PYTHON" -c 'import prometheus_client.openmetrics.parser' 2>/dev/null; then
  echo "installing prometheus_client"
  "$PYTHON" -m pip install --quiet prometheus_client \
    || "$PYTHON" -m pip install --quiet --break-system-packages prometheus_client
fi
"$PYTHON" -c 'import prometheus_client.openmetrics.parser, prometheus_client.parser' \
  || { echo "prometheus_client missing" >&2; exit 1; }
echo "promtool: $(promtool --version 2>&1 | head -1)"
echo "prometheus_client: $("$PYTHON" -c 'import importlib.metadata as m; print(m.version("prometheus_client"))')"

out=target/conformance
rm -rf "$out"
cargo run --quiet --example exposition -- "$out"
"$PYTHON" .ci/conformance.py "$out"
