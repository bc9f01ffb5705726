#!/usr/bin/env bash
# Durability of acknowledged case creations across a crash of gridlink, SQLite and PostgreSQL.
#
# For each back end: a fresh case database (SQLite file in a temp dir; a new PostgreSQL
# database created for the run and dropped after), gridlink serving the demo layers from
# target/bench-data, and bench/durability_load.py creating cases at full speed from THREADS
# threads (keep-alive connections), writing every id answered with a 2xx to a file at once.
# After KILL_AFTER seconds the server gets SIGKILL (kill -9) in the middle of the load; once
# the load has stopped the server is started again on the same database, and every
# acknowledged id must be there with the description it was sent with (a sweep of
# GET /api/cases?limit=1000&offset=…, plus GET /api/cases/{id} for the last ones acknowledged).
#
# Prints acknowledged, found and lost per back end; exits non-zero on any loss (or a wrong
# description, an id acknowledged twice, a run where the kill did not land mid-load).
# SIGKILL of the server process tests what gridlink acknowledges before committing; it does
# not simulate power loss (the OS page cache survives), which is what synchronous=FULL covers.
#
# Environment: THREADS (16), KILL_AFTER (5 s of load before the kill), BACKENDS ("sqlite
# postgres"), GRIDLINK_BENCH_PG (postgres://postgres@127.0.0.1:5432, the server; the script
# creates and drops its own database there), GRIDLINK_BIN (target/release/gridlink, built if
# not given).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

threads="${THREADS:-16}"
kill_after="${KILL_AFTER:-5}"
backends="${BACKENDS:-sqlite postgres}"
pg_server="${GRIDLINK_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
pg_server="${pg_server%/}"
data=target/bench-data

need curl python3
release_and_data

work=$(mktemp -d -t gridlink-durability.XXXXXX)
server_pid=""
load_pid=""
pg_db=""
cleanup() {
  for pid in $load_pid $server_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
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

# start_server URL PORT LOG: starts gridlink in the background (server_pid) and waits until
# it answers /healthz.
start_server() {
  "$bin" --data-dir "$data" --database "$1" serve --listen "127.0.0.1:$2" >>"$3" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not start; log:" >&2
  tail -n 20 "$3" >&2
  exit 1
}

# field JSON NAME
field() {
  python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get(sys.argv[2]))' "$1" "$2"
}

failures=0
summary=()

run_backend() {
  local backend=$1 url
  case "$backend" in
    sqlite) url="sqlite:$work/sqlite/gridlink.sqlite" ;;
    postgres)
      if ! psql "$pg_server/postgres" -qAt -c "SELECT 1" >/dev/null 2>&1; then
        echo "== postgres: no server at $pg_server, skipped"
        summary+=("postgres  skipped (no server at $pg_server)")
        failures=$((failures + 1))
        return
      fi
      pg_db="gridlink_durability_$$"
      psql "$pg_server/postgres" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $pg_db" >/dev/null
      url="$pg_server/$pg_db"
      ;;
    *) echo "unknown back end $backend" >&2; exit 2 ;;
  esac
  local key port log="$work/$backend-server.log" acked="$work/$backend-acked.tsv"
  key=$("$bin" --data-dir "$data" --database "$url" keys create --role dispatcher --label durability 2>/dev/null)
  port=$(free_port)
  start_server "$url" "$port" "$log"
  echo "== $backend: $threads threads creating cases; kill -9 after ${kill_after} s"
  python3 bench/durability_load.py load --url "http://127.0.0.1:$port" --out "$acked" \
    --threads "$threads" --seconds "$((kill_after + 3))" >"$work/$backend-load.json" &
  load_pid=$!
  sleep "$kill_after"
  local before
  before=$(wc -l <"$acked" 2>/dev/null || echo 0)
  kill -9 "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  echo "   SIGKILL sent with $before cases acknowledged so far"
  wait "$load_pid"
  load_pid=""
  local load
  load=$(cat "$work/$backend-load.json")
  echo "   load: $load"
  echo "   restarting on the same database"
  start_server "$url" "$port" "$log"
  local result status=0
  result=$(python3 bench/durability_load.py check --url "http://127.0.0.1:$port" --key "$key" --acked "$acked") || status=$?
  echo "   check: $result"
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  local acknowledged found lost errors verdict=ok
  acknowledged=$(field "$result" acknowledged)
  found=$(field "$result" found)
  lost=$(field "$result" lost)
  errors=$(field "$load" connection_errors)
  if [ "$status" -ne 0 ]; then
    verdict="FAIL (lost, changed or duplicated cases)"
    failures=$((failures + 1))
  elif [ "$before" -eq 0 ] || [ "$errors" -eq 0 ]; then
    verdict="FAIL (the kill did not land mid-load)"
    failures=$((failures + 1))
  fi
  summary+=("$(printf '%-9s acknowledged %6d  found %6d  lost %d  stored in all %s (%s committed but not yet acknowledged at the kill)  %s' \
    "$backend" "$acknowledged" "$found" "$lost" "$(field "$result" stored_total)" \
    "$(field "$result" unacknowledged_but_stored)" "$verdict")")
  if [ "$backend" = postgres ]; then
    psql "$pg_server/postgres" -qAt -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
    pg_db=""
  fi
}

for backend in $backends; do
  run_backend "$backend"
done

echo
echo "== summary: acknowledged case creations after kill -9 of gridlink ($threads threads, kill after ${kill_after} s)"
for line in "${summary[@]}"; do
  echo "$line"
done
if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "no acknowledged case lost"
