#!/usr/bin/env bash
# The demo end to end: pubsub_server under load from pubsub_load, scraped by a
# real Prometheus; counters and a histogram_quantile must match what the load
# generator reports, every Grafana dashboard expression must return data, and
# the alert rules must pass promtool.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
ensure_prometheus
promtool check rules docs/demo/alerts.yml
promtool check config docs/demo/prometheus.yml
cargo build -q --release --example pubsub_server --example pubsub_load
python3 .ci/demo_e2e.py target/release/examples
