#!/usr/bin/env python3
"""Demo end-to-end check (see .ci/stages/70-demo-e2e.sh).

Starts pubsub_server and a Prometheus that scrapes it every second, then:
- drives the demo's REST API, webhooks (through its queue) and cache from
  here, over a subscriber connection of its own, and checks on a direct
  scrape that the counters equal what it did (REST bytes both ways, requests
  by endpoint and status, broadcasts and deliveries, webhooks sent and
  refused (the demo's sink refuses those about `fail-*` channels), queue
  jobs, cache hits and misses);
- runs pubsub_load; through Prometheus' HTTP API, the message, client-event
  and rate-limit counters equal the load generator's counts;
- a scrape in each format carries soketi's and sockudo's whole documented
  catalogue (.ci/seed_catalogue.py: every family with its type, labels and
  documented buckets), and promtool and the strict OpenMetrics parser
  accept it (and the check fails the scrape with a family left out, a
  label renamed or a type changed); every one of its counters and histograms has moved, but the
  three that count failures the run has none of;
- histogram_quantile(0.5) of the fan-out histogram is within one bucket of the
  load generator's own median latency;
- the Grafana dashboard loads as file provisioning needs it (.ci/dashboard.py)
  and every query returns data, its variables at "All" and at the first
  value their own label_values() queries offer (the soketi prefix set to
  the demo's port);
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
import seed_catalogue  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families as parse_004  # noqa: E402

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


def scrape(port, openmetrics=False):
    headers = {"Accept": "application/openmetrics-text; version=1.0.0"} if openmetrics else {}
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=headers)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text):
    """{(sample name, sorted label items): value} of a text 0.0.4 scrape, the
    names as written (prometheus_client's parser adds `_total` to counters
    that lack it)."""
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and not line.startswith("#"):
            out[(m.group(1), tuple(sorted(LABEL.findall(m.group(2) or ""))))] = float(m.group(3))
    if not out:
        raise SystemExit("empty scrape")
    list(parse_004(text))  # and it must parse
    return out


def value(smp, name, **labels):
    return smp.get((name, tuple(sorted(labels.items()))), 0.0)


class Rest:
    """Raw HTTP/1.1 requests to the demo's REST API, counting bytes both ways."""

    def __init__(self, port):
        self.port, self.sent, self.received = port, 0, 0

    def __call__(self, method, path, body=None):
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(data)}\r\n"
               "Connection: close\r\n\r\n").encode() + data
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(req)
            resp = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                resp += chunk
                if len(resp) > 1 << 20:
                    raise SystemExit(f"{method} {path}: response over 1 MiB")
        self.sent += len(req)
        self.received += len(resp)
        head, _, payload = resp.partition(b"\r\n\r\n")
        return int(head.split(b" ")[1]), payload.decode()


def read_lines(lines, n):
    """The next `n` lines from the line-protocol socket's reader (the
    socket's timeout bounds each read)."""
    out = []
    for _ in range(n):
        line = lines.readline(70000)
        if not line.endswith(b"\n"):
            raise SystemExit(f"demo closed the connection or sent a partial line; got {out} {line!r}")
        out.append(line.decode().rstrip("\n"))
    return out


