// The nearest stations: asked of the service around the rider, kept for when the
// network drops.

import { t } from "../common/i18n.js";
import { NetworkError, request } from "../common/net.js";
import { load, save } from "../common/storage.js";
import { ageText } from "./format.js";
import { renderList } from "./list.js";
import { refusalText } from "./refusals.js";
import { KEYS, state, status, TILES_GCJ02 } from "./state.js";
import { openStation, renderStation } from "./station.js";

const NEAREST_K = 10;
const FILTERS = {
  water: { amenity: "drinking_water" },
  toilet: { amenity: "restroom" },
  open: { open_now: true },
  cooling: { amenity: "air_conditioning" },
  heating: { amenity: "heating" },
};

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

export async function searchNearby({ openOnly = false, pickFirst = false } = {}) {
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
      status(refusalText(answer.data));
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
    } else if (state.station && !state.station.hit && !state.sending) {
      // A scanned station: now its distance is known too.
      state.station.hit = state.results.find((r) => r.id === state.station.id) || null;
      if (state.station.hit) renderStation();
    }
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    if (search === searches) showCachedIfAny(true);
  }
}

export function showCachedIfAny(failed = false) {
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
