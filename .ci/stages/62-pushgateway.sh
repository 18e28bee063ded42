#!/usr/bin/env bash
# METRICS_DRIVER=pushgateway and push against the real servers: a Prometheus
# Pushgateway (Debian package `prometheus-pushgateway`, basic auth through
# --web.config.file) and VictoriaMetrics (`victoria-metrics`), both on
# 127.0.0.1 on free ports, stopped by PID. examples/push_check.rs pushes
# sockudo's metric set and checks the gateway's /metrics (every value), PUT,
# POST, DELETE, credentials and a 400; this script then checks the group in
# the gateway's /api/v1/metrics, and the values VictoriaMetrics stored
# (/api/v1/export, then /api/v1/query), gzipped pushes included, and a real
# Prometheus (Debian `prometheus`) scraping the gateway sees the pushed
# series. Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/../.."

. .ci/lib.sh
ensure_prometheus
if ! command -v prometheus-pushgateway >/dev/null || ! command -v victoria-metrics >/dev/null; then
  echo "installing Debian packages prometheus-pushgateway victoria-metrics"
  export DEBIAN_FRONTEND=noninteractive
  pkgs="prometheus-pushgateway victoria-metrics"
  # shellcheck disable=SC2086 # a list of packages
  as_root apt-get install -y -q --no-install-recommends $pkgs >/dev/null 2>&1 ||
    { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q --no-install-recommends $pkgs >/dev/null; }
fi
prometheus-pushgateway --version 2>&1 | head -1
victoria-metrics --version 2>&1 | head -1

cargo build -q --example push_check
bin="${CARGO_TARGET_DIR:-target}/debug/examples/push_check"

tmp=$(mktemp -d)
pgw_pid=""
vm_pid=""
prom_pid=""
cleanup() {
  for pid in $pgw_pid $vm_pid $prom_pid; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $pgw_pid $vm_pid $prom_pid; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Waits up to 20 s for an HTTP answer (any status) from $1.
wait_http() {
  local deadline=$((SECONDS + 20))
  while [ $SECONDS -lt $deadline ]; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null || true)
    [ -n "$code" ] && [ "$code" != 000 ] && return 0
    sleep 0.2
  done
  echo "no answer from $1"
  return 1
}

# The Pushgateway, with basic auth: user `pusher`, password `ci-push-s3cr3t`
# (a test-only secret; the bcrypt hash has cost 4 to keep the stage quick).
user=pusher
password=ci-push-s3cr3t
cat >"$tmp/web.yml" <<'YAML'
basic_auth_users:
  pusher: $2b$04$AIrX39gPEGOhzDJ1ymI8j.iPRcjxhUvOB9ideYLmiIuM6iuAV6ZzG
YAML
pgw_port=$(free_port)
prometheus-pushgateway --web.listen-address="127.0.0.1:$pgw_port" --web.config.file="$tmp/web.yml" \
  >"$tmp/pushgateway.log" 2>&1 &
pgw_pid=$!
vm_port=$(free_port)
victoria-metrics -httpListenAddr="127.0.0.1:$vm_port" -storageDataPath="$tmp/vm" \
  -search.latencyOffset=0s -search.disableCache >"$tmp/vm.log" 2>&1 &
vm_pid=$!
pgw="http://127.0.0.1:$pgw_port"
vm="http://127.0.0.1:$vm_port"
wait_http "$pgw/-/ready" || { tail -20 "$tmp/pushgateway.log"; exit 1; }
wait_http "$vm/health" || { tail -20 "$tmp/vm.log"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "$pgw/metrics")
[ "$code" = 401 ] || { echo "the Pushgateway should require credentials, got $code"; exit 1; }

timeout 60 "$bin" pushgateway "$pgw" "$user" "$password" "$tmp/pgw" ||
  { echo "push_check pushgateway failed"; tail -20 "$tmp/pushgateway.log"; exit 1; }

# The group as /api/v1/metrics shows it: every pushed family, with its type,
# and the value of every counter and gauge sample.
cat >"$tmp/check.py" <<'PY'
import json, math, re, sys

