// localStorage and sessionStorage as JSON. Private browsing may refuse them: the page
// then just forgets.

export function load(store, key, fallback) {
  try {
    const text = store.getItem(key);
    return text === null ? fallback : JSON.parse(text);
  } catch {
    return fallback;
  }
}

export function save(store, key, value) {
  try {
    if (value === null || value === undefined) store.removeItem(key);
    else store.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: nothing to keep.
  }
}
