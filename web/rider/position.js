// The rider's position: watched from the start, and asked afresh for a claim.

import { t } from "../common/i18n.js";
import { state, status } from "./state.js";

const RESEARCH_AFTER_M = 150; // search again when the rider moved this far
const FRESH_FIX_MS = 60000; // a claim asks for a new fix when the last one is older

// What the page does when the rider moved far enough, and when there is no position
// (watchPosition's caller says: search again; show the last answer kept).
let moved = () => {};
let lost = () => {};

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
    moved();
  }
}

function onFixError(error) {
  const waiters = state.waiters.splice(0);
  for (const resolve of waiters) resolve(null);
  if (!state.position) {
    status(t("no_position", { why: geoReason(error) }));
    lost();
  }
}

export function watchPosition({ onMoved, onLost }) {
  moved = onMoved;
  lost = onLost;
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
export function freshPosition() {
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
