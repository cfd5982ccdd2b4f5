#!/usr/bin/env bash
# Real-socket benchmarks of fcs-failover-server against nginx, HAProxy and h2o (BENCHMARKS.md §2-5,
# issue 12). One command reproduces the whole targets table:
#
#   benchmarks/compare_peers.sh [handshakes|threads|memory|rotation|failover|all]   (default: all)
#
#   handshakes  fcs (1 I/O thread), nginx (1 worker), HAProxy (nbthread 1) and h2o (num-threads 1)
#               all running at once, each on its own loopback port with its own config in the
#               temporary folder, the same certificate and key (the P-256 pair fcs makes in its data
#               folder), the same TLS settings (TLS 1.2 + 1.3, the ECDHE+AEAD TLS 1.2 list below,
#               groups X25519:P-256:P-384, client's cipher order, session tickets on) and a small
#               JSON 200 for GET /health. Two clients, each in full and resumed mode:
#                 fcs_loadgen      our BoringSSL client: CONNECTIONS threads, each connect, TLS 1.3
#                                  handshake, GET /health (Connection: close), read, close; --resume
#                                  offers the newest ticket of the thread.
#                 openssl s_time   Debian's OpenSSL 3 (not fcs's own code): CONNECTIONS s_time
#                                  processes in parallel, `-tls1_3 -new|-reuse -www /health`; each
#                                  connection sends `GET /health HTTP/1.0` and reads to the close;
#                                  -reuse offers the session of the previous connection (s_time
#                                  prints one character per connection, `r` when it resumed: those
#                                  are counted, as is one priming full handshake per process).
#               Server CPU per handshake = delta of the first field of /proc/PID/task/*/schedstat
#               summed over every thread of every process of the server (its whole process tree:
#               nginx master + worker, h2o + its neverbleed key process), over the run, divided by
#               the handshakes the client completed. RUNS runs; in each run the four servers take
#               turns (the order rotates from run to run); medians. Also, nginx only: plain HTTP
#               (no TLS) with fcs_loadgen --plain, the per-connection cost besides TLS.
#   threads     fcs --threads 1 and fcs --threads 2 (same certificate), the same load from both
#               clients, interleaved runs: server CPU per handshake and the threads2/threads1 ratio.
#   memory      resident memory per idle established TLS connection: VmRSS before and while
#               `fcs_loadgen --hold HOLD` keeps HOLD TLS 1.3 connections open (handshake done, no
#               request); fcs: the server; nginx: its worker; HAProxy: its process; h2o: its main
#               process (the one holding the connections).
#   rotation    100 certificate swaps (`fcs-failover-server replace` + SIGHUP, the admin's path)
#               while fcs_loadgen runs: failed handshakes and p99 latency vs a run without swaps.
#   failover    two fcs servers sharing the ticket keys: clients get tickets on the first, it is
#               stopped, they reconnect to the second (same data folder, then a copy of it, then a
#               foreign folder as the control): share resumed.
#   inprocess   fcs_handshake_bench (build it too): the full P-256 handshake against its crypto
#               floor, interleaved per iteration, RUNS repetitions.
#   all         all of the above, then the targets table (fcs / best peer per line).
#
# Environment: FCS_BENCH_BUILD (build folder, default ./build-bench), RUNS (5), DURATION (10 s per
# load run; whole seconds, as s_time takes them), CONNECTIONS (4 client threads / s_time
# processes), HOLD (1000), SWAPS (100), FAILOVER_CLIENTS (500), CLIENTS ("loadgen openssl"),
# PEERS ("nginx haproxy h2o"). The targets table prints only what the chosen mode measured.
# Short check: RUNS=1 DURATION=2 HOLD=200 benchmarks/compare_peers.sh all   (about 4 minutes)
#
# Everything runs on 127.0.0.1 with temporary folders; every process started here is stopped here
# (with its children). The peers are Debian's packages (nginx, haproxy, h2o), installed with
# apt-get when missing; their system services are not used (on a machine with systemd, installing
# them starts those services on their default ports; ours run with their own config and port).
# Settings that differ by necessity: h2o 2.2 has no groups option (it uses OpenSSL's default list,
# X25519 first, which is what both clients offer) and always keeps the private key in its
# neverbleed process (counted in its CPU); HAProxy reads certificate and key from one PEM file,
# written here with mode 0600 from the first byte. The JSON answer: nginx `return 200`, HAProxy
# `http-request return`, h2o an mruby handler; fcs serves its own /health.
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
CLIENTS=${CLIENTS:-loadgen openssl}
PEERS=${PEERS:-nginx haproxy h2o}
what=${1:-all}
path=/health

