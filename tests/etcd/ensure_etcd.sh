#!/bin/sh
# Installs etcd (server and etcdctl) when missing. Only the binaries are used: the tests start
# their own members on free loopback ports, so a service the package may start is left alone.
set -eu
if command -v etcd >/dev/null 2>&1 && command -v etcdctl >/dev/null 2>&1; then
  etcd --version | head -1
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  if [ "${CI:-}" = "true" ]; then
    # In CI a missing tool is a failure, never a skip.
    echo "etcd is missing and CI=true; run as root, or: apt-get install -y etcd-server etcd-client" >&2
    exit 1
  fi
  # Exit 77 is SKIP_RETURN_CODE (tests/etcd/CMakeLists.txt): ctest shows "Skipped".
  echo "SKIPPED: etcd is not installed; run as root, or: apt-get install -y etcd-server etcd-client"
  exit 77
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends etcd-server etcd-client
etcd --version | head -1
