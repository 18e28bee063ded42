#!/usr/bin/env bash
# Fuzzes the text encoder's targets (fuzz/fuzz_targets/{text_encode,label_escape}.rs)
# for a bounded time each where a nightly toolchain exists. The committed seed
# corpus (fuzz/corpus/<target>/) is replayed on stable by tests/fuzz_corpus.rs
# in every run, nightly or not. New corpus entries go to target/fuzz-corpus/,
# never into the committed corpus; a crash fails the stage (the input is left
# in fuzz/artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_PER_TARGET=${FUZZ_SECONDS:-45}

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "no nightly toolchain: only the stable corpus replay (tests/fuzz_corpus.rs) ran"
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# Build once for both targets, then run each for a bounded time.
cargo +nightly fuzz build --fuzz-dir fuzz text_encode
cargo +nightly fuzz build --fuzz-dir fuzz label_escape
cargo +nightly fuzz build --fuzz-dir fuzz accept_negotiation
for target in text_encode label_escape accept_negotiation; do
  scratch=target/fuzz-corpus/$target
  mkdir -p "$scratch"
  echo "fuzzing $target for ${SECONDS_PER_TARGET}s"
  cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$scratch" "fuzz/corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
    | grep -E "^(#[0-9]+\s+DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|thread|panicked|.*Test unit written)" || true
  # grep hides libFuzzer's progress lines; the pipeline's status is cargo fuzz's.
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz target $target failed" >&2; exit 1; }
done