for f in "$server_bin" "$loadgen"; do
  [ -x "$f" ] || { echo "missing $f: cmake --build $build --target fcs-failover-server fcs_loadgen" >&2; exit 2; }
done
command -v openssl >/dev/null || { echo "missing openssl (Debian package openssl)" >&2; exit 2; }
case $what in
  handshakes|threads|rotation|failover|memory|inprocess|all) ;;
  *) echo "usage: $0 [handshakes|threads|memory|rotation|failover|inprocess|all]" >&2; exit 2 ;;
esac
for c in $CLIENTS; do
  case $c in
    loadgen) ;;
    openssl) case $DURATION in ''|*[!0-9]*|0) echo "DURATION: whole seconds (openssl s_time -time)" >&2; exit 2 ;; esac ;;
    *) echo "CLIENTS: unknown client '$c' (loadgen openssl)" >&2; exit 2 ;;
  esac
done

tls12_ciphers=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305

work=$(mktemp -d /tmp/fcs-bench.XXXXXX)
started=()
declare -A TOP PORT MEMPID
results=$work/results
: > "$results"

# The pids of a process and all its descendants.
tree_pids() {
  local p c
  for p in "$@"; do
    echo "$p"
    for c in $(pgrep -P "$p" 2>/dev/null || true); do tree_pids "$c"; done
  done
}

# Stops a process and whatever it started: TERM to the top, wait, then TERM to any survivor.
stop_tree() {
  local top=$1 pids p i
  kill -0 "$top" 2>/dev/null || { wait "$top" 2>/dev/null || true; return 0; }
  pids=$(tree_pids "$top")
  kill -TERM "$top" 2>/dev/null || true
  wait "$top" 2>/dev/null || true
  for i in $(seq 30); do
    local alive=""
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && return 0
    [ "$i" = 10 ] && kill -TERM $alive 2>/dev/null || true
    sleep 0.1
  done
  kill -KILL $alive 2>/dev/null || true
}

cleanup() {
  local p
  for p in "${started[@]}"; do stop_tree "$p"; done
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

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 == 0 || a == "nan" || b == "nan") print "nan"; else printf "%.3f", a / b}'; }

result() { echo "$1 $2" >> "$results"; }           # KEY VALUE
got() { awk -v k="$1" '$1 == k {v = $2} END {print v}' "$results"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until PORT accepts connections while PID lives; on failure prints LOG and exits.
wait_port() {
  local name=$1 pid=$2 port=$3 logf=$4 i
  for i in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$logf" >&2 || true
  echo "$name did not start" >&2
  exit 1
}

# Starts fcs-failover-server as NAME on DIR with THREADS I/O threads (default 1).
start_fcs() {
  local name=$1 dir=$2 threads=${3:-1} out=$work/$1-$RANDOM.out
  "$server_bin" serve --data-dir "$dir" --bind 127.0.0.1 --port 0 --threads "$threads" \
    --max-connections 20000 > "$out" 2>&1 &
  local pid=$!
  started+=("$pid")
  TOP[$name]=$pid
  MEMPID[$name]=$pid
  local i port=""
  for i in $(seq 100); do
    port=$(sed -n 's|^listening on https://127.0.0.1:\([0-9]*\).*|\1|p' "$out" | head -1)
    [ -n "$port" ] && { PORT[$name]=$port; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$out" >&2
  echo "fcs-failover-server did not start" >&2
  exit 1
}

stop_server() { stop_tree "${TOP[$1]}"; }

peer_bin() {
  case $1 in
    nginx) command -v nginx || echo /usr/sbin/nginx ;;
    haproxy) command -v haproxy || echo /usr/sbin/haproxy ;;
    h2o) command -v h2o || echo /usr/bin/h2o ;;
  esac
}

# Installs the Debian packages of the peers that are missing (apt-get, like scripts/fcs.sh).
ensure_peers() {
  local p missing=()
  for p in $PEERS; do
    case $p in nginx|haproxy|h2o) ;; *) echo "PEERS: unknown peer '$p' (nginx haproxy h2o)" >&2; exit 2 ;; esac
    [ -x "$(peer_bin "$p")" ] || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing Debian's ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

