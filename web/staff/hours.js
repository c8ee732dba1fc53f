// Editing a station's opening hours (OpenStreetMap opening_hours syntax) with a live
// preview: as the operator types, the service's own parser says, in words, what the
// next 7 days will look like to riders (GET /v1/opening-hours/preview saves nothing),
// or where the expression stops making sense. Saving is the station's PATCH.

import { h } from "../common/dom.js";
import { lang, t } from "../common/i18n.js";
import { api } from "./api.js";
import { go, route } from "./router.js";
import { busy, field, flash, message, problemText } from "./shell.js";
import { stationTitle } from "./today.js";

const EXAMPLES = [
  ["example_247", "24/7"],
  ["example_weekdays", "Mo-Fr 08:30-18:00"],
  ["example_daily", "Mo-Su 08:00-20:00"],
  ["example_lunch", "Mo-Fr 08:00-12:00,14:00-18:00; Sa 09:00-12:00; PH off"],
];
const DEBOUNCE_MS = 300;

function days(list) {
  return h("ul", { class: "days" }, list.map((d) => h("li", {}, lang() === "en" ? d.text_en : d.text_zh)));
}

route(
  "/station/:id/hours",
  async ({ root, params }) => {
    const answer = await api(`/v1/stations/${params.id}/today`);
    if (!answer.ok) {
      root.append(h("h2", {}, t("edit_hours")), message("error", problemText(answer)));
      return;
    }
    const station = answer.data.station;
    const preview = h("div", { class: "preview", id: "hours-preview", "aria-live": "polite" }, days(answer.data.hours_next_7_days));
    const out = h("div", { "aria-live": "polite" });
    const save = h("button", { type: "submit", class: "primary" }, t("save_hours"));
    const form = h(
      "form",
      { class: "form", novalidate: true },
      ...field("hours-text", "hours_expression", { maxlength: 255, value: station.opening_hours || null, spellcheck: "false", autocomplete: "off" }, "hours_hint"),
      h(
        "div",
        { class: "examples", role: "group", "aria-label": t("examples") },
        ...EXAMPLES.map(([key, text]) =>
          h("button", { type: "button", class: "chip small", onclick: () => fill(text) }, t(key)),
        ),
      ),
      h("h3", {}, t("preview_title")),
      preview,
      save,
      out,
    );
    const input = form.elements["hours-text"];
    let timer = null;
    let asked = 0;
    const refresh = async () => {
      const mine = ++asked;
      const query = new URLSearchParams({ opening_hours: input.value, time_zone: station.time_zone });
      if (station.country_code) query.set("country", station.country_code);
      const found = await api(`/v1/opening-hours/preview?${query}`);
      if (mine !== asked) return; // a later keystroke's answer will come
      input.setAttribute("aria-invalid", String(!found.ok));
      preview.replaceChildren(found.ok ? days(found.data.days) : message("error", problemText(found)));
      if (!found.ok && found.data && found.data.detail) {
        preview.append(h("p", { class: "note mono" }, found.data.detail));
      }
    };
    const fill = (text) => {
      input.value = text;
      refresh();
    };
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, DEBOUNCE_MS);
    });
    form.addEventListener(
      "submit",
      busy(save, async () => {
        const saved = await api(`/v1/stations/${station.id}`, {
          method: "PATCH",
          body: { opening_hours: input.value.trim() || null, reason: t("reason_hours") },
          headers: { "If-Match": `"${station.version}"` },
        });
        if (!saved.ok) return out.replaceChildren(message("error", problemText(saved)));
        flash(t("hours_saved"));
        go(`/station/${station.id}`);
      }),
    );
    root.append(
      h("h2", {}, t("edit_hours"), " · ", ...stationTitle(station)),
      h("p", { class: "note" }, t("hours_why", { zone: station.time_zone })),
      form,
      h("a", { class: "link-button", href: `#/station/${station.id}` }, t("back_to_station")),
    );
  },
  { roles: ["operator", "admin"] },
);
