// One station, for its operator (or an administrator of its branch): today's water and
// the default allocation, pausing and reopening with a reason, hours (edited on their
// own page with a preview), amenities and contact, members' reports, the poster. Every
// change goes through the same API endpoints programs use.

import { h } from "../common/dom.js";
import { label, lang, t } from "../common/i18n.js";
import { newIdempotencyKey } from "../common/net.js";
import { api } from "./api.js";
import { route } from "./router.js";
import { busy, config, field, message, problemText, show } from "./shell.js";
import { dayLine, defaultLine, openLine, stationTitle, waterFigures } from "./today.js";

function section(id, titleKey, ...children) {
  return h(
    "section",
    { class: "card", "aria-labelledby": id },
    h("h3", { id }, t(titleKey)),
    ...children,
  );
}

// A one-field form: label, number input, button; send(value) returns the answer.
function numberForm(id, labelKey, buttonKey, { min, value = "", hint = null, optional = false }, send) {
  const out = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "secondary" }, t(buttonKey));
  const form = h(
    "form",
    { class: "form inline", novalidate: true },
    ...field(id, labelKey, { type: "number", inputmode: "numeric", min, max: 1000000, step: 1, value }, hint),
    button,
    out,
  );
  form.addEventListener(
    "submit",
    busy(button, async () => {
      const text = form.elements[id].value.trim();
      const number = Number(text);
      if (!(optional && text === "") && (text === "" || !Number.isInteger(number) || number < min)) {
        out.replaceChildren(message("error", t("whole_number", { min })));
        return;
      }
      const answer = await send(text === "" ? null : number);
      out.replaceChildren(message(answer.ok ? "done" : "error", answer.ok ? t("saved") : problemText(answer)));
    }),
  );
  return form;
}

// A top-up keeps its Idempotency-Key until an answer arrives: sending the same count
// again after a lost answer cannot add the bottles twice (the service answers the day's
// stock and adds nothing).
let unanswered = null; // { station, count, key }

async function topUp(base, count) {
  if (!unanswered || unanswered.station !== base || unanswered.count !== count) {
    unanswered = { station: base, count, key: newIdempotencyKey() };
  }
  const answer = await api(`${base}/top-up`, {
    method: "POST",
    body: { count },
    headers: { "Idempotency-Key": unanswered.key },
  });
  if (answer.status !== 0) unanswered = null;
  return answer;
}

function stockSection(id, stock) {
  const figures = h("div", {});
  const note = h("p", { class: "note" });
  const describe = (current) => {
    figures.replaceChildren(waterFigures(current));
    note.textContent = [dayLine(current), defaultLine(current)].filter(Boolean).join(" ");
  };
  describe(stock);
  const refresh = (answer) => {
    if (answer.ok) describe(answer.data);
    return answer;
  };
  const base = `/v1/stations/${id}/stock`;
  return section(
    "stock-heading",
    "water_today",
    figures,
    numberForm("stock-set", "set_today", "save_today", { min: 0, value: stock.allocated }, async (n) =>
      refresh(await api(base, { method: "PUT", body: { allocated: n } })),
    ),
    numberForm("stock-add", "top_up", "add_bottles", { min: 1 }, async (n) => refresh(await topUp(base, n))),
    note,
    numberForm(
      "stock-default",
      "daily_default",
      "save_default",
      { min: 0, value: stock.station_default ?? "", hint: "daily_default_hint", optional: true },
      async (n) => refresh(await api(`${base}/default`, { method: "PUT", body: { daily_allocation: n } })),
    ),
  );
}

function statusSection(station) {
  const paused = station.status === "temporarily_closed";
  if (station.status === "closed") {
    return section("status-heading", "status_title", h("p", { class: "note" }, t("closed_for_good")));
  }
  const out = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "submit", class: paused ? "primary" : "secondary" }, t(paused ? "reopen" : "pause"));
  const form = h(
    "form",
    { class: "form", novalidate: true },
    ...field("status-reason", "reason", { required: true, maxlength: 500 }, paused ? "reopen_hint" : "pause_hint"),
    button,
    out,
  );
  form.addEventListener(
    "submit",
    busy(button, async () => {
      const reason = form.elements["status-reason"].value.trim();
      if (!reason) return out.replaceChildren(message("error", t("reason_needed")));
      const action = paused ? "reopen" : "close";
      const answer = await api(`/v1/stations/${station.id}:${action}`, { method: "POST", body: { reason } });
      if (!answer.ok) return out.replaceChildren(message("error", problemText(answer)));
      await show();
    }),
  );
  return section(
    "status-heading",
    "status_title",
    h("p", {}, label(config.statuses[station.status], station.status)),
    form,
  );
}

