// The rider page: stations around the rider on a map and in a list, the nearest open
// one in one tap, scan-to-claim at a poster, one-tap rating after a visit.
//
// Positions from the browser are WGS84 and are sent as such (crs=wgs84). When the tile
// layer is GCJ-02 the service converts: the rider's position once per fix, and every
// station position comes back in GCJ-02 from nearest?crs=gcj02. Map-app links get
// their coordinates from the service in the system each link declares.
//
// Storage: the member token lives in sessionStorage (this tab only) with a claim that
// has not been answered yet (its Idempotency-Key and exact body, so a retry after a
// network error or a reload is the same request). localStorage keeps the language, the
// filters and the last nearest answer (for when the network drops). Tokens and phone
// numbers are never logged.

import { has, label, lang, setLang, t, translateDocument } from "./i18n.js";
import { amapLink, baiduLink, geoLink } from "./links.js";
import { NetworkError, refusal, request, withRetries } from "./net.js";

const config = JSON.parse(document.getElementById("config").textContent);
const TILES_GCJ02 = Boolean(config.tiles.url) && config.tiles.crs === "gcj02";
const NEAREST_K = 10;
const LIST_FIRST = 5; // the rest behind "show more": the page stays short
const RESEARCH_AFTER_M = 150; // search again when the rider moved this far
const FRESH_FIX_MS = 60000; // a claim asks for a new fix when the last one is older
const FILTERS = {
  water: { amenity: "drinking_water" },
  toilet: { amenity: "restroom" },
  open: { open_now: true },
  cooling: { amenity: "air_conditioning" },
  heating: { amenity: "heating" },
};
const RATE_TAGS = [
  "clean",
  "water_available",
  "friendly",
  "crowded",
  "no_water",
  "closed_when_listed_open",
];
const KEYS = {
  lang: "ls.lang",
  filters: "ls.filters",
  nearest: "ls.nearest",
  session: "ls.session",
  pending: "ls.pending",
  results: "ls.results",
};

// --- storage (private browsing may refuse it: the page then just forgets) ----------------

function load(store, key, fallback) {
  try {
    const text = store.getItem(key);
    return text === null ? fallback : JSON.parse(text);
  } catch {
    return fallback;
  }
}

function save(store, key, value) {
  try {
    if (value === null || value === undefined) store.removeItem(key);
    else store.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: nothing to keep.
  }
}

// --- state ---------------------------------------------------------------------------

const state = {
  position: null, // {lat, lng, accuracy, at}: WGS84 from the browser
  searchedAt: null, // the position of the last search
  drawn: null, // the rider's position in the map's CRS
  results: [],
  answerAt: 0,
  filters: new Set(load(localStorage, KEYS.filters, [])),
  view: "list",
  station: null, // {id, hit, detail, positions}
  scan: null, // {code, station} when the page was opened from a poster
  scanError: null,
  session: load(sessionStorage, KEYS.session, null),
  rating: null, // {stationId, stars, tags, eligibility}
  waiters: [],
};

const $ = (id) => document.getElementById(id);

// h("p", {class: "x"}, "text", child…): DOM without innerHTML, so names from the
// catalog are always text.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function status(text) {
  const el = $("status");
  el.textContent = text || "";
  el.hidden = !text;
}

// --- words for numbers and times -------------------------------------------------------

function distanceText(metres) {
  if (metres < 1000) return t("metres", { n: Math.max(10, Math.round(metres / 10) * 10) });
  return t("km", { n: (metres / 1000).toFixed(metres < 10000 ? 1 : 0) });
}

function minutesText(metres, kmh) {
  return t("minutes", { n: Math.max(1, Math.round(metres / ((kmh * 1000) / 60))) });
}

function estimates(metres) {
  const { walk_kmh: walk, ebike_kmh: ebike } = config.speeds;
  return `${t("walk", { t: minutesText(metres, walk) })} · ${t("ride", { t: minutesText(metres, ebike) })}`;
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString(lang() === "en" ? "en-GB" : "zh-CN", {
    hour: "2-digit",
    minute: "2-digit",
  });
}

