"""Load for bench/positions.sh: posts CSV batches of fixes to /api/positions from several
processes, and meanwhile measures fence-event latency with a probe worker and an SSE reader.

usage: positions_load.py URL ADMIN_KEY WORKERS_FILE SECONDS PROCESSES BATCH PROBE_WORKER
prints one line: RESULT fixes=… accepted=… seconds=… rate=… requests=… errors=… events=…
                 lat_p50_ms=… lat_p99_ms=… lat_max_ms=… probes=…
"""
import http.client
import json
import math
import multiprocessing as mp
import random
import sys
import threading
import time
import urllib.parse

# The district's box (a little inside it, so every fix is accepted as "near the district").
WEST, SOUTH, EAST, NORTH = 121.30, 30.78, 121.75, 31.05
# The probe fence (posted by the shell script): a 0.002° square at PROBE.
PROBE = (121.4500, 30.9000)


def connect(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


# Each worker walks a small circle (16 fixes a lap, 5 m apart, one a second of fix time), so
# the request bodies are rendered once and only the time changes: the load generator shares
# the machine's cores with the server and must cost little per fix.
PHASES = 16
STEP_M = 5.0


def bodies(workers, batch, rng):
    """For each batch of workers and each phase of the lap: the body split where the time goes."""
    radius = STEP_M / (2 * math.sin(math.pi / PHASES))
    per_lat = 111_320.0
    per_lon = per_lat * math.cos(math.radians((SOUTH + NORTH) / 2))
    centres = {w: (rng.uniform(WEST, EAST), rng.uniform(SOUTH, NORTH)) for w in workers}
    out = []
    for i in range(0, len(workers), batch):
        chunk = workers[i:i + batch]
        phases = []
        for k in range(PHASES):
            a = 2 * math.pi * k / PHASES
            lines = []
            for w in chunk:
                x, y = centres[w]
                lines.append(f"{w},\0,{x + radius * math.cos(a) / per_lon:.7f},{y + radius * math.sin(a) / per_lat:.7f}")
            phases.append(("\n".join(lines)).encode().split(b"\0"))
        out.append((len(chunk), phases))
    return out


def loader(url, key, workers, seconds, batch, start_ms, seed, out):
    rng = random.Random(seed)
    rendered = bodies(list(workers), batch, rng)
    conn = connect(url)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/csv"}
    sent = accepted = requests = errors = events = 0
    rounds = 0
    deadline = time.time() + seconds
    while time.time() < deadline:
        t = str(start_ms + rounds * 1000).encode()
        phase = rounds % PHASES
        rounds += 1
        for count, phases in rendered:
            body = t.join(phases[phase])
            try:
                conn.request("POST", "/api/positions", body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                requests += 1
                if response.status == 200:
                    answer = json.loads(data)
                    accepted += answer["accepted"]
                    events += len(answer["events"])
                elif response.status != 422:
                    errors += 1
            except Exception:
                errors += 1
                conn = connect(url)
            sent += count
            if time.time() >= deadline:
                break
    out.put((sent, accepted, requests, errors, events))


def sse(url, key, probe_worker, got, stop):
    conn = connect(url)
    conn.request("GET", f"/api/stream?key={key}")
    response = conn.getresponse()
    event = None
    while not stop.is_set():
        line = response.fp.readline()
        if not line:
            return
        line = line.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "fence":
            e = json.loads(line[6:])
            if e["worker"] == probe_worker and e["fence"] == "bench-probe":
                got[e["time"]] = time.time()


def main():
    url, key, workers_file, seconds, processes, batch, probe_worker = sys.argv[1:8]
    seconds, processes, batch = float(seconds), int(processes), int(batch)
    workers = [w for w in open(workers_file).read().split() if w and w != probe_worker]
    start_ms = int(time.time() * 1000) - 6 * 3600_000
    out = mp.Queue()
    chunks = [workers[i::processes] for i in range(processes)]
    procs = [mp.Process(target=loader, args=(url, key, chunk, seconds, batch, start_ms, n, out)) for n, chunk in enumerate(chunks)]
    got, stop = {}, threading.Event()
    reader = threading.Thread(target=sse, args=(url, key, probe_worker, got, stop), daemon=True)
    reader.start()
    time.sleep(0.5)
    started = time.time()
    for p in procs:
        p.start()
    # The probe: one fix every 100 ms, alternately inside and outside the probe fence.
    probe = connect(url)
    sent_at = {}
    n = 0
    while time.time() < started + seconds:
        inside = n % 2 == 1
        # 1 m either side of the fence's west edge: 2 m in 100 ms is 72 km/h, under the limit.
        lon = PROBE[0] + (1e-5 if inside else -1e-5)
        t = int(time.time() * 1000)
        body = f"{probe_worker},{t},{lon:.6f},{PROBE[1] + 0.001:.6f}"
        sent_at[t] = time.time()
        probe.request("POST", "/api/positions", body=body.encode(), headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"})
        probe.getresponse().read()
        n += 1
        time.sleep(0.1)
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.time() - started
    time.sleep(0.5)
    stop.set()
    sent = sum(r[0] for r in results)
    accepted = sum(r[1] for r in results)
    latencies = sorted((got[t] - sent_at[t]) * 1000 for t in sent_at if t in got)
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * (len(latencies) - 1) + 0.5))] if latencies else float("nan")
    print(
        f"RESULT fixes={sent} accepted={accepted} seconds={elapsed:.2f} rate={accepted / elapsed:.0f} "
        f"requests={sum(r[2] for r in results)} errors={sum(r[3] for r in results)} events={sum(r[4] for r in results)} "
        f"lat_p50_ms={pct(0.5):.1f} lat_p99_ms={pct(0.99):.1f} lat_max_ms={(latencies[-1] if latencies else float('nan')):.1f} "
        f"probes={len(sent_at)} probe_events={len(latencies)}"
    )


if __name__ == "__main__":
    main()
