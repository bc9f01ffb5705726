# Shared by the bench scripts (source it after `cd` to the repository root).

# Exits with a message naming the first missing command.
need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool (Debian package of the same name)" >&2; exit 1; }
  done
}

# Sets $bin (GRIDLINK_BIN, or a fresh release build) and makes sure $data holds the demo dataset.
release_and_data() {
  if [ -n "${GRIDLINK_BIN:-}" ]; then
    bin="$GRIDLINK_BIN"
  else
    cargo build --release --quiet
    bin=target/release/gridlink
  fi
  [ -f "$data/grid_cells.geojson" ] || "$bin" gen-data --out "$data" >/dev/null
}

# The benches measure capacity: the servers they start take anonymous reports and heavy requests
# without the per-address and per-key rate limits of `serve` (0 turns a limit off).
export GRIDLINK_REPORT_LIMIT=0 GRIDLINK_HEAVY_LIMIT=0
