// The administrator's campaigns: the list of the branch's campaigns, and each one's
// dashboard — bottles and members reached today and to date, by day (a chart), by
// trade, district and station, prizes awarded and left, stations out of water or silent
// for days, members' ratings and their reports that a listing is wrong — with the same
// tables as .xlsx and .csv for the report to the higher union. Everything comes from GET /v1/campaigns/{id}/report (one request for all four
// groups); the downloads are that URL with format=xlsx|csv.

import { h } from "../common/dom.js";
import { lang, t } from "../common/i18n.js";
import { api } from "./api.js";
import { route } from "./router.js";
import { problemText } from "./shell.js";

const SVG = "http://www.w3.org/2000/svg";
const GROUPS = "day,occupation,district,station";

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) el.append(child instanceof Node ? child : String(child));
  return el;
}

const number = (n) => Number(n).toLocaleString(lang() === "en" ? "en" : "zh-CN");

export function failure(answer) {
  return h("p", { class: "error", role: "alert" }, problemText(answer));
}

// --- the list --------------------------------------------------------------------------

function campaignItem(c) {
  const dates = `${c.starts_on} – ${c.ends_on}`;
  return h(
    "li",
    { class: "card" },
    h("h3", {}, c.name),
    h(
      "p",
      { class: "note" },
      dates,
      " · ",
      t("campaign_stations", { n: c.stations }),
      " · ",
      t(c.status === "active" ? "campaign_active" : "campaign_cancelled"),
    ),
    h(
      "div",
      { class: "actions two" },
      h("a", { class: "primary", href: `#/admin/campaigns/${c.id}` }, t("campaign_dashboard")),
      h("a", { class: "link-button", href: `#/admin/campaigns/${c.id}/edit` }, t("campaign_edit")),
    ),
  );
}

route(
  "/admin/campaigns",
  async ({ root }) => {
    root.append(
      h("h2", {}, t("tile_campaigns")),
      h("div", { class: "actions" }, h("a", { class: "primary", href: "#/admin/campaigns/new" }, t("campaign_new"))),
    );
    const answer = await api("/v1/campaigns");
    if (!answer.ok) return root.append(failure(answer));
    if (!answer.data.length) return root.append(h("p", { class: "note" }, t("no_campaigns")));
    root.append(h("ul", { class: "campaigns" }, answer.data.map(campaignItem)));
  },
  { roles: ["admin"] },
);

// --- the dashboard -------------------------------------------------------------------------

function figures(totals) {
  const figure = (key, value) =>
    h("div", { class: "figure" }, h("dt", {}, t(key)), h("dd", {}, typeof value === "number" ? number(value) : value));
  return h(
    "dl",
    { class: "report-figures" },
    figure("r_claims_today", totals.claims_today),
    figure("r_members_today", totals.members_today),
    figure("r_claims", totals.claims),
    figure("r_members", totals.members),
    figure("r_handed_over", totals.handed_over),
    figure("r_stations_with_claims", `${number(totals.stations_with_claims)} / ${number(totals.stations)}`),
  );
}

// Bottles per day as vertical bars; the same figures are in the table under it.
function dayChart(days) {
  // Drawn at about the width it is shown at, so its labels keep their size.
  const width = Math.round(Math.min(1100, Math.max(280, window.innerWidth - 80)));
  const height = 200;
  const top = 16;
  const bottom = 24;
  const most = Math.max(1, ...days.map((d) => d.claims));
  const step = width / Math.max(1, days.length);
  const bar = Math.min(56, Math.max(2, step * 0.7));
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart",
    role: "img",
    "aria-labelledby": "day-chart-title",
  });
  chart.append(
    svg("title", { id: "day-chart-title" }, t("r_chart_title", { most: number(most), days: days.length })),
    svg("line", { x1: 0, y1: height - bottom, x2: width, y2: height - bottom, class: "axis" }),
  );
  const labelEvery = Math.ceil(days.length / 8);
  days.forEach((d, i) => {
    const h2 = ((height - top - bottom) * d.claims) / most;
    const x = i * step + (step - bar) / 2;
    chart.append(
      svg(
        "rect",
        { x, y: height - bottom - h2, width: bar, height: h2, class: "bar" },
        svg("title", {}, `${d.day}: ${number(d.claims)}`),
      ),
    );
    if (i % labelEvery === 0 || i === days.length - 1) {
      chart.append(
        svg("text", { x: i * step + step / 2, y: height - 6, class: "tick", "text-anchor": "middle" }, d.day.slice(5)),
      );
    }
  });
  chart.append(svg("text", { x: 4, y: 12, class: "tick" }, number(most)));
  return chart;
}

