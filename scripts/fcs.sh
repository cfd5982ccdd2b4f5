#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root):
#   bash scripts/fcs.sh serve [server options]   build and run the failover HTTPS server
#   bash scripts/fcs.sh test                     build and run every test (what CI runs)
#   bash scripts/fcs.sh setup                    only install what is missing
# Idempotent: packages already installed are not touched, the build folder is reused.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FCS_BUILD_DIR:-$here/build}
jobs=${FCS_JOBS:-$(nproc)}

packages=(
  build-essential cmake ninja-build pkg-config
  android-libboringssl-dev libboost-test-dev libboost-dev librange-v3-dev libacl1-dev
  libbenchmark-dev
  # real peers used by the tests
  openssl curl python3 python3-cryptography gnutls-bin default-jre-headless acl
)

setup() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "fcs: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

configure() {
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${FCS_BUILD_TYPE:-RelWithDebInfo} \
    -DFCS_WERROR=${FCS_WERROR:-ON} "$@" >/dev/null
}

cmd=${1:-serve}; shift || true
case "$cmd" in
  setup) setup ;;
  build) setup; configure; cmake --build "$build" -j "$jobs" ;;
  serve)
    setup; configure
    cmake --build "$build" -j "$jobs" --target fcs-failover-server
    exec "$build/examples/failover_https_server/fcs-failover-server" serve "$@" ;;
  test)
    setup; configure
    cmake --build "$build" -j "$jobs"
    cd "$build" && ctest --output-on-failure -j "$jobs" "$@" ;;
  *) echo "usage: $0 serve|test|setup|build" >&2; exit 2 ;;
esac