def parse(text):
    """Sample lines of a text exposition: {(name, frozenset(labels)): value}; families' types."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        i = min([p for p in (line.find("{"), line.find(" ")) if p >= 0])
        name, rest, labels = line[:i], line[i:], {}
        if rest.startswith("{"):
            rest = rest[1:]
            while not rest.startswith("}"):
                rest = rest.lstrip(",")
                if rest.startswith("}"):
                    break
                eq = rest.index('="')
                key, j, value = rest[:eq], eq + 2, ""
                while rest[j] != '"':
                    if rest[j] == "\\":
                        j += 1
                        value += "\n" if rest[j] == "n" else rest[j]
                    else:
                        value += rest[j]
                    j += 1
                labels[key] = value
                rest = rest[j + 1:]
            rest = rest[1:]
        samples[(name, frozenset(labels.items()))] = float(rest.split()[0])
    return samples, types

def same(a, b):
    return a == b or (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9 * max(abs(a), abs(b))

def pushgateway(expected_path, grouping_path, api_path):
    samples, types = parse(open(expected_path).read())
    group = dict(l.rstrip("\n").split("\t", 1) for l in open(grouping_path))
    data = json.load(open(api_path))["data"]
    found = [g for g in data if g["labels"] == group]
    assert len(found) == 1, f"group {group} not in /api/v1/metrics: {[g['labels'] for g in data]}"
    g = found[0]
    assert g.get("last_push_successful") is True, g.get("last_push_successful")
    checked = 0
    for name, kind in types.items():
        fam = g.get(name)
        assert fam is not None, f"family {name} missing from the group"
        assert fam["type"] == kind.upper(), f"{name}: type {fam['type']}, pushed {kind}"
        if kind not in ("counter", "gauge"):
            continue
        for m in fam["metrics"]:
            labels = {k: v for k, v in m["labels"].items() if k not in group}
            want = samples.get((name, frozenset(labels.items())))
            assert want is not None, f"{name}{labels}: not pushed"
            assert same(float(m["value"]), want), f"{name}{labels}: {m['value']} != {want}"
            checked += 1
    print(f"pushgateway /api/v1/metrics: {len(types)} families with their types, {checked} counter and gauge values")

def export(expected_path, export_path):
    samples, _ = parse(open(expected_path).read())
    got = {}
    for line in open(export_path):
        if line.strip():
            r = json.loads(re.sub(r"(?<=[\[,])([+-]?)Inf(?=[],])", lambda m: m.group(1).replace("+", "") + "Infinity", line))
            m = dict(r["metric"])
            name = m.pop("__name__")
            got[(name, frozenset(m.items()))] = r["values"][-1]
    missing = [k for k in samples if k not in got]
    wrong = [k for k in samples if k in got and not same(float(got[k]), samples[k])]
    if missing or wrong:
        print(f"{len(missing)} missing (e.g. {missing[:3]}), {len(wrong)} wrong (e.g. {[(k, got[k], samples[k]) for k in wrong[:3]]})")
        sys.exit(1)
    print(f"victoriametrics /api/v1/export: all {len(samples)} pushed samples with their values")

if sys.argv[1] == "pushgateway":
    pushgateway(*sys.argv[2:])
else:
    export(*sys.argv[2:])
PY
curl -sf -u "$user:$password" "$pgw/api/v1/metrics" >"$tmp/api.json"
python3 "$tmp/check.py" pushgateway "$tmp/pgw/expected.prom" "$tmp/pgw/grouping.txt" "$tmp/api.json"

# A real Prometheus scrapes the Pushgateway (honor_labels, as the gateway's
# README asks) and sees the pushed series under the pushed job and instance.
prom_port=$(free_port)
cat >"$tmp/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    basic_auth:
      username: $user
      password: $password
    static_configs:
      - targets: ["127.0.0.1:$pgw_port"]
YAML
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom" \
  --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
prom_pid=$!
query='sockudo_cache_hits_total{job="nanometrics-ci",instance="ci/node 1",site="Προμηθεύς"}'
deadline=$((SECONDS + 30))
value=""
while [ $SECONDS -lt $deadline ]; do
  kill -0 "$prom_pid" 2>/dev/null || { echo "prometheus exited"; tail -20 "$tmp/prometheus.log"; exit 1; }
  value=$(curl -s --get --data-urlencode "query=$query" "http://127.0.0.1:$prom_port/api/v1/query" 2>/dev/null |
    python3 -c 'import json,sys
try:
    r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if len(r) == 1 else "")
except Exception:
    print("")' || true)
  [ "$value" = 42 ] && break
  sleep 0.5
done
[ "$value" = 42 ] || { echo "prometheus scraping the Pushgateway: $query is '$value', expected 42"; tail -20 "$tmp/prometheus.log"; exit 1; }
echo "prometheus scraping the Pushgateway: $query = $value"
kill "$prom_pid" 2>/dev/null || true

# VictoriaMetrics: push, then read every sample back (bounded: 20 s).
timeout 30 "$bin" push "$vm/api/v1/import/prometheus" "$tmp/vm-out" ||
  { echo "push_check push failed"; tail -20 "$tmp/vm.log"; exit 1; }
deadline=$((SECONDS + 20))
ok=""
while [ $SECONDS -lt $deadline ]; do
  curl -s -o /dev/null "$vm/internal/force_flush" || true
  curl -s --get --data-urlencode 'match[]={__name__=~"sockudo_.*"}' "$vm/api/v1/export" >"$tmp/export.jsonl" || true
  if python3 "$tmp/check.py" export "$tmp/vm-out/expected.prom" "$tmp/export.jsonl" >"$tmp/export.out" 2>&1; then
    ok=1
    break
  fi
  sleep 0.5
done
cat "$tmp/export.out"
[ -n "$ok" ] || { tail -20 "$tmp/vm.log"; exit 1; }
# An instant query evaluates at "now" rounded to the second, so a sample
# pushed less than a second ago can still be in its future: ask again until
# it is visible (bounded: 20 s).
vm_query() {
  local want=$2 value="" deadline=$((SECONDS + 20))
  while [ $SECONDS -lt $deadline ]; do
    value=$(curl -s --get --data-urlencode "query=$1" "$vm/api/v1/query" |
      python3 -c 'import json,sys
try:
    r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if len(r) == 1 else "")
except Exception:
    print("")' || true)
    [ "$value" = "$want" ] && break
    sleep 0.5
  done
  echo "$value"
}
value=$(vm_query sockudo_cache_hits_total 42)
[ "$value" = 42 ] || { echo "victoriametrics /api/v1/query sockudo_cache_hits_total: '$value', expected 42"; exit 1; }
echo "victoriametrics /api/v1/query: sockudo_cache_hits_total = $value"
value=$(vm_query nanometrics_ci_gzip_total 13)
[ "$value" = 13 ] || { echo "victoriametrics: the gzipped push's nanometrics_ci_gzip_total is '$value', expected 13"; exit 1; }
echo "victoriametrics /api/v1/query: nanometrics_ci_gzip_total = $value (pushed gzipped)"
echo "pushgateway and victoriametrics: ok"
