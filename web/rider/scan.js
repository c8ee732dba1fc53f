// A poster's QR code opened the page (/s/{code}?k=…&sig=…): the service verifies it and
// names the station, or says why not.

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
  state.scan = { code: location.origin + path, station: answer.data };
  await openStation(answer.data.id, null);
  const pending = load(sessionStorage, KEYS.pending, null);
  if (pending && pending.station_id === answer.data.id && state.session) sendPending(pending);
}
