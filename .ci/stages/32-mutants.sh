#!/usr/bin/env bash
# Deliberately broken variants (.ci/mutants/*.patch): each is applied to a
# scratch copy of the working tree and the loom models it names must fail on
# it, with the failure it names; the same models must pass unpatched. Shows
# that the loom models (stage 30) can fail: a variant that survives means a
# model no longer tests what docs/verification.md says it does.
# Own build directory (target/loom-mutants), kept between runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

exec .ci/mutants/run.sh
