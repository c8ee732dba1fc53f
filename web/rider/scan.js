// A poster's QR code opened the page (/s/{code}?k=…&sig=…): the service verifies it and
// names the station, or says why not. The QR code on a station's presence screen is the
// same URL plus the rotating presence code (&p=123456): it is kept apart, filled into
// the station's presence field, and sent with the claim or check-in as presence_code.

import { $, h } from "../common/dom.js";
import { t } from "../common/i18n.js";
import { NetworkError, request } from "../common/net.js";
import { load } from "../common/storage.js";
import { sendPending } from "./claims.js";
import { showCachedIfAny } from "./nearest.js";
import { refusalText } from "./refusals.js";
import { KEYS, state, status } from "./state.js";
import { openStation } from "./station.js";
import { backToList, show } from "./views.js";

export async function openScanned() {
  const path = location.pathname + location.search;
  show("station");
  status(t("searching"));
  let answer;
  try {
    answer = await request(path);
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    status(t("network_error"));
    show("list");
    showCachedIfAny(true);
    return;
  }
  status("");
  if (!answer.ok) {
    $("station-view").replaceChildren(
      h("button", { type: "button", class: "secondary back", onclick: backToList }, t("back")),
      h(
        "div",
        { class: "refusal", role: "alert" },
        h("h2", {}, t("refused_title")),
        h("p", {}, refusalText(answer.data)),
      ),
    );
    return;
  }
  const query = new URLSearchParams(location.search);
  const presence = query.get("p");
  query.delete("p");
  state.scan = {
    code: `${location.origin}${location.pathname}?${query}`,
    station: answer.data,
    presence: presence && /^[0-9]{6}$/.test(presence) ? presence : null,
  };
  await openStation(answer.data.id, null);
  const pending = load(sessionStorage, KEYS.pending, null);
  if (pending && pending.station_id === answer.data.id && state.session) sendPending(pending);
}
