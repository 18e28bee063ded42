#!/usr/bin/env bash
# Every seed server's documented metric set, declared with nanometrics and
# filled with values, checked by promtool and both prometheus_client parsers.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
ensure_prometheus
ensure_prometheus_client
cargo run -q --example seed_exposition -- target/seeds
python3 .ci/seed_conformance.py target/seeds
