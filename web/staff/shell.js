// The console's frame: who is signed in, the navigation of their role, the language,
// the status line, and showing the view of the current URL. Views import what they
// need from here (state, status, problemText, field helpers).

import { $, h } from "../common/dom.js";
import { lang, setLang, t, translateDocument } from "../common/i18n.js";
import { load, save } from "../common/storage.js";
import { api, useCsrf } from "./api.js";
import { find, go, here } from "./router.js";

export const config = JSON.parse($("config").textContent);
export const state = { session: null, rendering: 0, flash: null };
const LANG_KEY = "ls.staff.lang";

export function status(text) {
  const line = $("status");
  line.textContent = text || "";
  line.hidden = !text;
}

// A status line for the next view (e.g. "saved", then back to the station).
export function flash(text) {
  state.flash = text;
}

// Words for a refusal by its code and facts (words.js: p_<code>); the service's own
// sentence only for a code the console has no words for.
export function problemText(answer) {
  if (answer.status === 0) return t("network_error");
  const problem = answer.data || {};
  const key = `p_${problem.code}`;
  const facts = { ...problem };
  if (problem.code === "invalid_parameter" && problem.field) {
    const specific = `p_invalid_${problem.field}`;
    if (t(specific) !== specific) return t(specific, { ...facts, ...config.password });
  }
  if (t(key) !== key) return t(key, facts);
  return t("r_unknown", { detail: problem.detail || answer.status });
}

export function signedIn(session) {
  state.session = session;
  useCsrf(session ? session.csrf_token : null);
  renderFrame();
}

export async function loadSession() {
  const answer = await api("/v1/auth/staff");
  if (answer.ok) signedIn(answer.data);
  return answer.ok;
}

const NAV = {
  operator: [["/today", "nav_today"]],
  admin: [["/admin", "nav_home"]],
  planner: [
    ["/planner", "nav_home"],
    ["/planner/map", "nav_planner_map"],
  ],
};

function renderFrame() {
  const session = state.session;
  const account = $("account");
  account.hidden = !session;
  if (session) {
    account.textContent = t("sign_out");
    account.setAttribute("aria-label", t("sign_out_label", { name: session.name }));
  }
  const nav = $("nav");
  nav.hidden = !session;
  const links = session ? [...(NAV[session.role] || []), ["/password", "nav_password"]] : [];
  const current = here().path;
  nav.replaceChildren(
    ...links.map(([path, key]) =>
      h(
        "a",
        { href: `#${path}`, class: "nav-link", "aria-current": current === path ? "page" : null },
        t(key),
      ),
    ),
    session
      ? h("span", { class: "who" }, t(`role_${session.role}`), " · ", session.name)
      : null,
  );
}

export function applyLanguage(next) {
  setLang(next);
  save(localStorage, LANG_KEY, lang());
  translateDocument();
  const button = $("lang");
  button.textContent = t("switch_lang");
  button.setAttribute("aria-label", t("switch_lang_label"));
  button.setAttribute("lang", lang() === "en" ? "zh-CN" : "en");
  renderFrame();
}

export function savedLanguage() {
  return load(localStorage, LANG_KEY, "zh");
}

// Render the view of the URL into <main>; a newer render wins over a slower older one.
export async function show() {
  const { path, query } = here();
  const match = find(path);
  if (!match) return go("/");
  const ticket = ++state.rendering;
  status(state.flash || "");
  state.flash = null;
  if (!match.open && !state.session && !(await loadSession())) {
    return go(`/sign-in?next=${encodeURIComponent(path)}`);
  }
  if (match.roles && !match.roles.includes(state.session.role)) return go("/");
  renderFrame();
  const root = h("div", { class: "view" });
  await match.view({ root, params: match.params, query });
  if (ticket !== state.rendering) return;
  $("view").replaceChildren(root);
  const heading = root.querySelector("h2");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
    document.title = `${heading.textContent} · ${t("console_title")}`;
  }
}

// --- small builders the views share ----------------------------------------------------

export function field(id, labelKey, attrs = {}, hintKey = null) {
  const hint = hintKey ? h("p", { class: "hint", id: `${id}-hint` }, t(hintKey)) : null;
  return [
    h("label", { for: id }, t(labelKey)),
    hint,
    h("input", { id, name: id, "aria-describedby": hint ? `${id}-hint` : null, ...attrs }),
  ];
}

export function message(kind, text) {
  return h("p", { class: kind === "error" ? "error" : "done", role: kind === "error" ? "alert" : "status" }, text);
}

// Submit a form's request with the button busy; show(answer) renders the outcome.
export function busy(button, work) {
  return async (event) => {
    if (event) event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    try {
      await work();
    } finally {
      button.disabled = false;
    }
  };
}
