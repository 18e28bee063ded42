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

# Whether a nightly toolchain is installed.
have_nightly() {
  rustup toolchain list 2>/dev/null | grep -q '^nightly'
}
