// Times and opening states in words, the same on the rider page and the staff console:
// "21:00", "明天 07:00", "营业中 · 至 21:00", "已关闭 · 明天 07:00 开门".

import { lang, t } from "./i18n.js";

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
