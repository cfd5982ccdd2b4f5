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

start_server "$exe" "C:\\$folder" "$port" "$log" || { echo "FAILED: see above"; cat "$log"; exit 1; }

crt=$data/Certificates/FailoverService.crt
[ -f "$crt" ] || { echo "FAILED: $crt was not generated"; ls -R "$data"; exit 1; }
[ -f "$data/Certificates/Keys/FailoverService.key" ] || { echo "FAILED: no key file"; exit 1; }

body=$(curl -sS --max-time 10 --cacert "$crt" "$url/health")
echo "GET /health: $body"
case $body in
  *'"status":"ok"'*) ;;
  *) echo "FAILED: /health did not answer status ok"; cat "$log"; exit 1 ;;
esac

served_matches "$port" "$crt" || { echo "FAILED: see above"; exit 1; }

stop_server || { echo "FAILED: see above"; cat "$log"; exit 1; }
grep -q "stopped" "$log" || { echo "FAILED: no clean stop:"; cat "$log"; exit 1; }
echo "stopped cleanly on Ctrl-C"
cat "$log"
