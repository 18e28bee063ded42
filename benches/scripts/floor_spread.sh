#!/usr/bin/env bash
# The slow-process check: runs benches/src/bin/floor_ratio.rs in N fresh
# processes (default 30) and reports, per operation, the spread of its ratio
# to a thread-local floor timed interleaved in the same process: minimum,
# median, maximum, and how many processes landed above 1.3x and above 2x.
#
#   benches/scripts/floor_spread.sh [processes]
#
# A timing, so not part of CI; on a shared machine run it while the load is
# low (benches/run.sh waits for that). Writes target/bench-results/spread.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-30}
out=target/bench-results
mkdir -p "$out"
cargo build -q --release -p nanometrics-benches --bin floor_ratio
bin="${CARGO_TARGET_DIR:-target}/release/floor_ratio"
runs=$(mktemp)
for _ in $(seq "$n"); do "$bin" >>"$runs"; done
python3 - "$runs" "$n" <<'PY' | tee "$out/spread.txt"
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    name, r, u, f = line.split()
    rows.setdefault(name, []).append((float(r), float(u), float(f)))
print(f"{sys.argv[2]} fresh processes, ratio to the thread-local floor timed in the same process;")
print("ns per operation: each process' median, then min/median/max over processes")
print(f"{'operation':<24} {'min':>5} {'median':>6} {'max':>5} {'>1.3x':>5} {'>2x':>4}"
      f" {'update ns':>17} {'floor ns':>17}")
def mmm(xs):
    return f"{min(xs):5.2f}/{statistics.median(xs):5.2f}/{max(xs):5.2f}"
for name, v in rows.items():
    rs = [x[0] for x in v]
    print(f"{name:<24} {min(rs):5.2f} {statistics.median(rs):6.2f} {max(rs):5.2f} "
          f"{sum(r > 1.3 for r in rs):5d} {sum(r > 2 for r in rs):4d} "
          f"{mmm([x[1] for x in v]):>17} {mmm([x[2] for x in v]):>17}")
PY
rm -f "$runs"
