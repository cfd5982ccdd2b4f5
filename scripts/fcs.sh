#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root):
#   bash scripts/fcs.sh serve [server options]   build and run the failover HTTPS server
#   bash scripts/fcs.sh test                     build and run every test (what CI runs)
#   bash scripts/fcs.sh setup                    only install what is missing
#   bash scripts/fcs.sh package                  build and check the Debian packages
# `test` also rebuilds with clang under ASan+UBSan, reruns the suite and runs each fuzz target
# for FCS_FUZZ_SECONDS (default 30), and runs the hot-swap and server tests under TSan;
# FCS_SANITIZERS=0 skips those stages. Last, the Windows stage (FCS_WINDOWS=0 skips it, except
# under CI=true):
#   bash scripts/fcs.sh windows                  cross-build the Windows tests, run them under Wine
#                                                (in FCS_WINDOWS_BUILD_DIR, default build-win)
#   bash scripts/fcs.sh setup-windows            only mingw-w64, Wine and BoringSSL for Windows
# Idempotent: packages already installed are not touched, the build folder is reused.
# BoringSSL: built once from Debian's source package (static, with its x86-64 assembly, without
# Debian's OPENSSL_SMALL) into $FCS_CACHE_DIR (default /var/cache/fcs, outside the clone) and
# reused by every later run; FCS_BORINGSSL=debian uses Debian's android-libboringssl-dev.
# The source tarball is kept in $FCS_CACHE_DIR/src; BoringSSL for Windows (mingw-w64, no
# assembly) is built from it into $FCS_CACHE_DIR/boringssl-mingw-VERSION, also once.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FCS_BUILD_DIR:-$here/build}
jobs=${FCS_JOBS:-$(nproc)}
cache=${FCS_CACHE_DIR:-/var/cache/fcs}
bssl_root=""
# RelWithDebInfo with line tables only (-g1): symbolized stack traces and sanitizer reports
# keep file and line, and the build takes about half the time of full debug info (-g): the
# server's main.cpp 115 s instead of 204 s on this machine's kind.
rel_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG")

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
  # an ACME CA for the renewal tests (issue 15): pebble and pebble-challtestsrv
  pebble
  # running it as a service (issue 14): systemd-analyze/systemd-sysusers on the unit, promtool on
  # /metrics and the alert rules, lintian and dpkg-shlibdeps on the Debian package
  systemd prometheus lintian dpkg-dev fakeroot
)