peer_version() {
  case $1 in
    nginx) "$(peer_bin nginx)" -v 2>&1 ;;
    haproxy) "$(peer_bin haproxy)" -v | head -1 | cut -d' ' -f1-3 ;;
    h2o) "$(peer_bin h2o)" --version | head -1 ;;
  esac
}

crt_of() { echo "$1/Certificates/FailoverService.crt"; }
key_of() { echo "$1/Certificates/Keys/FailoverService.key"; }

# nginx, 1 worker, with the certificate and key of the fcs data folder DIR; also a plain-HTTP port.
start_nginx() {
  local dir=$1 prefix=$work/nginx
  mkdir -p "$prefix/logs" "$prefix/tmp"
  PORT[nginx]=$(free_port)
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
    listen 127.0.0.1:${PORT[nginx]} ssl;
    listen 127.0.0.1:$NGINX_PLAIN_PORT;
    ssl_certificate $(crt_of "$dir");
    ssl_certificate_key $(key_of "$dir");
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers $tls12_ciphers;
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
  "$(peer_bin nginx)" -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off; master_process on;' \
    > "$prefix/logs/stdout.log" 2>&1 &
  TOP[nginx]=$!
  started+=("${TOP[nginx]}")
  wait_port nginx "${TOP[nginx]}" "${PORT[nginx]}" "$prefix/logs/error.log"
  local i w=""
  for i in $(seq 50); do
    w=$(pgrep -P "${TOP[nginx]}" | head -1 || true)
    [ -n "$w" ] && break
    sleep 0.1
  done
  [ -n "$w" ] || { echo "nginx: no worker process" >&2; exit 1; }
  MEMPID[nginx]=$w
}

# HAProxy, one process with one thread (nbthread 1), foreground (-db: no master process).
start_haproxy() {
  local dir=$1 prefix=$work/haproxy
  mkdir -p "$prefix"
  PORT[haproxy]=$(free_port)
  # HAProxy wants certificate and key in one file: made 0600 before the key is written.
  (umask 077 && cat "$(crt_of "$dir")" "$(key_of "$dir")" > "$prefix/pair.pem")
  # Each connection takes up to two descriptors (client side, server side) in HAProxy's count.
  local maxconn=$((($(ulimit -n) - 100) / 2))
  cat > "$prefix/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn $maxconn
  pidfile $prefix/haproxy.pid
defaults
  mode http
  timeout connect 5s
  timeout server 5s
  timeout client 60s
  timeout http-request 60s
  timeout http-keep-alive 10s
frontend fcs_bench
  bind 127.0.0.1:${PORT[haproxy]} ssl crt $prefix/pair.pem ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3 ciphers $tls12_ciphers curves X25519:P-256:P-384 prefer-client-ciphers
  http-request return status 200 content-type application/json string '{"status":"ok"}'
EOF
  "$(peer_bin haproxy)" -db -f "$prefix/haproxy.cfg" > "$prefix/haproxy.log" 2>&1 &
  TOP[haproxy]=$!
  MEMPID[haproxy]=${TOP[haproxy]}
  started+=("${TOP[haproxy]}")
  wait_port haproxy "${TOP[haproxy]}" "${PORT[haproxy]}" "$prefix/haproxy.log"
}

# h2o, one worker thread (num-threads 1); the JSON comes from an mruby handler.
start_h2o() {
  local dir=$1 prefix=$work/h2o
  mkdir -p "$prefix"
  PORT[h2o]=$(free_port)
  cat > "$prefix/h2o.conf" <<EOF
num-threads: 1
max-connections: 20000
user: root
pid-file: $prefix/h2o.pid
error-log: $prefix/error.log
http1-request-timeout: 60
ssl-session-resumption:
  mode: all
listen:
  host: 127.0.0.1
  port: ${PORT[h2o]}
  ssl:
    certificate-file: $(crt_of "$dir")
    key-file: $(key_of "$dir")
    minimum-version: TLSv1.2
    cipher-suite: $tls12_ciphers
    cipher-preference: client
    ocsp-update-interval: 0
hosts:
  default:
    paths:
      /:
        mruby.handler: |
          Proc.new do |env|
            [200, {"content-type" => "application/json"}, ["{\"status\":\"ok\"}\n"]]
          end
EOF
  "$(peer_bin h2o)" -c "$prefix/h2o.conf" > "$prefix/stdout.log" 2>&1 &
  TOP[h2o]=$!
  MEMPID[h2o]=${TOP[h2o]}
  started+=("${TOP[h2o]}")
  wait_port h2o "${TOP[h2o]}" "${PORT[h2o]}" "$prefix/stdout.log"
}

