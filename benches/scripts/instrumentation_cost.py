#!/usr/bin/env python3
"""Cost of instrumentation in the demo: the same unpaced load against
pubsub_server with recording on (PUBSUB_RECORD=1) and off (PUBSUB_RECORD=0),
alternating runs so that drift on a shared machine hits both alike.

    cargo build --release --example pubsub_server --example pubsub_load
    python3 benches/scripts/instrumentation_cost.py [--runs 5] [--duration 5]

Prints, per run, deliveries/s and the server's CPU time (user + system, from
/proc) per delivered message, then the medians and on/off ratios of both. On
a small shared machine the load generator competes with the server for the
cores and throughput swings from run to run; CPU per message is the steadier
figure.
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import time

BIN = "target/release/examples"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} never opened")


def run(record, args):
    port = free_port()
    env = dict(os.environ, PORT=str(port), PUBSUB_RECORD=record, METRICS_PORT=str(free_port()))
    server = subprocess.Popen([f"{BIN}/pubsub_server"], env=env, stdout=subprocess.DEVNULL)
    try:
        wait_port(port)
        out = subprocess.run(
            [f"{BIN}/pubsub_load", "--addr", f"127.0.0.1:{port}", "--rate", "0",
             "--connections", str(args.connections), "--channels", str(args.channels),
             "--publishers", str(args.publishers), "--duration", str(args.duration)],
            capture_output=True, text=True, timeout=args.duration + 60, check=True,
        ).stdout
        r = json.loads(re.search(r"^RESULT (\{.*\})$", out, re.M).group(1))
        with open(f"/proc/{server.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)
        cpu_ns = ticks / os.sysconf("SC_CLK_TCK") * 1e9
        return r["delivered"] / r["duration_s"], cpu_ns / max(r["delivered"], 1)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--publishers", type=int, default=2)
    args = ap.parse_args()
    on, off = [], []
    for i in range(args.runs):
        for record, acc in (("1", on), ("0", off)) if i % 2 == 0 else (("0", off), ("1", on)):
            acc.append(run(record, args))
            print(f"run {i} record={record}: {acc[-1][0]:,.0f} deliveries/s, "
                  f"server CPU {acc[-1][1]:,.0f} ns/delivery", flush=True)

    def spread(xs):
        return (max(xs) - min(xs)) / statistics.median(xs) * 100

    for k, what, unit in ((0, "throughput", "/s"), (1, "server CPU per delivery", " ns")):
        a, b = [x[k] for x in on], [x[k] for x in off]
        m_on, m_off = statistics.median(a), statistics.median(b)
        print(f"{what}: on {m_on:,.0f}{unit} (spread {spread(a):.1f}%), off {m_off:,.0f}{unit} "
              f"(spread {spread(b):.1f}%), on/off {m_on / m_off:.4f} ({(m_on / m_off - 1) * 100:+.2f}%)")


if __name__ == "__main__":
    main()