function hoursSection(day) {
  return section(
    "hours-heading",
    "hours_week",
    h("p", { class: "mono" }, day.station.opening_hours || t("hours_none")),
    h("ul", { class: "days" }, day.hours_next_7_days.map((d) => h("li", {}, lang() === "en" ? d.text_en : d.text_zh))),
    h("a", { class: "link-button", href: `#/station/${day.station.id}/hours` }, t("edit_hours")),
  );
}

function detailsSection(station) {
  const out = h("div", { "aria-live": "polite" });
  // Toggle chips, as the rider page's filters: big targets, pressed or not.
  const chips = Object.entries(config.vocab.amenities).map(([name, pair]) => {
    const chip = h(
      "button",
      {
        type: "button",
        class: "chip small",
        "data-amenity": name,
        "aria-pressed": String(station.amenities.includes(name)),
      },
      label(pair, name),
    );
    chip.addEventListener("click", () =>
      chip.setAttribute("aria-pressed", String(chip.getAttribute("aria-pressed") !== "true")),
    );
    return chip;
  });
  const button = h("button", { type: "submit", class: "secondary" }, t("save_details"));
  const form = h(
    "form",
    { class: "form", novalidate: true },
    h("fieldset", { class: "chips" }, h("legend", {}, t("amenities")), ...chips),
    ...field("contact", "contact", { maxlength: 200, value: station.contact || null, autocomplete: "tel" }),
    button,
    out,
  );
  form.addEventListener(
    "submit",
    busy(button, async () => {
      const amenities = chips
        .filter((chip) => chip.getAttribute("aria-pressed") === "true")
        .map((chip) => chip.dataset.amenity);
      const contact = form.elements.contact.value.trim() || null;
      const answer = await api(`/v1/stations/${station.id}`, {
        method: "PATCH",
        body: { amenities, contact, reason: t("reason_console") },
        headers: { "If-Match": `"${station.version}"` },
      });
      if (answer.ok) station.version = answer.data.version;
      out.replaceChildren(message(answer.ok ? "done" : "error", answer.ok ? t("saved") : problemText(answer)));
    }),
  );
  return section("details-heading", "details_title", form);
}

function reviewSection(day) {
  const review = day.review;
  if (!review) return section("review-heading", "review_title", h("p", { class: "note" }, t("no_reports")));
  const tags = Object.entries(review.tags).map(([tag, n]) => `${label(config.vocab.tags[tag], tag)} × ${n}`);
  const out = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "secondary" }, t("mark_reviewed"));
  const form = h(
    "form",
    { class: "form", novalidate: true },
    ...field("review-note", "review_note", { maxlength: 500 }),
    button,
    out,
  );
  form.addEventListener(
    "submit",
    busy(button, async () => {
      const note = form.elements["review-note"].value.trim() || null;
      const answer = await api(`/v1/review-queue/${day.station.id}/reviewed`, { method: "POST", body: { note } });
      out.replaceChildren(message(answer.ok ? "done" : "error", answer.ok ? t("reviewed") : problemText(answer)));
    }),
  );
  return section(
    "review-heading",
    "review_title",
    h("p", { class: "warn" }, t("reported", { n: review.reporters })),
    h("p", {}, tags.join("；")),
    form,
  );
}

function posterSection(id) {
  return section(
    "poster-heading",
    "poster_title",
    h("p", { class: "note" }, t("poster_why")),
    h(
      "div",
      { class: "actions two" },
      h("a", { class: "link-button", href: `/v1/stations/${id}/poster.pdf?size=a5`, target: "_blank" }, t("poster_a5")),
      h("a", { class: "link-button", href: `/v1/stations/${id}/poster.pdf?size=a4`, target: "_blank" }, t("poster_a4")),
    ),
  );
}

route(
  "/station/:id",
  async ({ root, params }) => {
    const answer = await api(`/v1/stations/${params.id}/today`);
    if (!answer.ok) {
      root.append(h("h2", {}, t("station")), message("error", problemText(answer)));
      return;
    }
    const day = answer.data;
    const station = day.station;
    root.append(
      h("h2", {}, ...stationTitle(station)),
      openLine(day),
      h(
        "div",
        { class: "actions" },
        h("a", { class: "primary", href: `#/station/${station.id}/handover` }, t("confirm_handover")),
        h("a", { class: "link-button", href: `#/station/${station.id}/presence` }, t("presence_open")),
      ),
      h(
        "div",
        { class: "columns" },
        stockSection(station.id, day.stock),
        statusSection(station),
        hoursSection(day),
        detailsSection(station),
        reviewSection(day),
        posterSection(station.id),
      ),
    );
  },
  { roles: ["operator", "admin"] },
);