start_peer() { "start_$1" "$2"; }

# One request through openssl s_client: checks the 200 and names what was negotiated.
check_server() {
  local name=$1 port=${PORT[$1]} status neg neg13
  status=$(printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path" |
    timeout 10 openssl s_client -quiet -connect 127.0.0.1:"$port" -servername localhost 2>/dev/null |
    head -1 | tr -d '\r') || true
  local v neg12
  for v in 3 2; do
    neg=$(timeout 10 openssl s_client -brief -tls1_$v -connect 127.0.0.1:"$port" -servername localhost \
      < /dev/null 2>&1 | sed -n 's/^\(Protocol version\|Ciphersuite\|Server Temp Key\): //p' | paste -sd' ' -) || true
    [ "$v" = 2 ] && neg12=$neg
    [ "$v" = 3 ] && neg13=$neg
  done
  case $status in
    "HTTP/1."?" 200"*) log "$name: GET $path -> $status; openssl s_client negotiates: $neg13 | $neg12" ;;
    *) echo "$name on port $port: GET $path answered '$status', expected a 200" >&2; exit 1 ;;
  esac
}

# ---- clients ---------------------------------------------------------------------------------
# run_client CLIENT MODE PORT -> one line of key=value words: handshakes failures resumed rate
# (p50_us p99_us from fcs_loadgen). MODE: full or resumed. Exit status 0.

run_client() {
  local client=$1 mode=$2 port=$3
  case $client in
    loadgen)
      local flag=""
      [ "$mode" = resumed ] && flag=--resume
      "$loadgen" --port "$port" --connections "$CONNECTIONS" --duration "$DURATION" --path "$path" $flag || true
      ;;
    openssl)
      local flag=-new i t0 t1 pids=() d=$work/stime-$RANDOM
      [ "$mode" = resumed ] && flag=-reuse
      mkdir -p "$d"
      t0=$(date +%s.%N)
      for i in $(seq "$CONNECTIONS"); do
        openssl s_time -connect 127.0.0.1:"$port" -tls1_3 $flag -time "$DURATION" -www "$path" \
          > "$d/$i.out" 2>&1 &
        pids+=("$!")
      done
      local failed=0
      for i in "${pids[@]}"; do wait "$i" || failed=$((failed + 1)); done
      t1=$(date +%s.%N)
      # s_time prints one character per connection ('r': resumed, '*': not) on one line, then
      # "N connections in Xs; ..." and "N connections in T real seconds, B bytes read per connection".
      local n=0 r=0 other=0 bytes="" f c
      for i in $(seq "$CONNECTIONS"); do
        f=$d/$i.out
        c=$(sed -n 's/^\([0-9]*\) connections in [0-9.]*s;.*/\1/p' "$f" | head -1)
        if [ -z "$c" ]; then
          failed=$((failed + 1))
          echo "openssl s_time to port $port failed: $(grep -v '^[r*]*$' "$f" | tail -3 | tr '\n' ' ')" >&2
          continue
        fi
        n=$((n + c))
        [ "$mode" = resumed ] && n=$((n + 1)) # the priming full handshake before the timed loop
        r=$((r + $(awk '/^[r*]+$/ {s = s $0} END {print gsub(/r/, "", s)}' "$f")))
        other=$((other + $(awk '/^[r*]+$/ {s = s $0} END {print gsub(/\*/, "", s)}' "$f")))
        [ -n "$bytes" ] || bytes=$(sed -n 's/.* real seconds, \([0-9]*\) bytes read per connection.*/\1/p' "$f" | head -1)
      done
      # A connection that read no answer did not do the request: count the run as failed.
      [ "${bytes:-0}" -gt 0 ] || failed=$((failed + 1))
      echo "handshakes=$n failures=$failed resumed=$r not_resumed_marks=$other seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}') rate=$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN {printf "%.1f", n / (b - a)}') bytes_per_connection=$bytes p50_us=- p99_us=-"
      ;;
  esac
}

client_name() { case $1 in loadgen) echo fcs_loadgen ;; openssl) echo "openssl s_time" ;; esac; }

