// /ogc in a browser: the page reads the same URL as JSON (f=json) and shows it — the
// landing page, conformance, collections, one collection, a page of features as a
// table with a small map, one feature. Chinese by default, English on a tap (the
// choice the rider page keeps). Names from the catalog are always set as text.

import { $, h } from "../common/dom.js";
import { label, lang, setLang, t, translateDocument, useWords } from "../common/i18n.js";
import { load, save } from "../common/storage.js";
import { WORDS } from "./words.js";

const config = JSON.parse($("config").textContent);
const LANG_KEY = "ls.lang";
let doc = null;
let map = null;

useWords(WORDS);

function jsonUrl() {
  const url = new URL(window.location.href);
  url.searchParams.set("f", "json");
  // The map draws in the tiles' CRS (GCJ-02 tiles need GCJ-02 positions), longitude
  // first, whatever crs the address names.
  url.searchParams.delete("crs");
  if (config.tiles.url && config.tiles.crs === "gcj02" && url.pathname.includes("/items")) {
    url.searchParams.set("crs", `${url.origin}/ogc/crs/gcj02`);
  }
  return url;
}

function htmlHref(href) {
  const url = new URL(href, window.location.href);
  url.searchParams.set("f", "html");
  url.searchParams.delete("crs");
  return url.pathname + url.search;
}

function status(text) {
  const el = $("status");
  el.hidden = !text;
  el.textContent = text || "";
}

function link(href, text, attrs = {}) {
  return h("a", { href: htmlHref(href), ...attrs }, text);
}

function jsonLink() {
  const url = new URL(window.location.href);
  url.searchParams.set("f", "json");
  return h("p", { class: "aside" }, h("a", { href: url.pathname + url.search }, t("as_json")));
}

function trail() {
  const nav = $("trail");
  const parts = window.location.pathname.replace(/\/$/, "").split("/").slice(2);
  const steps = [h("a", { href: "/ogc" }, t("home"))];
  if (parts[0] === "collections") {
    steps.push(h("a", { href: "/ogc/collections" }, t("collections")));
    if (parts[1]) steps.push(h("a", { href: `/ogc/collections/${parts[1]}` }, parts[1]));
    if (parts[2] === "items") {
      steps.push(h("a", { href: `/ogc/collections/${parts[1]}/items` }, t("items")));
    }
  }
  nav.replaceChildren(...steps.flatMap((step, i) => (i ? [" › ", step] : [step])));
}

function linkList(links, rels) {
  const items = links
    .filter((l) => !rels || rels.includes(l.rel))
    .map((l) => h("li", {}, link(l.href, l.title || l.rel)));
  return h("ul", { class: "links" }, items);
}

function kindLabel(kind) {
  return label(config.vocab.kinds[kind], kind);
}

function renderLanding(body) {
  const url = window.location.origin + "/ogc";
  return [
    h("h2", {}, body.title),
    h("p", {}, t("landing_why", { url })),
    linkList(body.links, ["data", "conformance", "service-desc"]),
  ];
}

function renderConformance(body) {
  return [
    h("h2", {}, t("conformance")),
    h("ul", { class: "links" }, body.conformsTo.map((uri) => h("li", {}, h("code", {}, uri)))),
  ];
}

function collectionCard(c) {
  const [west, south, east, north] = c.extent.spatial.bbox[0].map((v) => v.toFixed(4));
  // Cells have no time extent, and their items need a region: a button per city
  // (the collection's `related` GeoJSON links) instead of one for the whole collection.
  const [first, last] = c.extent.temporal ? c.extent.temporal.interval[0] : [null, null];
  const has = (rel) => (c.links || []).some((l) => l.rel === rel);
  const cities = (c.links || []).filter((l) => l.rel === "related" && l.type === "application/geo+json");
  const items = cities.length
    ? cities.flatMap((l, i) => [i ? " " : null, link(l.href, l.title, { class: "button" })])
    : [link(`/ogc/collections/${c.id}/items`, t("items"), { class: "button" })];
  return h(
    "section",
    { class: "card" },
    h("h3", {}, link(`/ogc/collections/${c.id}`, c.title)),
    h("p", {}, c.description),
    h(
      "dl",
      {},
      h("dt", {}, t("bbox")),
      h("dd", {}, `${west}, ${south} – ${east}, ${north}`),
      c.extent.temporal ? h("dt", {}, t("updated_span")) : null,
      c.extent.temporal
        ? h("dd", {}, first ? `${first.slice(0, 10)} – ${(last || "").slice(0, 10)}` : t("none"))
        : null,
    ),
    h(
      "p",
      { class: "actions" },
      ...items,
      " ",
      has("http://www.opengis.net/def/rel/ogc/1.0/queryables")
        ? link(`/ogc/collections/${c.id}/queryables`, t("queryables"))
        : null,
      has("http://www.opengis.net/def/rel/ogc/1.0/queryables") ? " · " : null,
      link(`/ogc/collections/${c.id}/schema`, t("schema")),
    ),
  );
}

