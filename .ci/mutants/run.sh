#!/usr/bin/env bash
# Deliberately broken variants: each .ci/mutants/NN-name.patch must make the
# loom models it names (`# Models:`), or the test command it names
# (`# Command:`, run with the normal cfg), fail with the message it names
# (docs/verification.md, "Deliberately broken variants", describes each).
#
#   .ci/mutants/run.sh [patch...]      (default: every .ci/mutants/*.patch)
#
# A patch is a unified diff made with `git diff` against the working tree
# (paths a/... b/...), preceded by header lines, which `git apply` skips:
#   # Variant: what is broken, in one line
#   # Models: file::model ...   loom models that must fail on it (file is the
#                               loom-tests/tests/ file; may repeat)
#   # Expect: text              a substring of the failure it must fail with,
#                               so that a compile error or an unrelated panic
#                               does not count (may repeat: any one will do)
#
# The working tree (tracked files and untracked ones git does not ignore) is
# copied into one scratch directory, target/mutants/src; each patch is applied
# there, and the models run from it with the loom cfg and
# LOOM_MAX_PREEMPTIONS=2. The copy and the build directory
# (target/loom-mutants) are kept between runs, so each build is incremental:
# only a file that differs from the copy is rewritten, with a fresh mtime, so
# cargo rebuilds what changed (a file restored with its old mtime would let
# cargo keep the patched build). Give no other source tree the same build
# directory: cargo's fingerprints name source files relative to the package,
# so it would take the other tree's build as up to date.
#
# First the unpatched models run once (the control): each must pass. Then one
# line per (patch, model): `caught` when the model fails and its output holds
# an `# Expect:` line, else `SURVIVED`, `failed without the expected message`,
# `timed out`, `patch did not apply` or `did not build`. Exits non-zero unless
# every model catches its patch. Logs: target/mutants/logs/.
#
# A `# Command:` patch runs its command in the scratch copy without the loom
# cfg, in its own build directory (target/mutants-tests); the command must
# pass unpatched (its control) and fail patched with an `# Expect:` line.
#
# Environment: LOOM_MAX_PREEMPTIONS (default 2), NANOMETRICS_MUTANTS_TIMEOUT
# (seconds per model or command run, default 300),
# NANOMETRICS_MUTANTS_TARGET_DIR (default target/loom-mutants).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
patches=()
for p in "$@"; do
  [ -f "$p" ] || { echo "no such patch: $p" >&2; exit 2; }
  patches+=("$(realpath "$p")")
