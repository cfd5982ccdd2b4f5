# What the Windows end-to-end scripts (e2e_*.sh) share; sourced, not run.
#   need_tools TOOL...   each tool on PATH, else "SKIPPED: ..." (exit 0; ctest: skipped) or,
#                        under CI=true, "FAILED: ..." (exit 1): CI never skips for a missing tool
#   need_prefix PREFIX   the Wine prefix scripts/fcs.sh windows made (once per run)
#   free_port            a free loopback TCP port
#   in_wine EXE ARGS...  runs EXE under Wine in $prefix with stdin from /dev/null (an inherited
#                        pipe would keep ctest waiting for Wine) and waits for it; set prefix=
#                        and wine= first. Not for `&`: $! would not be Wine's PID.

need_tools() {
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null; then
      [ "${CI:-}" = true ] && { echo "FAILED: $tool is missing (CI=true)"; exit 1; }
      echo "SKIPPED: $tool is missing"; exit 0
    fi
  done
}

need_prefix() {
  [ -d "$1/drive_c" ] || { echo "FAILED: no Wine prefix at $1 (scripts/fcs.sh windows makes it)"; exit 1; }
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

in_wine() {
  WINEPREFIX=$prefix WINEDEBUG=-all "$wine" "$@" </dev/null
}

# start_server EXE DATA-DIR PORT LOG: the console server (fcs-failover-server.exe) under Wine
# in the background, output to LOG; sets pid (Wine's own, for the SIGINT of stop_server) and
# url, and waits up to 30 s (the first start generates the pair) for it to print the URL.
# Says why and returns 1 when it exits early or prints no URL.
start_server() {
  WINEPREFIX=$prefix WINEDEBUG=-all "$wine" "$1" --data-dir "$2" --port "$3" </dev/null >"$4" 2>&1 &
  pid=$!
  url=https://127.0.0.1:$3
  for _ in $(seq 1 300); do
    grep -q "^$url" "$4" && return 0
    kill -0 "$pid" 2>/dev/null || { echo "the server exited early"; return 1; }
    sleep 0.1
  done
  echo "the server printed no URL after 30 s"; return 1
}

# stop_server: Ctrl-C (SIGINT, which Wine turns into the console's Ctrl-C event) and up to
# 15 s for the exit. Says why and returns 1 when it still runs or exits with another code
# than 0.
stop_server() {
  kill -INT "$pid"
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && { echo "still running 15 s after SIGINT (Ctrl-C)"; return 1; }
  local rc=0
  wait "$pid" || rc=$?
  pid=
  [ "$rc" = 0 ] || { echo "exit code $rc after Ctrl-C"; return 1; }
}

# served_matches PORT CRT: the certificate a TLS server on 127.0.0.1:PORT presents is the PEM
# file CRT (DER, SHA-256 compared); says both digests and returns 1 when not.
served_matches() {
  local served stored
  served=$(openssl s_client -connect "127.0.0.1:$1" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -outform DER | sha256sum)
  stored=$(openssl x509 -in "$2" -outform DER | sha256sum)
  [ "$served" = "$stored" ] || { echo "the served certificate is not $2 ($served vs $stored)"; return 1; }
  echo "  served certificate = $(basename "$2") (SHA-256 ${stored%% *})"
}
