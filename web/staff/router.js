// Views by the URL's fragment: "#/station/12/handover?x=1". Each view module registers
// its routes when imported (main.js imports them all); a later page adds a module and
// one import. A route names who may open it: roles, or "public" (sign-in, set password).

const routes = [];

// pattern "/station/:id/handover"; view({root, params, query}) renders into root. A
// pattern registered again replaces the earlier view in its place (a page loaded later
// takes over its placeholder: see lazy below).
export function route(pattern, view, { roles = null, public: open = false } = {}) {
  const entry = { pattern, parts: pattern.split("/").filter(Boolean), view, roles, open };
  const at = routes.findIndex((r) => r.pattern === pattern);
  if (at >= 0) routes[at] = entry;
  else routes.push(entry);
}

// Placeholders for pages in a module loaded on first use: load() imports it (its route
// calls replace these), then the real view renders.
export function lazy(patterns, load, options) {
  for (const pattern of patterns) {
    route(
      pattern,
      async (context) => {
        await load();
        const real = find(here().path);
        if (real && real.view) await real.view({ ...context, params: real.params });
      },
      options,
    );
  }
}

export function here() {
  const hash = window.location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = hash.split("?");
  return { path, query: new URLSearchParams(search) };
}

export function find(path) {
  const parts = path.split("/").filter(Boolean);
  for (const r of routes) {
    if (r.parts.length !== parts.length) continue;
    const params = {};
    const ok = r.parts.every((part, i) => {
      if (part.startsWith(":")) {
        params[part.slice(1)] = decodeURIComponent(parts[i]);
        return true;
      }
      return part === parts[i];
    });
    if (ok) return { ...r, params };
  }
  return null;
}

export function go(path) {
  if (window.location.hash === `#${path}`) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else window.location.hash = `#${path}`;
}
