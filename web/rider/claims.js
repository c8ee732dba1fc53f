// Claims and check-ins at a scanned station. A claim attempt gets one Idempotency-Key,
// kept with its exact body in sessionStorage until an answer arrives, so a retry after
// a network error or a reload is the same request; the last answers are kept too, so a
// later refusal does not hide the claim code the staff still have to read.

import { $, h } from "../common/dom.js";
import { t } from "../common/i18n.js";
import { NetworkError, newIdempotencyKey, request, withRetries } from "../common/net.js";
import { load, save } from "../common/storage.js";
import { claimQr } from "./claimqr.js";
import { clock } from "./format.js";
import { redrawStation } from "./page.js";
import { freshPosition } from "./position.js";
import { loadRating } from "./rating.js";
import { refusalText } from "./refusals.js";
import { showSignIn, signedOut } from "./signin.js";
import { KEYS, state, status } from "./state.js";

const KEEP_RESULT_MS = 12 * 3600 * 1000;

function requireSignIn(then) {
  if (state.session) return then();
  status(t("sign_in_needed"));
  showSignIn(then);
}

export async function act(kind) {
  requireSignIn(async () => {
    const stationId = state.scan.station.id;
    let pending = load(sessionStorage, KEYS.pending, null);
    if (!pending || pending.station_id !== stationId || pending.kind !== kind) {
      setBusy(true, kind === "claim" ? t("claiming") : t("checking_in"));
      const here = await freshPosition();
      if (!here) {
        setBusy(false);
        showResult(h("div", { class: "refusal", role: "alert" }, h("p", {}, t("need_position"))));
        return;
      }
      const body = { code: state.scan.code, lat: here.lat, lng: here.lng, crs: "wgs84" };
      const typed = $("presence-code");
      const presence = typed ? typed.value.replace(/\s/g, "") : "";
      if (presence) body.presence_code = presence;
      pending = {
        kind,
        key: newIdempotencyKey(), // one per attempt; kept until an answer arrives
        station_id: stationId,
        body,
      };
      save(sessionStorage, KEYS.pending, pending);
    }
    await sendPending(pending);
  });
}

function setBusy(busy, text) {
  for (const id of ["claim-button", "checkin-button"]) {
    const button = $(id);
    if (button) button.disabled = busy;
  }
  if (busy && text) showResult(h("p", { class: "progress" }, text));
}

function showResult(...nodes) {
  const result = $("result");
  if (result) result.replaceChildren(...nodes);
}

export async function sendPending(pending) {
  // Only the attempt still kept: an answered one (a late "online" event, a second tap on
  // "retry") is not sent again.
  const kept = load(sessionStorage, KEYS.pending, null);
  if (state.sending || !kept || kept.key !== pending.key) return;
  state.sending = true;
  setBusy(true, pending.kind === "claim" ? t("claiming") : t("checking_in"));
  const path = pending.kind === "claim" ? "/v1/claims" : "/v1/checkins";
  const headers = pending.kind === "claim" ? { "Idempotency-Key": pending.key } : {};
  let answer;
  try {
    answer = await withRetries(
      () =>
        request(path, {
          method: "POST",
          body: pending.body,
          token: state.session && state.session.token,
          headers,
        }),
      { onRetry: (s, n) => showResult(h("p", { class: "progress" }, t("retrying", { s, n }))) },
    );
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    answer = null;
  } finally {
    state.sending = false;
  }
  setBusy(false);
  if (!answer || answer.status >= 500 || answer.status === 408 || answer.status === 429) {
    showResult(
      h("p", { class: "progress" }, t("still_pending")),
      h(
        "button",
        { type: "button", class: "secondary", onclick: () => sendPending(pending) },
        t("retry_now"),
      ),
    );
    window.addEventListener("online", () => sendPending(pending), { once: true });
    return;
  }
  if (answer.status === 401) {
    signedOut();
    status(t("r_unauthorized"));
    showSignIn(() => sendPending(pending));
    return;
  }
  save(sessionStorage, KEYS.pending, null);
  if (!answer.ok && answer.data && String(answer.data.code).startsWith("presence_code")) {
    // Ask for the code on the station's screen now; the one that came with the QR is spent.
    state.presenceAsked = true;
    if (state.scan) state.scan.presence = null;
  }
  const stored = {
    kind: pending.kind,
    ok: answer.ok,
    data: answer.data,
    replayed: answer.headers.get("Idempotent-Replayed") === "true",
    at: Date.now(),
  };
  // The last answer, and the last granted claim: a later refusal (a second tap) must not
  // hide the code the staff still have to read.
  const results = load(sessionStorage, KEYS.results, {});
  const earlier = results[pending.station_id] || {};
  results[pending.station_id] = {
    last: stored,
    granted: stored.ok && stored.kind === "claim" ? stored : earlier.granted || null,
  };
  save(sessionStorage, KEYS.results, results);
  if (answer.ok && pending.kind === "claim") showWaterLeft(pending.station_id, answer.data);
  if (state.station && state.station.id === pending.station_id) {
    redrawStation(); // with the water left, and the stored result
    if (answer.ok) loadRating(pending.station_id);
  }
}

// A granted claim says how many bottles its station has left: the station's card and
// the lists show that at once, not the count of the search they came from.
function showWaterLeft(stationId, claim) {
  const seen = [
    ...state.results,
    ...(state.search ? state.search.items : []),
    state.station && state.station.hit,
    state.station && state.station.detail,
    state.scan && state.scan.station,
  ];
  for (const station of seen) {
    if (!station || station.id !== stationId) continue;
    station.water_today = {
      ...(station.water_today || {}),
      local_day: claim.local_day,
      remaining: claim.remaining_stock,
    };
  }
}

export function showStoredResult(stationId) {
  const kept = load(sessionStorage, KEYS.results, {})[stationId];
  if (!kept) return;
  const recent = (stored) => stored && Date.now() - stored.at < KEEP_RESULT_MS;
  const nodes = [];
  if (recent(kept.last)) nodes.push(resultNode(kept.last));
  if (recent(kept.granted) && kept.granted !== kept.last && kept.granted.at !== kept.last.at) {
    nodes.push(resultNode(kept.granted));
  }
  if (nodes.length) showResult(...nodes);
}

function resultNode(stored) {
  const data = stored.data || {};
  if (!stored.ok) {
    return h(
      "div",
      { class: "refusal", role: "alert" },
      h("h3", {}, t("refused_title")),
      h("p", { class: "reason" }, refusalText(stored.data, stored.kind)),
    );
  }
  if (stored.kind === "checkin") {
    return h(
      "div",
      { class: "granted" },
      h("p", {}, t("checked_in", { station: data.station.name, time: clock(data.checked_in_at) })),
    );
  }
  return h(
    "div",
    { class: "claim-card" },
    h("p", { class: "claim-label", id: "claim-code-label" }, t("claim_code")),
    h(
      "p",
      { class: "claim-code", id: "claim-code", "aria-labelledby": "claim-code-label" },
      data.claim_code,
    ),
    claimQr(data.claim_code),
    h("p", { class: "show-staff" }, t("show_staff")),
    data.prize && h("p", { class: "prize" }, t("prize", { prize: data.prize })),
    h(
      "p",
      { class: "facts" },
      t("claim_facts", {
        station: data.station.name,
        time: clock(data.claimed_at),
        n: data.claims_today,
        quota: data.daily_quota,
      }),
    ),
    stored.replayed && h("p", { class: "note replayed" }, t("replayed")),
  );
}
