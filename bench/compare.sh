#!/usr/bin/env bash
# Before/after: the criterion benches (and optionally the HTTP intake bench) of an earlier
# revision and of this checkout, in one run on one machine, so a change that claims to be "no
# slower" (or faster) has its ratio measured against the named baseline.
#
#   bench/compare.sh BASE_REV [BENCH ...]      # default benches: locate tiles hazmat
#
# BASE_REV is checked out as a detached worktree under target/compare/base; both builds share
# this checkout's target directory (dependencies are built once). Each bench runs in ROUNDS
# (2) rounds in alternating order (base, this; then this, base), so a machine that gets busier
# or quieter during the run biases neither side; criterion's per-benchmark estimates of each
# round are written to target/compare/ROUND-SIDE/ and the script prints, per benchmark, the
# median of each side's round means and the ratio this/base (< 1 is faster).
# INTAKE=1 also runs bench/intake.sh with each side's release binary (requests/s per back end).
#
# Run it on a quiet machine: another build on the same cores moves the figures by more than
# the differences it is meant to show.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need git python3

base_rev="${1:?usage: bench/compare.sh BASE_REV [BENCH ...]}"
shift
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(locate tiles hazmat)
rounds="${ROUNDS:-2}"
here=$(pwd)
export CARGO_TARGET_DIR="$here/target"
out="$here/target/compare"
base_dir="$out/base"
mkdir -p "$out"

if [ -d "$base_dir" ]; then
  git -C "$base_dir" checkout -q --detach "$base_rev"
else
  git worktree add -q --detach "$base_dir" "$base_rev"
fi
echo "base: $(git -C "$base_dir" log --oneline -1)"
echo "this: $(git log --oneline -1)$(git diff --quiet || echo ' (+ uncommitted changes)')"

bench_args=()
for b in "${benches[@]}"; do bench_args+=(--bench "$b"); done

# Builds first (progress from cargo), so the timed part runs with nothing compiling.
for side in base this; do
  dir="$here"; [ "$side" = base ] && dir="$base_dir"
  echo "building $side …"
  (cd "$dir" && cargo bench --locked --no-run "${bench_args[@]}" 2>&1 | grep -E "^(error|warning: unused)|Finished" || true)
  if [ "${INTAKE:-0}" = 1 ]; then
    (cd "$dir" && cargo build --release --locked --quiet)
    cp "$CARGO_TARGET_DIR/release/gridlink" "$out/gridlink-$side"
  fi
done

run_side() { # ROUND SIDE
  local dir="$here"; [ "$2" = base ] && dir="$base_dir"
  rm -rf "$CARGO_TARGET_DIR/criterion"
  for b in "${benches[@]}"; do
    echo "round $1, $2: $b"
    # criterion's lines, and the tables of the benches that print their own (tiles: per zoom).
    (cd "$dir" && cargo bench --locked --bench "$b" -- --noplot 2>&1 | grep -E "time:|^ *[0-9]+ +[0-9]+ " || true)
  done
  rm -rf "$out/$1-$2"
  cp -a "$CARGO_TARGET_DIR/criterion" "$out/$1-$2"
}

for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) = 1 ]; then order=(base this); else order=(this base); fi
  for side in "${order[@]}"; do run_side "$round" "$side"; done
done

python3 - "$out" "$rounds" <<'EOF'
import json, pathlib, statistics, sys
out, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def means(side):
    found = {}
    for r in range(1, rounds + 1):
        for est in (out / f"{r}-{side}").glob("**/new/estimates.json"):
            name = str(est.parent.parent.relative_to(out / f"{r}-{side}"))
            found.setdefault(name, []).append(json.loads(est.read_text())["mean"]["point_estimate"])
    return {k: statistics.median(v) for k, v in found.items()}
base, this = means("base"), means("this")
print(f"\n{'benchmark':60} {'base':>12} {'this':>12} {'this/base':>9}")
for name in sorted(base.keys() & this.keys()):
    b, t = base[name], this[name]
    unit, scale = ("µs", 1e3) if b < 1e6 else ("ms", 1e6)
    print(f"{name:60} {b/scale:10.2f}{unit} {t/scale:10.2f}{unit} {t/b:9.3f}")
for name in sorted(base.keys() ^ this.keys()):
    print(f"{name:60} only on {'base' if name in base else 'this'}")
EOF

if [ "${INTAKE:-0}" = 1 ]; then
  for side in base this; do
    echo "intake, $side:"
    # From the side's own checkout: its server reads that checkout's data/ code tables.
    dir="$here"; [ "$side" = base ] && dir="$base_dir"
    (cd "$dir" && GRIDLINK_BIN="$out/gridlink-$side" bench/intake.sh | sed -n '/== summary/,$p') || true
  done
fi
