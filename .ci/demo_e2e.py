#!/usr/bin/env python3
"""Demo end-to-end check (see .ci/stages/70-demo-e2e.sh).

Starts pubsub_server and a Prometheus that scrapes it every second, runs
pubsub_load, then checks through Prometheus' HTTP API that:
- messages received/broadcast/sent counters equal the load generator's counts;
- histogram_quantile(0.5) of the fan-out histogram is within one bucket of the
  load generator's own median latency;
- the Grafana dashboard loads as file provisioning needs it (.ci/dashboard.py)
  and every query returns data, its variables at "All" and at the first
  value their own label_values() queries offer;
- the server exits cleanly on SIGTERM.
All waits are bounded; both processes are killed on any exit.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard  # noqa: E402

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/examples"
PROCS = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"port {port} did not open within {timeout}s")


def query(prom, expr):
    url = f"http://127.0.0.1:{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise SystemExit(f"query {expr!r} failed: {body}")
    return body["data"]["result"]


def scalar(prom, expr):
    res = query(prom, expr)
    return float(res[0]["value"][1]) if res else None


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)


def main():
    tmp = tempfile.mkdtemp(prefix="nanometrics-e2e-")
    app_port, metrics_port, prom_port = free_port(), free_port(), free_port()
    env = dict(os.environ, PORT=str(app_port), METRICS_PORT=str(metrics_port), METRICS_HOST="127.0.0.1")
    env.pop("METRICS_PROMETHEUS_PREFIX", None)
    server = subprocess.Popen([f"{BIN}/pubsub_server"], env=env)
    PROCS.append(server)
    wait_port(app_port)
    wait_port(metrics_port)

    shutil.copy("docs/demo/alerts.yml", tmp)
    with open(f"{tmp}/prometheus.yml", "w") as f:
        f.write(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [alerts.yml]\n"
            "scrape_configs:\n"
            f"  - job_name: pubsub\n    static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n"
        )
    prom = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp}/prometheus.yml",
            f"--storage.tsdb.path={tmp}/data",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    PROCS.append(prom)
    wait_port(prom_port, 60)
    deadline = time.time() + 60
    while scalar(prom_port, 'up{job="pubsub"}') != 1.0:
        if time.time() > deadline:
            raise SystemExit("Prometheus never saw the demo up")
        time.sleep(0.5)

    load = subprocess.run(
        [f"{BIN}/pubsub_load", "--addr", f"127.0.0.1:{app_port}", "--connections", "6",
         "--channels", "3", "--publishers", "2", "--rate", "2000", "--duration", "6", "--app", "e2e"],
        capture_output=True, text=True, timeout=120,
    )
    print(load.stdout)
    if load.returncode != 0:
        raise SystemExit(f"pubsub_load failed: {load.stderr}")
    result = json.loads(re.search(r"^RESULT (\{.*\})$", load.stdout, re.M).group(1))
    if result["errors"] or result["delivered"] != result["expected"]:
        raise SystemExit(f"load generator saw losses: {result}")

    # Wait until Prometheus has scraped the final counts.
    want = {
        'sum(pubsub_messages_received_total{app_id="e2e"})': result["published"],
        'sum(pubsub_broadcast_messages_total{app_id="e2e"})': result["published"] - result["rate_limited"],
        'sum(pubsub_messages_sent_total{app_id="e2e"})': result["delivered"],
    }
    deadline = time.time() + 30
    while True:
        got = {e: scalar(prom_port, e) for e in want}
        if all(got[e] == want[e] for e in want):
            break
        if time.time() > deadline:
            raise SystemExit(f"Prometheus counts {got} != load generator {want}")
        time.sleep(0.5)
    print("counters equal:", got)

    # Median fan-out latency: Prometheus vs the load generator, by bucket.
    bounds = sorted(
        float(s["metric"]["le"])
        for s in query(prom_port, "pubsub_message_fanout_seconds_bucket")
        if s["metric"]["le"] != "+Inf"
    )
    q = scalar(prom_port, "histogram_quantile(0.5, sum by (le) (pubsub_message_fanout_seconds_bucket))")
    mine = result["p50_ms"] / 1000.0

    def bucket(v):
        return next((i for i, b in enumerate(bounds) if v <= b), len(bounds))

    print(f"p50: prometheus {q:.6f}s (bucket {bucket(q)}), load generator {mine:.6f}s (bucket {bucket(mine)})")
    if abs(bucket(q) - bucket(mine)) > 1:
        raise SystemExit("histogram_quantile is more than one bucket away from the load generator's median")

    # The dashboard as file provisioning loads it; every query returns data
    # with the variables at "All" and at the values their own queries offer.
    dash = dashboard.load("docs/demo/grafana-dashboard.json")
    var = dashboard.variables(dash)
    # $__rate_interval with Grafana's default scrape interval setting (15 s):
    # max(4 x 15 s, $__interval + 15 s) on a short time range.
    values = {"prefix": dashboard.value(var["prefix"], None), "__rate_interval": "1m"}
    chosen = {}
    for name in ("job", "instance"):
        selector, label = dashboard.label_values_query(
            dashboard.expand(var[name]["query"]["query"], {**values, **chosen}))
        url = f"http://127.0.0.1:{prom_port}/api/v1/label/{label}/values?" + urllib.parse.urlencode(
            {"match[]": selector})
        with urllib.request.urlopen(url, timeout=10) as r:
            offered = json.load(r)["data"]
        if not offered:
            raise SystemExit(f"variable {name}: {selector} offers no {label}")
        chosen[name] = dashboard.value(var[name], offered[:1])
    print(f"dashboard variables offer {chosen}")
    alls = {**values, "job": dashboard.value(var["job"], None), "instance": dashboard.value(var["instance"], None)}
    picked = {**values, **chosen}
    empty = [(e, v) for e in dashboard.exprs(dash) for v in (alls, picked)
             if not query(prom_port, dashboard.expand(e, v))]
    if empty:
        raise SystemExit(f"dashboard expressions without data: {empty}")
    print(f"all {len(dashboard.exprs(dash))} dashboard expressions return data, with every variable at All and at a value")

    server.send_signal(signal.SIGTERM)
    rc = server.wait(timeout=20)
    if rc != 0:
        raise SystemExit(f"pubsub_server exited with {rc} on SIGTERM")
    print("demo stopped cleanly on SIGTERM")


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
