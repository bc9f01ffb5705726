#!/usr/bin/env bash
# Vector tiles: gridlink's own timings, then gridlink versus martin + PostGIS over HTTP.
#   1. `cargo bench --bench tiles`: every tile z10–z16 covering the district, all public
#      layers, cold and warm, p50/p99 per zoom, largest tile per zoom (one core).
#   2. Tiles with content requested in a loop by wrk (2 threads, 8 connections) from gridlink
#      (tile cache off) and from martin 1.14 serving the same layers imported into PostGIS
#      (cache off), one after the other in the same run. Lists: z14–z15 (from z14 on every
#      public layer is in its zoom range, so both servers put the same layers in a tile) and
#      z15 alone (where gridlink clusters nothing either).
# Needs PostgreSQL with PostGIS (GRIDLINK_BENCH_DB) and wrk; builds martin into target/tools
# if `martin` is not on PATH (MARTIN=/path/to/martin to use another).
set -euo pipefail
cd "$(dirname "$0")/.."
db="${GRIDLINK_BENCH_DB:-postgres://postgres@127.0.0.1:5432/test}"
seconds="${SECONDS_PER_RUN:-20}"
schema=gridlink_tiles
martin="${MARTIN:-$(command -v martin || echo target/tools/bin/martin)}"
if [ ! -x "$martin" ]; then
  echo "== building martin 1.14.0 (once; about 20 minutes on 2 cores)"
  cargo install martin@1.14.0 --locked --no-default-features --features postgres,geojson --root target/tools
  martin=target/tools/bin/martin
fi
if ! command -v wrk >/dev/null && [ "$(id -u)" -eq 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

echo "== gridlink, in process (one core)"
cargo bench --quiet --bench tiles 2>/dev/null
cargo build --release --quiet
bin=target/release/gridlink
data=target/bench-data
"$bin" import --data-dir "$data" --to "$db" --schema "$schema" | tail -n 1
layers=$(python3 - <<'PY'
import glob, re
public = []
for path in sorted(glob.glob("layers/*.toml")):
    text = open(path, encoding="utf-8").read()
    if re.search(r'^access = "public"', text, re.M):
        public.append(re.search(r'^id = "([^"]+)"', text, re.M).group(1))
print(",".join(public))
PY
)
echo "layers: $layers"
cat target/bench-tiles-z14.txt target/bench-tiles-z15.txt > target/bench-tiles-z14-15.txt
echo "tiles with content: z14–z15 $(wc -l < target/bench-tiles-z14-15.txt), z15 $(wc -l < target/bench-tiles-z15.txt)"

port=18191
"$bin" serve --data-dir "$data" --database "sqlite:$(mktemp -d -t gridlink-tiles.XXXXXX)/cases.sqlite" --listen "127.0.0.1:$port" --tile-cache-mb 0 >target/bench-tiles-gridlink.log 2>&1 &
gridlink_pid=$!
cat > target/bench-martin.yaml <<YAML
listen_addresses: '127.0.0.1:3091'
cache_size_mb: 0
postgres:
  connection_string: '$db'
  default_srid: 4326
  auto_publish:
    tables:
      from_schemas: $schema
    functions: false
YAML
"$martin" --config target/bench-martin.yaml >target/bench-tiles-martin.log 2>&1 &
martin_pid=$!
trap 'kill $gridlink_pid $martin_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && curl -sf "http://127.0.0.1:3091/catalog" >/dev/null && break
  sleep 0.2
done
sample=$(sed -n 100p target/bench-tiles-z15.txt)
echo "sample tile $sample: gridlink $(curl -s "http://127.0.0.1:$port/tiles/$layers/$sample.mvt" | wc -c) bytes, martin $(curl -s "http://127.0.0.1:3091/$layers/$sample" | wc -c) bytes"

run() {
  GRIDLINK_TILE_LIST="target/bench-tiles-$5.txt" GRIDLINK_TILE_PREFIX="$2" GRIDLINK_TILE_SUFFIX="$3" \
    wrk -t2 -c8 -d"${seconds}s" --latency -s bench/tiles.lua "$1" > "target/bench-http-$4-$5.txt"
  grep -E "Requests/sec|  50%|  99%|Non-2xx" "target/bench-http-$4-$5.txt" | sed "s/^/$4 $5: /"
}
for list in z14-15 z15; do
  echo "== over HTTP, caches off, ${seconds} s each, tiles $list"
  run "http://127.0.0.1:$port" "/tiles/$layers/" ".mvt" gridlink "$list"
  run "http://127.0.0.1:3091" "/$layers/" "" martin "$list"
done
python3 - <<'PY'
import re
rate = lambda name: float(re.search(r"Requests/sec:\s+([\d.]+)", open(f"target/bench-http-{name}.txt").read()).group(1))
print("\n== summary")
for tiles in ["z14-15", "z15"]:
    g, m = rate(f"gridlink-{tiles}"), rate(f"martin-{tiles}")
    print(f"tiles {tiles}: gridlink {g:,.0f} tiles/s, martin + PostGIS {m:,.0f} tiles/s → gridlink is {g / m:.1f}x")
PY
