// The map: Leaflet from the service's own copy over the base layer (online tiles, the
// service's local base map or the reference outlines: common/basemap.js); the rider
// and the stations found, in the tiles' CRS. The list works without it. A large
// catalog (the service says so in the config) is also drawn whole from its vector
// tiles (common/tiles.js): counts per area when zoomed out, every station when zoomed in.

import { addBaseLayer } from "../common/basemap.js";
import { lang } from "../common/i18n.js";
import { addCatalogTiles, relabelCatalogTiles } from "../common/tiles.js";
import { stationName } from "./format.js";
import { openStation } from "./page.js";
import { config, state, TILES_GCJ02 } from "./state.js";

// China at zoom 4, centred on its east (most stations), where a large catalog's map opens
// before the rider's position is known.
const COUNTRY = { center: [33.0, 112.0], zoom: 4 };

let map = null;
let layer = null;
let zoom = null;

export function initMap() {
  if (typeof L === "undefined") return; // the list works without the map
  map = L.map("map", { zoomControl: false, attributionControl: Boolean(config.tiles.url) });
  addBaseLayer(map, config.tiles);
  layer = L.layerGroup().addTo(map);
  localiseMap();
  if (config.vector_tiles) {
    map.setView(COUNTRY.center, COUNTRY.zoom);
    const onStation = (id) => openStation(id, null);
    addCatalogTiles(map, config.vector_tiles, { stationsShown: !TILES_GCJ02, onStation }).catch(() => {
      // Without the plugin the map still shows the nearest answer's markers.
    });
  }
}

export function localiseMap() {
  if (!map) return;
  if (zoom) zoom.remove();
  zoom = L.control
    .zoom({
      zoomInTitle: lang() === "en" ? "Zoom in" : "放大",
      zoomOutTitle: lang() === "en" ? "Zoom out" : "缩小",
    })
    .addTo(map);
  relabelCatalogTiles();
}

// After the map was hidden, Leaflet must measure its box again.
export function refreshMapSize() {
  if (map) setTimeout(() => map.invalidateSize(), 0);
}

export function drawMap() {
  if (!map || !state.drawn) return;
  layer.clearLayers();
  const here = [state.drawn.lat, state.drawn.lng];
  const bounds = [here];
  // On the catalog's tiles every station is drawn already (and tapped there), except on
  // GCJ-02 base tiles, where the answer's own GCJ-02 positions are drawn instead.
  const markers = !config.vector_tiles || TILES_GCJ02;
  state.results.forEach((hit, i) => {
    const at = [hit.position.lat, hit.position.lng];
    if (i < 5) bounds.push(at);
    if (!markers) return;
    const open = hit.open && hit.open.is_open;
    const marker = L.circleMarker(at, {
      radius: 10,
      weight: 3,
      color: "#ffffff",
      fillColor: open ? "#0b7a3b" : "#6b7280",
      fillOpacity: 1,
      className: `ls-station ls-station-${hit.id}`,
    });
    marker.on("click", () => openStation(hit.id, hit));
    marker.bindTooltip(stationName(hit));
    marker.addTo(layer);
  });
  L.circleMarker(here, {
    radius: 9,
    weight: 3,
    color: "#ffffff",
    fillColor: "#1d4ed8",
    fillOpacity: 1,
    className: "ls-rider",
    interactive: false,
  }).addTo(layer);
  map.fitBounds(bounds, { padding: [28, 28], maxZoom: 17 });
}
