#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root):
#   bash scripts/fcs.sh serve [server options]   build and run the failover HTTPS server
#   bash scripts/fcs.sh test                     build and run every test (what CI runs)
#   bash scripts/fcs.sh setup                    only install what is missing
#   bash scripts/fcs.sh package                  build and check the Debian packages
# `test` also rebuilds with clang under ASan+UBSan, reruns the suite and runs each fuzz target
# for FCS_FUZZ_SECONDS (default 30), and runs the hot-swap and server tests under TSan;
# FCS_SANITIZERS=0 skips those stages.
# Idempotent: packages already installed are not touched, the build folder is reused.
# BoringSSL: built once from Debian's source package (static, with its x86-64 assembly, without
# Debian's OPENSSL_SMALL) into $FCS_CACHE_DIR (default /var/cache/fcs, outside the clone) and
# reused by every later run; FCS_BORINGSSL=debian uses Debian's android-libboringssl-dev.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FCS_BUILD_DIR:-$here/build}
jobs=${FCS_JOBS:-$(nproc)}
cache=${FCS_CACHE_DIR:-/var/cache/fcs}
bssl_root=""

packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  android-libboringssl-dev libboost-test-dev libboost-dev librange-v3-dev libacl1-dev
  libcli11-dev nlohmann-json3-dev
  # the optional log sinks: fcs/log/journal.hpp (sd_journal_send), fcs/log/spdlog.hpp
  libsystemd-dev libspdlog-dev
  libbenchmark-dev
  # real peers used by the tests
  openssl curl python3 python3-cryptography gnutls-bin default-jre-headless acl
  etcd-server etcd-client
  # running it as a service (issue 14): systemd-analyze/systemd-sysusers on the unit, promtool on
  # /metrics and the alert rules, lintian and dpkg-shlibdeps on the Debian package
  systemd prometheus lintian dpkg-dev fakeroot
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

