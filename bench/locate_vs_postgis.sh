#!/usr/bin/env bash
# gridlink against PostGIS on the same demo data and the same 1,000,000 random points in the
# district, in one run:
#   1. batch locate: gridlink in process, one core (criterion, `benches/locate.rs`) versus a
#      PostGIS ST_Contains join with a GiST index (one worker, and with parallel workers);
#   2. batch locate over HTTP: the same points POSTed as CSV to /api/locate/batch;
#   3. single point: GET /api/locate under wrk versus the same ST_Contains query through
#      pgbench (prepared statements, 4 clients).
# Needs PostgreSQL with PostGIS (GRIDLINK_BENCH_DB, default the local test database) and wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
db="${GRIDLINK_BENCH_DB:-postgres://postgres@127.0.0.1:5432/test}"
n="${N:-1000000}"
seconds="${SECONDS_PER_RUN:-20}"
schema=gridlink_bench
psql_q() { psql "$db" -qAt -v ON_ERROR_STOP=1 "$@"; }
if ! command -v wrk >/dev/null && [ "$(id -u)" -eq 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
for tool in psql pgbench wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (Debian: postgresql-client, wrk, curl, python3)" >&2; exit 1; }
done

cargo build --release --quiet
bin=target/release/gridlink
data=target/bench-data
[ -f "$data/grid_cells.geojson" ] || "$bin" gen-data --out "$data" >/dev/null
echo "== importing the demo data into PostGIS (schema $schema)"
"$bin" import --data-dir "$data" --to "$db" --schema "$schema" | tail -n 1

echo "== $n random points inside the district (PostGIS ST_GeneratePoints, seed 2026)"
psql_q <<SQL
DROP TABLE IF EXISTS $schema.points;
CREATE TABLE $schema.points AS
  SELECT (d).path[1] AS id, (d).geom::geometry(Point, 4326) AS geom
  FROM (SELECT ST_Dump(ST_GeneratePoints(geom, $n, 2026)) AS d FROM $schema.district) s;
ALTER TABLE $schema.points ADD PRIMARY KEY (id);
ANALYZE $schema.points;
SQL
psql_q -c "\\copy (SELECT id, ST_X(geom), ST_Y(geom) FROM $schema.points ORDER BY id) TO 'target/bench-points.csv' WITH CSV"
head -n 20000 target/bench-points.csv > target/bench-points-wrk.csv

echo "== PostGIS: ST_Contains join of $n points with the grid cells (GiST)"
postgis_ms() {
  psql_q -c "SET max_parallel_workers_per_gather = $1" -c "EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(c.code) FROM $schema.points p JOIN $schema.grid_cells c ON ST_Contains(c.geom, p.geom)" \
    | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[0]["Execution Time"])'
}
postgis_ms 0 >/dev/null   # warm the cache
pg1=$(postgis_ms 0)
pg2=$(postgis_ms 2)
echo "PostGIS, 1 worker:  ${pg1} ms"
echo "PostGIS, parallel:  ${pg2} ms"

echo "== gridlink: batch locate in process, one core (criterion)"
GRIDLINK_BENCH_POINTS=target/bench-points.csv GRIDLINK_BENCH_DATA="$data" \
  cargo bench --quiet --bench locate -- "locate/batch locate" >/dev/null 2>&1
gl=$(python3 -c "import json; print(json.load(open('target/criterion/locate/batch locate/$n/new/estimates.json'))['median']['point_estimate'] / 1e6)")
echo "gridlink:           ${gl} ms"

echo "== gridlink: the same points through POST /api/locate/batch"
port=18190
GRIDLINK_HEAVY_LIMIT=0 "$bin" serve --data-dir "$data" --listen "127.0.0.1:$port" >target/bench-serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
http_s=$( { /usr/bin/time -f "%e" curl -sf -X POST -H 'Content-Type: text/csv' --data-binary @target/bench-points.csv \
  "http://127.0.0.1:$port/api/locate/batch" -o target/bench-batch.ndjson; } 2>&1 )
echo "HTTP batch:         ${http_s} s for $(($(wc -l < target/bench-batch.ndjson) - 1)) answers"

echo "== single point: wrk on GET /api/locate (2 threads, 64 connections, ${seconds} s)"
GRIDLINK_WRK_POINTS=target/bench-points-wrk.csv wrk -t2 -c64 -d"${seconds}s" --latency -s bench/locate.lua "http://127.0.0.1:$port" > target/bench-wrk.txt
grep -E "Requests/sec|  99%|  50%" target/bench-wrk.txt
kill $server; trap - EXIT

echo "== single point: pgbench, prepared, 4 clients, ${seconds} s"
cat > target/bench-pgbench.sql <<SQL
\\set id random(1, $n)
SELECT c.code FROM $schema.grid_cells c JOIN $schema.points p ON ST_Contains(c.geom, p.geom) WHERE p.id = :id;
SQL
pgbench "$db" -n -M prepared -c 4 -j 2 -T "$seconds" -f target/bench-pgbench.sql > target/bench-pgbench.txt
grep -E "^tps" target/bench-pgbench.txt

python3 - "$n" "$pg1" "$pg2" "$gl" "$http_s" <<'PY'
import re, sys
n, pg1, pg2, gl, http = int(sys.argv[1]), *map(float, sys.argv[2:])
wrk = open("target/bench-wrk.txt").read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
p99 = re.search(r"99%\s+([\d.]+\w+)", wrk).group(1)
tps = float(re.search(r"tps = ([\d.]+)", open("target/bench-pgbench.txt").read()).group(1))
rate = lambda ms: n / (ms / 1000)
print("\n== summary")
print(f"batch locate, gridlink one core: {rate(gl)/1e6:6.2f} M points/s")
print(f"batch locate, PostGIS 1 worker:  {rate(pg1)/1e6:6.2f} M points/s   → gridlink is {rate(gl)/rate(pg1):5.1f}x")
print(f"batch locate, PostGIS parallel:  {rate(pg2)/1e6:6.2f} M points/s   → gridlink is {rate(gl)/rate(pg2):5.1f}x")
print(f"batch locate over HTTP (CSV in, NDJSON out): {n/http/1e6:5.2f} M points/s")
print(f"single point: gridlink HTTP {rps:,.0f} req/s (p99 {p99}) vs PostGIS pgbench {tps:,.0f} q/s → {rps/tps:4.1f}x")
PY
