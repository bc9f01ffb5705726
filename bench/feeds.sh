#!/usr/bin/env bash
# Feed ingestion throughput over HTTP on SQLite (WAL, synchronous=FULL): readings stored per
# second through POST /api/feeds/readings, target ≥ 20,000/s.
#
# A fresh SQLite case database in a temp dir, gridlink serving the demo layers from
# target/bench-data, then a Python client (keep-alive, bodies generated before the clock
# starts) posting REQUESTS CSV bodies of ROWS readings each — real station ids of the demo
# data, every kind each station measures, distinct timestamps so every reading is new — once
# with 1 client and once with CLIENTS clients in parallel. Every answer must report all its
# readings accepted; afterwards the shipped synthetic rainstorm is replayed as fast as possible
# with `gridlink replay` (48 requests of 340 readings, alerts on).
#
# Each request is one transaction (one fsync) of multi-row INSERT … ON CONFLICT DO NOTHING
# statements (src/feeds/store.rs), with alert decisions made in memory.
#
# Environment: ROWS (5000), REQUESTS (40), CLIENTS (4), STRICT (0: a figure below target is
# flagged; 1: it fails the run), GRIDLINK_BIN (target/release/gridlink, built if not given).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

rows="${ROWS:-5000}"
requests="${REQUESTS:-40}"
clients="${CLIENTS:-4}"
strict="${STRICT:-0}"
target=20000
data=target/bench-data

need curl python3
release_and_data

work=$(mktemp -d -t gridlink-feeds.XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="sqlite:$work/gridlink.sqlite"
key=$("$bin" --data-dir "$data" --database "$url" keys create --role dispatcher --label bench 2>/dev/null)
"$bin" --data-dir "$data" --database "$url" serve --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
up=0
for _ in $(seq 1 300); do
  if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; then up=1; break; fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ "$up" -ne 1 ]; then
  echo "server did not start; log:" >&2
  tail -n 20 "$work/server.log" >&2
  exit 1
fi

# load.py PORT KEY DATA ROWS REQUESTS CLIENTS EPOCH: posts the bodies, prints one RESULT line.
cat >"$work/load.py" <<'PY'
import http.client, json, random, sys, threading, time
port, key, data = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rows, requests, clients, epoch = (int(a) for a in sys.argv[4:8])

def ids(layer):
    with open(f"{data}/{layer}.geojson") as f:
        return [feat["properties"]["code"] for feat in json.load(f)["features"]]

rain = ["rain_1h", "rain_3h", "rain_6h", "rain_12h", "rain_24h"]
series = [(s, k, 0.0, 9.0) for s in ids("rain_gauges") for k in rain]
series += [(s, k, 0.0, 9.0) for s in ids("weather_stations") for k in rain]
series += [(s, "wind_speed", 2.0, 9.0) for s in ids("weather_stations")]
series += [(s, "water_level", 2.4, 3.0) for s in ids("water_level_stations")]
rng = random.Random(epoch)
bodies, minute = [], 0
for _ in range(requests):
    lines = ["station,time,kind,value"]
    while len(lines) <= rows:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch + 60 * minute))
        minute += 1
        for s, k, lo, hi in series:
            if len(lines) > rows:
                break
            lines.append(f"{s},{stamp},{k},{rng.uniform(lo, hi):.1f}")
    bodies.append(("\n".join(lines) + "\n").encode())

accepted, failures, lock = [0], [], threading.Lock()
def worker(mine):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for body in mine:
        conn.request("POST", "/api/feeds/readings", body,
                     {"Content-Type": "text/csv", "Authorization": f"Bearer {key}"})
        resp = conn.getresponse()
        answer = resp.read()
        with lock:
            if resp.status != 200:
                failures.append(f"{resp.status}: {answer[:200]!r}")
                continue
            got = json.loads(answer)
            accepted[0] += got["accepted"]
            if got["accepted"] != body.count(b"\n") - 1:
                failures.append(f"accepted {got['accepted']}, rejected {got['rejected'][:3]}")
threads = [threading.Thread(target=worker, args=(bodies[i::clients],)) for i in range(clients)]
start = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.perf_counter() - start
print(f"RESULT readings={accepted[0]} seconds={elapsed:.3f} rate={accepted[0] / elapsed:.0f} failures={len(failures)}")
for f in failures[:5]:
    print("  failure:", f)
PY

failed=0
summary=()
run() {
  local n=$1 epoch=$2 out
  out=$(python3 "$work/load.py" "$port" "$key" "$data" "$rows" "$requests" "$n" "$epoch")
  echo "$out" | sed 's/^/   /'
  local result rate fails meets
  result=$(grep '^RESULT ' <<<"$out")
  rate=$(sed -E 's/.* rate=([0-9]+).*/\1/' <<<"$result")
  fails=$(sed -E 's/.* failures=([0-9]+).*/\1/' <<<"$result")
  [ "$fails" -eq 0 ] || failed=$((failed + 1))
  meets=meets
  if [ "$rate" -lt "$target" ]; then
    meets="BELOW target"
    [ "$strict" = 1 ] && failed=$((failed + 1))
  fi
  summary+=("$(printf 'sqlite  %d client(s)  %7d readings/s  (%d × %d readings)  failures %d  target %d/s: %s' \
    "$n" "$rate" "$requests" "$rows" "$fails" "$target" "$meets")")
}

echo "== POST /api/feeds/readings, $requests requests × $rows readings, 1 client"
run 1 1577836800
echo "== the same with $clients clients (new timestamps)"
run "$clients" 1609459200

echo "== gridlink replay data/rainstorm-2026-typhoon.csv --as-fast-as-possible"
replay_out=$("$bin" replay data/rainstorm-2026-typhoon.csv --url "http://127.0.0.1:$port" --key "$key" --as-fast-as-possible | tail -n 1)
echo "   $replay_out"
summary+=("replay  $(sed -E 's/^done in ([0-9.]+ s): ([0-9]+ batches), ([0-9]+) readings sent.* ([0-9]+) alerts raised.*/\1, \2, \3 readings, \4 alerts/' <<<"$replay_out")")

kill -0 "$server_pid" 2>/dev/null || { echo "the server died during the run" >&2; failed=$((failed + 1)); }
echo
echo "== summary: feed ingestion over HTTP, SQLite WAL + synchronous=FULL, $(nproc) cores"
for line in "${summary[@]}"; do
  echo "$line"
done
if [ "$failed" -ne 0 ]; then
  echo "$failed check(s) failed"
  exit 1
fi
