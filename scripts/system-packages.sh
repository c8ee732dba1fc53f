#!/usr/bin/env bash
# Install the Debian packages a task needs, when they are missing.
#   server: PostgreSQL + PostGIS for the embedded database; the CJK font posters embed
#   test:   Chromium and ChromeDriver for the browser tests, poppler and zbar for posters,
#           gdal-bin (ogrinfo, ogr2ogr) to read exports as GIS users' tools do
#   bench:  wrk for the HTTP benchmarks, Chromium for the pages' weight (bench/console.py),
#           ogr2ogr (gdal-bin), the import benchmark's peer, QGIS's Python bindings and
#           providers (bench/ogc.py reads /ogc with QGIS's OAPIF provider)
# As root this runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail

declare -A GROUPS_=(
  [server]="postgresql postgresql-15-postgis-3 fonts-wqy-microhei"
  [test]="postgresql postgresql-15-postgis-3 fonts-wqy-microhei chromium chromium-driver poppler-utils zbar-tools gdal-bin"
  [bench]="wrk chromium gdal-bin python3-qgis qgis-providers"
)

wanted=()
for group in "$@"; do
  [[ -n "${GROUPS_[$group]:-}" ]] || { echo "unknown package group: $group" >&2; exit 2; }
  for pkg in ${GROUPS_[$group]}; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      wanted+=("$pkg")
    fi
  done
done
[[ ${#wanted[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "Missing Debian packages: ${wanted[*]}" >&2
  echo "Install them with: sudo apt-get update && sudo apt-get install -y ${wanted[*]}" >&2
  exit 1
fi
echo "[setup] installing ${wanted[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${wanted[@]}" || { apt-get update -q && apt-get install -y -q "${wanted[@]}"; }
