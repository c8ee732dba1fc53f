// Joining the union by scanning (扫码入会): a rider who is not a member applies from
// here (the sign-in form links to it), after a plain consent text that says what is
// kept and why; the answer is a reference, kept in this browser's localStorage (it says
// nothing without the phone). With the reference and the phone the rider looks the
// application up: still open, declined with the branch's reason, or approved, and then
// the page signs them in with the new member number at once.

import { $, h } from "../common/dom.js";
import { label, t } from "../common/i18n.js";
import { NetworkError, request } from "../common/net.js";
import { load, save } from "../common/storage.js";
import { refusalText } from "./refusals.js";
import { finishSignIn, startSession } from "./signin.js";
import { config, KEYS, state } from "./state.js";
import { show } from "./views.js";

let districts = null;
let before = "list";

async function send(path, options) {
  try {
    return await request(path, options);
  } catch (failure) {
    if (!(failure instanceof NetworkError)) throw failure;
    return { ok: false, status: 0, data: null };
  }
}

function problem(answer) {
  if (answer.status === 0) return t("network_error");
  const data = answer.data || {};
  if (data.code === "invalid_parameter" && data.field) {
    const key = `apply_bad_${data.field}`;
    if (t(key) !== key) return t(key);
  }
  if (data.code === "application_not_found") return t("apply_not_found");
  return refusalText(data);
}

function field(id, key, attrs = {}, hint = null) {
  return [
    h("label", { for: id }, t(key)),
    hint ? h("p", { class: "hint", id: `${id}-hint` }, t(hint)) : null,
    h("input", { id, name: id, "aria-describedby": hint ? `${id}-hint` : null, ...attrs }),
  ];
}

function choice(id, key, options) {
  return [
    h("label", { for: id }, t(key)),
    h(
      "select",
      { id, name: id, required: true },
      h("option", { value: "" }, t("apply_choose")),
      options.map(([value, text]) => h("option", { value }, text)),
    ),
  ];
}

export async function showApply() {
  if (state.view !== "apply") before = state.view;
  const root = $("apply-view");
  root.replaceChildren(h("h2", { id: "apply-heading", tabindex: "-1" }, t("apply_title")));
  show("apply");
  if (!districts) {
    const answer = await send("/v1/applications/districts");
    districts = answer.ok ? answer.data : null;
  }
  root.append(applyForm(), lookupForm(), back());
  $("apply-heading").focus();
}

// The language switched while the view is open: draw it again in the new words,
// keeping what was typed and chosen.
export function renderApply() {
  if (state.view !== "apply") return;
  const root = $("apply-view");
  const kept = [...root.querySelectorAll("input, select")].map((el) => [el.id, el.type === "checkbox" ? el.checked : el.value]);
  root.replaceChildren(h("h2", { id: "apply-heading", tabindex: "-1" }, t("apply_title")), applyForm(), lookupForm(), back());
  for (const [id, value] of kept) {
    const el = $(id);
    if (!el) continue;
    if (el.type === "checkbox") el.checked = value;
    else el.value = value;
  }
}

function back() {
  return h(
    "button",
    { type: "button", class: "secondary", onclick: () => show(before === "apply" ? "list" : before) },
    t("apply_back"),
  );
}

