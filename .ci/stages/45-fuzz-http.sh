#!/usr/bin/env bash
# Fuzzes the HTTP responder's targets (fuzz/fuzz_targets/{http_request,config_env}.rs)
# for a bounded time each where a nightly toolchain exists, as 40-fuzz-encoding.sh
# does for the encoder's. The committed seed corpus (fuzz/corpus/<target>/) is
# replayed, with a seeded mutation search, on stable by tests/fuzz_corpus_http.rs
# in every run. New corpus entries go to target/fuzz-corpus/; a crash fails the
# stage (the input is left in fuzz/artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "no nightly toolchain: only the stable corpus replay (tests/fuzz_corpus_http.rs) ran"
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

for target in http_request config_env; do
  cargo +nightly fuzz build --fuzz-dir fuzz "$target"
done
for target in http_request config_env; do
  scratch=target/fuzz-corpus/$target
  mkdir -p "$scratch"
  echo "fuzzing $target for ${SECONDS_PER_TARGET}s"
  # -rss_limit_mb bounds memory: the property keeps one head buffer per input.
  cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$scratch" "fuzz/corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=1024 -max_len=65536 \
    -print_final_stats=1 2>&1 \
    | grep -E "^(#[0-9]+\s+DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|thread|panicked|.*Test unit written)" || true
  # grep hides libFuzzer's progress lines; the pipeline's status is cargo fuzz's.
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz target $target failed" >&2; exit 1; }
done
