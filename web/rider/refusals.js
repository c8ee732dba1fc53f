// A refusal in plain words. The service's answer names its rule in `code` and gives the
// numbers in facts beside it (api/errors.py lists them): the words come from here, the
// numbers from the facts. A code without words here shows the service's own sentence.

import { has, t } from "../common/i18n.js";
import { localWhen } from "./format.js";

// problem: the answer's data, {detail, code, …facts}; kind: "claim" or "checkin".
export function refusalText(problem, kind = "claim") {
  if (!problem || typeof problem !== "object") return t("network_error"); // a proxy's page
  const { code } = problem;
  if (code === "outside_geofence") {
    const key = kind === "checkin" ? "r_outside_geofence_checkin" : "r_outside_geofence";
    return t(key, { distance: problem.distance_m, radius: problem.radius_m });
  }
  if (code === "presence_code_required" && kind === "checkin") {
    return t("r_presence_code_required_checkin");
  }
  if (code === "quota_used") return t("r_quota_used", { quota: problem.daily_quota });
  if (code === "too_many_attempts") {
    return t("r_too_many_attempts", { seconds: problem.retry_after_s });
  }
  if (code === "out_of_stock" && problem.stock_set === false) return t("r_out_of_stock_unset");
  if (code === "campaign_closed" && problem.daily_start && problem.daily_end) {
    return t("r_campaign_closed_hours", { from: problem.daily_start, to: problem.daily_end });
  }
  if (code === "station_not_open" && problem.next_open) {
    return t("r_station_not_open_at", { time: localWhen(problem.next_open) });
  }
  if (code && has(`r_${code}`)) return t(`r_${code}`);
  return t("r_unknown", { detail: problem.detail ?? code ?? "" });
}
