#!/usr/bin/env bash
# Runs the server load benchmark (widget-server/benches/load.rs) on loopback
# and prints its figures against the design's performance targets.
#   bash scripts/bench.sh            SQLite in a temp file
#   bash scripts/bench.sh postgres   a throwaway PostgreSQL cluster, started and stopped here
# NATTER_BENCH_SECS (default 5) and NATTER_BENCH_SOCKETS (default 10000) tune the run.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each socket is a file descriptor in the benchmark and in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ "${1:-sqlite}" != postgres ]; then
  exec cargo bench -p natter-server --bench load --locked
fi

bin=$(dirname "$( (ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null || true) | sort -V | tail -1)")
[ -x "$bin/initdb" ] || bin=$(dirname "$(command -v initdb)")
as_pg=()
[ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
dir=$(mktemp -d)
[ "$(id -u)" = 0 ] && chown postgres "$dir"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() { "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap stop EXIT
"${as_pg[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
"${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
NATTER_BENCH_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres" \
  cargo bench -p natter-server --bench load --locked