done
cd "$root"
if [ ${#patches[@]} -eq 0 ]; then
  patches=("$root"/.ci/mutants/*.patch)
fi
set -- "${patches[@]}"

work=$root/target/mutants
scratch=$work/src
logs=$work/logs
export CARGO_TARGET_DIR=${NANOMETRICS_MUTANTS_TARGET_DIR:-$root/target/loom-mutants}
case $CARGO_TARGET_DIR in /*) ;; *) CARGO_TARGET_DIR=$root/$CARGO_TARGET_DIR ;; esac
export RUSTFLAGS="--cfg nanometrics_loom"
export LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-2}
limit=${NANOMETRICS_MUTANTS_TIMEOUT:-300}
# The scratch copy lies inside this repository's (ignored) target/: keep git
# from finding the repository above it, so `git apply` patches the copy.
export GIT_CEILING_DIRECTORIES=$work
unset GIT_DIR GIT_WORK_TREE

# The header value(s) of `# Key:` lines before the diff, one per line.
header() {
  sed -n -e '/^diff --git /q' -e "s/^# $2: *//p" "$1"
}

# Makes the scratch copy equal to the working tree.
sync_tree() {
  mkdir -p "$scratch" "$logs"
  local list=$work/files f
  list=$work/files
  git ls-files -co --exclude-standard -z | sort -z >"$list"
  while IFS= read -r -d '' f; do
    # A tracked file deleted in the working tree is not copied (and goes).
    [ -e "$f" ] || [ -L "$f" ] || continue
    if [ -L "$f" ] || ! cmp -s "$f" "$scratch/$f"; then
      mkdir -p "$scratch/$(dirname "$f")"
      rm -f "$scratch/$f"
      cp -P "$f" "$scratch/$f"
    fi
  done <"$list"
  # Whatever the scratch holds beyond the list (a file a patch added, or one
  # since deleted here) goes.
  (cd "$scratch" && find . \( -type f -o -type l \) -printf '%P\0' | sort -z) |
    comm -z -23 - "$list" |
    while IFS= read -r -d '' f; do rm -f "$scratch/$f"; done
}

# Runs cargo in the scratch copy for one loom test file.
cargo_test() {
  (cd "$scratch" && cargo test --release -p nanometrics-loom-tests --test "$@")
}

# Builds the test file $1 (log $2); then prints the full test name of each
# model `file::name` in $3... (or nothing for one that does not exist).
build_and_list() {
  local file=$1 log=$2 m
  shift 2
  cargo_test "$file" --no-run >"$log" 2>&1 || return 1
  local names
  names=$(cargo_test "$file" -- --list 2>>"$log" | sed -n 's/: test$//p')
  for m in "$@"; do
    grep -E "(^|::)${m#*::}\$" <<<"$names" | head -n 1 || true
  done
}

# Runs one model (file, full test name) under the time limit; log in $3.
# Returns 0 if it passed, 124 if it timed out, 1 otherwise.
run_model() {
  local rc=0
  timeout --kill-after=10 "$limit" \
    bash -c 'cd "$0" && cargo test --release -p nanometrics-loom-tests --test "$1" -- "$2" --exact --nocapture --test-threads=1' \
    "$scratch" "$1" "$2" >"$3" 2>&1 || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then return 124; fi
  if [ "$rc" -eq 0 ] && grep -q 'test result: ok. 1 passed' "$3"; then return 0; fi
  return 1
}

tests_target=$root/target/mutants-tests

# Runs a `# Command:` ($1) in the scratch copy with the normal cfg under the
# time limit; log in $2. Returns 0 if it passed, 124 if it timed out, 1
# otherwise.
run_command() {
  local rc=0
  timeout --kill-after=10 "$limit" \
    env -u RUSTFLAGS CARGO_TARGET_DIR="$tests_target" bash -c 'cd "$0" && eval "$1"' \
    "$scratch" "$1" >"$2" 2>&1 || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then return 124; fi
  [ "$rc" -eq 0 ] && return 0
  return 1
}

# Prints the verdict on one patched run ($1: what ran, $2: the patch, $3: its
# status from run_model/run_command, $4: its log, $5: a note for SURVIVED);
# returns 0 only if it was caught: it failed with an `# Expect:` line.
verdict() {
  case $3 in
    0) echo "$1 SURVIVED ($5log: $4)"; return 1 ;;
    124) echo "$1 timed out after ${limit} s (log: $4)"; return 1 ;;
  esac
  local want
  while IFS= read -r want; do
    if [ -n "$want" ] && grep -aqF -- "$want" "$4"; then
      echo "$1 caught: $want"
      return 0
    fi
  done < <(header "$2" Expect)
  echo "$1 failed without the expected message (log: $4)"
  return 1
}

# Every model the patches name, once each, and every command: the control set.
declare -A control=()
declare -A control_commands=()
for p in "$@"; do
  models=$(header "$p" Models)
  cmd=$(header "$p" Command)
  [ -n "$models$cmd" ] || { echo "$p: no '# Models:' or '# Command:' line" >&2; exit 2; }
  [ -n "$(header "$p" Expect)" ] || { echo "$p: no '# Expect:' line" >&2; exit 2; }
  for m in $models; do control[$m]=1; done
  [ -z "$cmd" ] || control_commands[$cmd]=1
