// Where each role starts. Operators go to their stations' day; administrators and
// planners get a home of their union branch, which the administrator's pages (uploads,
// campaigns, the report, applications) and the planner's map extend: a page adds a
// module that registers its route (router.js) and a tile here (HOME_TILES).

import { h } from "../common/dom.js";
import { label, t } from "../common/i18n.js";
import { api } from "./api.js";
import { go, route } from "./router.js";
import { config, problemText, state } from "./shell.js";

const START = { operator: "/today", admin: "/admin", planner: "/planner" };

// Tiles of the homes: [href, words key of the title, of the line under it].
export const HOME_TILES = {
  admin: [
    ["#/admin/review", "tile_review", "tile_review_why"],
    // the administrator's pages (campaigns.js and the pages after it)
    ["#/admin/campaigns", "tile_campaigns", "tile_campaigns_why"],
    ["#/admin/import", "tile_import", "tile_import_why"],
    ["#/admin/accounts", "tile_accounts", "tile_accounts_why"],
    ["#/admin/applications", "tile_applications", "tile_applications_why"], // applications.js
  ],
  planner: [["#/planner/map", "tile_planner_map", "tile_planner_map_why"]], // planner.js
};

route("/", () => go(START[state.session.role] || "/sign-in"));

function branchLine() {
  const branch = state.session.branch;
  return h(
    "p",
    { class: "note" },
    t("your_branch", {
      branch: branch.code ? `${branch.name}（${branch.code}）` : t("national"),
      level: t(`level_${branch.level}`),
    }),
  );
}

// The role's tiles (none yet: an empty list, nothing drawn).
function tiles(role) {
  const list = HOME_TILES[role] || [];
  if (!list.length) return [];
  return [
    h(
      "ul",
      { class: "tiles" },
      list.map(([href, title, why]) =>
        h("li", {}, h("a", { class: "tile", href }, h("strong", {}, t(title)), h("span", {}, t(why)))),
      ),
    ),
  ];
}

async function branchesList() {
  const answer = await api("/v1/branches");
  if (!answer.ok) return h("p", { class: "error", role: "alert" }, problemText(answer));
  if (!answer.data.length) return h("p", { class: "note" }, t("no_branches_below"));
  return h(
    "ul",
    { class: "branches" },
    answer.data.map((b) => h("li", {}, `${b.code} · ${b.name} · ${t(`level_${b.level}`)}`)),
  );
}

for (const role of ["admin", "planner"]) {
  route(
    `/${role}`,
    async ({ root }) => {
      root.append(
        h("h2", {}, t(`home_${role}`)),
        branchLine(),
        ...tiles(role),
        h("h3", {}, t("branches_below")),
        await branchesList(),
      );
    },
    { roles: [role] },
  );
}

// The review queue of the administrator's branch: stations members reported as wrong.
route(
  "/admin/review",
  async ({ root }) => {
    root.append(h("h2", {}, t("tile_review")));
    const answer = await api("/v1/review-queue");
    if (!answer.ok) {
      root.append(h("p", { class: "error", role: "alert" }, problemText(answer)));
      return;
    }
    if (!answer.data.length) {
      root.append(h("p", { class: "note" }, t("no_reports")));
      return;
    }
    root.append(
      h(
        "ul",
        { class: "claims" },
        answer.data.map((item) =>
          h(
            "li",
            {},
            h("a", { href: `#/station/${item.station_id}` }, `${item.name} · ${item.code}`),
            " · ",
            label(config.statuses[item.status], item.status),
            " · ",
            t("reported", { n: item.reporters }),
          ),
        ),
      ),
    );
  },
  { roles: ["admin"] },
);
