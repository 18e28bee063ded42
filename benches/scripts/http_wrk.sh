#!/usr/bin/env bash
# Requests per second, p99 latency and non-2xx answers of `wrk` against
# nanometrics' responder and a thread-per-connection responder on the
# `prometheus` crate (benches/src/bin/http_responder.rs), same registry, same
# run: 1,000 and 10,000 series; 1 connection (no two scrapes overlap, so no
# render is shared: the cost of one scrape), 20 and 64.
#
#   benches/scripts/http_wrk.sh [seconds per run, default 10]
#
# Needs wrk (Debian: apt-get install wrk). wrk, the server and this machine's
# other work share the CPUs: compare rows of one run only.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
cargo build -q --release -p nanometrics-benches --bin http_responder
bin=target/release/http_responder
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null' EXIT
printf '%-12s %7s %5s %12s %10s %8s\n' responder series conns 'requests/s' 'p99' 'non-2xx'
for series in 1000 10000; do
  for conns in 1 20 64; do
    for who in nanometrics prometheus; do
      out=$(mktemp)
      "$bin" "$who" "$series" >"$out" &
      pid=$!
      for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.05; done
      addr=$(head -1 "$out")
      [ -n "$addr" ] || { echo "$who did not start" >&2; exit 1; }
      # Warm-up, then the measured run.
      threads=$(( conns < 2 ? conns : 2 ))
      wrk -t"$threads" -c"$conns" -d1s "http://$addr/metrics" >/dev/null
      res=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "http://$addr/metrics")
      kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
      rm -f "$out"
      rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$res")
      p99=$(awk '$1 == "99%" {print $2}' <<<"$res")
      bad=$(awk '/Non-2xx/ {print $NF}' <<<"$res")
      errs=$(awk '/Socket errors/ {print}' <<<"$res")
      printf '%-12s %7s %5s %12s %10s %8s %s\n' "$who" "$series" "$conns" "$rps" "$p99" "${bad:-0}" "$errs"
    done
  done
done