// A row's share of the largest as a small bar (decoration: the number is beside it).
function share(value, most) {
  const width = most ? Math.max(value ? 2 : 0, (100 * value) / most) : 0;
  return svg(
    "svg",
    { viewBox: "0 0 100 10", preserveAspectRatio: "none", class: "share", "aria-hidden": "true", focusable: "false" },
    svg("rect", { x: 0, y: 0, width, height: 10, class: "bar" }),
  );
}

// A table of rows: columns [[words key, row → cell]]; `barOf` adds the bar column.
function table(caption, columns, rows, { barOf = null, id = null } = {}) {
  const most = barOf ? Math.max(0, ...rows.map(barOf)) : 0;
  return h(
    "div",
    { class: "table-wrap", id, tabindex: "0", role: "region", "aria-label": caption },
    h(
      "table",
      { class: "report" },
      h("caption", {}, caption),
      h(
        "thead",
        {},
        h("tr", {}, columns.map(([key], i) => h("th", { scope: "col", class: i ? "num" : null }, t(key))), barOf ? h("td", {}) : null),
      ),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h(
            "tr",
            {},
            columns.map(([, cell], i) =>
              i ? h("td", { class: "num" }, cell(row)) : h("th", { scope: "row" }, cell(row)),
            ),
            barOf ? h("td", { class: "bar-cell" }, share(barOf(row), most)) : null,
          ),
        ),
      ),
    ),
  );
}

const COUNTS = [
  ["col_claims", (r) => number(r.claims)],
  ["col_handed_over", (r) => number(r.handed_over)],
  ["col_members", (r) => number(r.members)],
];

function section(id, titleKey, ...content) {
  return h("section", { class: "card report-section", "aria-labelledby": id }, h("h3", { id }, t(titleKey)), ...content);
}

function wideSection(...args) {
  const el = section(...args);
  el.classList.add("span-all");
  return el;
}

function downloads(campaignId, range) {
  const link = (format, key) => {
    const params = new URLSearchParams({ group: GROUPS, format, lang: lang(), ...range });
    return h(
      "a",
      { class: "link-button", href: `/v1/campaigns/${campaignId}/report?${params}`, download: "" },
      t(key),
    );
  };
  return h("div", { class: "actions two" }, link("xlsx", "r_download_xlsx"), link("csv", "r_download_csv"));
}

function rangeForm(report, reload) {
  const from = h("input", { id: "r-from", type: "date", value: report.from, required: true });
  const to = h("input", { id: "r-to", type: "date", value: report.to, required: true });
  const button = h("button", { type: "submit", class: "secondary" }, t("r_apply"));
  return h(
    "form",
    {
      class: "form range",
      onsubmit: (event) => {
        event.preventDefault();
        reload({ from: from.value, to: to.value });
      },
    },
    h("div", {}, h("label", { for: "r-from" }, t("r_from")), from),
    h("div", {}, h("label", { for: "r-to" }, t("r_to")), to),
    button,
  );
}

