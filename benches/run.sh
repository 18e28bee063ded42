#!/usr/bin/env bash
# Runs the nanometrics benchmark suite and writes its tables.
#
#   benches/run.sh            criterion suite + iai-callgrind + allocation profile
#   benches/run.sh criterion  criterion benches only (about 6 minutes on 2 cores)
#   benches/run.sh iai        instruction counts only (needs valgrind)
#   benches/run.sh alloc      allocation and heap profile only
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

criterion() {
  for b in counter_contention recording insert; do
    cargo bench -p nanometrics-benches --bench "$b"
  done
  python3 benches/report.py target --json "$out/criterion.json" > "$out/criterion.md"
  python3 benches/plot.py "$out/criterion.json" "$out/threads.svg"
  echo "criterion tables: $out/criterion.md, plot: $out/threads.svg"
}

iai() {
  command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install valgrind)" >&2; exit 1; }
  # The runner must match the iai-callgrind library version exactly.
  want=$(cargo tree -p nanometrics-benches -e dev --depth 1 --prefix none \
           | sed -n 's/^iai-callgrind v\([0-9.]*\).*/\1/p' | head -1)
  have=$(iai-callgrind-runner --version 2>/dev/null | awk '{print $2}' || true)
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

machine
case "$what" in
  all) criterion; iai; alloc ;;
  criterion) criterion ;;
  iai) iai ;;
  alloc) alloc ;;
  *) echo "usage: $0 [all|criterion|iai|alloc]" >&2; exit 2 ;;
esac
