#!/usr/bin/env bash
# Whether the family's short key shape (values of 8 to 15 bytes, two words
# each) pays for itself: builds the iai benches twice, as they are and with
# short keys folded into the long shape (`Shape::of` never returns `Short`,
# and `Family::with` sends every non-compact key down the long path), and
# prints `dynamic_short_nanometrics` from both.
#
#   benches/scripts/fold_short_shape.sh      (about 8 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
tree=$(mktemp -d)
trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
git worktree add -q --detach "$tree" HEAD
# The fold, as two edits (each must apply exactly once).
python3 - "$tree" <<'PY'
import sys
root = sys.argv[1]
edits = [
    ("src/family/key.rs",
     "        } else if max <= SHORT {\n            Shape::Short\n        } else {",
     "        } else {"),
    ("src/family/mod.rs",
     "if values.iter().any(|v| v.len() > SHORT) {",
     "if values.iter().any(|v| v.len() > SHORT) || N > 0 {"),
]
for path, old, new in edits:
    p = f"{root}/{path}"
    s = open(p).read()
    assert s.count(old) == 1, (path, old)
    open(p, "w").write(s.replace(old, new))
PY
count() {
  awk '/^iai::/{name=$1} /Instructions:/{print name, $2}' \
    | grep 'dynamic_short_nanometrics' | sed 's/|.*//'
}
echo "as is:  $(CARGO_TARGET_DIR="$root/target/iai-shape" cargo bench -q -p nanometrics-benches --bench iai 2>/dev/null | count)"
echo "folded: $(cd "$tree" && CARGO_TARGET_DIR="$root/target/iai-shape-fold" cargo bench -q -p nanometrics-benches --bench iai 2>/dev/null | count)"
