#!/usr/bin/env bash
# Miri over the library's unit tests: every module with `unsafe` (shard,
# family, process) and the rest of the lib tests with them. Tests that Miri
# cannot run are skipped by `cfg_attr(miri, ignore = "...")` next to the test
# and listed in docs/verification.md.
#
# Needs nightly with miri and rust-src: installed with rustup when missing;
# the stage fails (never skips) when they cannot be.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh

ensure_nightly miri rust-src

# Strict provenance: the core only turns pointers it got from Box::into_raw
# back into references, never integers into pointers. Two seeds, run in
# parallel on the two cores: each takes different thread interleavings and
# weak-memory outcomes through the threaded tests (about 3.5 minutes of tests
# on 2 cores; more seeds by hand with MIRIFLAGS).
# Under Miri the shard table is smaller (src/shard/mod.rs) and the threaded tests
# loop fewer times. Miri's own target directory keeps it apart from the normal
# and loom builds.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance -Zmiri-many-seeds=0..2}"
export CARGO_TARGET_DIR="${NANOMETRICS_MIRI_TARGET_DIR:-target/miri}"
cargo +nightly miri setup
# The modules that hold `unsafe` (shard, family, process, encoding::copy;
# http/server/'s one `poll` call is only reached over real sockets, which
# Miri cannot run), the metric types and registry that drive the shard code
# through the real thread-locals, and the encoder test that drives the short
# copies through real sample lines. The other encoder, HTTP parsing and
# configuration tests (safe code only) are left to the normal runs: under
# Miri they would triple the time.
cargo +nightly miri test -p nanometrics --lib -- shard:: family:: process:: metric:: registry:: encoding::copy:: encoding::text::tests::sample_lines
