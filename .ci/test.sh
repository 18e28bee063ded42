#!/usr/bin/env bash
# Runs every nanometrics test and does its own set-up: the README's test
# command, and what .ci/run (CI) calls. Each stage prints its name and time;
# the first failing stage fails the run.
#
# Stages in .ci/stages/*.sh run in name order after the core gates; each
# installs what it needs (promtool, Python parsers, nightly components) and
# fails, never skips, when a validator it owns is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
export RUST_BACKTRACE=1

stage() {
  local name=$1; shift
  local t0=$SECONDS
  echo "=== $name"
  "$@"
  echo "=== $name: ok ($((SECONDS - t0)) s)"
}

stage "rustfmt" cargo fmt --all --check
# Seconds here, rather than after the build and loom stages: every broken
# variant of stage 32 still applies to the code it breaks.
mutants_apply() {
  local p
  for p in .ci/mutants/*.patch; do
    git apply --check "$p" || { echo "$p no longer applies: regenerate it" >&2; return 1; }
  done
}
stage "mutants apply" mutants_apply
stage "clippy" cargo clippy --workspace --all-targets -- -D warnings
stage "test (debug)" cargo test --workspace
stage "test (release)" cargo test --release -p nanometrics
stage "doc" env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p nanometrics

for s in .ci/stages/*.sh; do
  [ -e "$s" ] || continue
  stage "$(basename "$s" .sh)" bash "$s"
done
echo "=== all stages passed in $SECONDS s"
