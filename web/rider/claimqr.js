// The claim as a QR code too, for the station's staff to scan with the console: the
// service draws it (GET /v1/claims/{code}/qr.svg, which only the member who claimed may
// read) with the claim code and a tag bound to the claim and the member, so only this
// signed-in page can show it, and the page shows it as a data: URL, which its CSP
// allows. Without a network staff type the code's seven characters and the last four
// of the member number.

import { h } from "../common/dom.js";
import { t } from "../common/i18n.js";
import { request } from "../common/net.js";
import { state } from "./state.js";

const drawn = new Map(); // claim code -> data: URL, for this page's life

async function dataUrl(code) {
  if (drawn.has(code)) return drawn.get(code);
  const answer = await request(`/v1/claims/${encodeURIComponent(code)}/qr.svg`, {
    token: state.session && state.session.token,
    read: "blob",
    headers: { Accept: "image/svg+xml" },
  }).catch(() => null);
  if (!answer || !answer.ok) return null;
  const url = await new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => resolve(null);
    reader.readAsDataURL(answer.data);
  });
  if (url) drawn.set(code, url);
  return url;
}

export function claimQr(code) {
  const img = h("img", {
    class: "claim-qr",
    id: "claim-qr",
    alt: t("claim_qr_alt", { code }),
    width: 220,
    height: 220,
    hidden: true,
  });
  if (state.session) {
    dataUrl(code).then((url) => {
      if (!url) return;
      img.src = url;
      img.hidden = false;
    });
  }
  return img;
}
