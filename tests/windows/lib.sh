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
