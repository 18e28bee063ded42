# Shared set-up for .ci stages: source it, then call what the stage needs.
# Each function installs its tool when missing and fails (never skips) when
# it cannot.

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# promtool and prometheus, from Debian's `prometheus` package.
ensure_prometheus() {
  if command -v promtool >/dev/null && command -v prometheus >/dev/null; then return 0; fi
  echo "installing Debian package prometheus"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 ||
    { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q --no-install-recommends prometheus >/dev/null; }
  command -v promtool >/dev/null && command -v prometheus >/dev/null ||
    { echo "prometheus/promtool missing after install" >&2; return 1; }
}

# Python's official prometheus_client (text and OpenMetrics parsers).
ensure_prometheus_client() {
  if python3 -c 'import prometheus_client' 2>/dev/null; then return 0; fi
  echo "installing Python package prometheus_client"
  python3 -m pip install -q prometheus_client || python3 -m pip install -q --break-system-packages prometheus_client
  python3 -c 'import prometheus_client' || { echo "prometheus_client missing after install" >&2; return 1; }
}

# A nightly toolchain with the given components (e.g. miri rust-src),
# installed with rustup when missing; fails when it cannot be installed.
ensure_nightly() {
  if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "installing the nightly toolchain (minimal profile)"
    timeout 600 rustup toolchain install nightly --profile minimal ||
      { echo "nightly toolchain missing and could not be installed" >&2; return 1; }
  fi
  local installed c
  installed=$(rustup +nightly component list --installed 2>/dev/null || true)
  for c in "$@"; do
    if ! grep -q "^$c" <<<"$installed"; then
      timeout 600 rustup component add "$c" --toolchain nightly ||
        { echo "nightly component $c missing and could not be installed" >&2; return 1; }
    fi
  done
}
