#!/usr/bin/env bash
# Durable case creations per second over HTTP, SQLite and PostgreSQL in one run.
#
# For each back end: a fresh case database (SQLite file in a temp dir; a new PostgreSQL
# database created for the run and dropped after), gridlink serving the demo layers from
# target/bench-data, and wrk POSTing /api/cases for SECONDS_PER_RUN seconds with CONNECTIONS
# connections (bench/intake.lua: a different body per request: public classes C0101, C0102,
# E0101, points ±0.01° around (121.46, 30.92)). A 201 means the case is committed (group
# commit, SQLite WAL + synchronous=FULL, PostgreSQL synchronous_commit as configured).
# Afterwards `GET /api/cases?limit=1` (`total`) must be ≥ the 2xx count wrk saw.
#
# Prints requests/s, latency p50/p99, non-2xx and socket errors, stored cases; exits non-zero
# if a check fails (fewer stored than acknowledged, non-2xx answers, or a server that died).
# Targets (2-core machine): ≥ 2,000/s on SQLite, ≥ 3,000/s on PostgreSQL; a figure below its
# target is flagged, and fails the run only with STRICT=1.
#
# Environment: SECONDS_PER_RUN (15), CONNECTIONS (64), THREADS (2), BACKENDS ("sqlite
# postgres"), GRIDLINK_BENCH_PG (postgres://postgres@127.0.0.1:5432, the server; the script
# creates and drops its own database there), STRICT (0), GRIDLINK_BIN (target/release/gridlink,
# built if not given).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

seconds="${SECONDS_PER_RUN:-15}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"
backends="${BACKENDS:-sqlite postgres}"
pg_server="${GRIDLINK_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
pg_server="${pg_server%/}"
strict="${STRICT:-0}"
data=target/bench-data

if ! command -v wrk >/dev/null && [ "$(id -u)" -eq 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
need wrk curl python3

release_and_data

work=$(mktemp -d -t gridlink-intake.XXXXXX)
server_pid=""
pg_db=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_db" ]; then
    psql "$pg_server/postgres" -qAt -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# json_field FIELD: reads JSON on stdin, prints the field (empty when absent).
json_field() {
  python3 -c 'import json, sys
try:
    print(json.load(sys.stdin).get(sys.argv[1], ""))
except Exception:
    print("")' "$1"
}

failures=0
summary=()

run_backend() {
  local backend=$1 url target
  case "$backend" in
    sqlite)
      url="sqlite:$work/sqlite/gridlink.sqlite"
      target=2000
      ;;
    postgres)
      if ! psql "$pg_server/postgres" -qAt -c "SELECT 1" >/dev/null 2>&1; then
        echo "== postgres: no server at $pg_server, skipped"
        summary+=("postgres  skipped (no server at $pg_server)")
        failures=$((failures + 1))
        return
      fi
      pg_db="gridlink_bench_$$"
      psql "$pg_server/postgres" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $pg_db" >/dev/null
      url="$pg_server/$pg_db"
      target=3000
      ;;
    *) echo "unknown back end $backend" >&2; exit 2 ;;
  esac
  local key port log="$work/$backend-server.log" out="$work/$backend-wrk.txt"
  key=$("$bin" --data-dir "$data" --database "$url" keys create --role dispatcher --label bench 2>/dev/null)
  port=$(free_port)
  "$bin" --data-dir "$data" --database "$url" serve --listen "127.0.0.1:$port" >"$log" 2>&1 &
  server_pid=$!
  local up=0
  for _ in $(seq 1 300); do
    if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; then up=1; break; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$up" -ne 1 ]; then
    echo "== $backend: server did not start; log:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  local sync
  if [ "$backend" = postgres ]; then
    sync="synchronous_commit=$(psql "$url" -qAt -c 'SHOW synchronous_commit'), fsync=$(psql "$url" -qAt -c 'SHOW fsync')"
  else
    sync="journal_mode=WAL, synchronous=FULL"
  fi
  echo "== $backend ($sync): wrk -t$threads -c$connections -d${seconds}s POST /api/cases"
  wrk -t"$threads" -c"$connections" -d"${seconds}s" --timeout 10s --latency -s bench/intake.lua \
    "http://127.0.0.1:$port" >"$out"
  grep -E "Requests/sec|Latency |  50%|  99%|Non-2xx|Socket errors" "$out" | sed "s/^/   /" || true
  local result ok non2xx errors rps p50 p99
  result=$(grep '^RESULT ' "$out" | tail -n 1 || true)
  if [ -z "$result" ]; then
    echo "== $backend: wrk printed no result:" >&2
    cat "$out" >&2
    exit 1
  fi
  ok=$(sed -E 's/.* ok=([0-9]+).*/\1/' <<<"$result")
  non2xx=$(sed -E 's/.* non2xx=([0-9]+).*/\1/' <<<"$result")
  errors=$(sed -E 's/.* errors=([0-9]+).*/\1/' <<<"$result")
  rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$result")
  p50=$(sed -E 's/.* p50_ms=([0-9.]+).*/\1/' <<<"$result")
  p99=$(sed -E 's/.* p99_ms=([0-9.]+).*/\1/' <<<"$result")
  # Requests that timed out in wrk may still be committing: let the intake drain first.
  sleep 1
  local total
  total=$(curl -s -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/cases?limit=1" | json_field total || true)
  kill -0 "$server_pid" 2>/dev/null || { echo "== $backend: the server died during the run" >&2; failures=$((failures + 1)); }
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  local verdict="ok"
  if [ -z "$total" ] || [ "$total" -lt "$ok" ]; then
    verdict="FAIL: stored ${total:-?} < acknowledged $ok"
    failures=$((failures + 1))
  elif [ "$non2xx" -ne 0 ]; then
    verdict="FAIL: $non2xx non-2xx answers"
    failures=$((failures + 1))
  fi
  local meets
  meets=$(python3 -c "print('meets' if float('$rps') >= $target else 'BELOW')")
  if [ "$meets" = BELOW ]; then
    [ "$strict" = 1 ] && failures=$((failures + 1))
    meets="BELOW target"
  fi
  echo "   2xx $ok, non-2xx $non2xx, socket errors $errors; stored (total) $total ≥ 2xx: $verdict"
  summary+=("$(printf '%-9s %8.0f/s  p50 %7.1f ms  p99 %7.1f ms  2xx %7d  non-2xx %d  errors %d  stored %7s  %s; target %d/s: %s' \
    "$backend" "$rps" "$p50" "$p99" "$ok" "$non2xx" "$errors" "$total" "$verdict" "$target" "$meets")")
  if [ "$backend" = postgres ]; then
    psql "$pg_server/postgres" -qAt -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
    pg_db=""
  fi
}

for backend in $backends; do
  run_backend "$backend"
done

echo
echo "== summary: durable case creations over HTTP ($connections connections, ${seconds} s, $(nproc) cores)"
for line in "${summary[@]}"; do
  echo "$line"
done
if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
