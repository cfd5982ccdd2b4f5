#!/usr/bin/env bash
# fcs-failover-server.exe as a Windows service under Wine's Service Control Manager
# (ctest: fcs_windows_e2e_service):
#   e2e_service.sh SERVER.exe WINEPREFIX WINE64
#  1. `install --service-name NAME --manual --data-dir "C:\fcs svc PID" --port P` registers it:
#     the registry holds the quoted command line (`service --service-name NAME ...`), the
#     virtual account NT SERVICE\NAME and the start type; a second install is refused (exit 1);
#  2. `sc start NAME`: the SCM starts it, it generates its pair, logs to DATA\Logs\messages.log
#     ("serving URL"), reports RUNNING, and curl from Linux trusting only the generated
#     certificate gets /health; the served certificate is that file;
#  3. `sc stop NAME`: it logs "stopping (service stop)" and "stopped", the SCM shows STOPPED
#     with exit code 0;
#  4. uninstall removes it (a second uninstall: exit 1, not installed); `service` run from a
#     console (not by the SCM) exits 1 saying so; a bad service name exits 2.
# A missing tool says SKIPPED (ctest: skipped); under CI=true it fails instead.
set -euo pipefail
exe=$1 prefix=$2 wine=$3
. "$(dirname "$0")/lib.sh"
need_tools curl openssl python3 "$wine"
need_prefix "$prefix"

name=FcsE2E$$
folder="fcs svc $$"
data=$prefix/drive_c/$folder
win="C:\\$folder"
port=$(free_port)
out=$(mktemp) err=$(mktemp)
installed=
cleanup() {
  [ -n "$installed" ] && in_wine "$exe" uninstall --service-name "$name" >/dev/null 2>&1 || true
  rm -rf "$data" "$out" "$err"
}
trap cleanup EXIT
log=$data/Logs/messages.log
fail() {
  echo "FAILED: $*"; echo "--- stdout:"; cat "$out"; echo "--- stderr:"; cat "$err"
  echo "--- message log:"; cat "$log" 2>/dev/null || true; exit 1
}
# run EXPECTED-EXIT PROGRAM ARGS...: under Wine, output in $out / $err.
run() {
  local want=$1 rc=0; shift
  in_wine "$@" >"$out" 2>"$err" || rc=$?
  echo "\$ $(basename "$1") ${*:2} -> exit $rc"
  [ "$rc" = "$want" ] || fail "exit $rc, expected $want"
}
has() { grep -qF -- "$2" "$1" || fail "no \"$2\" in $(basename "$1")"; }
# wait_for SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
  local tenths=$(($1 * 10)); shift
  for _ in $(seq 1 "$tenths"); do "$@" && return 0; sleep 0.1; done
  return 1
}
state_is() { in_wine sc query "$name" 2>/dev/null | grep -q "STATE *: *[0-9]* *$1"; }

# 1. install
run 0 "$exe" install --service-name "$name" --manual --data-dir "$win" --port "$port"
installed=1
has "$out" "installed service $name: runs as NT SERVICE\\$name, starts on demand"
run 0 reg query "HKLM\\System\\CurrentControlSet\\Services\\$name"
has "$out" "fcs-failover-server.exe service --service-name $name --data-dir \"$win\" --port $port"
has "$out" "NT SERVICE\\$name"
grep -q "Start *REG_DWORD *0x3" "$out" || fail "the start type is not on demand (3)"
run 1 "$exe" install --service-name "$name" --manual
has "$err" "a service of that name exists"

# 2. started by the SCM
run 0 sc start "$name"
url=https://127.0.0.1:$port
wait_for 30 grep -qF "serving $url" "$log" 2>/dev/null || fail "no \"serving $url\" in the message log after 30 s"
wait_for 10 state_is RUNNING || fail "the SCM does not show it RUNNING"
has "$log" "generated a new self-signed certificate"
crt=$data/Certificates/FailoverService.crt
body=$(curl -sS --max-time 10 --cacert "$crt" "$url/health") || fail "curl /health failed"
echo "  GET /health: $body"
case $body in *'"status":"ok"'*) ;; *) fail "/health did not answer status ok" ;; esac
served_matches "$port" "$crt" || fail "see above"

# 3. stopped by the SCM
run 0 sc stop "$name"
wait_for 20 grep -qF "stopped" "$log" || fail "no \"stopped\" in the message log 20 s after sc stop"
has "$log" "stopping (service stop)"
wait_for 10 state_is STOPPED || fail "the SCM does not show it STOPPED"
run 0 sc query "$name"
grep -q "WIN32_EXIT_CODE *: *0 " "$out" || fail "the service did not exit with code 0"
curl -s --max-time 3 --cacert "$crt" "$url/health" >/dev/null && fail "still answering after sc stop"
echo "  stopped by the SCM, exit code 0"

# 4. uninstall; the service command outside the SCM; bad names
run 0 "$exe" uninstall --service-name "$name"
installed=
has "$out" "uninstalled service $name"
run 1 "$exe" uninstall --service-name "$name"
has "$err" "not installed"
run 1 "$exe" service --service-name "$name" --data-dir "$win"
has "$err" "not started by the Service Control Manager"
run 2 "$exe" install --service-name "bad name"
has "$err" "a service name has only letters, digits"
echo "PASSED"
