#!/usr/bin/env python3
"""Load and check helpers for bench/durability.sh (Python 3 standard library only).

  durability_load.py load  --url URL --out FILE [--threads N] [--seconds S]
      N threads, each on its own keep-alive http.client connection, POST /api/cases as fast as
      the server answers, for at most S seconds. Every case acknowledged with a 2xx is written
      to FILE at once as `id<TAB>tag` (tag: the unique token in the description). Connection
      failures (the server being killed) are counted and retried after a short pause, so the
      run goes on until the deadline. Prints a one-line JSON summary.

  durability_load.py check --url URL --key KEY --acked FILE
      Sweeps GET /api/cases?limit=1000&offset=… (ordered by id) with a dispatcher key, and
      checks that every acknowledged id is stored with the description it was sent with. Then
      asks GET /api/cases/{id} for the last acknowledged ids (those closest to the kill).
      Prints acknowledged, found, lost, and exits 1 on any loss or mismatch.
"""

import argparse
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse

CLASSES = ["C0101", "C0102", "E0101"]


def connect(url):
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)


def load(args):
    deadline = time.monotonic() + args.seconds
    lock = threading.Lock()
    out = open(args.out, "w", buffering=1, encoding="utf-8")
    counts = {"acknowledged": 0, "non_2xx": 0, "connection_errors": 0}
    first_error_at = [None]
    start = time.monotonic()

    def worker(n):
        rng = random.Random(n * 7919 + int(time.time()))
        conn = None
        seq = 0
        while time.monotonic() < deadline:
            if conn is None:
                conn = connect(args.url)
            seq += 1
            tag = f"d{n}-{seq}-{rng.randrange(1 << 30)}"
            body = json.dumps(
                {
                    "class": rng.choice(CLASSES),
                    "lon": round(121.46 + (rng.random() - 0.5) * 0.02, 6),
                    "lat": round(30.92 + (rng.random() - 0.5) * 0.02, 6),
                    "description": f"durability {tag}",
                }
            )
            try:
                conn.request(
                    "POST",
                    "/api/cases",
                    body=body,
                    headers={"Content-Type": "application/json"},
                )
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException):
                with lock:
                    counts["connection_errors"] += 1
                    if first_error_at[0] is None:
                        first_error_at[0] = time.monotonic() - start
                conn.close()
                conn = None
                time.sleep(0.05)
                continue
            if 200 <= resp.status < 300:
                case_id = json.loads(data)["id"]
                with lock:
                    out.write(f"{case_id}\t{tag}\n")
                    counts["acknowledged"] += 1
            else:
                with lock:
                    counts["non_2xx"] += 1
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()
    counts["first_connection_error_s"] = (
        None if first_error_at[0] is None else round(first_error_at[0], 2)
    )
    print(json.dumps(counts))


def get_json(conn, path, key):
    conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"GET {path}: {resp.status} {data[:200]!r}")
    return json.loads(data)


def check(args):
    acked = {}
    duplicates = 0
    with open(args.acked, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            case_id, tag = line.split("\t")
            if int(case_id) in acked:
                duplicates += 1  # one id acknowledged for two requests: a bug
            acked[int(case_id)] = tag
    conn = connect(args.url)
    stored = {}
    offset = 0
    total = None
    while True:
        page = get_json(conn, f"/api/cases?limit=1000&offset={offset}", args.key)
        total = page["total"] if total is None else total
        for case in page["cases"]:
            stored[case["id"]] = case["description"]
        if len(page["cases"]) < 1000:
            break
        offset += 1000
    lost = sorted(i for i in acked if i not in stored)
    mismatched = sorted(
        i for i, tag in acked.items() if i in stored and stored[i] != f"durability {tag}"
    )
    # The ids acknowledged last were committed just before the kill: ask for each one.
    spot = sorted(acked)[-args.spot :] if acked else []
    spot_missing = []
    for i in spot:
        conn.request("GET", f"/api/cases/{i}", headers={"Authorization": f"Bearer {args.key}"})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            spot_missing.append(i)
    result = {
        "acknowledged": len(acked),
        "found": len(acked) - len(lost),
        "lost": len(lost),
        "wrong_description": len(mismatched),
        "duplicate_ids": duplicates,
        "stored_total": total,
        "unacknowledged_but_stored": len(stored) - (len(acked) - len(lost)),
        "last_acked_checked_one_by_one": len(spot),
        "last_acked_missing": len(spot_missing),
    }
    print(json.dumps(result))
    if lost:
        print(f"lost ids (first 20): {lost[:20]}", file=sys.stderr)
    if mismatched:
        print(f"ids with another description (first 20): {mismatched[:20]}", file=sys.stderr)
    ok = not lost and not mismatched and not duplicates and not spot_missing
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("load")
    p.add_argument("--url", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=16)
    p.add_argument("--seconds", type=float, default=10)
    p = sub.add_parser("check")
    p.add_argument("--url", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--acked", required=True)
    p.add_argument("--spot", type=int, default=200)
    args = parser.parse_args()
    if args.command == "load":
        load(args)
        return 0
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
