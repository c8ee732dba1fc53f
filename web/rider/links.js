// Hand-off to the phone's map app. Each link declares the coordinate system of the
// position it carries, and the positions come from the service already in that system
// (GET /v1/stations/{id}?crs=gcj02|bd09): Amap reads GCJ-02 ("gaode"), Baidu BD-09
// ("bd09ll"), the Android geo: URI WGS84. Without network the page may have only some
// of them; a link is then built from another system and says so, or left out.

const SOURCE = "lovestations";

function fixed(value) {
  return Number(value).toFixed(7);
}

// positions: {wgs84?, gcj02?, bd09?}, each {lat, lng}
export function amapLink(positions, name) {
  const [point, coordinate] = positions.gcj02
    ? [positions.gcj02, "gaode"]
    : positions.wgs84
      ? [positions.wgs84, "wgs84"]
      : [null, null];
  if (!point) return null;
  const query = new URLSearchParams({
    position: `${fixed(point.lng)},${fixed(point.lat)}`,
    name,
    src: SOURCE,
    coordinate,
    callnative: "1",
  });
  return `https://uri.amap.com/marker?${query}`;
}

export function baiduLink(positions, name, address) {
  const [point, coordType] = positions.bd09
    ? [positions.bd09, "bd09ll"]
    : positions.gcj02
      ? [positions.gcj02, "gcj02"]
      : positions.wgs84
        ? [positions.wgs84, "wgs84"]
        : [null, null];
  if (!point) return null;
  const query = new URLSearchParams({
    location: `${fixed(point.lat)},${fixed(point.lng)}`,
    title: name,
    content: address || name,
    output: "html",
    coord_type: coordType,
    src: `webapp.${SOURCE}.rider`,
  });
  return `https://api.map.baidu.com/marker?${query}`;
}

export function geoLink(positions, name) {
  const point = positions.wgs84;
  if (!point) return null;
  const at = `${fixed(point.lat)},${fixed(point.lng)}`;
  return `geo:${at}?q=${at}(${encodeURIComponent(name)})`;
}
