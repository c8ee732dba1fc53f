// Building the page's DOM: by id, and element by element without innerHTML, so names
// from the catalog are always text.

export const $ = (id) => document.getElementById(id);

// h("p", {class: "x"}, "text", child…); attributes named on… add listeners.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}