done

# Runs the models $2... (`file::name`) in the scratch copy as it is, under the
# label $1, printing one line each; returns how many did not pass/fail as
# wanted. With label "control" each must pass; else each must be caught.
failures=0
check_models() {
  local label=$1 patch=${2:-}
  shift 2
  local -A by_file=()
  local m file
  for m in "$@"; do by_file[${m%%::*}]+=" $m"; done
  local bad=0
  for file in "${!by_file[@]}"; do
    local models=(${by_file[$file]})
    local blog=$logs/$label-$file-build.log
    local names
    if ! names=$(build_and_list "$file" "$blog" "${models[@]}"); then
      for m in "${models[@]}"; do echo "$label $m did not build (log: $blog)"; done
      bad=$((bad + ${#models[@]}))
      continue
    fi
    local i=0
    local -a full
    mapfile -t full <<<"$names"
    for m in "${models[@]}"; do
      local name=${full[$i]:-}
      i=$((i + 1))
      local log=$logs/$label-${m//::/-}.log
      if [ -z "$name" ]; then
        echo "$label $m: no such model in loom-tests/tests/$file.rs"
        bad=$((bad + 1))
        continue
      fi
      local rc=0
      run_model "$file" "$name" "$log" || rc=$?
      local took
      took=$(sed -n 's/.*loom model .*: \([0-9]* executions in [^ ]*\) .*/\1/p' "$log" | tail -n 1)
      if [ "$label" = control ]; then
        case $rc in
          0) echo "control $m passed (${took:-?})" ;;
          124) echo "control $m timed out after ${limit} s (log: $log)"; bad=$((bad + 1)) ;;
          *) echo "control $m FAILED (log: $log)"; bad=$((bad + 1)) ;;
        esac
        continue
      fi
      verdict "$label $m" "$patch" "$rc" "$log" "${took:-?}; " || bad=$((bad + 1))
    done
  done
  return "$bad"
}

t0=$SECONDS
sync_tree
n=0
if [ ${#control[@]} -gt 0 ]; then
  check_models control "" "${!control[@]}" || n=$?
fi
k=0
for cmd in "${!control_commands[@]}"; do
  k=$((k + 1))
  log=$logs/control-command-$k.log
  rc=0
  run_command "$cmd" "$log" || rc=$?
  case $rc in
    0) echo "control '$cmd' passed" ;;
    124) echo "control '$cmd' timed out after ${limit} s (log: $log)"; n=$((n + 1)) ;;
    *) echo "control '$cmd' FAILED (log: $log)"; n=$((n + 1)) ;;
  esac
done
if [ "$n" -ne 0 ]; then
  echo "mutants: the control failed ($n models); no patch was tried"
  exit 1
fi

total=0
for p in "$@"; do
  label=$(basename "$p" .patch)
  models=$(header "$p" Models)
  cmd=$(header "$p" Command)
  checks=$(($(wc -w <<<"$models") + $([ -n "$cmd" ] && echo 1 || echo 0)))
  sync_tree
  if ! git -C "$scratch" apply --whitespace=nowarn "$p" 2>"$logs/$label-apply.log"; then
    echo "$label patch did not apply (log: $logs/$label-apply.log)"
    n=$checks
  else
    n=0
    if [ -n "$models" ]; then
      check_models "$label" "$p" $models || n=$?
    fi
    if [ -n "$cmd" ]; then
      log=$logs/$label-command.log
      rc=0
      run_command "$cmd" "$log" || rc=$?
      verdict "$label '$cmd'" "$p" "$rc" "$log" "" || n=$((n + 1))
    fi
  fi
  failures=$((failures + n))
  total=$((total + checks))
done
sync_tree

echo "mutants: $(($# )) patches, $total (patch, model or command) pairs, $((total - failures)) caught, $failures not; control passed; $((SECONDS - t0)) s"
[ "$failures" -eq 0 ]
