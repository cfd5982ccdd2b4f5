#!/usr/bin/env bash
# The Windows server end to end, from the Linux side (ctest: fcs_windows_e2e_server):
#   e2e_server.sh SERVER.exe WINEPREFIX WINE64
# starts SERVER.exe under Wine on a free loopback port with a data folder inside the prefix
# (C:\fcs-e2e-PID), waits for its URL, then from Linux:
#  1. curl --cacert <the generated Certificates\FailoverService.crt, read from the prefix>
#     https://127.0.0.1:PORT/health answers {"status":"ok", ...};
#  2. the certificate the server presents (openssl s_client) is that file, byte for byte (DER);
#  3. SIGINT (Wine: the console's Ctrl-C event) stops it cleanly: exit code 0 within 15 s.
# A missing curl or openssl says SKIPPED (ctest: skipped); under CI=true it fails instead.
set -euo pipefail
exe=$1 prefix=$2 wine=$3
. "$(dirname "$0")/lib.sh"
need_tools curl openssl python3 "$wine"
need_prefix "$prefix"

folder=fcs-e2e-$$
data=$prefix/drive_c/$folder
log=$(mktemp)
port=$(free_port)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$data" "$log"
}
trap cleanup EXIT

# stdin from /dev/null, output to a file: an inherited pipe would keep ctest waiting for Wine.
# Not through in_wine: $! must be Wine itself, which the SIGINT below is for.
WINEPREFIX=$prefix WINEDEBUG=-all "$wine" "$exe" --data-dir "C:\\$folder" --port "$port" \
  </dev/null >"$log" 2>&1 &
pid=$!
url=https://127.0.0.1:$port
for _ in $(seq 1 300); do # 30 s: the first start generates the pair
  grep -q "^$url" "$log" && break
  kill -0 "$pid" 2>/dev/null || { echo "FAILED: the server exited early:"; cat "$log"; exit 1; }
  sleep 0.1
done
grep -q "^$url" "$log" || { echo "FAILED: no URL after 30 s:"; cat "$log"; exit 1; }

crt=$data/Certificates/FailoverService.crt
[ -f "$crt" ] || { echo "FAILED: $crt was not generated"; ls -R "$data"; exit 1; }
[ -f "$data/Certificates/Keys/FailoverService.key" ] || { echo "FAILED: no key file"; exit 1; }

body=$(curl -sS --max-time 10 --cacert "$crt" "$url/health")
echo "GET /health: $body"
case $body in
  *'"status":"ok"'*) ;;
  *) echo "FAILED: /health did not answer status ok"; cat "$log"; exit 1 ;;
esac

served=$(openssl s_client -connect "127.0.0.1:$port" -servername localhost </dev/null 2>/dev/null |
  openssl x509 -outform DER | sha256sum)
stored=$(openssl x509 -in "$crt" -outform DER | sha256sum)
[ "$served" = "$stored" ] || { echo "FAILED: the served certificate is not $crt ($served vs $stored)"; exit 1; }
echo "served certificate = generated file (SHA-256 ${stored%% *})"

kill -INT "$pid"
for _ in $(seq 1 150); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  echo "FAILED: still running 15 s after SIGINT (Ctrl-C)"; cat "$log"; exit 1
fi
rc=0; wait "$pid" || rc=$?
pid=
grep -q "stopped" "$log" || { echo "FAILED: no clean stop (exit $rc):"; cat "$log"; exit 1; }
[ "$rc" = 0 ] || { echo "FAILED: exit code $rc after Ctrl-C"; cat "$log"; exit 1; }
echo "stopped cleanly on Ctrl-C"
cat "$log"
