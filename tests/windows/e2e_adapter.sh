#!/usr/bin/env bash
# fcs-adapter-check.exe under Wine against fcs-failover-server.exe under Wine, what the
# vendor's adapters do on Windows (ctest: fcs_windows_e2e_adapter):
#   e2e_adapter.sh ADAPTER-CHECK.exe SERVER.exe WINEPREFIX WINE64
# The server starts on a free loopback port with a data folder inside the prefix
# (C:\fcs-ad-PID) and generates its certificate; then the adapter check:
#  1. without --ca validates against the Windows trust store (ROOT; Wine fills it from the
#     host's CAs): the self-signed certificate is not trusted, exit 1, and the message says
#     what it was checked against and what to do;
#  2. with --ca <the generated Certificates\FailoverService.crt> it is trusted: exit 0,
#     "verified", HTTP 200 from /health, and the fingerprint it prints is openssl's of that file;
#  3. --validate-endpoint-certificate false connects without verifying and says so;
#     --pin with that fingerprint passes, with another one fails (exit 1), whatever the setting;
#  4. a --ca that is missing or not PEM fails naming the file (exit 1); a wrong command line
#     (an http:// URL, a validation setting that is neither true nor false) exits 2.
# Then Ctrl-C (SIGINT) stops the server cleanly.
# A missing openssl or python3 says SKIPPED (ctest: skipped); under CI=true it fails instead.
set -euo pipefail
exe=$1 server=$2 prefix=$3 wine=$4
. "$(dirname "$0")/lib.sh"
need_tools openssl python3 sha256sum "$wine"
need_prefix "$prefix"

folder=fcs-ad-$$
data=$prefix/drive_c/$folder
win='C:\'$folder
log=$(mktemp) out=$(mktemp) err=$(mktemp)
port=$(free_port)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$data" "$log" "$out" "$err"
}
trap cleanup EXIT
fail() {
  echo "FAILED: $*"; echo "--- stdout:"; cat "$out"; echo "--- stderr:"; cat "$err"
  echo "--- server:"; cat "$log"; exit 1
}
# check EXPECTED-EXIT ARGS...: the adapter check under Wine, output in $out / $err.
check() {
  local want=$1 rc=0; shift
  in_wine "$exe" "$@" >"$out" 2>"$err" || rc=$?
  echo "\$ fcs-adapter-check $* -> exit $rc"
  [ "$rc" = "$want" ] || fail "exit $rc, expected $want"
}
has() { grep -qF -- "$2" "$1" || fail "no \"$2\" in $(basename "$1")"; }

start_server "$server" "$win" "$port" "$log" || fail "the server did not start"
crt=$data/Certificates/FailoverService.crt
wcrt="$win\\Certificates\\FailoverService.crt"
[ -f "$crt" ] || fail "$crt was not generated"
want_fp=$(openssl x509 -in "$crt" -noout -fingerprint -sha256 | sed 's/.*=//' | tr -d ':' | tr a-f A-F)
printed_fp() { sed -n 's/^fingerprint SHA256 *//p' "$out" | tr -d ': \r' | tr a-f A-F; }

# 1. the Windows trust store does not hold a self-signed certificate.
check 1 --url "$url/health"
has "$err" "the server's certificate is not trusted"
has "$err" "checked against the Windows trust store (ROOT) for the name 127.0.0.1"
has "$err" "--ca FILE"
echo "  refused: $(cat "$err")"

# 2. the generated certificate as the trust anchor.
check 0 --url "$url/health" --ca "$wcrt"
has "$out" "verified: the certificate is trusted by $wcrt and names 127.0.0.1"
has "$out" "HTTP 200"
has "$out" '"status":"ok"'
[ "$(printed_fp)" = "$want_fp" ] || fail "printed fingerprint $(printed_fp) is not openssl's $want_fp"
echo "  verified, SHA-256 $want_fp"

# 3. ValidateEndpointCertificate=false, and the pin.
check 0 --url "$url/health" --validate-endpoint-certificate false
has "$out" "NOT VERIFIED"
has "$out" "HTTP 200"
grep -q "^verified:" "$out" && fail "claims verified without validating"
check 0 --url "$url/health" --validate-endpoint-certificate false --pin "$want_fp"
has "$out" "pin: the certificate matches the pinned SHA-256 fingerprint"
other_fp=$(printf '%s' "$want_fp" | tr '0-9A-F' '1-9A-F0')
check 1 --url "$url/health" --ca "$wcrt" --pin "$other_fp"
has "$err" "pin mismatch"

# 4. bad trust anchors and bad command lines.
check 1 --url "$url/health" --ca "$win\\missing.crt"
has "$err" "missing.crt"
has "$err" "does not exist"
printf 'not a certificate\n' >"$data/not.pem"
check 1 --url "$url/health" --ca "$win\\not.pem"
has "$err" "not.pem"
has "$err" "no PEM certificate could be loaded from it"
check 2 --url "http://127.0.0.1:$port/health"
has "$err" "only https:// URLs are supported"
check 2 --url "$url/health" --validate-endpoint-certificate maybe
has "$err" "expected true or false"

stop_server || fail "the server did not stop cleanly"
echo "PASSED"
