// The planner's map page's parts that need none of its state (planner.js keeps that):
// loading Leaflet, the form's helpers, and drawing an answer of the coverage API (band
// areas and legend, the summary, the downloads, a ranking).

import { h } from "../common/dom.js";
import { lang, t } from "../common/i18n.js";
import { loadScript } from "../common/scripts.js";
import { config } from "./shell.js";

const LEAFLET = "/static/maps/vendor/leaflet-1.9.3";
export const CRS = config.tiles.crs || "wgs84"; // positions on the map are in the tiles' system
// Bands inside the service circle in greens, outside in oranges to red; gaps outlined.
const INSIDE = ["#0b5a2d", "#1f7a3f", "#3f9a55", "#6fb86f"];
const OUTSIDE = ["#d97706", "#c2410c", "#991b1b"];
export const SUGGESTED = 5;

let leafletReady = null;
export function loadLeaflet() {
  if (!leafletReady) {
    const css = h("link", { rel: "stylesheet", href: `${LEAFLET}/leaflet.css` });
    // Before the page's own styles, which size Leaflet's buttons for fingers (44 px).
    document.querySelector('link[rel="stylesheet"]').before(css);
    leafletReady = loadScript(`${LEAFLET}/leaflet.js`);
  }
  return leafletReady;
}

// "2026-07-01T14:30" (the person's clock) → ISO 8601 with the browser's offset.
export function withOffset(local) {
  if (!local) return null;
  const at = new Date(local);
  if (Number.isNaN(at.getTime())) return null;
  const minutes = -at.getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const pad = (n) => String(Math.abs(n)).padStart(2, "0");
  return `${local.length === 16 ? `${local}:00` : local}${sign}${pad(Math.trunc(minutes / 60))}:${pad(minutes % 60)}`;
}

export function select(id, labelKey, options, attrs = {}) {
  return [
    h("label", { for: id }, t(labelKey)),
    h(
      "select",
      { id, name: id, ...attrs },
      options.map((o) =>
        o.group
          ? h("optgroup", { label: o.group }, o.options.map((x) => h("option", { value: x.value }, x.text)))
          : h("option", { value: o.value }, o.text),
      ),
    ),
  ];
}

function percent(share) {
  return share === null || share === undefined ? "–" : `${(share * 100).toFixed(1)}%`;
}

function amount(value) {
  return Number(value).toLocaleString(lang() === "en" ? "en" : "zh-CN", { maximumFractionDigits: 1 });
}

function colourOf(feature, insideCount) {
  const p = feature.properties;
  if (p.inside) return INSIDE[Math.min(p.index, INSIDE.length - 1)];
  return OUTSIDE[Math.min(p.index - insideCount, OUTSIDE.length - 1)];
}

// The bands (greens inside the service circle, oranges outside), the gaps outlined,
// the region dashed, and the legend; the map moves to the region.
export function drawAreas({ map, areasLayer, legend, bands }, body) {
  areasLayer.clearLayers();
  const bandsShown = body.features.filter((f) => f.properties.layer === "band");
  const insideCount = bands.findIndex((b) => b.name === body.properties.target) + 1;
  L.geoJSON(body.properties.region, {
    style: { color: "#1f2937", weight: 2, fill: false, dashArray: "6 4" },
    interactive: false,
  }).addTo(areasLayer);
  for (const feature of bandsShown) {
    L.geoJSON(feature, {
      style: { stroke: false, fillColor: colourOf(feature, insideCount), fillOpacity: 0.45 },
      interactive: false,
    }).addTo(areasLayer);
  }
  L.geoJSON(
    { type: "FeatureCollection", features: body.features.filter((f) => f.properties.layer === "gap") },
    {
      style: { color: "#7f1d1d", weight: 1.5, fill: false, className: "ls-gap" },
      interactive: false,
    },
  ).addTo(areasLayer);
  const [w, s, e, n] = body.properties.bbox;
  map.fitBounds([[s, w], [n, e]]);
  legend.replaceChildren(
    ...bandsShown.map((f) =>
      h(
        "li",
        {},
        h("span", { class: "swatch", "data-colour": colourOf(f, insideCount) }),
        `${f.properties.label} · ${t(f.properties.inside ? "planner_inside" : "planner_outside")}`,
      ),
    ),
    h("li", {}, h("span", { class: "swatch gap" }), t("planner_gaps_legend")),
  );
  // Colours set through the DOM (the CSP allows no inline style attributes).
  legend.querySelectorAll(".swatch[data-colour]").forEach((el) => {
    el.style.background = el.dataset.colour;
  });
}

// The share of demand within the target band, and per band.
export function drawSummary(summary, body) {
  const target = body.target;
  summary.replaceChildren(
    h(
      "p",
      { class: "figure-line" },
      t("planner_covered", {
        share: percent(target.covered_share),
        band: target.label,
        demand: amount(body.demand.total),
        stations: body.stations_used,
      }),
    ),
    h(
      "table",
      { class: "bands" },
      h("caption", {}, t("planner_bands_caption")),
      h(
        "thead",
        {},
        h("tr", {}, h("th", { scope: "col" }, t("planner_band")), h("th", { scope: "col" }, t("planner_share")), h("th", { scope: "col" }, t("planner_cumulative"))),
      ),
      h(
        "tbody",
        {},
        body.bands.map((b) =>
          h("tr", {}, h("th", { scope: "row" }, b.label), h("td", {}, percent(b.share)), h("td", {}, percent(b.cumulative_share))),
        ),
      ),
    ),
    h("p", { class: "hint" }, body.notes[0]),
  );
}

// The same choices as files: gaps, cells, the self-contained map.
export function drawDownloads(downloads, params) {
  const link = (path, extra, key) => {
    const query = new URLSearchParams(params);
    for (const [k, v] of Object.entries(extra)) query.set(k, v);
    return h("li", {}, h("a", { href: `${path}?${query}`, download: "" }, t(key)));
  };
  downloads.replaceChildren(
    link("/v1/coverage/gaps", { f: "csv" }, "planner_dl_gaps"),
    link("/v1/coverage/cells", { download: "true" }, "planner_dl_geojson"),
    link("/v1/coverage/cells", { f: "parquet" }, "planner_dl_parquet"),
    link("/maps/coverage", { assets: "inline", download: "true", suggest: String(SUGGESTED) }, "planner_dl_map"),
  );
}

// Ranked sites with the gain of each (after the ones above it) and the running total.
export function rankedList(body, named) {
  if (!body.sites.length) return h("p", { class: "note" }, t("planner_no_gain"));
  return h(
    "ol",
    { class: "ranked", id: "planner-ranked" },
    body.sites.map((s) =>
      h(
        "li",
        {},
        h("strong", {}, named(s)),
        " · ",
        t("planner_gain", {
          gain: amount(s.gain),
          total: amount(s.cumulative_gain),
          share: percent(s.covered_share_after),
        }),
      ),
    ),
  );
}
