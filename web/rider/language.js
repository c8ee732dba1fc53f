// Chinese by default, English on a tap; the choice is kept in localStorage.

import { $ } from "../common/dom.js";
import { lang, setLang, t, translateDocument } from "../common/i18n.js";
import { save } from "../common/storage.js";
import { renderApply } from "./apply.js";
import { renderList } from "./list.js";
import { localiseMap } from "./map.js";
import { renderSearch } from "./search.js";
import { renderAccount } from "./signin.js";
import { KEYS, state } from "./state.js";
import { renderStation } from "./station.js";

export function applyLanguage(next) {
  setLang(next);
  save(localStorage, KEYS.lang, lang());
  translateDocument();
  const button = $("lang");
  button.textContent = t("switch_lang");
  button.setAttribute("aria-label", t("switch_lang_label"));
  button.setAttribute("lang", lang() === "en" ? "zh-CN" : "en");
  renderAccount();
  localiseMap();
  renderList();
  renderSearch();
  if (state.view === "station") renderStation();
  renderApply();
}