function renderCollections(body) {
  return [h("h2", {}, t("collections")), ...body.collections.map(collectionCard)];
}

function renderCollection(body) {
  const crs = (body.crsDetails || []).map((d) =>
    h(
      "li",
      {},
      h("strong", {}, lang() === "en" ? d.title_en : d.title),
      " ",
      h("span", { class: d.registered ? "badge" : "badge own" },
        d.registered ? t("crs_registered") : t("crs_own")),
      h("br"),
      h("code", {}, d.uri),
      h("br"),
      t("axis", { order: d.axis_order }),
      " · ",
      lang() === "en" ? d.note_en : d.note,
    ),
  );
  return [collectionCard(body), h("h3", {}, t("crs_list")), h("ul", { class: "crs" }, crs)];
}

function cell(value) {
  return h("td", {}, value === null || value === undefined || value === "" ? t("none") : value);
}

function drawMap(features) {
  if (typeof L === "undefined" || !features.length) return;
  map = L.map("map", { attributionControl: Boolean(config.tiles.url) });
  if (config.tiles.url) {
    L.tileLayer(config.tiles.url, {
      maxZoom: config.tiles.max_zoom,
      attribution: config.tiles.attribution,
    }).addTo(map);
  }
  if (features[0].geometry.type === "Polygon") {
    drawCells(features);
    return;
  }
  const points = features.map((f) => {
    const [lng, lat] = f.geometry.coordinates;
    const water = f.properties.kind === "water_point";
    return L.circleMarker([lat, lng], {
      radius: 7,
      weight: 2,
      color: water ? "#0b4f8a" : "#0b5a2d",
      fillColor: water ? "#7fb3e6" : "#8fd0a5",
      fillOpacity: 0.9,
    })
      .bindTooltip(f.properties.name || String(f.id))
      .addTo(map);
  });
  map.fitBounds(L.featureGroup(points).getBounds().pad(0.15), { maxZoom: 16 });
}

// Coverage and demand cells (hexagons): green near a station, amber farther, red far
// or with none; demand cells in one colour.
function cellColour(p) {
  if (!("distance_m" in p)) return "#b45309";
  if (p.distance_m === null) return "#991b1b";
  if (p.distance_m <= 1000) return "#15803d";
  if (p.distance_m <= 3000) return "#ca8a04";
  return "#c2410c";
}

function cellTip(p) {
  const parts = [p.cell];
  if (p.band_label || p.band) parts.push(p.band_label || p.band);
  if (p.distance_m !== undefined && p.distance_m !== null) parts.push(`${Math.round(p.distance_m)} m`);
  if (p.demand !== undefined) parts.push(t("demand_of", { demand: p.demand }));
  return parts.join(" · ");
}

function drawCells(features) {
  const hexagons = features.map((f) =>
    L.polygon(f.geometry.coordinates[0].map(([lng, lat]) => [lat, lng]), {
      weight: 1,
      color: "#374151",
      fillColor: cellColour(f.properties),
      fillOpacity: 0.55,
    })
      .bindTooltip(cellTip(f.properties))
      .addTo(map),
  );
  map.fitBounds(L.featureGroup(hexagons).getBounds().pad(0.1), { maxZoom: 16 });
}

function renderCells(body) {
  const rows = body.features.map((f) => {
    const p = f.properties;
    return h(
      "tr",
      {},
      h("td", {}, link(`${window.location.pathname}/${f.id}${window.location.search}`, String(f.id))),
      cell(p.band_label || p.band),
      cell(p.distance_m === undefined || p.distance_m === null ? null : Math.round(p.distance_m)),
      cell(p.demand),
    );
  });
  const header = ["col_cell", "col_band", "col_distance", "col_demand"].map((key) =>
    h("th", { scope: "col" }, t(key)));
  return [header, rows];
}