# measure NAME CLIENT MODE RUN: one load run against server NAME; prints the run's line and
# appends the CPU per handshake and the rate to $work/NAME-CLIENT-MODE.{cpu,rate}.
measure() {
  local srv=$1 client=$2 mode=$3 run=$4 pids c0 c1 line hs us
  pids=$(tree_pids "${TOP[$srv]}")
  c0=$(cpu_ns $pids)
  line=$(run_client "$client" "$mode" "${PORT[$srv]}")
  c1=$(cpu_ns $pids)
  hs=$(word handshakes "$line")
  us=$(awk -v d=$((c1 - c0)) -v n="${hs:-0}" 'BEGIN {printf "%.1f", n ? d / n / 1000 : 0}')
  echo "$srv $client $mode run=$run server_cpu_us_per_handshake=$us rate=$(word rate "$line") handshakes=$hs failures=$(word failures "$line") resumed=$(word resumed "$line") p50_us=$(word p50_us "$line") p99_us=$(word p99_us "$line")"
  [ "$(word failures "$line")" = 0 ] || echo "  ^ $srv $client $mode run $run had failures: $line" >&2
  if [ "$mode" = resumed ] && [ "${hs:-0}" -gt 0 ]; then
    # Resumption must really happen: at most one full handshake per client connection.
    local res
    res=$(word resumed "$line")
    [ $((res + CONNECTIONS)) -ge "$hs" ] || echo "  ^ $srv $client: only $res of $hs resumed" >&2
  fi
  echo "$us" >> "$work/$srv-$client-$mode.cpu"
  echo "$(word rate "$line")" >> "$work/$srv-$client-$mode.rate"
}

