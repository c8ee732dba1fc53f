// Finding a station by its name or street (GET /v1/stations?q=…): near the rider first
// (a box of about 30 km around them, in the tiles' CRS), everywhere when nothing is
// near. The results replace the nearby list until the rider clears the search; a tap
// opens the station as the list does.

import { $, h } from "../common/dom.js";
import { t } from "../common/i18n.js";
import { NetworkError, request } from "../common/net.js";
import { capitalised, kindLabel, liveText, stationName } from "./format.js";
import { refreshMapSize } from "./map.js";
import { openStation } from "./page.js";
import { refusalText } from "./refusals.js";
import { state, status, TILES_GCJ02 } from "./state.js";

const SEARCH_LIMIT = 20;
const NEAR_DEG = 0.3; // latitude degrees either side of the rider (~33 km)

let searches = 0; // only the latest search may change the page

function query(q, near) {
  const params = new URLSearchParams({ q, limit: String(SEARCH_LIMIT) });
  if (near) {
    const wide = NEAR_DEG / Math.max(Math.cos((near.lat * Math.PI) / 180), 0.2);
    const box = [near.lng - wide, near.lat - NEAR_DEG, near.lng + wide, near.lat + NEAR_DEG];
    params.set("bbox", box.map((v) => v.toFixed(5)).join(","));
    params.set("crs", TILES_GCJ02 ? "gcj02" : "wgs84");
  }
  return request(`/v1/stations?${params}`);
}

export async function submitSearch(event) {
  event.preventDefault();
  const q = $("q").value.trim();
  if (!q) {
    clearSearch();
    return;
  }
  const asked = ++searches;
  status(t("searching_q"));
  try {
    let found = await query(q, state.drawn);
    let elsewhere = false;
    if (found.ok && state.drawn && !found.data.items.length) {
      found = await query(q, null);
      elsewhere = found.ok && found.data.items.length > 0;
    }
    if (asked !== searches) return;
    if (!found.ok) {
      status(refusalText(found.data));
      return;
    }
    status("");
    state.search = { q, items: found.data.items, elsewhere };
    renderSearch();
    $("search-heading").focus();
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    if (asked === searches) status(t("network_error"));
  }
}

export function clearSearch() {
  searches++;
  state.search = null;
  $("q").value = "";
  renderSearch();
  refreshMapSize();
}

export function renderSearch() {
  const shown = Boolean(state.search);
  $("search-view").hidden = !shown;
  for (const id of ["nearest-open", "filters", "map", "stations", "estimate-note"]) {
    $(id).hidden = shown;
  }
  if (!shown) return;
  const { q, items, elsewhere } = state.search;
  let heading = t("search_results", { q, n: items.length });
  if (!items.length) heading = t("search_none", { q });
  else if (elsewhere) heading = t("search_elsewhere", { q, n: items.length });
  $("search-heading").textContent = heading;
  $("search-results").replaceChildren(
    ...items.map((item) =>
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: "station-item",
            "data-id": item.id,
            onclick: () => openStation(item.id, null),
          },
          h("strong", { class: "name" }, stationName(item)),
          h(
            "span",
            { class: "meta" },
            capitalised([kindLabel(item.kind), item.district].filter(Boolean).join(" · ")),
          ),
          item.address && h("span", { class: "address" }, item.address),
          liveText(item) && h("span", { class: "live" }, liveText(item)),
        ),
      ),
    ),
  );
}
