#!/usr/bin/env bash
# Offline export: the whole district z10–z16, every public layer, written as one PMTiles file
# by `gridlink export pmtiles` (rendered on every core). Target: ≤ 60 s on the 2-core machine.
# Baseline, in the same run: the same layer list asked of `gridlink serve` (tile cache off) tile
# by tile over HTTP, one keep-alive connection, every tile over the district's bounding box at
# z10–z16 (a superset of the tiles the export keeps: it skips tiles that miss the outline).
#   bench/export.sh            (GRIDLINK_BIN=target/debug/gridlink to skip the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
need curl python3
data="${GRIDLINK_BENCH_DATA:-target/bench-data}"
release_and_data
work=$(mktemp -d -t gridlink-export.XXXXXX)
port=18193
pid=
trap 'rm -rf "$work"; [ -n "$pid" ] && kill "$pid" 2>/dev/null || true' EXIT

echo "== gridlink export pmtiles (whole district, z10–z16, all public layers; $(nproc) cores)"
started=$(date +%s.%N)
"$bin" --data-dir "$data" export pmtiles --zooms 10-16 --out "$work/district.pmtiles" | tee "$work/export.txt"
finished=$(date +%s.%N)
python3 -c "print(f'wall time with loading the layers: {$finished - $started:.1f} s')"

echo "== baseline: the same layers over HTTP, tile by tile (cache off)"
"$bin" serve --data-dir "$data" --database "sqlite:$work/cases.sqlite" --listen "127.0.0.1:$port" --tile-cache-mb 0 >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 150); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.2
done
python3 - "$port" "$work/export.txt" <<'PY'
import http.client, json, math, re, sys, time
port, export = int(sys.argv[1]), open(sys.argv[2]).read()
conn = http.client.HTTPConnection("127.0.0.1", port)
def get(path, headers={}):
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()
style = json.loads(get("/styles/district.json")[1])
layers = style["sources"]["gridlink"]["url"].split("/tiles/")[1].removesuffix(".json")
west, south, east, north = json.loads(get(f"/tiles/{layers}.json")[1])["bounds"]
def tile(lon, lat, z):
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
tiles = []
for z in range(10, 17):
    (x0, y0), (x1, y1) = tile(west, north, z), tile(east, south, z)
    tiles += [(z, x, y) for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)]
started = time.perf_counter()
with_content = 0
for z, x, y in tiles:
    status, body = get(f"/tiles/{layers}/{z}/{x}/{y}.mvt", {"Accept-Encoding": "gzip"})
    assert status in (200, 204), (z, x, y, status)
    with_content += status == 200
http_s = time.perf_counter() - started
m = re.search(r"(\d+) tiles with content of (\d+) made, ([\d.]+) MB, in ([\d.]+) s", export)
written, made, megabytes, export_s = int(m[1]), int(m[2]), float(m[3]), float(m[4])
print(f"HTTP: {len(tiles)} tiles ({with_content} with content) in {http_s:.1f} s, {len(tiles) / http_s:.0f} tiles/s")
print("\n== summary")
print(f"export: {written} tiles with content ({made} made), {megabytes} MB, in {export_s:.1f} s (target ≤ 60 s)")
print(f"HTTP one by one: {with_content} tiles with content ({len(tiles)} asked) in {http_s:.1f} s")
print(f"export / HTTP time: {export_s / http_s:.2f}  (export is {http_s / export_s:.1f}x faster)")
PY