# Runs MODES x CLIENTS x RUNS over SERVERS (rotating their order per run).
interleave() {
  local modes=$1 servers mode client run k n
  read -r -a servers <<< "$2"
  n=${#servers[@]}
  for mode in $modes; do
    for client in $CLIENTS; do
      for run in $(seq "$RUNS"); do
        for k in $(seq 0 $((n - 1))); do
          measure "${servers[$(((k + run - 1) % n))]}" "$client" "$mode" "$run"
        done
      done
    done
  done
}

machine() {
  echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---- handshakes ------------------------------------------------------------------------------

bench_handshakes() {
  ensure_peers
  local data=$work/hs-data p srv
  start_fcs fcs "$data" 1
  for p in $PEERS; do start_peer "$p" "$data"; done
  echo "servers: fcs-failover-server (1 I/O thread) port ${PORT[fcs]}$(for p in $PEERS; do printf '; %s port %s' "$(peer_version "$p")" "${PORT[$p]}"; done)"
  echo "clients: fcs_loadgen (BoringSSL), $(openssl version)"
  for srv in fcs $PEERS; do check_server "$srv"; done
  # Warm-up: allocators, page cache, the first tickets.
  for srv in fcs $PEERS; do
    "$loadgen" --port "${PORT[$srv]}" --connections 2 --duration 1 --path "$path" >/dev/null || true
  done
  interleave "full resumed" "fcs $PEERS"
  # The cost of a connection without TLS (TCP, HTTP, event loop), nginx only, as the reference
  # for what a server pays per connection besides the handshake.
  if [[ " $PEERS " == *" nginx "* ]]; then
    local run c0 c1 line hs npids
    npids=$(tree_pids "${TOP[nginx]}")
    for run in $(seq "$RUNS"); do
      c0=$(cpu_ns $npids)
      line=$("$loadgen" --port "$NGINX_PLAIN_PORT" --connections "$CONNECTIONS" --duration "$DURATION" --path "$path" --plain) || true
      c1=$(cpu_ns $npids)
      hs=$(word handshakes "$line")
      awk -v d=$((c1 - c0)) -v n="${hs:-0}" 'BEGIN {printf "%.1f\n", n ? d / n / 1000 : 0}' >> "$work/nginx-plain.cpu"
      word rate "$line" >> "$work/nginx-plain.rate"
      echo "nginx loadgen plain run=$run $line"
    done
  fi
  echo
  echo "handshakes: medians of $RUNS runs of ${DURATION}s, $CONNECTIONS client connections (threads or s_time processes), TLS 1.3 X25519, P-256 certificate; server CPU per handshake in us (handshakes/s)"
  local mode client
  for mode in full resumed; do
    for client in $CLIENTS; do
      local row best="" bestc="" fc
      fc=$(median < "$work/fcs-$client-$mode.cpu")
      row=$(printf "fcs %.1f (%.0f/s)" "$fc" "$(median < "$work/fcs-$client-$mode.rate")")
      for p in $PEERS; do
        local c
        c=$(median < "$work/$p-$client-$mode.cpu")
        row="$row | $(printf "%s %.1f (%.0f/s)" "$p" "$c" "$(median < "$work/$p-$client-$mode.rate")")"
        if [ -z "$bestc" ] || awk -v a="$c" -v b="$bestc" 'BEGIN {exit !(a < b)}'; then best=$p; bestc=$c; fi
      done
      local r=nan
      [ -n "$best" ] && r=$(ratio "$fc" "$bestc")
      printf "  %-8s %-15s %s | fcs/best peer (%s) %s\n" "$mode" "$(client_name "$client")" "$row" "${best:-none}" "$r"
      result "hs_${mode}_${client}_ratio" "$r"
      result "hs_${mode}_${client}_best" "${best:-none}"
      result "hs_${mode}_${client}_fcs" "$fc"
      result "hs_${mode}_${client}_bestc" "${bestc:-nan}"
    done
  done
  if [ -s "$work/nginx-plain.cpu" ]; then
    printf "  %-8s %-15s nginx %.1f us CPU/connection (%.0f conn/s): plain HTTP, no TLS, the per-connection cost besides TLS\n" \
      plain fcs_loadgen "$(median < "$work/nginx-plain.cpu")" "$(median < "$work/nginx-plain.rate")"
  fi
  for srv in fcs $PEERS; do stop_server "$srv"; done
}

# ---- threads: --threads 2 vs --threads 1 -----------------------------------------------------

bench_threads() {
  local d1=$work/thr1-data d2=$work/thr2-data
  start_fcs t1 "$d1" 1 # makes the certificate; the second server gets a copy of the folder
  stop_server t1
  cp -a "$d1" "$d2"
  start_fcs t1 "$d1" 1
  start_fcs t2 "$d2" 2
  echo "threads: fcs --threads 1 port ${PORT[t1]}, fcs --threads 2 port ${PORT[t2]}, same certificate"
  local srv
  for srv in t1 t2; do
    "$loadgen" --port "${PORT[$srv]}" --connections 2 --duration 1 --path "$path" >/dev/null || true
  done
  interleave "full resumed" "t1 t2"
  echo
  echo "threads: medians of $RUNS runs of ${DURATION}s, $CONNECTIONS client connections; server CPU per handshake"
  local mode client a b
  for mode in full resumed; do
    for client in $CLIENTS; do
      a=$(median < "$work/t1-$client-$mode.cpu"); b=$(median < "$work/t2-$client-$mode.cpu")
      printf "  %-8s %-15s threads1 %.1f us (%.0f/s) | threads2 %.1f us (%.0f/s) | threads2/threads1 %s\n" \
        "$mode" "$(client_name "$client")" "$a" "$(median < "$work/t1-$client-$mode.rate")" \
        "$b" "$(median < "$work/t2-$client-$mode.rate")" "$(ratio "$b" "$a")"
      result "thr_${mode}_${client}_ratio" "$(ratio "$b" "$a")"
    done
  done
  stop_server t1
  stop_server t2
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
  start_fcs rot "$data"
  local port=${PORT[rot]} pid=${TOP[rot]}
  "$loadgen" --port "$port" --connections 2 --duration 1 >/dev/null
  local dur=$((DURATION * 2))
  local base swap
  base=$("$loadgen" --port "$port" --connections "$CONNECTIONS" --duration "$dur" --count-certs) || true
  echo "rotation baseline (no swaps): $base"
  "$loadgen" --port "$port" --connections "$CONNECTIONS" --duration "$dur" --count-certs > "$work/swap.out" &
  local lg=$!
  started+=("$lg")
  sleep 1
  local t0 ok=0 gap
  gap=$(awk -v d="$dur" -v n="$SWAPS" 'BEGIN {g = (d - 3) / n - 0.05; print (g > 0 ? g : 0)}')
  t0=$(date +%s.%N)
  for i in $(seq "$SWAPS"); do
    if "$server_bin" replace --data-dir "$data" --cert "$pairs/$i.crt" --key "$pairs/$i.key" >/dev/null 2>&1; then
      ok=$((ok + 1))
      kill -HUP "$pid"
    fi
    sleep "$gap"
  done
  local t1
  t1=$(date +%s.%N)
  wait "$lg" || true
  swap=$(cat "$work/swap.out")
  echo "rotation with $ok swaps in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s: $swap"
  local metrics
  metrics=$(curl -sk "https://127.0.0.1:$port/metrics" | grep -E '^fcs_(certificate_reloads_total|certificate_reload_failures_total|tls_handshake_failures_total) ' | tr '\n' ' ')
  echo "server metrics: $metrics"
  local pr
  pr=$(awk -v a="$(word p99_us "$swap")" -v b="$(word p99_us "$base")" 'BEGIN {printf "%.2f", b ? a / b : 0}')
  printf "rotation: swaps=%s failures_with_swaps=%s p99_us_with=%s p99_us_without=%s ratio=%s distinct_certs_seen=%s\n" \
    "$ok" "$(word failures "$swap")" "$(word p99_us "$swap")" "$(word p99_us "$base")" "$pr" \
    "$(word distinct_certs "$swap")"
  result rot_swaps "$ok"
  result rot_failures "$(word failures "$swap")"
  result rot_p99_ratio "$pr"
  stop_server rot
}

# ---- resumption across a failover ------------------------------------------------------------

bench_failover() {
  local data=$work/fo-data n=${FAILOVER_CLIENTS:-500}
  start_fcs fo "$data"
  "$loadgen" --port "${PORT[fo]}" --connections "$n" --save-sessions "$work/sessions" >&2
  stop_server fo
  cp -a "$data" "$work/fo-copy"
  local target line
  for target in same copy foreign; do
    case $target in
      same) start_fcs fo "$data" ;;
      copy) start_fcs fo "$work/fo-copy" ;;
      foreign) start_fcs fo "$work/fo-foreign" ;;
    esac
    line=$("$loadgen" --port "${PORT[fo]}" --load-sessions "$work/sessions") || true
    echo "failover to a server on the $target data folder: $line"
    result "fo_${target}_share" "$(word share "$line")"
    stop_server fo
  done
}

