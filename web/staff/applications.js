// Membership applications (扫码入会) of the administrator's branch: riders who applied
// from the rider page, open ones first. Approve (a member number is issued; the rider
// signs in with it at once when they look the application up) or decline with a reason
// the rider sees. The applicant's phone is shown only while the application is open, to
// call them back; the service erases it once the application is decided.

import { h } from "../common/dom.js";
import { label, t } from "../common/i18n.js";
import { api } from "./api.js";
import { go, here, route } from "./router.js";
import { busy, config, flash, message, problemText } from "./shell.js";

const FILTERS = ["open", "all"];

function when(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

function facts(item) {
  const row = (key, value) => (value ? [h("dt", {}, t(key)), h("dd", {}, value)] : []);
  return h(
    "dl",
    { class: "facts" },
    ...row("app_phone", item.callback_phone ? h("a", { href: `tel:${item.callback_phone}` }, item.callback_phone) : null),
    ...row("app_occupation", label(config.vocab.occupations[item.occupation], item.occupation)),
    ...row("app_employer", item.employer),
    ...row("app_district", item.branch_name ? `${item.district_code} · ${item.branch_name}` : item.district_code),
    ...row("app_sent", t("app_sent_at", { at: when(item.created_at), n: item.submissions })),
    ...row("app_member_no", item.member_no),
    ...row("app_reason", item.decline_reason),
  );
}

function decided(item) {
  if (item.status === "open") return null;
  const key = item.status === "approved" ? "app_approved_by" : "app_declined_by";
  return h("p", { class: "note" }, t(key, { who: item.decided_by, at: when(item.decided_at) }));
}

// After a decision the list is shown again; the status line says what was done.
function done(text) {
  flash(text);
  const { path, query } = here();
  go(`${path}${query.toString() ? `?${query}` : ""}`);
}

function decisionForms(item) {
  const out = h("div", { "aria-live": "polite" });
  const approve = h("button", { type: "button", class: "primary" }, t("app_approve"));
  approve.setAttribute("aria-label", t("app_approve_label", { name: item.name }));
  approve.addEventListener(
    "click",
    busy(approve, async () => {
      const answer = await api(`/v1/applications/${item.id}/approve`, { method: "POST" });
      if (!answer.ok) return out.replaceChildren(message("error", problemText(answer)));
      done(t("app_approved_now", { name: item.name, no: answer.data.member_no }));
    }),
  );
  const reasonId = `reason-${item.id}`;
  const decline = h("button", { type: "submit", class: "secondary" }, t("app_decline"));
  decline.setAttribute("aria-label", t("app_decline_label", { name: item.name }));
  const form = h(
    "form",
    { class: "form", novalidate: true },
    h("label", { for: reasonId }, t("app_decline_reason")),
    h("p", { class: "hint", id: `${reasonId}-hint` }, t("app_decline_hint")),
    h("textarea", { id: reasonId, name: reasonId, rows: 2, maxlength: 500, "aria-describedby": `${reasonId}-hint` }),
    decline,
  );
  form.addEventListener(
    "submit",
    busy(decline, async () => {
      const reason = form.elements[reasonId].value.trim();
      if (!reason) return out.replaceChildren(message("error", t("reason_needed")));
      const answer = await api(`/v1/applications/${item.id}/decline`, { method: "POST", body: { reason } });
      if (!answer.ok) return out.replaceChildren(message("error", problemText(answer)));
      done(t("app_declined_now", { name: item.name }));
    }),
  );
  return [h("div", { class: "actions" }, approve), form, out];
}

function card(item) {
  const id = `application-${item.id}`;
  const section = h(
    "section",
    { class: "card application", id, "aria-labelledby": `${id}-name` },
    h("h3", { id: `${id}-name` }, item.name, " ", h("span", { class: "code" }, t(`app_status_${item.status}`))),
    facts(item),
    decided(item),
  );
  if (item.status === "open") section.append(...decisionForms(item));
  return section;
}

route(
  "/admin/applications",
  async ({ root, query }) => {
    const shown = FILTERS.includes(query.get("show")) ? query.get("show") : "open";
    root.append(
      h("h2", {}, t("tile_applications")),
      h("p", { class: "note" }, t("app_why")),
      h(
        "nav",
        { class: "filters", "aria-label": t("app_filter") },
        FILTERS.map((f) =>
          h(
            "a",
            { class: "nav-link", href: `#/admin/applications?show=${f}`, "aria-current": f === shown ? "page" : null },
            t(`app_show_${f}`),
          ),
        ),
      ),
    );
    const answer = await api(`/v1/applications${shown === "open" ? "?status=open" : ""}`);
    if (!answer.ok) {
      root.append(message("error", problemText(answer)));
      return;
    }
    if (!answer.data.length) {
      root.append(h("p", { class: "note" }, t(shown === "open" ? "app_none_open" : "app_none")));
      return;
    }
    root.append(h("div", { class: "columns" }, answer.data.map(card)));
  },
  { roles: ["admin"] },
);