function renderItems(body) {
  const cells = body.features.length > 0 && body.features[0].geometry.type === "Polygon";
  if (cells) return itemsPage(body, ...renderCells(body));
  const rows = body.features.map((f) => {
    const p = f.properties;
    return h(
      "tr",
      {},
      cell(p.code),
      h("td", {}, link(`${window.location.pathname}/${f.id}`, p.name || String(f.id))),
      cell(p.kind && kindLabel(p.kind)),
      cell(p.status && label(config.statuses[p.status], p.status)),
      cell(p.district),
      cell((p.amenities || []).map((a) => label(config.vocab.amenities[a], a)).join("、")),
      cell(p.updated_at && p.updated_at.slice(0, 10)),
    );
  });
  const header = ["col_code", "col_name", "col_kind", "col_status", "col_district",
    "col_amenities", "col_updated"].map((key) => h("th", { scope: "col" }, t(key)));
  return itemsPage(body, header, rows);
}

// The same query from its first page (a cells page keeps its city).
function firstPage() {
  const url = new URL(window.location.href);
  url.searchParams.delete("cursor");
  return url.pathname + url.search;
}

function itemsPage(body, header, rows) {
  const next = body.links.find((l) => l.rel === "next");
  return [
    h("h2", {}, t("items")),
    h("p", {}, t("matched", { matched: body.numberMatched, returned: body.numberReturned })),
    h("div", { id: "map", class: "map", role: "img", "aria-label": t("map_label") }),
    h(
      "div",
      { class: "table-wrap", tabindex: "0", role: "region", "aria-label": t("table_label") },
      h("table", {}, h("thead", {}, h("tr", {}, header)), h("tbody", {}, rows)),
    ),
    h(
      "p",
      { class: "actions" },
      window.location.search.includes("cursor=") ? link(firstPage(), t("first_page"), { class: "button" }) : null,
      " ",
      next ? link(next.href, t("next_page"), { class: "button" }) : null,
    ),
  ];
}

function renderFeature(body) {
  const rows = Object.entries(body.properties).map(([name, value]) =>
    h("tr", {}, h("th", { scope: "row" }, name),
      cell(Array.isArray(value) ? value.join(", ") : value)),
  );
  const collection = body.links.find((l) => l.rel === "collection");
  return [
    h("h2", {}, body.properties.name || String(body.id)),
    collection ? h("p", {}, t("feature_of", { collection: collection.title })) : null,
    h("div", { id: "map", class: "map", role: "img", "aria-label": t("map_label") }),
    h(
      "table",
      { class: "properties" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("property")),
        h("th", { scope: "col" }, t("value")))),
      h("tbody", {}, rows),
    ),
  ];
}

function renderSchema(body) {
  const rows = Object.entries(body.properties).map(([name, s]) =>
    h("tr", {}, h("th", { scope: "row" }, name),
      cell(s.format ? `${s.type || ""} ${s.format}`.trim() : s.type), cell(s.title)),
  );
  return [
    h("h2", {}, body.title),
    h("table", { class: "properties" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("property")),
        h("th", { scope: "col" }, t("type")), h("th", { scope: "col" }, t("value")))),
      h("tbody", {}, rows)),
  ];
}

function render() {
  document.title = t("page_title");
  trail();
  if (map) {
    map.remove();
    map = null;
  }
  let view = [];
  let features = [];
  if (doc.type === "FeatureCollection") {
    view = renderItems(doc);
    features = doc.features;
  } else if (doc.type === "Feature") {
    view = renderFeature(doc);
    features = [doc];
  } else if (doc.conformsTo) view = renderConformance(doc);
  else if (doc.collections) view = renderCollections(doc);
  else if (doc.extent) view = renderCollection(doc);
  else if (doc.$schema) view = renderSchema(doc);
  else if (doc.links) view = renderLanding(doc);
  $("view").replaceChildren(...view.filter(Boolean), jsonLink());
  drawMap(features);
}

function applyLanguage(next) {
  setLang(next);
  save(localStorage, LANG_KEY, lang());
  translateDocument();
  const button = $("lang");
  button.textContent = t("switch_lang");
  button.setAttribute("aria-label", t("switch_lang_label"));
  button.setAttribute("lang", lang() === "en" ? "zh-CN" : "en");
  if (doc) render();
}

async function start() {
  applyLanguage(load(localStorage, LANG_KEY, "zh"));
  $("lang").addEventListener("click", () => applyLanguage(lang() === "en" ? "zh" : "en"));
  status(t("loading"));
  try {
    const response = await fetch(jsonUrl(), { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) {
      // Cells are a planner's: say so in the page's language, with the way to sign in.
      if (response.status === 401 || body.code === "role_required") {
        status(t("needs_planner"));
        $("view").replaceChildren(h("p", {}, h("a", { href: "/staff/" }, t("to_console"))));
        return;
      }
      status(t("failed", { detail: body.detail || response.status }));
      return;
    }
    doc = body;
    status("");
    render();
  } catch (error) {
    status(t("failed", { detail: String(error) }));
  }
}

start();
