#!/usr/bin/env bash
# Runs the nanometrics benchmark suite and writes its tables.
#
#   benches/run.sh            criterion suite + iai-callgrind + allocation profile
#   benches/run.sh criterion  criterion benches only (about 8 minutes on 2 cores)
#   benches/run.sh iai        instruction counts only (needs valgrind)
#   benches/run.sh alloc      allocation and heap profile only
#   benches/run.sh spread     the slow-process check: 30 fresh processes' ratios to a
#                             thread-local floor (benches/scripts/floor_spread.sh)
#
# Output goes to target/bench-results/: criterion.md (medians with [p25–p75]),
# criterion.json, iai.txt, alloc.md, threads.svg (ops/s versus threads), and
# machine.txt (nproc, lscpu, load average, crate versions).
#
# Not part of CI: CI only builds the benches (.ci/stages/50-bench-build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
out=target/bench-results
mkdir -p "$out"

machine() {
  {
    echo "date: $(date -u +%FT%TZ)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "nproc: $(nproc)"
    lscpu | grep -E 'Model name|^CPU\(s\)|Thread\(s\) per core|Hypervisor'
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    rustc --version
    # Resolved versions of the peers, from the lock file.
    for c in nanometrics prometheus prometheus-client metrics metrics-exporter-prometheus \
             measured criterion iai-callgrind; do
      v=$(cargo tree -p nanometrics-benches -e normal,dev --depth 1 --prefix none 2>/dev/null \
            | grep -E "^$c v" | head -1 || true)
      echo "${v:-$c: ?}"
    done
  } > "$out/machine.txt"
}

# On a shared machine, wait (at most BENCH_QUIET_MAX_S seconds, default 120)
# for the 1-minute load average to drop below BENCH_QUIET_LOAD (default 1.5)
# before each timing binary, and log the load it started and ended at.
quiet() {
  local max=${BENCH_QUIET_MAX_S:-120} limit=${BENCH_QUIET_LOAD:-1.5} waited=0
  while [ "$waited" -lt "$max" ] &&
        awk -v l="$limit" '{ exit !($1 >= l) }' /proc/loadavg; do
    sleep 5; waited=$((waited + 5))
  done
  echo "$1: start load $(cut -d' ' -f1-3 /proc/loadavg) after waiting ${waited}s" >> "$out/machine.txt"
}

# BENCH_PROCESSES (default 1) runs every timing binary that many times, each
# in a fresh process, and the tables then give the median of the per-process
# medians with the range of those medians as the spread. Where a process's
# heap, stack and thread-local addresses fall (ASLR) moves a nanosecond loop's
# time by up to 2x in about one process in five on this machine (store/load
# address aliasing), for every library; one process per binary cannot tell
# that apart from a regression. BENCH_FILTER (a criterion regex) restricts
# every binary to the matching benchmarks.
criterion() {
  local processes=${BENCH_PROCESSES:-1} filter=${BENCH_FILTER:-} runs=""
  rm -rf target/criterion-processes
  cargo bench -p nanometrics-benches --no-run
  for k in $(seq 1 "$processes"); do
    rm -rf target/criterion target/criterion-occupancy.jsonl
    for b in counter_contention recording insert scrape; do
      quiet "$b (process $k of $processes)"
      cargo bench -p nanometrics-benches --bench "$b" -- ${filter:+"$filter"}
      echo "$b: end load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
    done
    mkdir -p target/criterion-processes
    cp -r target/criterion "target/criterion-processes/$k"
    cp target/criterion-occupancy.jsonl "target/criterion-processes/$k/" 2>/dev/null || true
    runs="${runs:+$runs,}target/criterion-processes/$k"
  done
  python3 benches/report.py --runs "$runs" --json "$out/criterion.json" \
    --groups counter_contention,counter_inc,gauge_inc_dec,histogram_observe,labeled_static,labeled_dynamic,first_insert,remove,encode,encode_mix,http_scrape \
    > "$out/criterion.md"
  python3 benches/plot.py "$out/criterion.json" "$out/threads.svg"
  echo "criterion tables: $out/criterion.md, plot: $out/threads.svg"
}

iai() {
  command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install valgrind)" >&2; exit 1; }
  # The runner must match the iai-callgrind library version exactly.
  want=$(cargo tree -p nanometrics-benches -e dev --depth 1 --prefix none \
           | sed -n 's/^iai-callgrind v\([0-9.]*\).*/\1/p' | head -1)
  # The runner has no usable `--version` (run by hand it only complains that
  # no library version was passed to it), so ask cargo what it installed.
  have=$(cargo install --list | sed -n 's/^iai-callgrind-runner v\([0-9.]*\):.*/\1/p' | head -1)
  if [ "$have" != "$want" ]; then
    cargo install --locked iai-callgrind-runner --version "$want"
  fi
  cargo bench -p nanometrics-benches --bench iai 2>&1 | tee "$out/iai.txt"
  python3 benches/iai_table.py "$out/iai.txt" > "$out/iai.md"
  echo "iai table: $out/iai.md"
}

alloc() {
  cargo bench -p nanometrics-benches --bench alloc_profile | tee "$out/alloc.md"
}

# The slow-process check: single-thread updates against a thread-local floor
# timed in the same process, over BENCH_SPREAD_PROCESSES fresh processes
# (default 30).
spread() {
  quiet floor_ratio
  benches/scripts/floor_spread.sh "${BENCH_SPREAD_PROCESSES:-30}"
}

machine
case "$what" in
  all) criterion; iai; alloc; spread ;;
  criterion) criterion ;;
  iai) iai ;;
  alloc) alloc ;;
  spread) spread ;;
  *) echo "usage: $0 [all|criterion|iai|alloc|spread]" >&2; exit 2 ;;
esac