// An instant in the phone's own time: "21:00", "明天 07:00", "7月16日 07:00".
function when(iso) {
  const at = new Date(iso);
  const day = (d) => `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
  const tomorrow = new Date();
  tomorrow.setDate(tomorrow.getDate() + 1);
  const time = clock(iso);
  if (day(at) === day(new Date())) return time;
  if (day(at) === day(tomorrow)) return t("tomorrow", { time });
  return t("on_date", { month: at.getMonth() + 1, day: at.getDate(), time });
}

// "2026-07-15T21:00:00+08:00" in the station's own zone → "21:00", "明天 07:00", …
function localWhen(iso) {
  const match = /^(\d{4})-(\d\d)-(\d\d)T(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.exec(
    iso,
  );
  if (!match) return iso;
  const [, , month, day, time, zone] = match;
  const offset =
    zone === "Z"
      ? 0
      : (zone[0] === "-" ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const today = new Date(Date.now() + offset * 60000).toISOString().slice(0, 10);
  const tomorrow = new Date(Date.now() + offset * 60000 + 86400000).toISOString().slice(0, 10);
  const date = iso.slice(0, 10);
  if (date === today) return time;
  if (date === tomorrow) return t("tomorrow", { time });
  return t("on_date", { month: Number(month), day: Number(day), time });
}

function openText(open) {
  if (!open || open.is_open === null || open.is_open === undefined) {
    return { text: t("open_unknown"), cls: "unknown" };
  }
  if (open.is_open) {
    if (!open.next_change) return { text: t("open_247"), cls: "ok" };
    return { text: t("open_until", { time: localWhen(open.next_change) }), cls: "ok" };
  }
  if (!open.next_change) return { text: t("closed"), cls: "closed" };
  return { text: t("closed_opens", { time: localWhen(open.next_change) }), cls: "closed" };
}

function ageText(ms) {
  const minutes = Math.floor(ms / 60000);
  if (minutes < 1) return t("age_now");
  if (minutes < 120) return t("age_min", { n: minutes });
  if (minutes < 2880) return t("age_hour", { n: Math.floor(minutes / 60) });
  return t("age_day", { n: Math.floor(minutes / 1440) });
}

// Members' rating and today's water, as every search answer carries them (null until
// rated, or until the station set today's stock).
function liveText(station) {
  const parts = [];
  const rating = station.rating;
  if (rating && rating.ratings > 0 && rating.mean_stars !== null) {
    parts.push(
      t("rating_line", { mean: Number(rating.mean_stars).toFixed(1), count: rating.ratings }),
    );
  }
  const water = station.water_today;
  if (water)
    parts.push(water.remaining > 0 ? t("water_left", { n: water.remaining }) : t("water_none"));
  return parts.join(" · ");
}

function kindLabel(kind) {
  return label(config.vocab.kinds[kind], kind);
}

function capitalised(text) {
  return lang() === "en" && text ? text[0].toUpperCase() + text.slice(1) : text;
}

function stationName(s) {
  return lang() === "en" && s.name_en ? s.name_en : s.name;
}

// A refusal in plain words: the rule code picks the sentence, numbers are read from the
// service's English detail; unknown codes show that detail itself.
function refusalText(detail, kind = "claim") {
  const { code, text } = refusal(detail);
  if (code === "outside_geofence") {
    const numbers = /you are (\d+) m .* within (\d+) m/.exec(text);
    if (numbers) {
      const key = kind === "checkin" ? "r_outside_geofence_checkin" : "r_outside_geofence";
      return t(key, { distance: numbers[1], radius: numbers[2] });
    }
  }
  if (code === "quota_used") {
    const quota = /your (\d+) bottle/.exec(text);
    return t("r_quota_used", { quota: quota ? quota[1] : 1 });
  }
  if (code === "out_of_stock" && /not set/.test(text)) return t("r_out_of_stock_unset");
  if (code === "campaign_closed") {
    const hours = /from (\S+) to (\S+) local time/.exec(text);
    if (hours) return t("r_campaign_closed_hours", { from: hours[1], to: hours[2] });
  }
  if (code && has(`r_${code}`)) return t(`r_${code}`);
  return t("r_unknown", { detail: text || String(detail) });
}

// --- position --------------------------------------------------------------------------

function metresBetween(a, b) {
  // Only to decide whether the rider moved enough to search again; every distance shown
  // comes from the service.
  const rad = Math.PI / 180;
  const x = (b.lng - a.lng) * rad * Math.cos(((a.lat + b.lat) / 2) * rad);
  const y = (b.lat - a.lat) * rad;
  return Math.hypot(x, y) * 6371000;
}

function geoReason(error) {
  if (error && error.code === 1) return t("geo_denied");
  if (error && error.code === 3) return t("geo_timeout");
  return t("geo_unavailable");
}

function onFix(fix) {
  state.position = {
    lat: fix.coords.latitude,
    lng: fix.coords.longitude,
    accuracy: fix.coords.accuracy,
    at: Date.now(),
  };
  const waiters = state.waiters.splice(0);
  for (const resolve of waiters) resolve(state.position);
  if (!state.searchedAt || metresBetween(state.searchedAt, state.position) > RESEARCH_AFTER_M) {
    searchNearby();
  }
}

function onFixError(error) {
  const waiters = state.waiters.splice(0);
  for (const resolve of waiters) resolve(null);
  if (!state.position) {
    status(t("no_position", { why: geoReason(error) }));
    showCachedIfAny();
  }
}

function watchPosition() {
  if (!("geolocation" in navigator)) {
    status(t("no_position", { why: t("geo_unavailable") }));
    return;
  }
  status(t("locating"));
  navigator.geolocation.watchPosition(onFix, onFixError, {
    enableHighAccuracy: true,
    maximumAge: 15000,
    timeout: 20000,
  });
}

// A recent fix (for a claim: the service checks it against the geofence).
function freshPosition() {
  if (state.position && Date.now() - state.position.at < FRESH_FIX_MS) {
    return Promise.resolve(state.position);
  }
  if (!("geolocation" in navigator)) return Promise.resolve(null);
  return new Promise((resolve) => {
    state.waiters.push(resolve);
    navigator.geolocation.getCurrentPosition(onFix, onFixError, {
      enableHighAccuracy: true,
      maximumAge: 0,
      timeout: 20000,
    });
  });
}

// --- nearest stations ----------------------------------------------------------------------

function nearestQuery(at, crs, openOnly) {
  const query = new URLSearchParams({
    lat: String(at.lat),
    lng: String(at.lng),
    k: String(NEAREST_K),
    crs,
  });
  for (const name of state.filters) {
    const filter = FILTERS[name];
    if (filter && filter.amenity) query.append("amenity", filter.amenity);
  }
  if (openOnly || state.filters.has("open")) query.set("open_now", "true");
  return query;
}

let searches = 0; // only the latest search may change the list

async function searchNearby({ openOnly = false, pickFirst = false } = {}) {
  if (!state.position) {
    status(t("locating"));
    return;
  }
  const search = ++searches;
  const here = state.position;
  state.searchedAt = here;
  status(t("searching"));
  try {
    let drawn = { lat: here.lat, lng: here.lng };
    let crs = "wgs84";
    if (TILES_GCJ02) {
      const converted = await request(`/v1/rider/position?lat=${here.lat}&lng=${here.lng}`);
      if (!converted.ok) throw new NetworkError("no conversion");
      drawn = converted.data.gcj02;
      crs = "gcj02";
    }
    const answer = await request(`/v1/stations/nearest?${nearestQuery(drawn, crs, openOnly)}`);
    if (search !== searches) return;
    if (!answer.ok) {
      status(refusalText(answer.data && answer.data.detail));
      return;
    }
    state.results = answer.data.results;
    state.drawn = drawn;
    state.answerAt = Date.now();
    save(localStorage, KEYS.nearest, {
      at: state.answerAt,
      position: here,
      drawn,
      crs,
      answer: answer.data,
    });
    status(state.results.length ? "" : t(openOnly ? "none_open" : "none_found"));
    renderList();
    if (pickFirst && state.results.length) {
      openStation(state.results[0].id, state.results[0]);
    } else if (state.station && !state.station.hit && !sending) {
      // A scanned station: now its distance is known too.
      state.station.hit = state.results.find((r) => r.id === state.station.id) || null;
      if (state.station.hit) renderStation();
    }
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    if (search === searches) showCachedIfAny(true);
  }
}

function showCachedIfAny(failed = false) {
  const cached = load(localStorage, KEYS.nearest, null);
  if (!cached || !cached.answer) {
    if (failed) status(t("offline_none"));
    return;
  }
  // A cache drawn in another CRS than the current tiles would land off the streets.
  if ((cached.crs === "gcj02") !== TILES_GCJ02) return;
  state.results = cached.answer.results;
  state.drawn = cached.drawn;
  state.answerAt = cached.at;
  status(t("offline_cached", { age: ageText(Date.now() - cached.at) }));
  renderList();
}

// --- map -------------------------------------------------------------------------------

let map = null;
let layer = null;
let zoom = null;

function initMap() {
  if (typeof L === "undefined") return; // the list works without the map
  map = L.map("map", { zoomControl: false, attributionControl: Boolean(config.tiles.url) });
  if (config.tiles.url) {
    L.tileLayer(config.tiles.url, {
      maxZoom: config.tiles.max_zoom,
      attribution: config.tiles.attribution,
    }).addTo(map);
    map.attributionControl.setPrefix(false);
  }
  layer = L.layerGroup().addTo(map);
  localiseMap();
}

function localiseMap() {
  if (!map) return;
  if (zoom) zoom.remove();
  zoom = L.control
    .zoom({
      zoomInTitle: lang() === "en" ? "Zoom in" : "放大",
      zoomOutTitle: lang() === "en" ? "Zoom out" : "缩小",
    })
    .addTo(map);
}

function drawMap() {
  if (!map || !state.drawn) return;
  layer.clearLayers();
  const here = [state.drawn.lat, state.drawn.lng];
  const bounds = [here];
  state.results.forEach((hit, i) => {
    const at = [hit.position.lat, hit.position.lng];
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
    if (i < 5) bounds.push(at);
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

// --- list --------------------------------------------------------------------------------

let listExpanded = false;

function renderList() {
  const list = $("stations");
  const shown = listExpanded ? state.results : state.results.slice(0, LIST_FIRST);
  const more = state.results.length - shown.length;
  list.replaceChildren(
    ...shown.map((hit) => {
      const open = openText(hit.open);
      const amenities = hit.amenities
        .slice(0, 4)
        .map((a) => label(config.vocab.amenities[a], a))
        .join(" · ");
      return h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: "station-item",
            "data-id": hit.id,
            onclick: () => openStation(hit.id, hit),
          },
          h(
            "span",
            { class: "row" },
            h("strong", { class: "name" }, stationName(hit)),
            h("span", { class: "distance" }, distanceText(hit.distance_m)),
          ),
          h("span", { class: `open ${open.cls}` }, open.text),
          h("span", { class: "times" }, estimates(hit.distance_m)),
          liveText(hit) && h("span", { class: "live" }, liveText(hit)),
          h(
            "span",
            { class: "meta" },
            capitalised([kindLabel(hit.kind), amenities].filter(Boolean).join(" · ")),
          ),
        ),
      );
    }),
  );
  if (more > 0) {
    list.append(
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            id: "more",
            onclick: () => {
              listExpanded = true;
              renderList();
            },
          },
          t("more", { n: more }),
        ),
      ),
    );
  }
  $("estimate-note").textContent = t("estimate_note", {
    walk: config.speeds.walk_kmh,
    ebike: config.speeds.ebike_kmh,
  });
  drawMap();
}

// --- views -------------------------------------------------------------------------------

function show(view) {
  state.view = view;
  $("list-view").hidden = view !== "list";
  $("station-view").hidden = view !== "station";
  $("signin-view").hidden = view !== "signin";
  if (view === "list" && map) setTimeout(() => map.invalidateSize(), 0);
  window.scrollTo(0, 0);
}

function backToList() {
  state.station = null;
  show("list");
  renderList();
}

// --- one station ---------------------------------------------------------------------------

function scannedHere(id) {
  return state.scan && state.scan.station.id === id;
}

async function openStation(id, hit) {
  state.station = {
    id,
    hit: hit || state.results.find((r) => r.id === id) || null,
    detail: null,
    positions: {},
  };
  show("station");
  renderStation();
  $("station-heading") && $("station-heading").focus();
  const asked = state.station;
  const [wgs, gcj, bd] = await Promise.allSettled(
    ["wgs84", "gcj02", "bd09"].map((crs) => request(`/v1/stations/${id}?crs=${crs}`)),
  );
  if (state.station !== asked) return;
  const ok = (r) => r.status === "fulfilled" && r.value.ok;
  if (ok(wgs)) asked.detail = wgs.value.data;
  asked.positions = {
    wgs84: ok(wgs)
      ? wgs.value.data.position
      : !TILES_GCJ02 && asked.hit
        ? asked.hit.position
        : undefined,
    gcj02: ok(gcj)
      ? gcj.value.data.position
      : TILES_GCJ02 && asked.hit
        ? asked.hit.position
        : undefined,
    bd09: ok(bd) ? bd.value.data.position : undefined,
  };
  renderStation();
  loadRating(id);
}

function renderStation() {
  const view = $("station-view");
  const s = state.station;
  if (!s) return;
  const base = s.detail || s.hit || (scannedHere(s.id) ? state.scan.station : null);
  if (!base) {
    view.replaceChildren(
      h("button", { type: "button", class: "secondary", onclick: backToList }, t("back")),
    );
    return;
  }
  const open = base.open ? openText(base.open) : null;
  const facts = [kindLabel(base.kind)];
  if (base.access) facts.push(label(config.vocab.access[base.access], base.access));
  const children = [
    h("button", { type: "button", class: "secondary back", onclick: backToList }, t("back")),
    h("h2", { id: "station-heading", tabindex: "-1" }, stationName(base)),
    h("p", { class: "meta" }, capitalised(facts.join(" · "))),
    open && h("p", { class: `open ${open.cls}` }, open.text),
    liveText(base) && h("p", { class: "live" }, liveText(base)),
    s.hit &&
      h(
        "p",
        { class: "times" },
        `${distanceText(s.hit.distance_m)} · ${estimates(s.hit.distance_m)}`,
      ),
  ];
  if (scannedHere(s.id)) children.push(actionsBlock(base));
  children.push(h("div", { id: "result", class: "result", "aria-live": "polite" }));
  // At the station (scanned) the rating comes first; from the list, the way there.
  const rating = h("div", { id: "rating", class: "rating" });
  const directions = directionsBlock(base, s.positions);
  children.push(...(scannedHere(s.id) ? [rating, directions] : [directions, rating]));
  if (base.amenities && base.amenities.length) {
    children.push(
      h("h3", {}, t("amenities")),
      h(
        "ul",
        { class: "amenities" },
        base.amenities.map((a) => h("li", {}, label(config.vocab.amenities[a], a))),
      ),
    );
  }
  if (base.address) children.push(h("p", { class: "address" }, base.address));
  if (base.contact && /^[0-9+\-() ]{5,}$/.test(base.contact)) {
    children.push(
      h(
        "a",
        { class: "link-button", href: `tel:${base.contact.replace(/[^0-9+]/g, "")}` },
        t("call", { phone: base.contact }),
      ),
    );
  }
  if (s.detail && s.detail.hours_next_7_days) {
    children.push(
      h(
        "details",
        { class: "hours" },
        h("summary", {}, t("hours_week")),
        h(
          "ul",
          {},
          s.detail.hours_next_7_days.map((d) =>
            h("li", {}, lang() === "en" ? d.text_en : d.text_zh),
          ),
        ),
      ),
    );
  }
  children.push(h("p", { class: "note" }, t("station_code", { code: base.code })));
  view.replaceChildren(...children.filter(Boolean));
  showStoredResult(s.id);
  renderRating();
}

function actionsBlock(base) {
  const buttons = [];
  // A love station hands out bottles when it has today's stock (it takes part in a campaign).
  const water = base.kind === "water_point" || Boolean(base.water_today);
  if (base.kind === "love_station") {
    buttons.push(
      h(
        "button",
        {
          type: "button",
          class: "primary big",
          id: "checkin-button",
          onclick: () => act("checkin"),
        },
        t("check_in"),
      ),
    );
  }
  if (water) {
    const cls = base.kind === "water_point" ? "primary big" : "secondary big";
    buttons.push(
      h(
        "button",
        { type: "button", class: cls, id: "claim-button", onclick: () => act("claim") },
        t("claim"),
      ),
    );
  }
  return h("div", { class: "actions" }, buttons);
}

function directionsBlock(base, positions) {
  const name = stationName(base);
  const links = [
    [t("amap"), amapLink(positions, name), "amap"],
    [t("baidu"), baiduLink(positions, name, base.address), "baidu"],
    [t("other_map"), geoLink(positions, name), "geo"],
  ].filter(([, href]) => href);
  if (!links.length) return null;
  return h(
    "nav",
    { class: "directions", "aria-labelledby": "directions-heading" },
    h("h3", { id: "directions-heading" }, t("directions")),
    h(
      "div",
      { class: "link-row" },
      links.map(([text, href, kind]) =>
        h(
          "a",
          {
            class: "link-button",
            href,
            target: "_blank",
            rel: "noopener noreferrer",
            "data-map": kind,
          },
          text,
        ),
      ),
    ),
  );
}

// --- a poster's QR code ------------------------------------------------------------------

async function openScanned() {
  const path = location.pathname + location.search;
  show("station");
  status(t("searching"));
  let answer;
  try {
    answer = await request(path);
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    status(t("network_error"));
    show("list");
    showCachedIfAny(true);
    return;
  }
  status("");
  if (!answer.ok) {
    state.scanError = answer.data && answer.data.detail;
    $("station-view").replaceChildren(
      h("button", { type: "button", class: "secondary back", onclick: backToList }, t("back")),
      h(
        "div",
        { class: "refusal", role: "alert" },
        h("h2", {}, t("refused_title")),
        h("p", {}, refusalText(state.scanError)),
      ),
    );
    return;
  }
  state.scan = { code: location.origin + path, station: answer.data };
  await openStation(answer.data.id, null);
  const pending = load(sessionStorage, KEYS.pending, null);
  if (pending && pending.station_id === answer.data.id && state.session) sendPending(pending);
}

// --- claims and check-ins ----------------------------------------------------------------

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function requireSignIn(then) {
  if (state.session) return then();
  status(t("sign_in_needed"));
  showSignIn(then);
}

async function act(kind) {
  requireSignIn(async () => {
    const stationId = state.scan.station.id;
    let pending = load(sessionStorage, KEYS.pending, null);
    if (!pending || pending.station_id !== stationId || pending.kind !== kind) {
      setBusy(true, kind === "claim" ? t("claiming") : t("checking_in"));
      const here = await freshPosition();
      if (!here) {
        setBusy(false);
        showResult(h("div", { class: "refusal", role: "alert" }, h("p", {}, t("need_position"))));
        return;
      }
      pending = {
        kind,
        key: newKey(), // one per attempt; kept until an answer arrives
        station_id: stationId,
        body: { code: state.scan.code, lat: here.lat, lng: here.lng, crs: "wgs84" },
      };
      save(sessionStorage, KEYS.pending, pending);
    }
    await sendPending(pending);
  });
}

function setBusy(busy, text) {
  for (const id of ["claim-button", "checkin-button"]) {
    const button = $(id);
    if (button) button.disabled = busy;
  }
  if (busy && text) showResult(h("p", { class: "progress" }, text));
}

function showResult(...nodes) {
  const result = $("result");
  if (result) result.replaceChildren(...nodes);
}

let sending = false;

async function sendPending(pending) {
  // Only the attempt still kept: an answered one (a late "online" event, a second tap on
  // "retry") is not sent again.
  const kept = load(sessionStorage, KEYS.pending, null);
  if (sending || !kept || kept.key !== pending.key) return;
  sending = true;
  setBusy(true, pending.kind === "claim" ? t("claiming") : t("checking_in"));
  const path = pending.kind === "claim" ? "/v1/claims" : "/v1/checkins";
  const headers = pending.kind === "claim" ? { "Idempotency-Key": pending.key } : {};
  let answer;
  try {
    answer = await withRetries(
      () =>
        request(path, {
          method: "POST",
          body: pending.body,
          token: state.session && state.session.token,
          headers,
        }),
      { onRetry: (s, n) => showResult(h("p", { class: "progress" }, t("retrying", { s, n }))) },
    );
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    answer = null;
  } finally {
    sending = false;
  }
  setBusy(false);
  if (!answer || answer.status >= 500 || answer.status === 408 || answer.status === 429) {
    showResult(
      h("p", { class: "progress" }, t("still_pending")),
      h(
        "button",
        { type: "button", class: "secondary", onclick: () => sendPending(pending) },
        t("retry_now"),
      ),
    );
    window.addEventListener("online", () => sendPending(pending), { once: true });
    return;
  }
  if (answer.status === 401) {
    signedOut();
    status(t("r_unauthorized"));
    showSignIn(() => sendPending(pending));
    return;
  }
  save(sessionStorage, KEYS.pending, null);
  const stored = {
    kind: pending.kind,
    ok: answer.ok,
    data: answer.data,
    replayed: answer.headers.get("Idempotent-Replayed") === "true",
    at: Date.now(),
  };
  // The last answer, and the last granted claim: a later refusal (a second tap) must not
  // hide the code the staff still have to read.
  const results = load(sessionStorage, KEYS.results, {});
  const earlier = results[pending.station_id] || {};
  results[pending.station_id] = {
    last: stored,
    granted: stored.ok && stored.kind === "claim" ? stored : earlier.granted || null,
  };
  save(sessionStorage, KEYS.results, results);
  if (state.station && state.station.id === pending.station_id) {
    showStoredResult(pending.station_id);
    if (answer.ok) loadRating(pending.station_id);
  }
}

const KEEP_RESULT_MS = 12 * 3600 * 1000;

function showStoredResult(stationId) {
  const kept = load(sessionStorage, KEYS.results, {})[stationId];
  if (!kept) return;
  const recent = (stored) => stored && Date.now() - stored.at < KEEP_RESULT_MS;
  const nodes = [];
  if (recent(kept.last)) nodes.push(resultNode(kept.last));
  if (recent(kept.granted) && kept.granted !== kept.last && kept.granted.at !== kept.last.at) {
    nodes.push(resultNode(kept.granted));
  }
  if (nodes.length) showResult(...nodes);
}

function resultNode(stored) {
  const data = stored.data || {};
  if (!stored.ok) {
    return h(
      "div",
      { class: "refusal", role: "alert" },
      h("h3", {}, t("refused_title")),
      h("p", { class: "reason" }, refusalText(data.detail, stored.kind)),
    );
  }
  if (stored.kind === "checkin") {
    return h(
      "div",
      { class: "granted" },
      h("p", {}, t("checked_in", { station: data.station.name, time: clock(data.checked_in_at) })),
    );
  }
  return h(
    "div",
    { class: "claim-card" },
    h("p", { class: "claim-label", id: "claim-code-label" }, t("claim_code")),
    h(
      "p",
      { class: "claim-code", id: "claim-code", "aria-labelledby": "claim-code-label" },
      data.claim_code,
    ),
    h("p", { class: "show-staff" }, t("show_staff")),
    data.prize && h("p", { class: "prize" }, t("prize", { prize: data.prize })),
    h(
      "p",
      { class: "facts" },
      t("claim_facts", {
        station: data.station.name,
        time: clock(data.claimed_at),
        n: data.claims_today,
        quota: data.daily_quota,
      }),
    ),
    stored.replayed && h("p", { class: "note replayed" }, t("replayed")),
  );
}

// --- rating --------------------------------------------------------------------------------

async function loadRating(stationId) {
  state.rating = {
    stationId,
    stars: null,
    tags: new Set(),
    eligibility: null,
    message: null,
    loading: true,
  };
  renderRating();
  if (!state.session) {
    state.rating.loading = false;
    renderRating();
    return;
  }
  try {
    const answer = await request(`/v1/stations/${stationId}/ratings/eligibility`, {
      token: state.session.token,
    });
    if (!state.rating || state.rating.stationId !== stationId) return;
    state.rating.loading = false;
    if (answer.status === 401) {
      signedOut();
      renderRating();
      return;
    }
    if (!answer.ok) {
      state.rating.message = refusalText(answer.data && answer.data.detail);
    } else {
      state.rating.eligibility = answer.data;
      if (answer.data.today) {
        state.rating.stars = answer.data.today.stars;
        state.rating.tags = new Set(answer.data.today.tags);
        state.rating.sent = true;
      }
    }
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    state.rating.loading = false;
    state.rating.message = t("network_error");
  }
  renderRating();
}

function renderRating() {
  const box = $("rating");
  const r = state.rating;
  if (!box || !r || !state.station || r.stationId !== state.station.id) return;
  const heading = h("h3", {}, t("rate_title"));
  if (!state.session) {
    box.replaceChildren(
      heading,
      h("p", { class: "why" }, t("rate_sign_in")),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: () => showSignIn(() => loadRating(r.stationId)),
        },
        t("sign_in"),
      ),
    );
    return;
  }
  if (r.loading) {
    box.replaceChildren(heading, h("p", { class: "why" }, t("rate_loading")));
    return;
  }
  const e = r.eligibility;
  if (!e || !e.can_rate) {
    const why = e ? refusalText(e.detail) : r.message || t("rate_loading");
    box.replaceChildren(heading, h("p", { class: "why", id: "rating-why" }, why));
    return;
  }
  const stars = h(
    "div",
    { class: "stars", role: "group", "aria-label": t("rate_title") },
    [1, 2, 3, 4, 5].map((n) =>
      h(
        "button",
        {
          type: "button",
          class: `star${r.stars && n <= r.stars ? " on" : ""}`,
          "aria-label": t("rate_stars", { n }),
          "aria-pressed": String(r.stars === n),
          "data-stars": n,
          onclick: () => rate(n),
        },
        r.stars && n <= r.stars ? "★" : "☆",
      ),
    ),
  );
  const tags = h(
    "div",
    { class: "chips", role: "group", "aria-label": t("rate_tags") },
    RATE_TAGS.map((tag) =>
      h(
        "button",
        {
          type: "button",
          class: "chip small",
          "aria-pressed": String(r.tags.has(tag)),
          "data-tag": tag,
          onclick: () => toggleTag(tag),
        },
        label(config.vocab.tags[tag], tag),
      ),
    ),
  );
  box.replaceChildren(
    heading,
    h("p", { class: "why" }, t("rate_until", { time: when(e.visit.rate_until) })),
    stars,
    tags,
    h("p", { class: "rated", id: "rated", role: "status" }, r.message || ""),
  );
}

let tagTimer = null;

function toggleTag(tag) {
  const r = state.rating;
  if (r.tags.has(tag)) r.tags.delete(tag);
  else r.tags.add(tag);
  renderRating();
  // After the stars were sent, a changed tag re-sends (a new rating the same day replaces).
  if (r.sent && r.stars) {
    clearTimeout(tagTimer);
    tagTimer = setTimeout(() => rate(r.stars), 600);
  }
}

async function rate(stars) {
  const r = state.rating;
  r.stars = stars;
  r.message = null;
  renderRating();
  let answer;
  try {
    answer = await withRetries(() =>
      request(`/v1/stations/${r.stationId}/ratings`, {
        method: "POST",
        token: state.session && state.session.token,
        body: { stars, tags: [...r.tags] },
      }),
    );
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    r.message = t("network_error");
    renderRating();
    return;
  }
  if (answer.status === 401) {
    signedOut();
    showSignIn(() => loadRating(r.stationId));
    return;
  }
  if (answer.ok) {
    r.sent = true;
    const summary = answer.data.summary;
    r.message = `${t("rated", { n: stars })} ${t("rating_summary", {
      count: summary.ratings,
      mean: summary.mean_stars === null ? "–" : Number(summary.mean_stars).toFixed(1),
    })}`;
  } else {
    r.message = refusalText(answer.data && answer.data.detail);
    if (answer.status === 403) {
      r.eligibility = { ...r.eligibility, can_rate: false, detail: answer.data.detail };
    }
  }
  renderRating();
}

// --- signing in ------------------------------------------------------------------------------

let afterSignIn = null;
let beforeSignIn = "list";

function showSignIn(then) {
  afterSignIn = then || null;
  if (state.view !== "signin") beforeSignIn = state.view;
  $("signin-error").hidden = true;
  show("signin");
  $("member-no").focus();
}

function leaveSignIn() {
  $("phone").value = "";
  show(beforeSignIn);
  if (beforeSignIn === "station") renderStation();
}

async function submitSignIn(event) {
  event.preventDefault();
  const memberNo = $("member-no").value.trim();
  const phone = $("phone").value.trim();
  const error = $("signin-error");
  if (!memberNo || !phone) {
    error.textContent = t("r_bad_login");
    error.hidden = false;
    return;
  }
  error.textContent = t("signing_in");
  error.hidden = false;
  let answer;
  try {
    answer = await request("/v1/auth/member", {
      method: "POST",
      body: { member_no: memberNo, phone },
    });
  } catch (failure) {
    if (!(failure instanceof NetworkError)) throw failure;
    error.textContent = t("network_error");
    return;
  }
  if (!answer.ok) {
    error.textContent =
      answer.status === 401 ? t("r_bad_login") : refusalText(answer.data && answer.data.detail);
    return;
  }
  state.session = {
    token: answer.data.token,
    member_no: answer.data.member.member_no,
    expires_at: answer.data.expires_at,
  };
  save(sessionStorage, KEYS.session, state.session);
  error.hidden = true;
  renderAccount();
  status("");
  leaveSignIn();
  const then = afterSignIn;
  afterSignIn = null;
  if (state.view === "station" && state.station) loadRating(state.station.id);
  if (then) then();
}

function signedOut() {
  state.session = null;
  save(sessionStorage, KEYS.session, null);
  renderAccount();
}

async function signOut() {
  const token = state.session && state.session.token;
  signedOut();
  save(sessionStorage, KEYS.pending, null);
  save(sessionStorage, KEYS.results, null);
  if (state.view === "station") renderStation();
  if (state.station) loadRating(state.station.id);
  if (token) {
    try {
      await request("/v1/auth/logout", { method: "POST", token });
    } catch {
      // Offline: the token expires on its own; this tab has forgotten it already.
    }
  }
}

function renderAccount() {
  const button = $("account");
  if (state.session) {
    button.textContent = t("sign_out");
    button.setAttribute("aria-label", t("sign_out_label", { no: state.session.member_no }));
  } else {
    button.textContent = t("sign_in");
    button.removeAttribute("aria-label");
  }
}

// --- language ----------------------------------------------------------------------------------

function applyLanguage(next) {
  setLang(next);
  save(localStorage, KEYS.lang, lang());
  translateDocument();
  const button = $("lang");
  button.textContent = t("switch_lang");
  button.setAttribute("aria-label", t("switch_lang_label"));
  button.setAttribute("lang", lang() === "en" ? "zh-CN" : "en");
  renderAccount();
  localiseMap();
  renderList();
  if (state.view === "station") renderStation();
}

// --- start -------------------------------------------------------------------------------------

function start() {
  applyLanguage(load(localStorage, KEYS.lang, "zh"));
  for (const chip of document.querySelectorAll("[data-filter]")) {
    chip.setAttribute("aria-pressed", String(state.filters.has(chip.dataset.filter)));
    chip.addEventListener("click", () => {
      const name = chip.dataset.filter;
      if (state.filters.has(name)) state.filters.delete(name);
      else state.filters.add(name);
      chip.setAttribute("aria-pressed", String(state.filters.has(name)));
      save(localStorage, KEYS.filters, [...state.filters]);
      searchNearby();
    });
  }
  $("nearest-open").addEventListener("click", () => {
    if (!state.position) {
      freshPosition().then((here) =>
        here ? searchNearby({ openOnly: true, pickFirst: true }) : null,
      );
      return;
    }
    searchNearby({ openOnly: true, pickFirst: true });
  });
  $("lang").addEventListener("click", () => applyLanguage(lang() === "en" ? "zh" : "en"));
  $("account").addEventListener("click", () => (state.session ? signOut() : showSignIn(null)));
  $("signin").addEventListener("submit", submitSignIn);
  $("signin-cancel").addEventListener("click", () => {
    afterSignIn = null;
    leaveSignIn();
  });
  initMap();
  if (/^\/s\/[^/]+\/?$/.test(location.pathname)) openScanned();
  watchPosition();
}

start();
