// Words for numbers and times: distances, travel estimates, opening states, ages.

import { label, lang, t } from "../common/i18n.js";
import { config } from "./state.js";

// Times and opening states are shared with the staff console.
export { clock, localWhen, openText, when } from "../common/hours.js";

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
