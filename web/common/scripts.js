// Classic scripts a page needs only sometimes (the map library, a Leaflet plugin, the
// QR decoder), loaded from the
// service on first use, once however many parts ask for them.

const loading = new Map();

export function loadScript(src) {
  if (!loading.has(src)) {
    loading.set(
      src,
      new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = src;
        script.onload = () => resolve();
        script.onerror = () => {
          loading.delete(src);
          reject(new Error(`could not load ${src}`));
        };
        document.head.append(script);
      }),
    );
  }
  return loading.get(src);
}
