// The branch's staff accounts: who they are (operators with their stations, planners and
// administrators with their branch), whether a password is set; create one, give its
// owner a one-time link to set their password (the link `stations accounts invite`
// prints), or disable it. GET /v1/accounts, POST /v1/accounts,
// POST /v1/accounts/{id}/password-link, POST /v1/accounts/{id}/disable.

import { h } from "../common/dom.js";
import { lang, t } from "../common/i18n.js";
import { api } from "./api.js";
import { go, route } from "./router.js";
import { busy, field, problemText, state } from "./shell.js";

const error = (answer) => h("p", { class: "error", role: "alert" }, problemText(answer));

function linkBox(account, link) {
  const url = `${window.location.origin}${link.path}`;
  const id = `link-${account.id}`;
  const input = h("input", { id, class: "mono", readonly: true, value: url });
  input.addEventListener("focus", () => input.select());
  return h(
    "div",
    { class: "link-box" },
    h("label", { for: id }, t("a_link_for", { name: account.name })),
    input,
    h(
      "p",
      { class: "hint" },
      t("a_link_hint", {
        until: new Date(link.expires_at).toLocaleString(lang() === "en" ? "en" : "zh-CN", {
          dateStyle: "medium",
          timeStyle: "short",
        }),
      }),
    ),
  );
}

function accountCard(account) {
  const out = h("div", { "aria-live": "polite" });
  const what =
    account.role === "operator"
      ? t("a_stations", { codes: account.station_codes.join("、") || "—" })
      : t("a_branch", { branch: account.branch || t("national") });
  const state_ = account.disabled_at
    ? t("a_disabled")
    : account.has_password
      ? t("a_has_password")
      : t("a_no_password");
  const card = h(
    "li",
    { class: `card${account.disabled_at ? " disabled" : ""}` },
    h("h3", {}, account.name, " ", h("span", { class: "code" }, t(`role_${account.role}`))),
    h("p", { class: "note" }, what),
    h("p", { class: account.disabled_at ? "warn" : "note" }, state_),
  );
  if (!account.disabled_at) {
    const linkButton = h("button", { type: "button", class: "secondary" }, t("a_make_link"));
    const disable = h("button", { type: "button", class: "secondary danger" }, t("a_disable"));
    linkButton.addEventListener(
      "click",
      busy(linkButton, async () => {
        const answer = await api(`/v1/accounts/${account.id}/password-link`, { method: "POST" });
        out.replaceChildren(answer.ok ? linkBox(account, answer.data) : error(answer));
        const box = out.querySelector("input");
        if (box) box.focus();
      }),
    );
    disable.addEventListener(
      "click",
      busy(disable, async () => {
        if (!window.confirm(t("a_disable_confirm", { name: account.name }))) return;
        const answer = await api(`/v1/accounts/${account.id}/disable`, { method: "POST" });
        if (!answer.ok) return out.replaceChildren(error(answer));
        go("/admin/accounts");
      }),
    );
    const own = account.name === state.session.name; // no disabling oneself
    card.append(h("div", { class: "actions two" }, linkButton, own ? null : disable), out);
  }
  return card;
}

async function createForm(branches, onCreated) {
  const out = h("div", { "aria-live": "polite" });
  const [nameLabel, , name] = field("a-name", "a_name", { maxlength: 100, required: true, autocomplete: "off" });
  const role = h(
    "select",
    { id: "a-role" },
    ["operator", "planner", "admin"].map((r) => h("option", { value: r }, t(`role_${r}`))),
  );
  const [codesLabel, codesHint, codes] = field("a-codes", "a_codes", { autocomplete: "off", class: "mono" }, "a_codes_hint");
  const branch = h(
    "select",
    { id: "a-branch" },
    branches.map((b) => h("option", { value: b.code }, `${b.code} · ${b.name}`)),
  );
  const [contactLabel, , contact] = field("a-contact", "a_contact", { maxlength: 200, autocomplete: "off" });
  const operatorPart = h("div", {}, codesLabel, codesHint, codes);
  const branchPart = h("div", { hidden: true }, h("label", { for: "a-branch" }, t("a_branch_field")), branch);
  const sync = () => {
    operatorPart.hidden = role.value !== "operator";
    branchPart.hidden = role.value === "operator" || !branches.length;
  };
  role.addEventListener("change", sync);
  const submit = h("button", { type: "submit", class: "primary" }, t("a_create"));
  const form = h(
    "form",
    {
      class: "form",
      novalidate: true,
      onsubmit: busy(submit, async () => {
        const body = { name: name.value.trim(), role: role.value, contact: contact.value.trim() || null };
        if (!body.name) return out.replaceChildren(h("p", { class: "error", role: "alert" }, t("a_name_needed")));
        if (role.value === "operator") {
          body.station_codes = codes.value.split(/[\s,，、;；]+/).filter(Boolean);
          if (!body.station_codes.length) {
            return out.replaceChildren(h("p", { class: "error", role: "alert" }, t("a_codes_needed")));
          }
        } else if (branches.length) {
          body.branch = branch.value;
        }
        const answer = await api("/v1/accounts", { method: "POST", body });
        if (!answer.ok) return out.replaceChildren(error(answer));
        const link = await api(`/v1/accounts/${answer.data.id}/password-link`, { method: "POST" });
        out.replaceChildren(
          h("p", { class: "done", role: "status" }, t("a_created", { name: answer.data.name })),
          link.ok ? linkBox(answer.data, link.data) : error(link),
        );
        name.value = "";
        codes.value = "";
        onCreated(answer.data);
      }),
    },
    nameLabel,
    name,
    h("label", { for: "a-role" }, t("a_role")),
    role,
    operatorPart,
    branchPart,
    contactLabel,
    contact,
    h("div", { class: "actions" }, submit),
    out,
  );
  sync();
  return form;
}

route(
  "/admin/accounts",
  async ({ root }) => {
    root.classList.add("wide");
    root.append(h("h2", {}, t("tile_accounts")));
    const [list, branches] = await Promise.all([api("/v1/accounts"), api("/v1/branches")]);
    if (!list.ok) return root.append(error(list));
    const own = state.session.branch && state.session.branch.code;
    // The branch itself and those below it (the national root lists every branch).
    const choices = branches.ok ? branches.data.filter((b) => !own || b.code.startsWith(own)) : [];
    const heading = h("h3", { id: "a-list" }, t("a_list", { n: list.data.length }));
    const cards = h("ul", { class: "campaigns", "aria-labelledby": "a-list" }, list.data.map(accountCard));
    const none = list.data.length ? null : h("p", { class: "note" }, t("a_none"));
    let count = list.data.length;
    const added = (account) => {
      cards.prepend(accountCard(account));
      heading.textContent = t("a_list", { n: ++count });
      if (none) none.remove();
    };
    root.append(
      h("section", { class: "card", "aria-labelledby": "a-new" }, h("h3", { id: "a-new" }, t("a_new")), await createForm(choices, added)),
      heading,
      ...(none ? [none] : []),
      cards,
    );
  },
  { roles: ["admin"] },
);
