// Views by the URL's fragment: "#/station/12/handover?x=1". Each view module registers
// its routes when imported (main.js imports them all); a later page adds a module and
// one import. A route names who may open it: roles, or "public" (sign-in, set password).

const routes = [];

// pattern "/station/:id/handover"; view({root, params, query}) renders into root.
export function route(pattern, view, { roles = null, public: open = false } = {}) {
  routes.push({ parts: pattern.split("/").filter(Boolean), view, roles, open });
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
