#!/usr/bin/env bash
# Real formats, measured against baselines in the same run:
#  1. loading the 27 demo layers from Gauss-Krüger Shapefiles (EPSG:4528, GBK DBFs: GDAL read,
#     GBK decoding, PROJ reprojection) vs from GeoJSON/WGS84 (gridlink's own reader) —
#     target: ≤ 2× the GeoJSON time and ≤ 3 s at scale 1;
#  2. `gridlink import` of a Shapefile into PostGIS vs `ogr2ogr -f PostgreSQL` on the same file
#     (same result: WGS84, GiST index) — target: at least as fast.
# Usage: bench/formats.sh [SCALE] (default 1). Needs gdal-bin and the test database
# (scripts/setup-test-env.sh); GRIDLINK_TEST_DATABASE_URL overrides postgres://postgres@127.0.0.1:5432/test.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
need ogr2ogr psql bc
scale="${1:-1}"
db="${GRIDLINK_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
json="target/bench-formats/geojson-${scale}"
shp="target/bench-formats/shp-${scale}"
data="$json"
release_and_data
[ -f "$json/grid_cells.geojson" ] || "$bin" gen-data --scale "$scale" --out "$json" >/dev/null
[ -f "$shp/grid_cells.shp" ] || "$bin" gen-data --scale "$scale" --format shp --out "$shp" >/dev/null

# The load time `check` reports (all layers, parallel), best of 5 after a warm-up.
load_ms() {
  "$bin" check --data-dir "$1" --no-topology --problems 0 >/dev/null
  for _ in 1 2 3 4 5; do
    "$bin" check --data-dir "$1" --no-topology --problems 0 | sed -n 's/.*loaded in \([0-9]*\) ms.*/\1/p'
  done | sort -n | head -n 1
}
j=$(load_ms "$json")
s=$(load_ms "$shp")
echo "load 27 layers, scale ${scale}: GeoJSON/WGS84 ${j} ms, Shapefile/EPSG:4528 ${s} ms, ratio $(echo "scale=2; $s / $j" | bc)× (target ≤ 2×, ≤ 3000 ms)"

# Import one Shapefile into PostGIS, both ways, to the same result (WGS84 + GiST).
psql "$db" -qc "DROP SCHEMA IF EXISTS bench_gridlink CASCADE; DROP SCHEMA IF EXISTS bench_ogr CASCADE; CREATE SCHEMA bench_ogr;" 2>/dev/null
pg="PG:$(echo "$db" | sed -E 's#postgres(ql)?://([^@]*)@([^:/]*):?([0-9]*)/(.*)#user=\2 host=\3 port=\4 dbname=\5#')"
for layer in grid_cells components; do
  t0=$(date +%s.%N)
  "$bin" import --from "$shp/$layer.shp" --layer "$layer" --to "$db" --schema bench_gridlink --data-dir "$json" >/dev/null
  t1=$(date +%s.%N)
  PG_USE_COPY=YES ogr2ogr -f PostgreSQL "$pg" "$shp/$layer.shp" -nln "bench_ogr.$layer" -t_srs EPSG:4326 \
    -nlt PROMOTE_TO_MULTI -lco GEOMETRY_NAME=geom -lco SPATIAL_INDEX=GIST -overwrite
  t2=$(date +%s.%N)
  g=$(echo "($t1 - $t0) * 1000 / 1" | bc)
  o=$(echo "($t2 - $t1) * 1000 / 1" | bc)
  rows=$(psql "$db" -qAtc "SELECT (SELECT count(*) FROM bench_gridlink.$layer) || ' / ' || (SELECT count(*) FROM bench_ogr.$layer)")
  echo "import $layer.shp → PostGIS (rows gridlink / ogr2ogr: $rows): gridlink ${g} ms, ogr2ogr ${o} ms, ratio $(echo "scale=2; $g / $o" | bc)× (target ≤ 1×)"
done
psql "$db" -qc "DROP SCHEMA bench_gridlink CASCADE; DROP SCHEMA bench_ogr CASCADE;" 2>/dev/null
