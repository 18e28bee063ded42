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
    name, r = line.split()
    rows.setdefault(name, []).append(float(r))
print(f"{sys.argv[2]} fresh processes, ratio to the thread-local floor timed in the same process")
print(f"{'operation':<26} {'min':>6} {'median':>7} {'max':>6} {'>1.3x':>6} {'>2x':>4}")
for name, rs in rows.items():
    print(f"{name:<26} {min(rs):6.2f} {statistics.median(rs):7.2f} {max(rs):6.2f} "
          f"{sum(r > 1.3 for r in rs):6d} {sum(r > 2 for r in rs):4d}")
PY
rm -f "$runs"
