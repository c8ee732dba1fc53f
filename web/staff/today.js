// The operator's first screen: each of their stations today at a glance: open or not
// and until when, water allocated / left / handed out (and where the day's default
// comes from), claims waiting for their bottle, members' reports; one tap to confirm a
// hand-over or to manage the station.

import { h } from "../common/dom.js";
import { label, t } from "../common/i18n.js";
import { openText } from "../common/hours.js";
import { api } from "./api.js";
import { route } from "./router.js";
import { config, problemText, state } from "./shell.js";

export function stationTitle(station) {
  return [station.name, " ", h("span", { class: "code" }, station.code)];
}

export function openLine(day) {
  const station = day.station;
  if (station.status !== "active") {
    return h("p", { class: "open closed" }, label(config.statuses[station.status], station.status));
  }
  const { text, cls } = openText({
    is_open: day.open.hours_say_open,
    next_change: day.open.next_change,
  });
  return h("p", { class: `open ${cls}` }, text);
}

export function defaultLine(stock) {
  if (stock.station_default !== null) {
    return t("default_station", { n: stock.station_default });
  }
  if (stock.default_allocation !== null && stock.campaign) {
    return t("default_campaign", { n: stock.default_allocation, campaign: stock.campaign.name });
  }
  return t("default_none");
}

// Before the day's first claim or setting: the day starts from the default, or has no
// water yet. (Once started, the figures say it all.)
export function dayLine(stock) {
  if (!stock.from_default) return "";
  return stock.default_allocation === null ? t("today_unset") : t("today_from_default");
}

export function waterFigures(stock) {
  const figure = (key, value) => [h("dt", {}, t(key)), h("dd", {}, t("bottles", { n: value }))];
  return h(
    "dl",
    { class: "figures" },
    ...figure("allocated", stock.allocated),
    ...figure("remaining", stock.remaining),
    ...figure("handed_out", stock.handed_out),
  );
}

function reviewLine(review) {
  if (!review) return null;
  return h("p", { class: "warn" }, t("reported", { n: review.reporters }));
}

function glanceCard(day) {
  const station = day.station;
  const id = `glance-${station.id}`;
  return h(
    "section",
    { class: "card", "aria-labelledby": id },
    h("h3", { id }, ...stationTitle(station)),
    openLine(day),
    waterFigures(day.stock),
    h("p", { class: "note" }, dayLine(day.stock), " ", defaultLine(day.stock)),
    h(
      "p",
      { class: day.claims.waiting ? "waiting" : "note" },
      t("waiting", { n: day.claims.waiting }),
    ),
    reviewLine(day.review),
    h(
      "div",
      { class: "actions two" },
      h("a", { class: "primary", href: `#/station/${station.id}/handover` }, t("confirm_handover")),
      h("a", { class: "link-button", href: `#/station/${station.id}` }, t("manage_station")),
    ),
  );
}

route(
  "/today",
  async ({ root }) => {
    root.append(h("h2", {}, t("today_title")));
    const stations = state.session.stations;
    if (!stations.length) {
      root.append(h("p", { class: "note" }, t("no_stations")));
      return;
    }
    const answers = await Promise.all(stations.map((s) => api(`/v1/stations/${s.id}/today`)));
    answers.forEach((answer, i) => {
      root.append(
        answer.ok
          ? glanceCard(answer.data)
          : h("p", { class: "error", role: "alert" }, stations[i].name, ": ", problemText(answer)),
      );
    });
  },
  { roles: ["operator"] },
);