def drive_rest(app_port, api_port, metrics_port):
    """REST API, webhooks, queue and cache, driven from here (app `rest`);
    the counters must equal what this did."""
    before = samples(scrape(metrics_port))
    rest = Rest(api_port)
    sub = socket.create_connection(("127.0.0.1", app_port), timeout=5)
    sub.settimeout(10)
    lines = sub.makefile("rb")
    sub.sendall(b"APP rest\nSUB chan-r\nSUB presence-r\nSUB fail-r\n")
    if read_lines(lines, 4) != ["OK"] * 4:
        raise SystemExit("subscribing over the line protocol failed")
    for i in range(5):
        code, _ = rest("POST", "/apps/rest/events", {"name": "e", "channel": "chan-r", "data": f"d{i}"})
        if code != 200:
            raise SystemExit(f"POST /apps/rest/events answered {code}")
    code, _ = rest("POST", "/apps/rest/events", {"name": "e", "channels": ["chan-r", "presence-r"], "data": "both"})
    got = read_lines(lines, 7)
    if code != 200 or sorted(got) != sorted([f"MSG chan-r d{i}" for i in range(5)] + ["MSG chan-r both", "MSG presence-r both"]):
        raise SystemExit(f"REST publishes delivered {got} ({code})")
    infos = [rest("GET", "/apps/rest/channels/chan-r") for _ in range(2)]
    if any(json.loads(b) != {"occupied": True, "subscription_count": 1} for _, b in infos):
        raise SystemExit(f"channel info: {infos}")
    code, body = rest("GET", "/apps/rest/channels")
    if code != 200 or set(json.loads(body)["channels"]) != {"chan-r", "presence-r", "fail-r"}:
        raise SystemExit(f"GET /apps/rest/channels: {code} {body}")
    code, body = rest("GET", "/apps/rest/channels/presence-r/users")
    if code != 200 or len(json.loads(body)["users"]) != 1:
        raise SystemExit(f"GET users: {code} {body}")
    bad = [rest("POST", "/apps/rest/events", b"not json")[0], rest("GET", "/nope")[0],
           rest("GET", "/apps/rest/events")[0]]
    if bad != [400, 404, 405]:
        raise SystemExit(f"bad requests answered {bad}, expected [400, 404, 405]")
    lines.close()
    sub.close()  # vacates the three channels, removes the presence member
    # Webhooks: 3 x channel_occupied, member_added, member_removed, 3 x
    # channel_vacated; the demo's sink refuses the two about fail-r.
    deadline = time.time() + 20
    while True:
        after = samples(scrape(metrics_port))
        done = (value(after, "sockudo_webhooks_sent_total", app_id="rest"),
                value(after, "sockudo_webhooks_failed_total", app_id="rest"))
        if done == (6, 2) and value(after, "sockudo_queue_active_jobs") == 0:
            break
        if time.time() > deadline:
            raise SystemExit(f"webhooks sent and failed for app rest: {done}, expected (6, 2)")
        time.sleep(0.2)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    k = f"soketi_{app_port}_"
    want = {
        "REST bytes received": (delta(f"{k}http_received_bytes"), rest.sent),
        "REST bytes sent back": (delta(f"{k}http_transmitted_bytes"), rest.received),
        "POST /events 200": (delta("sockudo_http_requests_total", method="POST", endpoint="/events", status="200"), 6),
        "POST /events 400": (delta("sockudo_http_requests_total", method="POST", endpoint="/events", status="400"), 1),
        "GET unknown 404": (delta("sockudo_http_requests_total", method="GET", endpoint="unknown", status="404"), 1),
        "POST /events durations": (delta("sockudo_http_request_duration_seconds_count", method="POST", endpoint="/events"), 7),
        "public broadcasts": (delta("sockudo_broadcast_messages_total", app_id="rest", channel_type="public"), 6),
        "presence broadcasts": (delta("sockudo_broadcast_messages_total", app_id="rest", channel_type="presence"), 1),
        "public deliveries": (delta("sockudo_messages_sent_total", app_id="rest", channel_type="public"), 6),
        "queue jobs processed": (delta("sockudo_queue_jobs_processed_total"), 6),
        "queue jobs failed": (delta("sockudo_queue_jobs_failed_total"), 2),
        "webhook durations": (delta("sockudo_webhook_duration_seconds_count"), 8),
        "queue job durations": (delta("sockudo_queue_job_duration_seconds_count"), 8),
        "cache gets": (delta("sockudo_cache_hits_total") + delta("sockudo_cache_misses_total"), 2),
        "cache hits >= 1": (min(delta("sockudo_cache_hits_total"), 1), 1),
        "subscriptions": (delta("sockudo_channel_subscriptions_total", app_id="rest", channel_type="presence"), 1),
        "unsubscriptions": (delta("sockudo_channel_unsubscriptions_total", app_id="rest", channel_type="public"), 2),
        "active connections after close": (value(after, "sockudo_active_connections", app_id="rest"), 0),
        "adapter members ops": (delta("sockudo_adapter_operations_total", operation="members"), 1),
    }
    wrong = {k: v for k, v in want.items() if v[0] != v[1]}
    if wrong:
        raise SystemExit(f"demo counters (got, expected) differ from what the driver did: {wrong}")
    print(f"REST API, webhooks, queue and cache: {len(want)} counters equal what the driver did")


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)


