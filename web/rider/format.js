// Words for numbers and times: distances, travel estimates, opening states, ages.

import { label, lang, t } from "../common/i18n.js";
import { config } from "./state.js";

export function distanceText(metres) {
  if (metres < 1000) return t("metres", { n: Math.max(10, Math.round(metres / 10) * 10) });
  return t("km", { n: (metres / 1000).toFixed(metres < 10000 ? 1 : 0) });
}

function minutesText(metres, kmh) {
  return t("minutes", { n: Math.max(1, Math.round(metres / ((kmh * 1000) / 60))) });
}

export function estimates(metres) {
  const { walk_kmh: walk, ebike_kmh: ebike } = config.speeds;
  return `${t("walk", { t: minutesText(metres, walk) })} · ${t("ride", { t: minutesText(metres, ebike) })}`;
}

export function clock(iso) {
  return new Date(iso).toLocaleTimeString(lang() === "en" ? "en-GB" : "zh-CN", {
    hour: "2-digit",
    minute: "2-digit",
  });
}

// An instant in the phone's own time: "21:00", "明天 07:00", "7月16日 07:00".
export function when(iso) {
  const at = new Date(iso);
  const day = (d) => `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
  const tomorrow = new Date();
  tomorrow.setDate(tomorrow.getDate() + 1);
  const time = clock(iso);
  if (day(at) === day(new Date())) return time;
  if (day(at) === day(tomorrow)) return t("tomorrow", { time });
  return t("on_date", { month: at.getMonth() + 1, day: at.getDate(), time });
}

// "2026-07-15T21:00:00+08:00" in the station's own zone → "21:00", "明天 07:00", …
export function localWhen(iso) {
  const match = /^(\d{4})-(\d\d)-(\d\d)T(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.exec(
    iso,
  );
  if (!match) return iso;
  const [, , month, day, time, zone] = match;
  const offset =
    zone === "Z"
      ? 0
      : (zone[0] === "-" ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const today = new Date(Date.now() + offset * 60000).toISOString().slice(0, 10);
  const tomorrow = new Date(Date.now() + offset * 60000 + 86400000).toISOString().slice(0, 10);
  const date = iso.slice(0, 10);
  if (date === today) return time;
  if (date === tomorrow) return t("tomorrow", { time });
  return t("on_date", { month: Number(month), day: Number(day), time });
}

export function openText(open) {
  if (!open || open.is_open === null || open.is_open === undefined) {
    return { text: t("open_unknown"), cls: "unknown" };
  }
  if (open.is_open) {
    if (!open.next_change) return { text: t("open_247"), cls: "ok" };
    return { text: t("open_until", { time: localWhen(open.next_change) }), cls: "ok" };
  }
  if (!open.next_change) return { text: t("closed"), cls: "closed" };
  return { text: t("closed_opens", { time: localWhen(open.next_change) }), cls: "closed" };
}

export function ageText(ms) {
  const minutes = Math.floor(ms / 60000);
  if (minutes < 1) return t("age_now");
  if (minutes < 120) return t("age_min", { n: minutes });
  if (minutes < 2880) return t("age_hour", { n: Math.floor(minutes / 60) });
  return t("age_day", { n: Math.floor(minutes / 1440) });
}

// Members' rating and today's water, as every search answer carries them (null until
// rated, or until the station set today's stock).
export function liveText(station) {
  const parts = [];
  const rating = station.rating;
  if (rating && rating.ratings > 0 && rating.mean_stars !== null) {
    parts.push(
      t("rating_line", { mean: Number(rating.mean_stars).toFixed(1), count: rating.ratings }),
    );
  }
  const water = station.water_today;
  if (water)
    parts.push(water.remaining > 0 ? t("water_left", { n: water.remaining }) : t("water_none"));
  return parts.join(" · ");
}

export function kindLabel(kind) {
  return label(config.vocab.kinds[kind], kind);
}

export function capitalised(text) {
  return lang() === "en" && text ? text[0].toUpperCase() + text.slice(1) : text;
}

export function stationName(s) {
  return lang() === "en" && s.name_en ? s.name_en : s.name;
}
