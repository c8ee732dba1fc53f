// A refusal in plain words: the rule code picks the sentence, numbers are read from the
// service's English detail; unknown codes show that detail itself.

import { has, t } from "../common/i18n.js";
import { refusal } from "../common/net.js";

export function refusalText(detail, kind = "claim") {
  const { code, text } = refusal(detail);
  if (code === "outside_geofence") {
    const numbers = /you are (\d+) m .* within (\d+) m/.exec(text);
    if (numbers) {
      const key = kind === "checkin" ? "r_outside_geofence_checkin" : "r_outside_geofence";
      return t(key, { distance: numbers[1], radius: numbers[2] });
    }
  }
  if (code === "quota_used") {
    const quota = /your (\d+) bottle/.exec(text);
    return t("r_quota_used", { quota: quota ? quota[1] : 1 });
  }
  if (code === "out_of_stock" && /not set/.test(text)) return t("r_out_of_stock_unset");
  if (code === "campaign_closed") {
    const hours = /from (\S+) to (\S+) local time/.exec(text);
    if (hours) return t("r_campaign_closed_hours", { from: hours[1], to: hours[2] });
  }
  if (code && has(`r_${code}`)) return t(`r_${code}`);
  return t("r_unknown", { detail: text || String(detail) });
}
