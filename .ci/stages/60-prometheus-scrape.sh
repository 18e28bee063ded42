#!/usr/bin/env bash
# A real Prometheus (Debian package `prometheus`) scrapes a running nanometrics
# endpoint (examples/serve_minimal.rs, bearer token required, gzip offered by
# Prometheus) on 127.0.0.1, and its HTTP API must report up == 1 and the
# known metric demo_known_total == 42. Prometheus runs with exemplar storage:
# the exemplars the example set (a counter's and a histogram bucket's, sent
# in OpenMetrics) must come back from its exemplars API with their trace ids
# and values. Both processes are stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."

. .ci/lib.sh
ensure_prometheus
prometheus --version 2>&1 | head -1

cargo build -q --example serve_minimal
bin="${CARGO_TARGET_DIR:-target}/debug/examples/serve_minimal"

tmp=$(mktemp -d)
ex_pid=""
prom_pid=""
cleanup() {
  for pid in $ex_pid $prom_pid; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $ex_pid $prom_pid; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

token="nanometrics-ci-$RANDOM$RANDOM"
METRICS_HOST=127.0.0.1 METRICS_PORT=0 METRICS_AUTH_TOKEN="$token" \
  "$bin" >"$tmp/example.out" 2>&1 &
ex_pid=$!
addr=""
for _ in $(seq 1 100); do
  addr=$(sed -n 's/^listening on //p' "$tmp/example.out")
  [ -n "$addr" ] && break
  kill -0 "$ex_pid" 2>/dev/null || { cat "$tmp/example.out"; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "example did not start"; cat "$tmp/example.out"; exit 1; }
echo "nanometrics endpoint: http://$addr/metrics"

# Unauthenticated requests are refused; the token is accepted.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/metrics")
[ "$code" = 401 ] || { echo "expected 401 without a token, got $code"; exit 1; }
body=$(curl -sf -H "Authorization: Bearer $token" "http://$addr/metrics")
grep -q '^demo_known_total 42$' <<<"$body" || { echo "demo_known_total 42 missing:"; echo "$body"; exit 1; }

prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: nanometrics
    authorization:
      type: Bearer
      credentials: $token
    static_configs:
      - targets: ["$addr"]
YAML
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$prom_port" --enable-feature=exemplar-storage \
  >"$tmp/prometheus.log" 2>&1 &
prom_pid=$!

query() {
  curl -sf --get --data-urlencode "query=$1" "http://127.0.0.1:$prom_port/api/v1/query" 2>/dev/null || true
}
# Prints the single value of an instant-vector result, or nothing.
value() {
  python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if len(r) == 1 else "")
except Exception:
    print("")'
}

up="" known="" scrapes=""
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ]; do
  kill -0 "$prom_pid" 2>/dev/null || { echo "prometheus exited"; cat "$tmp/prometheus.log"; exit 1; }
  up=$(query 'up{job="nanometrics"}' | value)
  known=$(query 'demo_known_total{job="nanometrics"}' | value)
  scrapes=$(query 'nanometrics_http_scrapes_total{job="nanometrics"}' | value)
  if [ "$up" = 1 ] && [ "$known" = 42 ] && [ -n "$scrapes" ]; then
    echo "prometheus: up=$up demo_known_total=$known nanometrics_http_scrapes_total=$scrapes"
    break
  fi
  sleep 0.5
done
if [ "$up" != 1 ] || [ "$known" != 42 ] || [ -z "$scrapes" ]; then
  echo "prometheus did not report up == 1 and demo_known_total == 42 (up='$up' known='$known')"
  curl -s "http://127.0.0.1:$prom_port/api/v1/targets" || true
  echo
  tail -20 "$tmp/prometheus.log"
  exit 1
fi

# The exemplars, through Prometheus' exemplars API.
exemplars() {
  curl -sf --get --data-urlencode "query=$1" --data-urlencode "start=$(( $(date +%s) - 300 ))" \
    --data-urlencode "end=$(( $(date +%s) + 60 ))" \
    "http://127.0.0.1:$prom_port/api/v1/query_exemplars" 2>/dev/null || true
}
# Prints `trace_id value` of each exemplar in a query_exemplars answer.
traces() {
  python3 -c '
import json, sys
try:
    for s in json.load(sys.stdin)["data"]:
        for e in s["exemplars"]:
            print(e["labels"].get("trace_id", ""), e["value"])
except Exception:
    pass'
}
counter="" bucket=""
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ]; do
  counter=$(exemplars 'demo_traced_total{job="nanometrics"}' | traces)
  bucket=$(exemplars 'demo_latency_seconds_bucket{job="nanometrics"}' | traces)
  if [ "$counter" = "4bf92f3577b34da6a3ce929d0e0e4736 3" ] && [ "$bucket" = "00f067aa0ba902b7 0.05" ]; then
    echo "prometheus exemplars: demo_traced_total: $counter; demo_latency_seconds_bucket: $bucket"
    exit 0
  fi
  sleep 0.5
done
echo "prometheus did not return the exemplars (counter: '$counter', bucket: '$bucket')"
tail -20 "$tmp/prometheus.log"
exit 1
