#!/usr/bin/env bash
# The feature sets users pick build (the library alone): none, `http`, the
# default, and all features (`test-support` and `metrics-facade` included),
# and the facade recorder's own checks. Then a probe crate
# proves that the test-only modules (`encoding::parse`, `fuzz`, behind the
# `test-support` feature) stay out of user builds: with default features and
# with none, code that names them must fail to compile, and with
# `test-support` the same code must compile (so the failures are the gating
# and not a typo in the probe).
#
# Builds into the usual target directory (`$CARGO_TARGET_DIR`, else target/);
# the probe is its own one-package workspace under <target>/features-probe.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
target_dir=${CARGO_TARGET_DIR:-target}
case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac

for features in "--no-default-features" "--no-default-features --features http" "" "--all-features"; do
  echo "cargo build -p nanometrics --lib ${features:-(default features)}"
  # shellcheck disable=SC2086 # $features is a list of flags
  cargo build --quiet -p nanometrics --lib $features
done

# The `metrics` facade recorder (feature `metrics-facade`, off by default,
# so the core gates never build it): clippy, its unit tests, its doctests and
# tests/facade.rs (a scrape compared with metrics-exporter-prometheus' for the
# same calls, and the rules for what it drops).
echo "cargo clippy -p nanometrics --all-targets --features metrics-facade"
cargo clippy --quiet -p nanometrics --all-targets --features metrics-facade -- -D warnings
echo "cargo test -p nanometrics --features metrics-facade --lib --doc --test facade (facade)"
cargo test --quiet -p nanometrics --features metrics-facade --lib -- facade
cargo test --quiet -p nanometrics --features metrics-facade --doc -- facade
cargo test --quiet -p nanometrics --features metrics-facade --test facade

probe=$target_dir/features-probe
# Its target/ stays between runs; the sources are written afresh.
rm -rf "$probe/src" "$probe/Cargo.toml"
mkdir -p "$probe/src"
# The root lock file pins the same dependency versions, so no index update.
cp Cargo.lock "$probe/Cargo.lock"
cat >"$probe/src/main.rs" <<'EOF'
fn main() {
    let _ = nanometrics::fuzz::text_encode;
    let _ = nanometrics::encoding::parse::parse;
}
EOF
export CARGO_TARGET_DIR=$probe/target
# $1: the dependency's feature keys; $2: expected outcome (pass or fail).
probe() {
  cat >"$probe/Cargo.toml" <<EOF
[package]
name = "nanometrics-features-probe"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
nanometrics = { path = "$root", $1 }

[workspace]
EOF
  echo "probe with { $1 }: must $2"
  local out status=0
  out=$(cargo check --quiet --manifest-path "$probe/Cargo.toml" 2>&1) || status=$?
  if [ "$2" = pass ]; then
    [ "$status" -eq 0 ] || { echo "$out" >&2; echo "the probe should compile with test-support" >&2; return 1; }
  else
    if [ "$status" -eq 0 ]; then
      echo "nanometrics::fuzz or encoding::parse is reachable with { $1 }: the test-support gating regressed" >&2
      return 1
    fi
    # Fail for the right reason: both gated paths unresolved.
    grep -q 'error\[E0433\].*`fuzz`' <<<"$out" && grep -q 'error\[E0433\].*`parse`' <<<"$out" || {
      echo "$out" >&2; echo "the probe must fail on both gated paths: one is reachable, or the probe is broken" >&2; return 1; }
  fi
}
probe 'default-features = true' fail
probe 'default-features = false' fail
probe 'default-features = false, features = ["test-support"]' pass