def main():
    tmp = tempfile.mkdtemp(prefix="nanometrics-e2e-")
    app_port, api_port, metrics_port, prom_port = free_port(), free_port(), free_port(), free_port()
    env = dict(os.environ, PORT=str(app_port), PUBSUB_API_PORT=str(api_port), METRICS_PORT=str(metrics_port),
               METRICS_HOST="127.0.0.1")
    env.pop("METRICS_PROMETHEUS_PREFIX", None)
    env.pop("PROMETHEUS_METRICS_PREFIX", None)
    cats = seed_catalogue.catalogues()
    server = subprocess.Popen([f"{BIN}/pubsub_server"], env=env)
    PROCS.append(server)
    wait_port(app_port)
    wait_port(api_port)
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

    # Before the load, so that Prometheus has scraped the REST API's series
    # a few times by the time the dashboard's rates are checked.
    drive_rest(app_port, api_port, metrics_port)

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
        'sum(sockudo_messages_received_total{app_id="e2e"})': result["published"],
        'sum(sockudo_client_events_total{app_id="e2e"})': result["published"],
        'sum(sockudo_broadcast_messages_total{app_id="e2e"})': result["published"] - result["rate_limited"],
        'sum(sockudo_messages_sent_total{app_id="e2e"})': result["delivered"],
        'sum(sockudo_rate_limit_triggered_total{app_id="e2e"})': result["rate_limited"],
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

    prefixes = {"soketi": f"soketi_{app_port}_", "sockudo": "sockudo_"}
    text, om = scrape(metrics_port), scrape(metrics_port, openmetrics=True)
    n = seed_catalogue.check_scrape(text, om, prefixes, cats)
    # The check itself: a family left out, a label renamed, a type changed
    # must each fail it.
    mutants = {  # what: (the family the check must name, the altered scrape)
        "a family left out": ("sockudo_cache_hits_total", "\n".join(
            l for l in text.splitlines() if "sockudo_cache_hits_total" not in l) + "\n"),
        "a label renamed": ("sockudo_presence_members", re.sub(
            r"^(sockudo_presence_members)\{app_id=", r"\1{app=", text, flags=re.M)),
        "a type changed": ("sockudo_queue_active_jobs", text.replace(
            "# TYPE sockudo_queue_active_jobs gauge", "# TYPE sockudo_queue_active_jobs counter")),
    }
    for what, (family, bad) in mutants.items():
        if bad == text:
            raise SystemExit(f"mutant {what!r} changed nothing")
        try:
            seed_catalogue.check_scrape(bad, om, prefixes, cats)
        except SystemExit as e:
            if family in str(e):
                continue
            raise SystemExit(f"the catalogue check failed the scrape with {what}, but not on {family}: {e}")
        raise SystemExit(f"the catalogue check passed a scrape with {what}")
    print(f"text 0.0.4 and OpenMetrics scrapes carry all {n} documented soketi and sockudo families "
          f"(prefixes {prefixes}); promtool and the strict OpenMetrics parser accept them; "
          f"it fails {len(mutants)} altered scrapes")
    # Every counter and histogram moved, except those that count failures
    # the run had none of.
    smp = samples(scrape(metrics_port))
    idle = {"connection_errors_total", "rate_limit_triggered_total", "adapter_errors_total"}
    still = []
    for which, (_, fams) in cats.items():
        for name, fam in fams.items():
            if fam["type"] == "gauge" or name in idle:
                continue
            sample = prefixes[which] + name + ("_count" if fam["type"] == "histogram" else "")
            if not any(v > 0 for (n, _), v in smp.items() if n == sample):
                still.append(sample)
    if still:
        raise SystemExit(f"counters the run should have moved are all zero: {still}")
    print(f"every documented counter and histogram moved but {sorted(idle)}")

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
    values = {"prefix": dashboard.value(var["prefix"], None), "sockudo": dashboard.value(var["sockudo"], None),
              "soketi": f"soketi_{app_port}_", "__rate_interval": "1m"}
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
