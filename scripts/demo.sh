#!/usr/bin/env bash
# Runs gridlink on the bundled Fengxian demo data: builds the release binary, generates the
# demo dataset into data/demo on first start, and serves http://127.0.0.1:8080.
# Extra arguments go to `gridlink serve` (e.g. --listen 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release -- serve --demo "$@"
