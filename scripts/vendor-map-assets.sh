#!/usr/bin/env bash
# Re-fetch the map assets under maps/static/vendor from the npm registry (and the
# folium wheel) and the staff console's QR decoder under web/vendor, and check them
# against each folder's MANIFEST.json.
#
# The files are committed so that maps work on machines with no registry access at
# all; this script only exists to show where they come from and to upgrade them.
# Usage: scripts/vendor-map-assets.sh [--check]   (--check: verify, change nothing)
set -euo pipefail
cd "$(dirname "$0")/.."
VENDOR=maps/static/vendor
if [[ "${1:-}" != "--check" ]]; then
  command -v npm >/dev/null || { echo "npm is needed: apt-get install -y npm" >&2; exit 1; }
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent leaflet@1.9.3 leaflet.markercluster@1.1.0 leaflet.vectorgrid@1.3.0 jsqr@1.4.0 >/dev/null)
  tar xzf "$work/leaflet-1.9.3.tgz" -C "$work" && mv "$work/package" "$work/leaflet"
  tar xzf "$work/leaflet.markercluster-1.1.0.tgz" -C "$work" && mv "$work/package" "$work/mc"
  L=$VENDOR/leaflet-1.9.3 M=$VENDOR/leaflet.markercluster-1.1.0 H=$VENDOR/leaflet-heat-folium-0.20.0
  mkdir -p "$L/images" "$M" "$H"
  cp "$work/leaflet/dist/leaflet.js" "$work/leaflet/dist/leaflet.css" "$work/leaflet/LICENSE" "$L/"
  cp "$work"/leaflet/dist/images/*.png "$L/images/"
  cp "$work/mc/dist/leaflet.markercluster.js" "$work/mc/dist/MarkerCluster.css" \
     "$work/mc/dist/MarkerCluster.Default.css" "$work/mc/MIT-LICENCE.txt" "$M/"
  tar xzf "$work/leaflet.vectorgrid-1.3.0.tgz" -C "$work" && mv "$work/package" "$work/vg"
  G=$VENDOR/leaflet.vectorgrid-1.3.0
  mkdir -p "$G"
  cp "$work/vg/dist/Leaflet.VectorGrid.bundled.min.js" "$work/vg/README.md" "$G/"
  folium_dir=$(.venv/bin/python -c 'import folium, os; print(os.path.dirname(folium.__file__))')
  cp "$folium_dir/templates/leaflet_heat.min.js" "$H/"
  tar xzf "$work/jsqr-1.4.0.tgz" -C "$work" && mv "$work/package" "$work/jsqr"
  Q=web/vendor/jsqr-1.4.0
  mkdir -p "$Q"
  cp "$work/jsqr/dist/jsQR.js" "$work/jsqr/LICENSE" "$Q/"
fi
.venv/bin/python - <<'PY'
import hashlib, json, pathlib, sys
checked = 0
for vendor in (pathlib.Path("maps/static/vendor"), pathlib.Path("web/vendor")):
    manifest = json.loads((vendor / "MANIFEST.json").read_text())
    bad = [f"{vendor}/{d}/{name}" for d, entry in manifest.items()
           for name, digest in entry["files"].items()
           if hashlib.sha256((vendor / d / name).read_bytes()).hexdigest() != digest]
    if bad:
        sys.exit("checksum mismatch (upstream changed? review and update MANIFEST.json): "
                 + ", ".join(bad))
    checked += sum(len(e["files"]) for e in manifest.values())
print(f"vendored assets match their MANIFEST.json ({checked} files)")
PY
