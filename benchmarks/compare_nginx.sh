#!/usr/bin/env bash
# Real-socket benchmarks of fcs-failover-server, against nginx where it applies (BENCHMARKS.md).
#
#   benchmarks/compare_nginx.sh [handshakes|rotation|failover|memory|all]   (default: all)
#
#   handshakes  fcs (1 thread) and nginx (1 worker), same certificate, key and TLS settings,
#               the same load from fcs_loadgen (full, then resumed handshakes); per server:
#               server CPU per handshake (from /proc/PID/task/*/schedstat: time on CPU summed
#               over the server's threads, delta over the run, divided by the handshakes),
#               handshakes/s, and the fcs/nginx ratio. RUNS runs each, interleaved; medians.
#   rotation    100 certificate swaps (`fcs-failover-server replace` + SIGHUP, the admin's
#               path) while fcs_loadgen runs: failed handshakes and p99 latency vs a run
#               without swaps.
#   failover    two fcs servers sharing the ticket keys: clients get tickets on the first, it
#               is stopped, they reconnect to the second (same data folder, then a copy of it,
#               then a foreign folder as the control): share resumed.
#   memory      resident memory per idle established TLS connection (HOLD connections), from
#               VmRSS of the server (fcs) / of the worker (nginx).
#
# Environment: FCS_BENCH_BUILD (build folder, default ./build-bench), RUNS (5), DURATION (10 s
# per load run), CONNECTIONS (4 client threads), HOLD (1000), SWAPS (100).
# Everything runs on 127.0.0.1 with temporary folders; every process started here is stopped
# here. nginx is Debian's, installed with apt-get when missing (its system service is not used:
# our nginx runs with its own prefix, config and port).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FCS_BENCH_BUILD:-$here/build-bench}
server_bin=$build/examples/failover_https_server/fcs-failover-server
loadgen=$build/benchmarks/fcs_loadgen
RUNS=${RUNS:-5}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-4}
HOLD=${HOLD:-1000}
SWAPS=${SWAPS:-100}
what=${1:-all}

for f in "$server_bin" "$loadgen"; do
  [ -x "$f" ] || { echo "missing $f: cmake --build $build --target fcs-failover-server fcs_loadgen" >&2; exit 2; }
done

