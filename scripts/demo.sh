#!/usr/bin/env bash
# Runs gridlink on the bundled Fengxian demo data: installs the Debian build packages (GDAL,
# PROJ, SQLite, libclang) and the web map's npm packages if missing (MapLibre GL JS, served
# locally), builds the release binary, generates the demo
# dataset into data/demo on first start, and serves http://127.0.0.1:8080.
# Extra arguments go to `gridlink serve` (e.g. --listen 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-deps.sh
if [ ! -f web/node_modules/maplibre-gl/dist/maplibre-gl.js ] || [ ! -f web/node_modules/pmtiles/dist/pmtiles.js ]; then
  npm ci --prefix web --no-audit --no-fund
fi
exec cargo run --release -- serve --demo "$@"
