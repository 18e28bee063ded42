#!/usr/bin/env bash
# Builds (never runs) the benchmark crate: criterion and iai-callgrind benches
# must keep compiling. Running them is benches/run.sh's job, not CI's.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo bench -p nanometrics-benches --no-run
