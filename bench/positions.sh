#!/usr/bin/env bash
# Position intake over HTTP with geofence evaluation and durable storage (issue 15).
#
# gridlink serves the demo layers with a fresh database; 1,000 fences (random quadrilaterals of
# 100–600 m across the district) are posted, plus the probe fence; then bench/positions_load.py
# posts CSV batches (BATCH fixes each) of every registry worker (each moving 5 m a second of
# fix time) from PROCESSES processes for SECONDS, while a probe worker crosses the probe fence
# every 100 ms and an SSE client times each crossing from sending the fix to the `fence` event
# on /api/stream. A 200 means the batch is committed (group commit; SQLite WAL +
# synchronous=FULL). Afterwards the stored fixes are counted and must equal those acknowledged.
#
# Baseline in the same run: the same load with no posted fence (beats and towns only), so the
# cost of 1,000 fences shows as a ratio.
# Targets: ≥ 100,000 fixes/s, event latency p99 ≤ 100 ms.
#
# Environment: SECONDS_PER_RUN (15), PROCESSES (2), BATCH (2000), GRIDLINK_BIN (built if not
# given). SQLite only (the PostgreSQL figure needs a tuned server; see README).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need curl python3
seconds="${SECONDS_PER_RUN:-15}"
processes="${PROCESSES:-2}"
batch="${BATCH:-2000}"
data=target/bench-data
release_and_data
work=$(mktemp -d -t gridlink-positions.XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

run() {
  local label=$1 fences=$2 db="$work/$1.sqlite" port key
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  key=$("$bin" --data-dir "$data" --database "sqlite:$db" keys create --role admin --label bench 2>/dev/null)
  "$bin" --data-dir "$data" --database "sqlite:$db" serve --listen "127.0.0.1:$port" >"$work/$label.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/workers" |
    python3 -c 'import json,sys; print("\n".join(w["id"] for w in json.load(sys.stdin)["workers"]))' >"$work/workers.txt"
  local probe
  probe=$(tail -n 1 "$work/workers.txt")
  python3 - "http://127.0.0.1:$port" "$key" "$fences" <<'PY'
import http.client, json, random, sys, urllib.parse
url, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port)
def post(body):
    conn.request("POST", "/api/fences", body=json.dumps(body), headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    r = conn.getresponse(); r.read()
    assert r.status == 201, r.status
rng = random.Random(15)
for i in range(n):
    x, y = rng.uniform(121.30, 121.75), rng.uniform(30.80, 31.03)
    w, h = rng.uniform(0.001, 0.006), rng.uniform(0.001, 0.006)
    post({"id": f"bench-{i}", "name": f"bench {i}", "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + w, y + h / 3], [x + w, y + h], [x + w / 3, y + h], [x, y]]]}})
x, y = 121.4500, 30.9000
post({"id": "bench-probe", "name": "probe", "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + 0.002, y], [x + 0.002, y + 0.002], [x, y + 0.002], [x, y]]]}})
PY
  local workers
  workers=$(wc -l <"$work/workers.txt")
  echo "== $label: $workers workers, $fences posted fences (+ beats, towns, probe), $processes processes × batches of $batch, ${seconds} s"
  python3 bench/positions_load.py "http://127.0.0.1:$port" "$key" "$work/workers.txt" "$seconds" "$processes" "$batch" "$probe" | tee "$work/$label.txt"
  sleep 1
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
  server_pid=""
  local stored acknowledged
  stored=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from positions").fetchone()[0])' "$db")
  acknowledged=$(grep -o 'accepted=[0-9]*' "$work/$label.txt" | cut -d= -f2)
  probes=$(grep -o 'probes=[0-9]*' "$work/$label.txt" | cut -d= -f2)
  echo "   stored $stored fixes; acknowledged $acknowledged (+ $probes probe fixes)"
  [ "$stored" -ge "$acknowledged" ] || { echo "FAIL: fewer stored than acknowledged"; exit 1; }
  eval "${label}_rate=$(grep -o ' rate=[0-9]*' "$work/$label.txt" | cut -d= -f2)"
}

run baseline 0
run fenced 1000
python3 -c "print(f'== 1,000 fences: {$fenced_rate:,} fixes/s against {$baseline_rate:,} fixes/s without posted fences (ratio {$fenced_rate / $baseline_rate:.2f}); target 100,000/s')"
