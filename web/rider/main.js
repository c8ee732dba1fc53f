// The rider page: stations around the rider on a map and in a list, the nearest open
// one in one tap, a station found by its name or street, scan-to-claim at a poster,
// one-tap rating after a visit.
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
//
// Modules: state.js holds what they share; each other module is one part of the page
// and imports only parts below it. What a lower part asks of a higher one (open a
// station, draw it again, a new session) goes through page.js, answered here.

import { $ } from "../common/dom.js";
import { lang, useWords } from "../common/i18n.js";
import { load, save } from "../common/storage.js";
import { showApply } from "./apply.js";
import { applyLanguage } from "./language.js";
import { initMap } from "./map.js";
import { searchNearby, showCachedIfAny } from "./nearest.js";
import { answerRequests } from "./page.js";
import { freshPosition, watchPosition } from "./position.js";
import { loadRating } from "./rating.js";
import { openScanned } from "./scan.js";
import { clearSearch, submitSearch } from "./search.js";
import { cancelSignIn, showSignIn, signOut, submitSignIn } from "./signin.js";
import { KEYS, state } from "./state.js";
import { openStation, renderStation } from "./station.js";
import { WORDS } from "./words.js";

function start() {
  answerRequests({
    openStation,
    redrawStation: renderStation,
    sessionChanged() {
      if (state.view === "station") renderStation();
      if (state.station) loadRating(state.station.id);
    },
  });
  useWords(WORDS);
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
  $("search").addEventListener("submit", submitSearch);
  $("search-clear").addEventListener("click", clearSearch);
  $("lang").addEventListener("click", () => applyLanguage(lang() === "en" ? "zh" : "en"));
  $("account").addEventListener("click", () => (state.session ? signOut() : showSignIn(null)));
  $("signin").addEventListener("submit", submitSignIn);
  $("signin-cancel").addEventListener("click", cancelSignIn);
  $("apply-open").addEventListener("click", showApply);
  initMap();
  if (/^\/s\/[^/]+\/?$/.test(location.pathname)) openScanned();
  watchPosition({ onMoved: () => searchNearby(), onLost: () => showCachedIfAny() });
}

start();
