#!/usr/bin/env bash
# The demo end to end: pubsub_server under load from pubsub_load, scraped by a
# real Prometheus; counters and a histogram_quantile must match what the load
# generator reports; the REST API, webhooks, queue and cache, driven by the
# check, must count what it did; a scrape in each format must carry soketi's
# and sockudo's whole documented catalogue, read from the seed documents
# (.ci/seed_catalogue.py, which first checks them against tests/seeds/mod.rs);
# every Grafana dashboard expression must return data, and the alert rules
# must pass promtool.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
ensure_prometheus
ensure_prometheus_client
python3 .ci/seed_catalogue.py
promtool check rules docs/demo/alerts.yml
promtool check config docs/demo/prometheus.yml
cargo build -q --release --example pubsub_server --example pubsub_load
python3 .ci/demo_e2e.py "${CARGO_TARGET_DIR:-target}/release/examples"
