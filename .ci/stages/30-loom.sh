#!/usr/bin/env bash
# Loom models of the core's lock-free protocols (loom-tests/tests/*.rs), built
# with the crate-specific cfg that swaps nanometrics onto loom's primitives.
# A separate target directory keeps the cfg from invalidating the normal build.
set -euo pipefail
cd "$(dirname "$0")/../.."

export RUSTFLAGS="--cfg nanometrics_loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
export CARGO_TARGET_DIR="${NANOMETRICS_LOOM_TARGET_DIR:-target/loom}"

# --nocapture shows each model's execution count and time.
cargo test --release -p nanometrics-loom-tests -- --nocapture --test-threads=1
