#!/usr/bin/env bash
# Makes this machine able to build gridlink: Debian's GDAL and PROJ development packages (the
# `gdal` and `proj` crates link them; proj-sys runs bindgen, hence libclang), and SQLite's, which
# sqlx then shares with GDAL (see .cargo/config.toml). Installs only what is missing; safe to
# run again. Needs root (or the packages already there).
set -euo pipefail
need=()
for pkg in libgdal-dev libproj-dev libsqlite3-dev libclang-dev pkg-config; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "build-deps: gridlink needs the Debian packages ${need[*]} to build; run as root or install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
