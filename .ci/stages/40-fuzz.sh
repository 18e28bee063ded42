#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets/*.rs) for a bounded time on
# nightly (installed with rustup when missing; the stage fails when it cannot
# be). The committed seed corpora (fuzz/corpus/<target>/) are also replayed on
# stable in every run by tests/fuzz_corpus.rs, tests/fuzz_corpus_http.rs and
# tests/fuzz_corpus_push.rs.
# New corpus entries go to target/fuzz-corpus/, never into the committed
# corpus; a crash fails the stage (the input is left in
# fuzz/artifacts/<target>/ and must become a regression test).
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh

SECONDS_PER_TARGET=${FUZZ_SECONDS:-25}
TARGETS="text_encode label_escape accept_negotiation http_request config_env push_config"

ensure_nightly
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

cargo +nightly fuzz build --fuzz-dir fuzz
for target in $TARGETS; do
  scratch=target/fuzz-corpus/$target
  mkdir -p "$scratch"
  echo "fuzzing $target for ${SECONDS_PER_TARGET}s"
  # -rss_limit_mb and -max_len bound memory; -timeout bounds one input's time.
  cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$scratch" "fuzz/corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 2>&1 \
    | grep -E "^(#[0-9]+\s+DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|thread|panicked|.*Test unit written)" || true
  # grep hides libFuzzer's progress lines; the pipeline's status is cargo fuzz's.
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz target $target failed" >&2; exit 1; }
done
