// Creating and changing a water campaign: dates, the daily hours (checked and put in
// words by the service's OpenStreetMap opening_hours parser, as the operator's hours
// page does), quota, geofence, default daily allocation, the stations chosen by
// district (a whole district with one tap, or station by station), and prize pools
// (fixed when the campaign is created). Through the campaigns API: POST /v1/campaigns,
// or PATCH /v1/campaigns/{id} and POST /v1/campaigns/{id}/stations.

import { h } from "../common/dom.js";
import { lang, t } from "../common/i18n.js";
import { api } from "./api.js";
import { go, route } from "./router.js";
import { busy, field, flash, problemText } from "./shell.js";

// (Not imported from campaigns.js: this module registers "/admin/campaigns/new" first.)
const failure = (answer) => h("p", { class: "error", role: "alert" }, problemText(answer));

function chip(text, pressed, attrs = {}) {
  const el = h("button", { type: "button", class: "chip small", "aria-pressed": String(pressed), ...attrs }, text);
  el.addEventListener("click", () => el.setAttribute("aria-pressed", String(el.getAttribute("aria-pressed") !== "true")));
  return el;
}

const pressed = (el) => el.getAttribute("aria-pressed") === "true";

// Districts with a chip each (all of its stations) and the stations' own chips.
function stationPicker(choices, chosen) {
  const stationChips = [];
  const groups = choices.districts.map((d, i) => {
    const name = d.district || d.district_code || t("r_no_district");
    const chips = d.stations.map((s) => {
      const c = chip(`${s.name} · ${s.code}`, chosen.has(s.id), { "data-station": s.id });
      stationChips.push(c);
      return c;
    });
    const count = () => chips.filter(pressed).length;
    const whole = chip("", chips.length > 0 && count() === chips.length, { id: `district-${i}` });
    const label = () => {
      whole.textContent = t("c_district_chip", { name, n: d.stations.length, chosen: count() });
    };
    label();
    whole.addEventListener("click", () => {
      for (const c of chips) c.setAttribute("aria-pressed", whole.getAttribute("aria-pressed"));
      label();
    });
    for (const c of chips) {
      c.addEventListener("click", () => {
        whole.setAttribute("aria-pressed", String(count() === chips.length));
        label();
      });
    }
    return h(
      "div",
      { class: "district" },
      whole,
      h("details", {}, h("summary", {}, t("c_pick_stations", { name })), h("div", { class: "chips" }, chips)),
    );
  });
  const picked = () => stationChips.filter(pressed).map((c) => Number(c.dataset.station));
  const note = choices.truncated ? h("p", { class: "warn" }, t("c_truncated")) : null;
  const fieldset = h(
    "fieldset",
    { class: "chips stations-picker" },
    h("legend", {}, t("c_stations")),
    h("p", { class: "hint" }, t("c_stations_hint")),
    note,
    choices.districts.length ? groups : h("p", { class: "note" }, t("c_no_stations")),
  );
  return { fieldset, picked };
}

function prizeRows(existing) {
  const list = h("div", { class: "prizes" });
  if (existing) {
    list.append(
      existing.length
        ? h("ul", { class: "claims" }, existing.map((p) => h("li", {}, t("c_prize_line", { name: p.name, total: p.total, left: p.remaining, pct: Math.round(p.probability * 1000) / 10 }))))
        : h("p", { class: "note" }, t("r_no_prizes")),
      h("p", { class: "hint" }, t("c_prizes_fixed")),
    );
    return { element: list, values: () => [] };
  }
  const rows = [];
  const add = () => {
    const n = rows.length + 1;
    const row = {
      name: h("input", { id: `prize-name-${n}`, maxlength: 100 }),
      total: h("input", { id: `prize-total-${n}`, type: "number", min: 1, inputmode: "numeric" }),
      pct: h("input", { id: `prize-pct-${n}`, type: "number", min: 0.1, max: 100, step: 0.1, inputmode: "decimal" }),
    };
    rows.push(row);
    list.append(
      h(
        "div",
        { class: "prize-row" },
        h("div", {}, h("label", { for: row.name.id }, t("c_prize_name", { n })), row.name),
        h("div", {}, h("label", { for: row.total.id }, t("c_prize_total")), row.total),
        h("div", {}, h("label", { for: row.pct.id }, t("c_prize_pct")), row.pct),
      ),
    );
  };
  const more = h("button", { type: "button", class: "secondary" }, t("c_add_prize"));
  more.addEventListener("click", add);
  return {
    element: h("div", {}, list, more),
    values: () =>
      rows
        .filter((r) => r.name.value.trim())
        .map((r) => ({ name: r.name.value.trim(), total: Number(r.total.value), probability: Number(r.pct.value) / 100 })),
  };
}

