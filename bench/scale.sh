#!/usr/bin/env bash
# Generates the demo dataset at a larger scale and loads it, reporting wall time and peak
# memory (maximum resident set size) of each step. Usage: bench/scale.sh [SCALE] (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${1:-10}"
out="target/bench-scale-${scale}"
cargo build --release --quiet
bin=target/release/gridlink
measure() {
  /usr/bin/time -f "%e s wall, %M KiB peak RSS" "$@" 2>&1 >/dev/null | tail -n 1
}
echo "scale ${scale}: generate → $(measure "$bin" gen-data --scale "$scale" --out "$out")"
"$bin" gen-data --scale "$scale" --out "$out" | tail -n 1
echo "scale ${scale}: check (load all layers + topology) → $(measure "$bin" check --data-dir "$out" --problems 0)"
"$bin" check --data-dir "$out" --problems 0 | grep -E "layers,|topology:|check"
du -sh "$out"
