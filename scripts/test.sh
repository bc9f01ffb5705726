#!/usr/bin/env bash
# The whole test suite: environment set-up (GDAL client, PostgreSQL + PostGIS, Chromium, npm
# packages), formatting, lints, unit and integration tests, and the browser tests of the map
# (desktop, then phone width), of the residents' page, of the offline map (PMTiles), of the field
# page (reports queued offline arrive once), of the incident panel (confirm, assign on the map,
# finish a task, print the duty report) and of the linkage network (workstation → sub-centre →
# district, at phone width).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-env.sh
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked
node tests/browser/map.test.mjs
node tests/browser/phone.test.mjs
node tests/browser/public.test.mjs
node tests/browser/offline.test.mjs
node tests/browser/field.test.mjs
node tests/browser/incidents.test.mjs
node tests/browser/network.test.mjs