// The daily hours in words, by the service's opening_hours parser (nothing is saved).
async function previewHours(start, end, out) {
  if (!start.value || !end.value) return out.replaceChildren();
  const expression = `Mo-Su ${start.value}-${end.value === "00:00" ? "24:00" : end.value}`;
  const answer = await api(`/v1/opening-hours/preview?${new URLSearchParams({ opening_hours: expression })}`);
  if (!answer.ok) {
    out.replaceChildren(h("p", { class: "error", role: "alert" }, problemText(answer)));
    return;
  }
  // Every day is the same: the first day's hours, without its date.
  const first = answer.data.days[0];
  const words = (lang() === "en" ? first.text_en : first.text_zh).split(/：|: /).slice(1).join(" ") || first.text_zh;
  out.replaceChildren(h("p", { class: "note" }, t("c_hours_words", { words })));
}

function numberOrNull(input) {
  return input.value.trim() === "" ? null : Number(input.value);
}

async function campaignForm({ root, params }) {
  const id = params.id || null;
  const [choices, campaign, chosenIds] = await Promise.all([
    api("/v1/campaign-stations"),
    id ? api(`/v1/campaigns/${encodeURIComponent(id)}`) : Promise.resolve(null),
    id ? api(`/v1/campaigns/${encodeURIComponent(id)}/stations`) : Promise.resolve(null),
  ]);
  for (const answer of [choices, campaign, chosenIds]) {
    if (answer && !answer.ok) {
      root.append(h("h2", {}, t(id ? "campaign_edit" : "campaign_new")), failure(answer));
      return;
    }
  }
  const c = campaign ? campaign.data : null;
  root.classList.add("wide");
  root.append(h("h2", {}, c ? t("c_edit_title", { name: c.name }) : t("campaign_new")));
  const out = h("div", { "aria-live": "polite" });
  const value = (key, fallback = null) => (c ? c[key] : fallback);
  const [nameLabel, , name] = field("c-name", "c_name", { maxlength: 200, required: true, value: value("name") });
  const [startsLabel, , starts] = field("c-starts", "c_starts", { type: "date", required: true, value: value("starts_on") });
  const [endsLabel, , ends] = field("c-ends", "c_ends", { type: "date", required: true, value: value("ends_on") });
  const [fromLabel, , from] = field("c-from", "c_daily_start", { type: "time", required: true, value: value("daily_start", "07:00") });
  const endValue = value("daily_end", "19:00");
  const [toLabel, , to] = field("c-to", "c_daily_end", { type: "time", required: true, value: endValue === "24:00" ? "00:00" : endValue }, "c_daily_end_hint");
  const [quotaLabel, , quota] = field("c-quota", "c_quota", { type: "number", min: 1, max: 20, required: true, value: value("daily_quota", 1) });
  const [fenceLabel, , fence] = field("c-fence", "c_geofence", { type: "number", min: 10, max: 5000, required: true, value: value("geofence_m", 300) }, "c_geofence_hint");
  const allocation = value("daily_allocation");
  const [allocLabel, allocHint, alloc] = field("c-alloc", "c_allocation", { type: "number", min: 0, max: 1000000, value: allocation === null ? null : allocation }, "c_allocation_hint");
  const presence = h("input", {
    type: "checkbox",
    id: "c-presence",
    checked: value("presence_required", false) ? true : null,
    "aria-describedby": "c-presence-hint",
  });
  const hours = h("div", { id: "campaign-hours", "aria-live": "polite" });
  for (const input of [from, to]) input.addEventListener("change", () => previewHours(from, to, hours));
  const picker = stationPicker(choices.data, new Set(chosenIds ? chosenIds.data : []));
  const prizes = prizeRows(c ? c.prizes : null);
  const status = c
    ? h(
        "select",
        { id: "c-status" },
        h("option", { value: "active", selected: c.status === "active" ? true : null }, t("campaign_active")),
        h("option", { value: "cancelled", selected: c.status === "cancelled" ? true : null }, t("campaign_cancelled")),
      )
    : null;
  const submit = h("button", { type: "submit", class: "primary" }, t(c ? "c_save" : "c_create"));

  const body = () => ({
    name: name.value.trim(),
    starts_on: starts.value,
    ends_on: ends.value,
    daily_start: from.value,
    daily_end: to.value === "00:00" ? "24:00" : to.value,
    daily_quota: Number(quota.value),
    geofence_m: Number(fence.value),
    daily_allocation: numberOrNull(alloc),
    presence_required: presence.checked,
  });

  const save = async () => {
    const values = body();
    if (!values.name || !values.starts_on || !values.ends_on) {
      out.replaceChildren(h("p", { class: "error", role: "alert" }, t("c_fill_in")));
      return;
    }
    if (values.ends_on < values.starts_on) {
      out.replaceChildren(h("p", { class: "error", role: "alert" }, t("p_invalid_to")));
      return;
    }
    const stationIds = picker.picked();
    let answer;
    if (!c) {
      answer = await api("/v1/campaigns", {
        method: "POST",
        body: { ...values, station_ids: stationIds, prizes: prizes.values() },
      });
    } else {
      answer = await api(`/v1/campaigns/${c.id}`, { method: "PATCH", body: { ...values, status: status.value } });
      if (answer.ok) {
        const before = new Set(chosenIds.data);
        const now = new Set(stationIds);
        answer = await api(`/v1/campaigns/${c.id}/stations`, {
          method: "POST",
          body: { add: stationIds.filter((s) => !before.has(s)), remove: [...before].filter((s) => !now.has(s)) },
        });
      }
    }
    if (!answer.ok) {
      out.replaceChildren(h("p", { class: "error", role: "alert" }, problemText(answer)));
      return;
    }
    flash(t(c ? "c_saved" : "c_created"));
    go(`/admin/campaigns/${c ? c.id : answer.data.id}`);
  };

  const form = h(
    "form",
    { class: "form", novalidate: true, onsubmit: busy(submit, save) },
    nameLabel,
    name,
    h("div", { class: "two-fields" }, h("div", {}, startsLabel, starts), h("div", {}, endsLabel, ends)),
    h("div", { class: "two-fields" }, h("div", {}, fromLabel, from), h("div", {}, toLabel, to)),
    h("p", { class: "hint", id: "c-to-hint" }, t("c_daily_end_hint")),
    hours,
    h("div", { class: "two-fields" }, h("div", {}, quotaLabel, quota), h("div", {}, fenceLabel, fence)),
    h("p", { class: "hint", id: "c-fence-hint" }, t("c_geofence_hint")),
    allocLabel,
    allocHint,
    alloc,
    h(
      "div",
      { class: "check" },
      presence,
      h("label", { for: "c-presence" }, t("c_presence")),
    ),
    h("p", { class: "hint", id: "c-presence-hint" }, t("c_presence_hint")),
    status ? [h("label", { for: "c-status" }, t("c_status")), status] : null,
    picker.fieldset,
    h("fieldset", { class: "chips" }, h("legend", {}, t("r_prizes")), prizes.element),
    h("div", { class: "actions" }, submit),
    out,
  );
  root.append(form);
  previewHours(from, to, hours);
}

route("/admin/campaigns/new", campaignForm, { roles: ["admin"] });
route("/admin/campaigns/:id/edit", campaignForm, { roles: ["admin"] });