# BoringSSL from Debian's source package android-platform-external-boringssl, the version of
# the installed android-libboringssl-dev, fetched with a private source list, state and cache
# (the machine's apt configuration and package lists stay untouched), built by
# cmake/boringssl into $cache/boringssl-VERSION. Sets bssl_root. Where the source cannot be
# had or built: Debian's binary package, said clearly (under CI=true: an error).
boringssl() {
  if [ "${FCS_BORINGSSL:-source}" = debian ]; then
    echo "fcs: BoringSSL: Debian's android-libboringssl-dev (FCS_BORINGSSL=debian)"; return 0
  fi
  local ver prefix work apt suite src
  ver=$(dpkg-query -W -f='${Version}' android-libboringssl-dev)
  ver=${ver%+b[0-9]*} # a binary rebuild has the source's version
  prefix=$cache/boringssl-$ver
  if [ -f "$prefix/.complete" ]; then bssl_root=$prefix; return 0; fi
  work=$cache/work/boringssl-$ver
  apt=$cache/apt
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  rm -rf "$work" "$prefix.tmp"
  mkdir -p "$work" "$apt/lists/partial" "$apt/cache/archives/partial"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${FCS_DEBIAN_MIRROR:-http://deb.debian.org/debian} $suite main" >"$apt/sources.list"
  local o=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
           -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
  echo "fcs: building BoringSSL $ver from Debian's source package into $prefix (once)"
  local step=""
  if ! (cd "$work" && apt-get "${o[@]}" -qq update && \
        apt-get "${o[@]}" -qq source --download-only "android-platform-external-boringssl=$ver") \
        >"$work/fetch.log" 2>&1; then
    step="fetch android-platform-external-boringssl=$ver (log: $work/fetch.log)"
  elif ! tar -xf "$work"/android-platform-external-boringssl_*.orig.tar.* -C "$work"; then
    step="unpack the source package in $work"
  else
    src=$(ls -d "$work"/android-platform-external-boringssl-*/ | head -1)
    if ! { cmake -S "$here/cmake/boringssl" -B "$work/build" -G Ninja -DBORINGSSL_SOURCE="$src" \
             -DFCS_BORINGSSL_VERSION="$ver" -DCMAKE_INSTALL_PREFIX="$prefix.tmp" && \
           cmake --build "$work/build" -j "$jobs" && cmake --install "$work/build"; } \
           >"$work/build.log" 2>&1; then
      step="build it (log: $work/build.log)"
    fi
  fi
  if [ -n "$step" ]; then
    echo "fcs: could not $step; using Debian's android-libboringssl-dev instead (built with OPENSSL_SMALL: slower handshakes)" >&2
    if [ "${CI:-}" = true ]; then echo "fcs: under CI the default BoringSSL build is required" >&2; return 1; fi
    return 0
  fi
  rm -rf "$prefix"
  mv "$prefix.tmp" "$prefix"
  touch "$prefix/.complete"
  rm -rf "$work"
  bssl_root=$prefix
}

configure() {
  mkdir -p "$build"
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${FCS_BUILD_TYPE:-RelWithDebInfo} \
    -DFCS_WERROR=${FCS_WERROR:-ON} -DFCS_BORINGSSL_ROOT="$bssl_root" "$@" >"$build/fcs-configure.log" 2>&1 ||
    { cat "$build/fcs-configure.log" >&2; return 1; }
  grep "fcs: BoringSSL" "$build/fcs-configure.log" || true
}

# ASan+UBSan build (clang): the test suite again, then every libFuzzer target for a bounded time.
sanitizers() {
  local san=$here/build-san secs=${FCS_FUZZ_SECONDS:-30}
  CC=clang CXX=clang++ cmake -S "$here" -B "$san" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFCS_SANITIZE=address,undefined -DFCS_FUZZ=ON -DFCS_WERROR=ON -DFCS_BUILD_BENCHMARKS=OFF \
    -DFCS_HEADER_CHECK=OFF -DFCS_BORINGSSL_ROOT="$bssl_root" >/dev/null
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
    -DFCS_WERROR=ON -DFCS_BUILD_BENCHMARKS=OFF -DFCS_HEADER_CHECK=OFF \
    -DFCS_BORINGSSL_ROOT="$bssl_root" >/dev/null
  # Every program the e2e_server tests run (fcs-switchover too: a test that needs a missing
  # program skips its part, and a skip must not pass for a run here).
  cmake --build "$ts" -j "$jobs" --target fcs_core_tests fcs_watch_tests fcs_https_tests e2e_server_tls \
    fcs-failover-server fcs-adapter-check fcs-switchover
  echo "== TSan: hot swap, ticket keys, published objects, watches and the reloader, the HTTPS layer, server"
  # tests/tsan.supp: frees inside the uninstrumented libcrypto (see the file).
  (cd "$ts" && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$here/tests/tsan.supp" \
     ctest --output-on-failure -j "$jobs" \
       -R "^(e2e_server|fcs_watch_tests|fcs_https_tests|fcs_core_tests\\.(tls_ticket_keys|detail_published))")
}

# The Debian packages (cmake/fcsPackaging.cmake: fcs-failover-server, fcs-dev) from a build
# folder of their own without tests or benchmarks (cpack builds "all" first), then checked:
# lintian, and installed into a throwaway root with dpkg -x and run from there
# (tests/e2e_server/test_systemd.py DebianPackage).
package() {
  local pk=${FCS_DEB_BUILD_DIR:-$here/build-deb}
  cmake -S "$here" -B "$pk" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFCS_WERROR=ON \
    -DFCS_BUILD_TESTS=OFF -DFCS_BUILD_BENCHMARKS=OFF -DFCS_BORINGSSL_ROOT="$bssl_root" >/dev/null
  rm -f "$pk"/*.deb
  (cd "$pk" && cpack -G DEB >cpack.log 2>&1) || { cat "$pk/cpack.log" >&2; return 1; }
  ls "$pk"/*.deb
  echo "== Debian packages: lintian, dpkg -x into a throwaway root, the server run from there"
  FCS_DEB_DIR=$pk FCS_SOURCE_DIR=$here /usr/bin/python3 -B "$here/tests/e2e_server/test_systemd.py" -v DebianPackage
}

cmd=${1:-serve}; shift || true
case "$cmd" in
  setup) setup; boringssl ;;
  build) setup; boringssl; configure; cmake --build "$build" -j "$jobs" ;;
  serve)
    setup; boringssl; configure
    cmake --build "$build" -j "$jobs" --target fcs-failover-server
    exec "$build/examples/failover_https_server/fcs-failover-server" serve "$@" ;;
  test)
    setup; boringssl; configure
    cmake --build "$build" -j "$jobs"
    (cd "$build" && ctest --output-on-failure -j "$jobs" "$@")
    package
    if [ "${FCS_SANITIZERS:-1}" = 1 ]; then sanitizers; tsan; fi ;;
  package) setup; boringssl; package ;;
  sanitizers) setup; boringssl; sanitizers ;;
  tsan) setup; boringssl; tsan ;;
  *) echo "usage: $0 serve|test|sanitizers|setup|build|package" >&2; exit 2 ;;
esac
