#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root):
#   bash scripts/fcs.sh serve [server options]   build and run the failover HTTPS server
#   bash scripts/fcs.sh test                     build and run every test (what CI runs)
#   bash scripts/fcs.sh setup                    only install what is missing
# `test` also rebuilds with clang under ASan+UBSan, reruns the suite and runs each fuzz target
# for FCS_FUZZ_SECONDS (default 30), and runs the hot-swap and server tests under TSan;
# FCS_SANITIZERS=0 skips those stages.
# Idempotent: packages already installed are not touched, the build folder is reused.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FCS_BUILD_DIR:-$here/build}
jobs=${FCS_JOBS:-$(nproc)}

packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  android-libboringssl-dev libboost-test-dev libboost-dev librange-v3-dev libacl1-dev
  libcli11-dev nlohmann-json3-dev
  libbenchmark-dev
  # real peers used by the tests
  openssl curl python3 python3-cryptography gnutls-bin default-jre-headless acl
  etcd-server etcd-client
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

# ASan+UBSan build (clang): the test suite again, then every libFuzzer target for a bounded time.
sanitizers() {
  local san=$here/build-san secs=${FCS_FUZZ_SECONDS:-30}
  CC=clang CXX=clang++ cmake -S "$here" -B "$san" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFCS_SANITIZE=address,undefined -DFCS_FUZZ=ON -DFCS_WERROR=ON -DFCS_BUILD_BENCHMARKS=OFF \
    -DFCS_HEADER_CHECK=OFF >/dev/null
  cmake --build "$san" -j "$jobs"
  echo "== ASan+UBSan: test suite"
  (cd "$san" && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j "$jobs" -E "^(package|compile_fail)\\.")
  echo "== libFuzzer: ${secs}s per target"
  local t corpus
  for t in $(cd "$san/tests/fuzz" && ls fcs_fuzz_* | grep -v replay | sed 's/^fcs_fuzz_//'); do
    corpus=$san/fuzz-corpus/$t
    mkdir -p "$corpus" "$san/fuzz-artifacts"
    cp -n "$san/tests/fuzz/seeds/$t/"* "$here/tests/fuzz/regressions/$t/"* "$corpus/" 2>/dev/null || true
    "$san/tests/fuzz/fcs_fuzz_$t" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$san/fuzz-artifacts/$t-" "$corpus" 2>"$san/fuzz-$t.log" || {
        tail -40 "$san/fuzz-$t.log"; echo "fuzz target $t crashed: see $san/fuzz-artifacts"; return 1; }
    echo "fuzz-figures: $t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$san/fuzz-$t.log" | grep -o '[0-9]*$') runs in ${secs}s, 0 crashes"
  done
}

# TSan build (gcc): the hot-swap and server tests, where threads meet.
tsan() {
  local ts=$here/build-tsan
  cmake -S "$here" -B "$ts" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFCS_SANITIZE=thread \
    -DFCS_WERROR=ON -DFCS_BUILD_BENCHMARKS=OFF -DFCS_HEADER_CHECK=OFF >/dev/null
  # Every program the e2e_server tests run (fcs-switchover too: a test that needs a missing
  # program skips its part, and a skip must not pass for a run here).
  cmake --build "$ts" -j "$jobs" --target fcs_core_tests fcs_watch_tests e2e_server_tls \
    fcs-failover-server fcs-adapter-check fcs-switchover
  echo "== TSan: hot swap, ticket keys, published objects, watches and the reloader, server"
  # tests/tsan.supp: frees inside the uninstrumented libcrypto (see the file).
  (cd "$ts" && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$here/tests/tsan.supp" \
     ctest --output-on-failure -j "$jobs" \
       -R "^(e2e_server|fcs_watch_tests|fcs_core_tests\\.(tls_ticket_keys|detail_published))")
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
    (cd "$build" && ctest --output-on-failure -j "$jobs" "$@")
    if [ "${FCS_SANITIZERS:-1}" = 1 ]; then sanitizers; tsan; fi ;;
  sanitizers) setup; sanitizers ;;
  tsan) setup; tsan ;;
  *) echo "usage: $0 serve|test|sanitizers|setup|build" >&2; exit 2 ;;
esac