# ---- memory per idle connection --------------------------------------------------------------

hold_rss() { # PID PORT -> the loadgen line and KiB per connection
  local pid=$1 port=$2 r0 r1 out=$work/hold-$RANDOM.out
  "$loadgen" --port "$port" --connections 2 --duration 2 --path "$path" >/dev/null || true
  sleep 0.5
  r0=$(rss_kib "$pid")
  "$loadgen" --port "$port" --hold "$HOLD" --hold-seconds 4 > "$out" &
  local lg=$!
  started+=("$lg")
  local i
  for i in $(seq 600); do grep -q holding "$out" 2>/dev/null && break; sleep 0.05; done
  sleep 0.5
  r1=$(rss_kib "$pid")
  wait "$lg" || true
  echo "$(cat "$out") rss_before_kib=$r0 rss_held_kib=$r1 per_connection_kib=$(awk -v a="$r0" -v b="$r1" -v n="$HOLD" 'BEGIN {printf "%.2f", (b - a) / n}')"
}

bench_memory() {
  ensure_peers
  local data=$work/mem-data line p kib best="" bestk=""
  start_fcs fcs "$data"
  line=$(hold_rss "${MEMPID[fcs]}" "${PORT[fcs]}")
  echo "memory fcs (1 thread): $line"
  local fk
  fk=$(word per_connection_kib "$line")
  result mem_fcs "$fk"
  stop_server fcs
  for p in $PEERS; do
    start_peer "$p" "$data"
    line=$(hold_rss "${MEMPID[$p]}" "${PORT[$p]}")
    case $p in nginx) echo "memory nginx (worker): $line" ;; *) echo "memory $p (process ${MEMPID[$p]}): $line" ;; esac
    kib=$(word per_connection_kib "$line")
    result "mem_$p" "$kib"
    if [ -z "$bestk" ] || awk -v a="$kib" -v b="$bestk" 'BEGIN {exit !(a < b)}'; then best=$p; bestk=$kib; fi
    stop_server "$p"
  done
  echo "memory per idle connection (KiB): fcs $fk$(for p in $PEERS; do printf ' | %s %s' "$p" "$(got "mem_$p")"; done)"
  result mem_best "${best:-none}"
  result mem_bestk "${bestk:-nan}"
}

