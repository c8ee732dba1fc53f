// The list of stations found: distance, travel estimates, opening state, live facts.

import { $, h } from "../common/dom.js";
import { label, t } from "../common/i18n.js";
import {
  capitalised,
  distanceText,
  estimates,
  kindLabel,
  liveText,
  openText,
  stationName,
} from "./format.js";
import { drawMap } from "./map.js";
import { openStation } from "./page.js";
import { config, state } from "./state.js";

const LIST_FIRST = 5; // the rest behind "show more": the page stays short

let listExpanded = false;

export function renderList() {
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