function applyForm() {
  const out = h("div", { id: "apply-result", "aria-live": "polite" });
  const occupations = Object.entries(config.vocab.occupations).map(([key, pair]) => [key, label(pair, key)]);
  const places = (districts || []).map((d) => [
    d.district_code,
    d.branch_name ? `${d.district}（${d.branch_name}）` : d.district,
  ]);
  const submit = h("button", { type: "submit", class: "primary" }, t("apply_send"));
  const form = h(
    "form",
    { id: "apply", class: "form", novalidate: true },
    h("p", { class: "note" }, t("apply_why")),
    h(
      "section",
      { class: "consent", "aria-labelledby": "consent-heading" },
      h("h3", { id: "consent-heading" }, t("consent_title")),
      h("p", {}, t("consent_kept")),
      h("p", {}, t("consent_phone")),
      h("p", {}, t("consent_use")),
    ),
    ...field("apply-name", "apply_name", { autocomplete: "name", required: true, maxlength: 100 }),
    ...field("apply-phone", "phone", { type: "tel", inputmode: "numeric", autocomplete: "tel", required: true, maxlength: 20 }),
    ...choice("apply-occupation", "apply_occupation", occupations),
    ...field("apply-employer", "apply_employer", { maxlength: 200 }, "apply_employer_hint"),
    ...choice("apply-district", "apply_district", places),
    h(
      "div",
      { class: "check" },
      h("input", { type: "checkbox", id: "apply-consent", name: "apply-consent", required: true }),
      h("label", { for: "apply-consent" }, t("consent_agree")),
    ),
    submit,
    out,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (id) => form.elements[id].value.trim();
    if (!value("apply-name") || !value("apply-phone") || !value("apply-occupation") || !value("apply-district")) {
      out.replaceChildren(h("p", { class: "error", role: "alert" }, t("apply_missing")));
      return;
    }
    if (!form.elements["apply-consent"].checked) {
      out.replaceChildren(h("p", { class: "error", role: "alert" }, t("apply_bad_consent")));
      return;
    }
    submit.disabled = true;
    const answer = await send("/v1/applications", {
      method: "POST",
      body: {
        name: value("apply-name"),
        phone: value("apply-phone"),
        occupation: value("apply-occupation"),
        employer: value("apply-employer") || null,
        district_code: value("apply-district"),
        consent: true,
      },
    });
    submit.disabled = false;
    if (!answer.ok) {
      out.replaceChildren(h("p", { class: "error", role: "alert" }, problem(answer)));
      return;
    }
    save(localStorage, KEYS.application, answer.data.reference);
    $("lookup-reference").value = answer.data.reference;
    out.replaceChildren(
      h(
        "div",
        { class: "done", role: "status" },
        h("p", {}, t(answer.data.merged ? "apply_updated" : "apply_sent")),
        h("p", {}, t("apply_reference"), " ", h("strong", { id: "apply-reference", class: "code" }, answer.data.reference)),
        h("p", {}, t("apply_next")),
      ),
    );
  });
  return form;
}

function lookupForm() {
  const out = h("div", { id: "lookup-result", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "secondary" }, t("lookup_send"));
  const form = h(
    "form",
    { id: "lookup", class: "form", novalidate: true, "aria-labelledby": "lookup-heading" },
    h("h3", { id: "lookup-heading" }, t("lookup_title")),
    ...field("lookup-reference", "apply_reference", {
      required: true,
      maxlength: 40,
      autocapitalize: "characters",
      value: load(localStorage, KEYS.application, "") || null,
    }),
    ...field("lookup-phone", "phone", { type: "tel", inputmode: "numeric", autocomplete: "tel", required: true, maxlength: 20 }),
    submit,
    out,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reference = form.elements["lookup-reference"].value.trim();
    const phone = form.elements["lookup-phone"].value.trim();
    if (!reference || !phone) {
      out.replaceChildren(h("p", { class: "error", role: "alert" }, t("lookup_missing")));
      return;
    }
    submit.disabled = true;
    const answer = await send("/v1/applications/lookup", { method: "POST", body: { reference, phone } });
    if (!answer.ok) {
      submit.disabled = false;
      out.replaceChildren(h("p", { class: "error", role: "alert" }, problem(answer)));
      return;
    }
    const found = answer.data;
    if (found.status === "open") {
      submit.disabled = false;
      out.replaceChildren(h("p", { class: "note", role: "status" }, t("lookup_open")));
      return;
    }
    if (found.status === "declined") {
      submit.disabled = false;
      out.replaceChildren(
        h("div", { class: "error", role: "status" }, h("p", {}, t("lookup_declined")), h("p", {}, found.decline_reason)),
      );
      return;
    }
    // Approved: the new member signs in at once with the number and the phone just typed.
    const signIn = await send("/v1/auth/member", { method: "POST", body: { member_no: found.member_no, phone } });
    submit.disabled = false;
    const number = h("strong", { id: "member-number", class: "code" }, found.member_no);
    if (!signIn.ok) {
      out.replaceChildren(h("div", { class: "done", role: "status" }, h("p", {}, t("lookup_approved"), " ", number)));
      return;
    }
    startSession(signIn.data);
    save(localStorage, KEYS.application, null);
    out.replaceChildren(
      h(
        "div",
        { class: "done", role: "status" },
        h("p", {}, t("lookup_approved"), " ", number),
        h("p", {}, t("lookup_signed_in")),
      ),
      h("button", { type: "button", class: "primary", onclick: finishSignIn }, t("lookup_continue")),
    );
  });
  return form;
}
