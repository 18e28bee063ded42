#!/usr/bin/env bash
# Series churn under scraping (examples/churn.rs): two threads open and close
# 1,000,000 rooms in a `signaling_room_sessions` family, keeping each room's
# handle across its removal, while a third scrapes. The example itself checks
# that the final scrape shows exactly the rooms still open, that nothing
# overflowed and that the RSS stays within its bound; then every scrape it
# kept goes through promtool (text 0.0.4) and Python's strict OpenMetrics
# parser (.ci/churn_check.py). Installs the validators when missing; a
# validator that cannot be installed fails the stage, it never skips.
set -euo pipefail
cd "$(dirname "$0")/../.."

. .ci/lib.sh
ensure_prometheus
ensure_prometheus_client
echo "promtool: $(promtool --version 2>&1 | head -1)"
echo "prometheus_client: $(python3 -c 'import importlib.metadata as m; print(m.version("prometheus_client"))')"

t0=$SECONDS
out=target/churn
rm -rf "$out"
cargo build --quiet --release --example churn
t1=$SECONDS
cargo run --quiet --release --example churn -- "$out"
t2=$SECONDS
python3 .ci/churn_check.py "$out"
t3=$SECONDS
echo "churn stage: build $((t1 - t0)) s, run $((t2 - t1)) s, validation $((t3 - t2)) s, total $((t3 - t0)) s"