# setup [PACKAGE...]: installs what is missing of the given packages (default: $packages).
setup() {
  local missing=() want=("$@")
  [ $# -gt 0 ] || want=("${packages[@]}")
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "fcs: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# The version of the installed android-libboringssl-dev (a binary rebuild, +bN, has its
# source's version).
boringssl_version() {
  local ver
  ver=$(dpkg-query -W -f='${Version}' android-libboringssl-dev)
  echo "${ver%+b[0-9]*}"
}

# Debian's source package android-platform-external-boringssl of version $1, fetched once with
# a private source list, state and cache (the machine's apt configuration and package lists
# stay untouched) into $cache/src and kept there: the Linux and the Windows builds unpack the
# same tarball. Prints the tarball's path; on failure says why on stderr.
boringssl_source() {
  local ver=$1 apt=$cache/apt src=$cache/src suite tarball
  tarball=$(ls "$src"/android-platform-external-boringssl_*.orig.tar.* 2>/dev/null | grep -F "_${ver%-*}.orig" | head -1 || true)
  if [ -n "$tarball" ]; then echo "$tarball"; return 0; fi
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  mkdir -p "$src/fetch" "$apt/lists/partial" "$apt/cache/archives/partial"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${FCS_DEBIAN_MIRROR:-http://deb.debian.org/debian} $suite main" >"$apt/sources.list"
  local o=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
           -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
  if ! (cd "$src/fetch" && apt-get "${o[@]}" -qq update && \
        apt-get "${o[@]}" -qq source --download-only "android-platform-external-boringssl=$ver") \
        >"$src/fetch.log" 2>&1; then
    echo "fetch android-platform-external-boringssl=$ver (log: $src/fetch.log)" >&2; return 1
  fi
  mv "$src/fetch"/android-platform-external-boringssl_* "$src/"
  rm -rf "$src/fetch"
  ls "$src"/android-platform-external-boringssl_*.orig.tar.* | grep -F "_${ver%-*}.orig" | head -1
}

# Builds cmake/boringssl from the source package into $2 (a prefix that gets a .complete marker
# when done), with extra cmake arguments after it. $1: version. On failure says which step on
# stderr, the build log kept under $cache/work.
boringssl_build() {
  local ver=$1 prefix=$2; shift 2
  local work tarball src
  work=$cache/work/$(basename "$prefix")
  rm -rf "$work" "$prefix.tmp"
  mkdir -p "$work"
  tarball=$(boringssl_source "$ver") || return 1
  if ! tar -xf "$tarball" -C "$work"; then echo "unpack $tarball in $work" >&2; return 1; fi
  src=$(ls -d "$work"/android-platform-external-boringssl-*/ | head -1)
  if ! { cmake -S "$here/cmake/boringssl" -B "$work/build" -G Ninja -DBORINGSSL_SOURCE="$src" \
           -DFCS_BORINGSSL_VERSION="$ver" -DCMAKE_INSTALL_PREFIX="$prefix.tmp" "$@" && \
         cmake --build "$work/build" -j "$jobs" && cmake --install "$work/build"; } \
         >"$work/build.log" 2>&1; then
    echo "build it (log: $work/build.log)" >&2; return 1
  fi
  rm -rf "$prefix"
  mv "$prefix.tmp" "$prefix" && touch "$prefix/.complete" || { echo "install into $prefix" >&2; return 1; }
  rm -rf "$work"
}

# BoringSSL from Debian's source package android-platform-external-boringssl, the version of
# the installed android-libboringssl-dev, built by cmake/boringssl into $cache/boringssl-VERSION.
# Sets bssl_root. Where the source cannot be had or built: Debian's binary package, said clearly
# (under CI=true: an error).
boringssl() {
  if [ "${FCS_BORINGSSL:-source}" = debian ]; then
    echo "fcs: BoringSSL: Debian's android-libboringssl-dev (FCS_BORINGSSL=debian)"; return 0
  fi
  local ver prefix
  ver=$(boringssl_version)
  prefix=$cache/boringssl-$ver
  if [ -f "$prefix/.complete" ]; then bssl_root=$prefix; return 0; fi
  echo "fcs: building BoringSSL $ver from Debian's source package into $prefix (once)"
  if ! boringssl_build "$ver" "$prefix"; then
    echo "fcs: could not build BoringSSL (above); using Debian's android-libboringssl-dev instead (built with OPENSSL_SMALL: slower handshakes)" >&2
    if [ "${CI:-}" = true ]; then echo "fcs: under CI the default BoringSSL build is required" >&2; return 1; fi
    return 0
  fi
  bssl_root=$prefix
}

# The Windows stage's tools (mingw-w64 with the posix thread model, Wine), installed only when
# that stage runs, and BoringSSL for Windows from the same source tarball, without assembly,
# cached in $cache/boringssl-mingw-VERSION. Sets bssl_mingw_root.
windows_packages=(g++-mingw-w64-x86-64-posix wine64 wine)
bssl_mingw_root=""
boringssl_mingw() {
  setup "${windows_packages[@]}"
  local ver prefix
  ver=$(boringssl_version)
  prefix=$cache/boringssl-mingw-$ver
  if [ ! -f "$prefix/.complete" ]; then
    echo "fcs: building BoringSSL $ver for Windows (mingw-w64, no assembly) into $prefix (once)"
    boringssl_build "$ver" "$prefix" --toolchain "$here/cmake/mingw-w64.cmake" \
      -DFCS_BORINGSSL_ASM=OFF -DCMAKE_BUILD_TYPE=Release ||
      { echo "fcs: could not build BoringSSL for Windows (above)" >&2; return 1; }
  fi
  bssl_mingw_root=$prefix
}

configure() {
  mkdir -p "$build"
  cmake -S "$here" -B "$build" -G Ninja "${rel_flags[@]}" -DCMAKE_BUILD_TYPE=${FCS_BUILD_TYPE:-RelWithDebInfo} \
    -DFCS_WERROR=${FCS_WERROR:-ON} -DFCS_BORINGSSL_ROOT="$bssl_root" "$@" >"$build/fcs-configure.log" 2>&1 ||
    { cat "$build/fcs-configure.log" >&2; return 1; }
  grep "fcs: BoringSSL" "$build/fcs-configure.log" || true
}

# ASan+UBSan build (clang): the test suite again, then every libFuzzer target for a bounded time.
sanitizers() {
  local san=$here/build-san secs=${FCS_FUZZ_SECONDS:-30}
  CC=clang CXX=clang++ cmake -S "$here" -B "$san" -G Ninja "${rel_flags[@]}" \
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
  cmake -S "$here" -B "$ts" -G Ninja "${rel_flags[@]}" -DFCS_SANITIZE=thread \
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

# Windows (issue 13): the Windows tests cross-built with mingw-w64 (cmake/mingw-w64.cmake,
# BoringSSL from boringssl_mingw) into build-win and run by ctest under Wine, headless, in one
# Wine prefix made once per run before the tests (a first run inside a test would build it
# there). Tests that need a real NTFS say SKIPPED under Wine; ctest reports them so.
windows() {
  local wb=${FCS_WINDOWS_BUILD_DIR:-$here/build-win} rc=0
  boringssl_mingw
  mkdir -p "$wb"
  cmake -S "$here" -B "$wb" -G Ninja --toolchain "$here/cmake/mingw-w64.cmake" \
    "${rel_flags[@]}" -DFCS_WERROR=ON -DFCS_BORINGSSL_ROOT="$bssl_mingw_root" \
    -DFCS_WINEPREFIX="$wb/wine" >"$wb/fcs-configure.log" 2>&1 || { cat "$wb/fcs-configure.log" >&2; return 1; }
  cmake --build "$wb" -j "$jobs"
  echo "== Windows: tests under $(wine --version 2>/dev/null) (prefix $wb/wine)"
  # stdio on /dev/null: wineboot and wineserver inherit it, and an inherited pipe keeps a
  # caller's `| grep` waiting for them. wineserver -p: one server for all tests (it needs the
  # prefix folder), stopped below; wineboot then makes the prefix (first run: 3-7 s, ~700 MB).
  # -u (update), not -i (init): on a new prefix `wineboot -i` leaves two services.exe running,
  # two Service Control Managers with a database each (a service created twice, a query
  # answered by the other one), which fcs_windows_e2e_service would see.
  mkdir -p "$wb/wine"
  if ! { WINEPREFIX=$wb/wine WINEDEBUG=-all wineserver -p </dev/null >/dev/null 2>&1 &&
         WINEPREFIX=$wb/wine WINEDEBUG=-all wineboot -u </dev/null >"$wb/wineboot.log" 2>&1; }; then
    WINEPREFIX=$wb/wine wineserver -k </dev/null >/dev/null 2>&1 || true
    echo "fcs: could not create the Wine prefix $wb/wine (log: $wb/wineboot.log)" >&2; return 1
  fi
  # --timeout: a Wine process that kept a test's output pipe open would hold ctest forever.
  (cd "$wb" && ctest --output-on-failure -j "$jobs" --timeout 300) || rc=$?
  WINEPREFIX=$wb/wine wineserver -k </dev/null >/dev/null 2>&1 || true
  return $rc
}

# The Debian packages (cmake/fcsPackaging.cmake: fcs-failover-server, fcs-dev), made by cpack
# from the main build folder (its programs are built already; FCS_DEB_BUILD_DIR: a folder of
# their own, configured without tests), then checked: lintian, and installed into a throwaway
# root with dpkg -x and run from there (tests/e2e_server/test_systemd.py DebianPackage).
package() {
  local pk=${FCS_DEB_BUILD_DIR:-$build}
  if [ "$pk" != "$build" ]; then
    cmake -S "$here" -B "$pk" -G Ninja "${rel_flags[@]}" -DFCS_WERROR=ON \
      -DFCS_BUILD_TESTS=OFF -DFCS_BUILD_BENCHMARKS=OFF -DFCS_BORINGSSL_ROOT="$bssl_root" >/dev/null
  fi
  # cpack only installs: what it packs must be built first.
  cmake --build "$pk" -j "$jobs" --target fcs-failover-server fcs-adapter-check fcs-switchover
  rm -f "$pk"/*.deb
  (cd "$pk" && cpack -G DEB >cpack.log 2>&1) || { cat "$pk/cpack.log" >&2; return 1; }
  ls "$pk"/*.deb
  echo "== Debian packages: lintian, dpkg -x into a throwaway root, the server run from there"
  FCS_DEB_DIR=$pk FCS_SOURCE_DIR=$here /usr/bin/python3 -B "$here/tests/e2e_server/test_systemd.py" -v DebianPackage
}

# took STAGE: says how long the stage just ended took (the CI budget is watched by these lines).
stage_start=$SECONDS
took() { echo "fcs: $1 took $((SECONDS - stage_start)) s (total $SECONDS s)"; stage_start=$SECONDS; }

cmd=${1:-serve}; shift || true
case "$cmd" in
  setup) setup; boringssl ;;
  setup-windows) boringssl_mingw ;;
  windows) setup; windows ;;
  build) setup; boringssl; configure; cmake --build "$build" -j "$jobs" ;;
  serve)
    setup; boringssl; configure
    cmake --build "$build" -j "$jobs" --target fcs-failover-server
    exec "$build/examples/failover_https_server/fcs-failover-server" serve "$@" ;;
  test)
    setup; boringssl; configure; took "setup"
    cmake --build "$build" -j "$jobs"; took "g++ build"
    (cd "$build" && ctest --output-on-failure -j "$jobs" "$@"); took "g++ tests"
    package; took "Debian packages"
    if [ "${FCS_SANITIZERS:-1}" = 1 ]; then sanitizers; took "ASan+UBSan and fuzzing"; tsan; took "TSan"; fi
    if [ "${FCS_WINDOWS:-1}" = 1 ]; then windows
    elif [ "${CI:-}" = true ]; then echo "fcs: under CI the Windows stage runs (FCS_WINDOWS=0 ignored)"; windows
    fi
    took "Windows" ;;
  package) setup; boringssl; configure; package ;;
  sanitizers) setup; boringssl; sanitizers ;;
  tsan) setup; boringssl; tsan ;;
  *) echo "usage: $0 serve|test|sanitizers|tsan|windows|package|setup|setup-windows|build" >&2; exit 2 ;;
esac