work=$(mktemp -d /tmp/fcs-bench.XXXXXX)
started=()
cleanup() {
  local p
  for p in "${started[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null || true; fi
  done
  for p in "${started[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n 16384 2>/dev/null || ulimit -n 4096

log() { echo "== $*" >&2; }

# ---- helpers ---------------------------------------------------------------------------------

# Sum of the first schedstat field (ns on CPU) over every thread of the given processes.
cpu_ns() {
  local total=0 p f v
  for p in "$@"; do
    for f in /proc/"$p"/task/*/schedstat; do
      read -r v _ < "$f" 2>/dev/null || continue
      total=$((total + v))
    done
  done
  echo "$total"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status; }

# word KEY "k1=v1 k2=v2 ..." -> v
word() { tr ' ' '\n' <<< "$2" | sed -n "s/^$1=//p" | head -1; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# Starts fcs-failover-server on DIR with 1 I/O thread; sets FCS_PID and FCS_PORT.
start_fcs() {
  local dir=$1 out=$work/fcs-$RANDOM.out
  "$server_bin" serve --data-dir "$dir" --bind 127.0.0.1 --port 0 --threads 1 \
    --max-connections 20000 > "$out" 2>&1 &
  FCS_PID=$!
  started+=("$FCS_PID")
  local i
  for i in $(seq 100); do
    FCS_PORT=$(sed -n 's|^listening on https://127.0.0.1:\([0-9]*\).*|\1|p' "$out" | head -1)
    [ -n "$FCS_PORT" ] && return 0
    kill -0 "$FCS_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$out" >&2
  echo "fcs-failover-server did not start" >&2
  exit 1
}

stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

ensure_nginx() {
  if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    log "installing Debian's nginx (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nginx >/dev/null
  fi
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
}

# Starts nginx (1 worker) with the certificate and key of the fcs data folder DIR, the same TLS
# settings as fcs (Mozilla intermediate: TLS 1.2 + 1.3, ECDHE + AEAD, X25519 first, tickets on),
# on a free port; sets NGINX_MASTER, NGINX_WORKER and NGINX_PORT.
start_nginx() {
  local dir=$1 prefix=$work/nginx
  mkdir -p "$prefix/logs" "$prefix/tmp"
  NGINX_PORT=$(free_port)
  NGINX_PLAIN_PORT=$(free_port)
  cat > "$prefix/nginx.conf" <<EOF
user root;
worker_processes 1;
worker_rlimit_nofile 16384;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $prefix/tmp/body;
  proxy_temp_path $prefix/tmp/proxy;
  fastcgi_temp_path $prefix/tmp/fastcgi;
  uwsgi_temp_path $prefix/tmp/uwsgi;
  scgi_temp_path $prefix/tmp/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    listen 127.0.0.1:$NGINX_PLAIN_PORT;
    ssl_certificate $dir/Certificates/FailoverService.crt;
    ssl_certificate_key $dir/Certificates/Keys/FailoverService.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
    ssl_ecdh_curve X25519:prime256v1:secp384r1;
    ssl_prefer_server_ciphers off;
    ssl_session_tickets on;
    keepalive_timeout 10s;
    client_header_timeout 60s;
    location / {
      default_type application/json;
      return 200 '{"status":"ok"}\n';
    }
  }
}
EOF
  "$NGINX" -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off; master_process on;' &
  NGINX_MASTER=$!
  started+=("$NGINX_MASTER")
  local i
  for i in $(seq 100); do
    NGINX_WORKER=$(pgrep -P "$NGINX_MASTER" | head -1 || true)
    if [ -n "$NGINX_WORKER" ] && (exec 3<>/dev/tcp/127.0.0.1/"$NGINX_PORT") 2>/dev/null; then
      return 0
    fi
    kill -0 "$NGINX_MASTER" 2>/dev/null || break
    sleep 0.1
  done
  cat "$prefix/logs/error.log" >&2 || true
  echo "nginx did not start" >&2
  exit 1
}

machine() {
  echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---- handshakes ------------------------------------------------------------------------------

bench_handshakes() {
  ensure_nginx
  local data=$work/hs-data
  start_fcs "$data"
  start_nginx "$data"
  log "fcs pid $FCS_PID port $FCS_PORT; nginx master $NGINX_MASTER worker $NGINX_WORKER port $NGINX_PORT ($("$NGINX" -v 2>&1))"
  # Warm-up: allocators, page cache, the first tickets.
  "$loadgen" --port "$FCS_PORT" --connections 2 --duration 1 >/dev/null
  "$loadgen" --port "$NGINX_PORT" --connections 2 --duration 1 >/dev/null
  local mode srv run line c0 c1 hs
  for mode in full resumed plain; do
    local flag="" servers="fcs nginx"
    [ "$mode" = resumed ] && flag=--resume
    # The cost of a connection without TLS (TCP, HTTP, event loop): nginx only, as the
    # reference for what a server pays per connection besides the handshake.
    [ "$mode" = plain ] && { flag=--plain; servers=nginx; }
    for run in $(seq "$RUNS"); do
      for srv in $servers; do
        local port pids
        if [ "$srv" = fcs ]; then port=$FCS_PORT; pids="$FCS_PID"; else port=$NGINX_PORT; pids="$NGINX_MASTER $NGINX_WORKER"; fi
        [ "$mode" = plain ] && port=$NGINX_PLAIN_PORT
        c0=$(cpu_ns $pids)
        line=$("$loadgen" --port "$port" --connections "$CONNECTIONS" --duration "$DURATION" $flag) || {
          echo "$srv $mode run $run: failures: $line" >&2; }
        c1=$(cpu_ns $pids)
        hs=$(word handshakes "$line")
        local us rate fails res
        us=$(awk -v d=$((c1 - c0)) -v n="$hs" 'BEGIN {printf "%.1f", n ? d / n / 1000 : 0}')
        rate=$(word rate "$line"); fails=$(word failures "$line"); res=$(word resumed "$line")
        echo "$srv $mode run=$run server_cpu_us_per_handshake=$us rate=$rate handshakes=$hs failures=$fails resumed=$res p50_us=$(word p50_us "$line") p99_us=$(word p99_us "$line")"
        echo "$us" >> "$work/$srv-$mode.cpu"
        echo "$rate" >> "$work/$srv-$mode.rate"
      done
    done
  done
  echo
  echo "handshakes: medians of $RUNS runs of ${DURATION}s, $CONNECTIONS client connections, TLS 1.3 X25519, P-256 certificate"
  for mode in full resumed; do
    local fc nc fr nr
    fc=$(median < "$work/fcs-$mode.cpu"); nc=$(median < "$work/nginx-$mode.cpu")
    fr=$(median < "$work/fcs-$mode.rate"); nr=$(median < "$work/nginx-$mode.rate")
    printf "  %-8s fcs %7.1f us CPU/handshake %8.1f hs/s | nginx %7.1f us CPU/handshake %8.1f hs/s | fcs/nginx CPU %.3f\n" \
      "$mode" "$fc" "$fr" "$nc" "$nr" "$(awk -v a="$fc" -v b="$nc" 'BEGIN {print a / b}')"
  done
  printf "  %-8s nginx %7.1f us CPU/connection %8.1f conn/s (plain HTTP, no TLS: the per-connection cost besides TLS)\n" \
    plain "$(median < "$work/nginx-plain.cpu")" "$(median < "$work/nginx-plain.rate")"
  stop_pid "$FCS_PID"
  stop_pid "$NGINX_MASTER"
}

# ---- rotation under load ---------------------------------------------------------------------

bench_rotation() {
  local data=$work/rot-data pairs=$work/pairs i
  mkdir -p "$pairs"
  log "making $SWAPS P-256 certificates"
  for i in $(seq "$SWAPS"); do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
      -subj "/CN=localhost/O=swap $i" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$pairs/$i.key" -out "$pairs/$i.crt" 2>/dev/null
  done
  start_fcs "$data"
  "$loadgen" --port "$FCS_PORT" --connections 2 --duration 1 >/dev/null
  local dur=$((DURATION * 2))
  local base swap
  base=$("$loadgen" --port "$FCS_PORT" --connections "$CONNECTIONS" --duration "$dur" --count-certs) || true
  echo "rotation baseline (no swaps): $base"
  "$loadgen" --port "$FCS_PORT" --connections "$CONNECTIONS" --duration "$dur" --count-certs > "$work/swap.out" &
  local lg=$!
  started+=("$lg")
  sleep 1
  local t0 ok=0 gap
  gap=$(awk -v d="$dur" -v n="$SWAPS" 'BEGIN {g = (d - 3) / n - 0.05; print (g > 0 ? g : 0)}')
  t0=$(date +%s.%N)
  for i in $(seq "$SWAPS"); do
    if "$server_bin" replace --data-dir "$data" --cert "$pairs/$i.crt" --key "$pairs/$i.key" >/dev/null 2>&1; then
      ok=$((ok + 1))
      kill -HUP "$FCS_PID"
    fi
    sleep "$gap"
  done
  local t1
  t1=$(date +%s.%N)
  wait "$lg" || true
  swap=$(cat "$work/swap.out")
  echo "rotation with $ok swaps in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s: $swap"
  local metrics
  metrics=$(curl -sk "https://127.0.0.1:$FCS_PORT/metrics" | grep -E '^fcs_(certificate_reloads_total|certificate_reload_failures_total|tls_handshake_failures_total) ' | tr '\n' ' ')
  echo "server metrics: $metrics"
  printf "rotation: swaps=%s failures_with_swaps=%s p99_us_with=%s p99_us_without=%s ratio=%.2f distinct_certs_seen=%s\n" \
    "$ok" "$(word failures "$swap")" "$(word p99_us "$swap")" "$(word p99_us "$base")" \
    "$(awk -v a="$(word p99_us "$swap")" -v b="$(word p99_us "$base")" 'BEGIN {print b ? a / b : 0}')" \
    "$(word distinct_certs "$swap")"
  stop_pid "$FCS_PID"
}

# ---- resumption across a failover ------------------------------------------------------------

bench_failover() {
  local data=$work/fo-data n=${FAILOVER_CLIENTS:-500}
  start_fcs "$data"
  local a_pid=$FCS_PID
  "$loadgen" --port "$FCS_PORT" --connections "$n" --save-sessions "$work/sessions" >&2
  stop_pid "$a_pid"
  cp -a "$data" "$work/fo-copy"
  local target line
  for target in same copy foreign; do
    case $target in
      same) start_fcs "$data" ;;
      copy) start_fcs "$work/fo-copy" ;;
      foreign) start_fcs "$work/fo-foreign" ;;
    esac
    line=$("$loadgen" --port "$FCS_PORT" --load-sessions "$work/sessions") || true
    echo "failover to a server on the $target data folder: $line"
    stop_pid "$FCS_PID"
  done
}

# ---- memory per idle connection --------------------------------------------------------------

hold_rss() { # PID PORT -> KiB per connection
  local pid=$1 port=$2 r0 r1 out=$work/hold-$RANDOM.out
  "$loadgen" --port "$port" --connections 2 --duration 2 >/dev/null
  sleep 0.5
  r0=$(rss_kib "$pid")
  "$loadgen" --port "$port" --hold "$HOLD" --hold-seconds 4 > "$out" &
  local lg=$!
  started+=("$lg")
  local i
  for i in $(seq 200); do grep -q holding "$out" 2>/dev/null && break; sleep 0.05; done
  sleep 0.5
  r1=$(rss_kib "$pid")
  wait "$lg" || true
  echo "$(cat "$out") rss_before_kib=$r0 rss_held_kib=$r1 per_connection_kib=$(awk -v a="$r0" -v b="$r1" -v n="$HOLD" 'BEGIN {printf "%.2f", (b - a) / n}')"
}

bench_memory() {
  ensure_nginx
  local data=$work/mem-data
  start_fcs "$data"
  echo "memory fcs (1 thread): $(hold_rss "$FCS_PID" "$FCS_PORT")"
  stop_pid "$FCS_PID"
  start_nginx "$data"
  echo "memory nginx (worker): $(hold_rss "$NGINX_WORKER" "$NGINX_PORT")"
  stop_pid "$NGINX_MASTER"
}

machine
case $what in
  handshakes) bench_handshakes ;;
  rotation) bench_rotation ;;
  failover) bench_failover ;;
  memory) bench_memory ;;
  all) bench_handshakes; bench_rotation; bench_failover; bench_memory ;;
  *) echo "usage: $0 [handshakes|rotation|failover|memory|all]" >&2; exit 2 ;;
esac
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
