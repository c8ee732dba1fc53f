// The staff console: operators, union administrators and planners at work, in Chinese
// first with an English switch, on a phone and on an office PC. Plain ES modules, no
// build step, like the rider page (and sharing its common/ modules and words).
//
// shell.js is the frame (session, navigation, language, showing a view), router.js
// maps the URL's fragment to views, api.js is the one way to the service (session
// cookie, CSRF token, signing in again when a session ends). Each other module is a
// group of views that registers its routes when imported below.

import { $ } from "../common/dom.js";
import { lang, useWords } from "../common/i18n.js";
import "./applications.js";
import "./handover.js";
import "./home.js";
import "./hours.js";
import { lazy } from "./router.js";
import "./planner.js";
import "./presence.js";
import { signOut } from "./session.js";
import { applyLanguage, savedLanguage, show } from "./shell.js";
import "./station.js";
import "./today.js";
import { WORDS } from "./words.js";

// The administrator's pages (admin.js) load when one is first opened, with this page's
// version (dynamic imports are not rewritten by the page server).
const VERSION = new URL(import.meta.url).search;
lazy(
  [
    "/admin/campaigns",
    "/admin/campaigns/new",
    "/admin/campaigns/:id",
    "/admin/campaigns/:id/edit",
    "/admin/import",
    "/admin/accounts",
  ],
  () => import(`./admin.js${VERSION}`),
  { roles: ["admin"] },
);

function start() {
  useWords(WORDS);
  applyLanguage(savedLanguage());
  $("lang").addEventListener("click", () => {
    applyLanguage(lang() === "en" ? "zh" : "en");
    show();
  });
  $("account").addEventListener("click", signOut);
  window.addEventListener("hashchange", show);
  show();
}

start();