# ---- in process: the handshake against its crypto floor --------------------------------------

# fcs_handshake_bench's interleaved benchmark (one handshake and one floor operation per
# iteration, so the machine's other work slows both alike): full P-256 handshake / floor.
bench_inprocess() {
  local bench=$build/benchmarks/fcs_handshake_bench out=$work/inprocess.out
  [ -x "$bench" ] || { echo "missing $bench: cmake --build $build --target fcs_handshake_bench" >&2; exit 2; }
  "$bench" --benchmark_filter='full/p256/' --benchmark_repetitions="$RUNS" \
    --benchmark_report_aggregates_only=true > "$out" 2>&1 || { cat "$out" >&2; exit 1; }
  grep -E "^  full/p256" "$out"
  result inproc_ratio "$(sed -n 's|^  full/p256/fcs_with_floor .*handshake / floor = *\([0-9.]*\) .*|\1|p' "$out")"
}

# ---- the targets table -----------------------------------------------------------------------

targets() {
  [ -s "$results" ] || return 0
  local v
  echo
  echo "targets (issue 12; ratios from this run; medians of $RUNS interleaved runs):"
  printf "  %-66s %-8s %-8s %-8s %s\n" measure value target "" "best peer"
  row() { # MEASURE VALUE BEST TARGET_OP TARGET
    local verdict=""
    case $2 in
      ""|nan) return 0 ;;
    esac
    case $4 in
      le) verdict=$(awk -v a="$2" -v b="$5" 'BEGIN {print (a <= b ? "met" : "missed")}') ;;
      ge) verdict=$(awk -v a="$2" -v b="$5" 'BEGIN {print (a >= b ? "met" : "missed")}') ;;
      eq) verdict=$(awk -v a="$2" -v b="$5" 'BEGIN {print (a == b ? "met" : "missed")}') ;;
    esac
    local t
    case $4 in le) t="<= $5" ;; ge) t=">= $5" ;; eq) t="$5" ;; esac
    printf "  %-66s %-8s %-8s %-8s %s\n" "$1" "$2" "$t" "$verdict" "$3"
  }
  local mode client name
  for mode in full resumed; do
    for client in $CLIENTS; do
      v=$(got "hs_${mode}_${client}_ratio")
      name="server CPU per $mode handshake, fcs/best peer ($(client_name "$client"))"
      row "$name" "$v" "$(got "hs_${mode}_${client}_best") ($(got "hs_${mode}_${client}_bestc") us; fcs $(got "hs_${mode}_${client}_fcs"))" le 0.4
    done
  done
  local mf mn
  mf=$(got mem_fcs); mn=$(got mem_nginx)
  [ -n "$mf" ] && [ -n "$mn" ] && row "memory per idle TLS connection, fcs/nginx" "$(ratio "$mf" "$mn")" \
    "best: $(got mem_best) ($(got mem_bestk) KiB; fcs $mf)" le 0.5
  [ -n "$mf" ] && [ -n "$(got mem_bestk)" ] && [ "$(got mem_best)" != nginx ] &&
    row "memory per idle TLS connection, fcs/best peer" "$(ratio "$mf" "$(got mem_bestk)")" "$(got mem_best)" le 0.5
  row "failed handshakes during $(got rot_swaps) certificate swaps" "$(got rot_failures)" "(fcs only)" eq 0
  row "p99 handshake latency with swaps / without" "$(got rot_p99_ratio)" "(fcs only)" le 1.3
  row "resumed after failover to the same data folder (%)" "$(got fo_same_share | tr -d %)" "(fcs only)" ge 99
  for client in $CLIENTS; do
    row "server CPU per full handshake, threads2/threads1 ($(client_name "$client"))" "$(got "thr_full_${client}_ratio")" "(fcs only)" le 1.05
  done
  row "in-process full handshake / crypto floor (P-256, interleaved)" "$(got inproc_ratio)" "(fcs only)" le 1.2
}

machine
case $what in
  handshakes) bench_handshakes ;;
  threads) bench_threads ;;
  rotation) bench_rotation ;;
  failover) bench_failover ;;
  memory) bench_memory ;;
  inprocess) bench_inprocess ;;
  all) bench_handshakes; bench_threads; bench_rotation; bench_failover; bench_memory; bench_inprocess ;;
esac
targets
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
