// A page's words in Chinese and English, Chinese first: the page hands its table to
// useWords once, then every module asks t(key). Labels of the fixed vocabularies
// (amenities, kinds, access rules, rating tags) come from the service in the page's
// config (stations/catalog/vocab.py), so they are written in one place only.

let words = { zh: {}, en: {} };
let current = "zh";

// {zh: {key: text}, en: {key: text}}; a key missing in English falls back to Chinese.
export function useWords(table) {
  words = table;
}

export function setLang(lang) {
  current = lang === "en" ? "en" : "zh";
  document.documentElement.lang = current === "en" ? "en" : "zh-CN";
  document.title = t("page_title");
}

export function lang() {
  return current;
}

// t("walk", {t: "5 分钟"}) → "步行约 5 分钟"
export function t(key, vars = {}) {
  const text = words[current][key] ?? words.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

export function has(key) {
  return key in words[current];
}

// A vocabulary label: [zh, en] from the config.
export function label(pair, fallback) {
  if (!pair) return fallback;
  return current === "en" ? pair[1] : pair[0];
}

// Static text marked in the HTML: data-t (text), data-t-label (aria-label) and
// data-t-placeholder (an input's placeholder).
export function translateDocument(root = document) {
  for (const el of root.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll("[data-t-label]")) {
    el.setAttribute("aria-label", t(el.dataset.tLabel));
  }
  for (const el of root.querySelectorAll("[data-t-placeholder]")) {
    el.setAttribute("placeholder", t(el.dataset.tPlaceholder));
  }
}
