// One station: its facts, hours, the way there, and at a scanned poster the actions
// (claim water, check in) and the rating.

import { $, h } from "../common/dom.js";
import { label, lang, t } from "../common/i18n.js";
import { request } from "../common/net.js";
import { act, showStoredResult } from "./claims.js";
import {
  capitalised,
  distanceText,
  estimates,
  kindLabel,
  liveText,
  openText,
  stationName,
} from "./format.js";
import { amapLink, baiduLink, geoLink } from "./links.js";
import { loadRating, renderRating } from "./rating.js";
import { config, state, TILES_GCJ02 } from "./state.js";
import { backToList, show } from "./views.js";

function scannedHere(id) {
  return state.scan && state.scan.station.id === id;
}

export async function openStation(id, hit) {
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

export function renderStation() {
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
  return h("div", { class: "actions" }, presenceField(base), buttons);
}

// The rotating presence code: asked for when the station's campaign requires it, or a
// refusal named it; filled in when the presence screen's QR code opened the page.
function presenceField(base) {
  const scan = state.scan && state.scan.station.id === base.id ? state.scan : null;
  if (!scan || !(scan.station.presence_required || scan.presence || state.presenceAsked)) {
    return null;
  }
  return h(
    "div",
    { class: "presence" },
    h("label", { for: "presence-code" }, t("presence_code")),
    h("p", { class: "hint", id: "presence-hint" }, t("presence_hint")),
    h("input", {
      id: "presence-code",
      name: "presence-code",
      inputmode: "numeric",
      autocomplete: "one-time-code",
      maxlength: 7,
      pattern: "[0-9 ]*",
      class: "presence-input",
      "aria-describedby": "presence-hint",
      value: scan.presence || "",
    }),
  );
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