function dashboard(report, campaignId, range, reload) {
  const g = report.groups;
  const station = (r) => `${r.name} · ${r.code}`;
  const trade = (r) => (lang() === "en" ? r.label_en : r.label_zh);
  const prizes = report.prizes.length
    ? table(
        t("r_prizes"),
        [
          ["r_prize", (p) => p.name],
          ["r_total", (p) => number(p.total)],
          ["r_awarded", (p) => number(p.awarded)],
          ["r_left", (p) => number(p.remaining)],
        ],
        report.prizes,
      )
    : h("p", { class: "note" }, t("r_no_prizes"));
  const stockOut = report.stock_out.length
    ? h(
        "ul",
        { class: "claims" },
        report.stock_out.map((s) =>
          h("li", {}, station(s), " · ", t(s.out_today ? "r_out_today" : "r_out_days", { n: s.days_out, day: s.last_day_out })),
        ),
      )
    : h("p", { class: "note" }, t("r_no_stock_out"));
  const silent = report.silent.length
    ? h(
        "ul",
        { class: "claims" },
        report.silent.map((s) =>
          h("li", { class: "warn" }, station(s), " · ", t(s.last_claim_day ? "r_silent_since" : "r_silent_never", { n: s.days_silent, day: s.last_claim_day })),
        ),
      )
    : h("p", { class: "note" }, t("r_no_silent", { n: report.silent_days }));
  const ratings = report.ratings.length
    ? table(
        t("r_ratings"),
        [
          ["r_station", station],
          ["r_rating_count", (r) => number(r.ratings)],
          ["r_mean_stars", (r) => r.mean_stars.toFixed(1)],
          ["r_no_water", (r) => number(r.no_water)],
          ["r_closed_listed_open", (r) => number(r.closed_when_listed_open)],
        ],
        report.ratings,
      )
    : h("p", { class: "note" }, t("r_no_ratings"));
  return [
    h("p", { class: "note" }, t("r_range", { from: report.from, to: report.to })),
    rangeForm(report, reload),
    figures(report.totals),
    downloads(campaignId, range),
    h(
      "div",
      { class: "columns report-columns" },
      wideSection("r-by-day", "r_by_day", dayChart(g.day), h("details", {}, h("summary", {}, t("r_as_table")), table(t("r_by_day"), [["r_day", (r) => r.day], ...COUNTS], g.day))),
      section("r-by-trade", "r_by_trade", table(t("r_by_trade"), [["r_trade", trade], ...COUNTS], g.occupation, { barOf: (r) => r.members })),
      section("r-by-district", "r_by_district", table(t("r_by_district"), [["r_district", (r) => r.district || r.district_code || t("r_no_district")], ...COUNTS], g.district, { barOf: (r) => r.claims })),
      section("r-prizes", "r_prizes", prizes),
      section("r-stock-out", "r_stock_out", stockOut),
      section("r-silent", "r_silent", silent),
      section("r-ratings", "r_ratings", ratings),
    ),
    section("r-by-station", "r_by_station", table(t("r_by_station"), [["r_station", station], ...COUNTS, ["r_last_claim", (r) => r.last_claim_day || "—"]], g.station, { barOf: (r) => r.claims })),
  ];
}

route(
  "/admin/campaigns/:id",
  async ({ root, params, query }) => {
    const id = params.id;
    const range = {};
    for (const key of ["from", "to"]) if (query.get(key)) range[key] = query.get(key);
    const search = new URLSearchParams({ group: GROUPS, ...range });
    const answer = await api(`/v1/campaigns/${encodeURIComponent(id)}/report?${search}`);
    if (!answer.ok) {
      root.append(h("h2", {}, t("tile_campaigns")), failure(answer));
      return;
    }
    const report = answer.data;
    const reload = (next) => {
      const q = new URLSearchParams(next);
      window.location.hash = `#/admin/campaigns/${id}?${q}`;
    };
    root.classList.add("wide");
    root.append(
      h("h2", {}, report.campaign.name),
      h(
        "div",
        { class: "actions two" },
        h("a", { class: "link-button", href: "#/admin/campaigns" }, t("r_back")),
        h("a", { class: "link-button", href: `#/admin/campaigns/${id}/edit` }, t("campaign_edit")),
      ),
      ...dashboard(report, id, range, reload),
    );
  },
  { roles: ["admin"] },
);
