// The whole catalog on the map from its vector tiles, for a catalog too large to draw
// station by station: below `stations_from_zoom` the tiles' `cells` layer (one point
// per H3 cell with how many stations, open now and water left), drawn as circles sized
// by the count with the count written on them; from that zoom the `stations` layer,
// one dot per station, a tap hands its id to the page. The plugin (Leaflet.VectorGrid,
// vendored) is loaded only here, so a small catalog's page never fetches it. The rider
// page's map and the staff console's planner map both draw the catalog with it; the
// words of the counts are common (common/words.js).

import { lang, t } from "./i18n.js";
import { loadScript } from "./scripts.js";

// Circles grow with the square root of the count, so their area tells the count.
function cellRadius(count) {
  return Math.min(30, 9 + 3 * Math.sqrt(count));
}

function cellStyle(props) {
  return {
    radius: cellRadius(props.stations),
    weight: 2,
    color: "#ffffff",
    fill: true,
    fillColor: props.open_now > 0 ? "#0b7a3b" : "#4b5563",
    fillOpacity: 0.85,
    className: "ls-cell",
  };
}

function stationStyle(props) {
  return {
    radius: 9,
    weight: 2,
    color: "#ffffff",
    fill: true,
    fillColor: props.open_now ? "#0b7a3b" : "#6b7280",
    fillOpacity: 1,
    className: `ls-tile-station ls-tile-station-${props.id}`,
  };
}

function width(n) {
  return 12 + 8 * compact(n).length;
}

function compact(n) {
  return n >= 10000 ? `${Math.round(n / 1000)}k` : String(n);
}

// The counts written on the cells: one label per cell point of each tile, placed where
// the plugin draws the point (tile origin + position in the tile's extent).
function cellLabels(map, labels) {
  return function labelTile(coords, tile) {
    const layer = tile.layers.cells;
    if (!layer) return [];
    const size = 256;
    const made = [];
    for (const feature of layer.features) {
      const p = feature.properties;
      const [[pt]] = feature.geometry;
      const at = map.unproject(
        [coords.x * size + (pt.x * size) / layer.extent, coords.y * size + (pt.y * size) / layer.extent],
        coords.z,
      );
      const text = [t("cell_label", { n: p.stations }), t("cell_open", { n: p.open_now })];
      if (p.water_left > 0) text.push(t("cell_water", { n: p.water_left }));
      const marker = L.marker(at, {
        icon: L.divIcon({
          className: p.open_now > 0 ? "ls-cell-count" : "ls-cell-count ls-cell-closed",
          html: compact(p.stations),
          iconSize: [width(p.stations), 20],
          iconAnchor: [width(p.stations) / 2, 10],
        }),
        interactive: false,
        keyboard: false,
        title: text.join(" · "),
      });
      // A name for assistive technology; the figure on the map is for the eye.
      marker.on("add", () => {
        const el = marker.getElement();
        if (el) el.setAttribute("aria-label", text.join(lang() === "en" ? ", " : "，"));
      });
      marker.addTo(labels);
      made.push(marker);
    }
    return made;
  };
}

// Add the catalog's tiles to `map`. `setup` is the page config's `vector_tiles` (the
// tiles' URL, the plugin's, the zoom the stations start at); `stationsShown` says whether
// the tiles' stations are drawn (not on GCJ-02 base tiles: the tiles are WGS84, and the
// page draws its own markers there in the right system); `onStation(id, latlng)` is
// called when one is tapped, and a tapped cell zooms in. With `taps: false` the tiles
// answer no tap (a map whose clicks mean something else, such as the planner's).
export async function addCatalogTiles(map, setup, { stationsShown = true, onStation = () => {}, taps = true } = {}) {
  await loadScript(setup.plugin);
  const labels = L.layerGroup().addTo(map);
  const byTile = new Map();
  const label = cellLabels(map, labels);
  const Grid = L.VectorGrid.Protobuf.extend({
    _getVectorTilePromise(coords) {
      const key = this._tileCoordsToKey(coords);
      return L.VectorGrid.Protobuf.prototype._getVectorTilePromise.call(this, coords).then(
        (tile) => {
          // A station's id is the feature's id; the styles see only the properties.
          const stations = tile.layers.stations;
          if (stations) for (const f of stations.features) f.properties.id ??= f.id;
          if (this._tiles[key]) {
            (byTile.get(key) || []).forEach((m) => labels.removeLayer(m));
            byTile.set(key, label(coords, tile));
          }
          return tile;
        },
      );
    },
  });
  const grid = new Grid(setup.url, {
    rendererFactory: L.svg.tile,
    maxNativeZoom: 22,
    vectorTileLayerStyles: {
      cells: (props) => cellStyle(props),
      stations: (props) => (stationsShown ? stationStyle(props) : []),
    },
  });
  grid.on("tileunload", (e) => {
    const key = grid._tileCoordsToKey(e.coords);
    (byTile.get(key) || []).forEach((m) => labels.removeLayer(m));
    byTile.delete(key);
  });
  // Taps are read from the drawn paths' classes: the plugin's SVG tiles do not make
  // their paths Leaflet event targets (Leaflet 1.8 moved that into code it overrides).
  map.getContainer().addEventListener("click", (e) => {
    if (!taps) return;
    const path = e.target instanceof Element ? e.target.closest("path") : null;
    if (!path) return;
    const station = [...path.classList].map((c) => /^ls-tile-station-(\d+)$/.exec(c)).find(Boolean);
    if (station) onStation(Number(station[1]), map.mouseEventToLatLng(e));
    else if (path.classList.contains("ls-cell")) {
      const zoom = Math.min(map.getZoom() + 3, setup.stations_from_zoom);
      map.setView(map.mouseEventToLatLng(e), zoom);
    }
  });
  grid.addTo(map);
  shown.add(grid);
  grid.on("remove", () => shown.delete(grid));
  return grid;
}

const shown = new Set();

// After a change of language: the counts' spoken names are written again.
export function relabelCatalogTiles() {
  for (const grid of shown) grid.redraw();
}
