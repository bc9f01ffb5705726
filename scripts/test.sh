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
# The library's unit tests, the binary's, and the integration tests (one binary: tests/suite/).
# The criterion benches are not run here: clippy --all-targets above compiles them, and
# bench/compare.sh or `cargo bench` runs them; run as tests they only repeat the suite's work.
cargo test --locked --lib --bins --tests
node tests/browser/map.test.mjs
node tests/browser/phone.test.mjs
node tests/browser/public.test.mjs
node tests/browser/offline.test.mjs
node tests/browser/field.test.mjs
node tests/browser/incidents.test.mjs
node tests/browser/network.test.mjs
