#!/usr/bin/env bash
# Makes this machine able to run the whole test suite; safe to run again.
#  - the build's Debian packages (GDAL, PROJ, SQLite, libclang: scripts/build-deps.sh);
#  - GDAL's ogrinfo (Debian gdal-bin) reads the OGC API in a client test;
#  - the Prometheus client's text parser (Debian python3-prometheus-client) checks /metrics
#    in tests/suite/ops.rs, independently of the code that writes it;
#  - PostgreSQL with PostGIS (postgresql-15-postgis-3) on 127.0.0.1:5432, database `test`;
#  - Chromium (Debian's, never a downloaded one) and a CJK font for the browser test, and the
#    web map's npm packages (MapLibre GL JS, playwright-core).
set -euo pipefail
"$(dirname "$0")/build-deps.sh"
need=()
# ogrinfo/ogr2ogr: the OGC API client test and the format fixtures (FileGDB, TAB, KML, CSV).
command -v ogr2ogr >/dev/null || need+=(gdal-bin)
[ -f /usr/share/postgresql/15/extension/postgis.control ] || need+=(postgresql-15-postgis-3)
[ -x /usr/bin/chromium ] || need+=(chromium)
/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null || need+=(python3-prometheus-client)
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup-test-env: need Debian packages ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Start the cluster if it is down.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.2; done
fi
export PGOPTIONS="-c client_min_messages=warning"
db_url="${GRIDLINK_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
psql "${db_url%/*}/postgres" -qAt -c "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
  || psql "${db_url%/*}/postgres" -q -c "CREATE DATABASE test"
psql "$db_url" -q -c "CREATE EXTENSION IF NOT EXISTS postgis"
# The web map's packages, exactly as locked.
cd "$(dirname "$0")/.."
if [ ! -f web/node_modules/maplibre-gl/dist/maplibre-gl.js ] || [ ! -f web/node_modules/pmtiles/dist/pmtiles.js ] || [ ! -d web/node_modules/playwright-core ]; then
  npm ci --prefix web --no-audit --no-fund >/dev/null
fi
