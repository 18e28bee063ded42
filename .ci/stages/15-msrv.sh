#!/usr/bin/env bash
# The declared minimum Rust version (Cargo.toml's `rust-version`) builds the
# library and passes its tests: the library, integration and doc tests of
# `nanometrics`, on the committed Cargo.lock, with the MSRV toolchain that
# rustup installs here if it is missing (a minimal profile, about 70 MB).
#
# Where rustup is missing or cannot download the toolchain (an offline CI
# image, or no answer in 5 minutes), the stage says so and passes: the stable
# stages still run; the declared version is then unchecked, and the log says
# it.
set -euo pipefail
cd "$(dirname "$0")/../.."

msrv=$(sed -n 's/^rust-version *= *"\([0-9.]*\)"/\1/p' Cargo.toml | head -1)
if [ -z "$msrv" ]; then
  echo "no rust-version in Cargo.toml" >&2
  exit 1
fi
# rust-version "1.83" means the 1.83.0 release.
toolchain=$msrv
[[ $toolchain =~ ^[0-9]+\.[0-9]+$ ]] && toolchain=$toolchain.0

if ! command -v rustup >/dev/null 2>&1; then
  echo "MSRV $toolchain unchecked: no rustup"
  exit 0
fi
if ! cargo "+$toolchain" --version >/dev/null 2>&1; then
  if ! timeout 300 rustup toolchain install "$toolchain" --profile minimal; then
    echo "MSRV $toolchain unchecked: rustup could not install it"
    exit 0
  fi
fi

# Its own target directory: artifacts of two compilers do not mix.
export CARGO_TARGET_DIR="${NANOMETRICS_MSRV_TARGET_DIR:-target/msrv}"
cargo "+$toolchain" --version
cargo "+$toolchain" test --locked -p nanometrics
