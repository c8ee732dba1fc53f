// What the rider page's modules share: the service's config, the storage keys and one
// state object. Everything else a module keeps to itself.

import { $ } from "../common/dom.js";
import { load } from "../common/storage.js";

export const config = JSON.parse($("config").textContent);
export const TILES_GCJ02 = Boolean(config.tiles.url) && config.tiles.crs === "gcj02";
export const KEYS = {
  lang: "ls.lang",
  filters: "ls.filters",
  nearest: "ls.nearest",
  session: "ls.session",
  pending: "ls.pending",
  results: "ls.results",
  application: "ls.application", // the reference of a membership application
};

export const state = {
  position: null, // {lat, lng, accuracy, at}: WGS84 from the browser
  searchedAt: null, // the position of the last search
  drawn: null, // the rider's position in the map's CRS
  results: [],
  answerAt: 0,
  filters: new Set(load(localStorage, KEYS.filters, [])),
  view: "list",
  station: null, // {id, hit, detail, positions}
  scan: null, // {code, station, presence} when the page was opened from a poster
  presenceAsked: false, // a refusal asked for the station's presence code
  search: null, // {q, items, elsewhere} while search results are shown
  session: load(sessionStorage, KEYS.session, null),
  rating: null, // {stationId, stars, tags, eligibility}
  waiters: [],
  sending: false, // a claim or check-in is on its way
};

// The line under the bar: what the page is doing, or why it cannot.
export function status(text) {
  const el = $("status");
  el.textContent = text || "";
  el.hidden = !text;
}
