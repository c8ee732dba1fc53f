// What a page's map draws under its data (the rider page and the planner's map share
// it): the online tile layer when one is configured, else the service's local base
// map (STATIONS_BASEMAP_FILE, raster or vector tiles at /basemap/{z}/{x}/{y}), else the
// reference layer, outlines of cities and districts and main roads in light grey from
// /basemap/reference.geojson, so a map is never coloured dots on an empty grey.

import { loadScript } from "./scripts.js";

const REFERENCE_STYLE = {
  city: { color: "#6b7280", weight: 2, fill: false },
  district: { color: "#9ca3af", weight: 1, dashArray: "4 4", fill: false },
  road: { color: "#b8bec7", weight: 3 },
};

// Vector base tiles drawn without a style sheet: water blue, land use and buildings
// light, roads and boundaries grey, by the layer names of common schemas (OpenMapTiles,
// Shortbread, Protomaps) and a plain grey for any other layer.
function vectorStyle(layerName) {
  if (/water|ocean|lake|river/.test(layerName)) {
    return { fill: true, fillColor: "#b9d3e6", fillOpacity: 1, color: "#9cc0da", weight: 1 };
  }
  if (/road|street|transport|highway/.test(layerName)) return { color: "#ffffff", weight: 2 };
  if (/building/.test(layerName)) {
    return { fill: true, fillColor: "#d3d6d9", fillOpacity: 1, color: "#c4c8cc", weight: 0.5 };
  }
  if (/landuse|landcover|park|earth|natural/.test(layerName)) {
    return { fill: true, fillColor: "#e3ebdf", fillOpacity: 1, stroke: false };
  }
  if (/label|place|poi|name/.test(layerName)) return [];
  return { color: "#9ca3af", weight: 1, fill: false };
}

function addVectorBase(map, tiles) {
  return loadScript(tiles.basemap.plugin).then(() => {
    const styles = new Proxy({}, { get: (_, name) => vectorStyle(String(name)) });
    L.vectorGrid
      .protobuf(tiles.url, {
        rendererFactory: L.svg.tile,
        vectorTileLayerStyles: styles,
        maxNativeZoom: tiles.basemap.max_zoom,
        minNativeZoom: tiles.basemap.min_zoom,
        maxZoom: tiles.max_zoom,
        attribution: tiles.attribution,
        pane: "tilePane",
        className: "ls-basemap",
      })
      .addTo(map);
  });
}

const DISTRICT_NAMES_FROM = 9; // zoom

function addReference(map, url) {
  return fetch(url, { credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : null))
    .then((layer) => {
      if (!layer) return;
      // Under everything the page draws (the catalog's tiles are at 200, markers above):
      // outlines and names must never cover a station or a count.
      if (!map.getPane("lsReference")) map.createPane("lsReference").style.zIndex = "150";
      const reference = L.geoJSON(layer, {
        pane: "lsReference",
        interactive: false,
        style: (feature) => REFERENCE_STYLE[feature.properties.kind] || REFERENCE_STYLE.district,
        onEachFeature(feature, drawn) {
          if (feature.properties.kind === "road") return;
          drawn.bindTooltip(feature.properties.name, {
            pane: "lsReference",
            permanent: true,
            direction: "center",
            className: `ls-ref-label ls-ref-${feature.properties.kind}`,
          });
        },
      });
      reference.addTo(map);
      reference.bringToBack();
      map.getContainer().classList.add("ls-has-reference");
      // District names from city zooms on (style.css hides them below).
      const far = () =>
        map.getContainer().classList.toggle("ls-ref-far", map.getZoom() < DISTRICT_NAMES_FROM);
      map.on("zoomend", far);
      far();
    });
}

// Add the base layer to `map`; `tiles` is the page config's `tiles`. Resolves when it is
// drawn (the tiles load on their own); a failure leaves the map as it was.
export function addBaseLayer(map, tiles) {
  if (tiles.url && tiles.basemap && tiles.basemap.format === "pbf") {
    map.attributionControl && map.attributionControl.setPrefix(false);
    return addVectorBase(map, tiles).catch(() => {});
  }
  if (tiles.url) {
    L.tileLayer(tiles.url, {
      maxZoom: tiles.max_zoom,
      maxNativeZoom: tiles.basemap ? tiles.basemap.max_zoom : undefined,
      minNativeZoom: tiles.basemap ? tiles.basemap.min_zoom : undefined,
      attribution: tiles.attribution,
      className: tiles.basemap ? "ls-basemap" : "",
    }).addTo(map);
    map.attributionControl && map.attributionControl.setPrefix(false);
    return Promise.resolve();
  }
  if (tiles.reference) return addReference(map, tiles.reference).catch(() => {});
  return Promise.resolve();
}
