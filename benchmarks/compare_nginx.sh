#!/usr/bin/env bash
# Kept so that older commands still work: benchmarks/compare_peers.sh is the successor (fcs against
# nginx, HAProxy and h2o side by side, with fcs_loadgen and openssl s_time as clients, and a
# `threads` mode). Same modes, same environment; see the header of compare_peers.sh.
#   benchmarks/compare_nginx.sh [handshakes|threads|memory|rotation|failover|all]
exec "$(dirname "${BASH_SOURCE[0]}")/compare_peers.sh" "$@"
