// The presence screen: the station's rotating presence code, big, with its QR code, for
// the operator's phone or a cheap phone left at the counter. Campaigns that require
// presence grant water only to claims that carry the code shown now (or the one before
// it), so a member must stand where they can read it. The page asks the service for
// the code at every step (GET /v1/stations/{id}/presence): the station's secret never
// reaches the phone, and the service's clock, not the phone's, says when the code
// changes. The QR code is the station's signed poster URL plus the code, so a rider's
// camera opens the rider page at the station with the code filled in.

import { h } from "../common/dom.js";
import { t } from "../common/i18n.js";
import { api } from "./api.js";
import { route } from "./router.js";
import { problemText } from "./shell.js";

const RETRY_MS = 5000;

function spaced(code) {
  return `${code.slice(0, 3)} ${code.slice(3)}`;
}

route(
  "/station/:id/presence",
  async ({ root, params }) => {
    const id = Number(params.id);
    const title = h("h2", {}, t("presence_title"));
    const code = h("p", { class: "presence-code", id: "presence-code", "aria-live": "polite" });
    const qr = h("img", { class: "presence-qr", id: "presence-qr", alt: "", width: 320, height: 320 });
    const left = h("p", { class: "presence-left", id: "presence-left" });
    const fill = h("span", {});
    const bar = h("div", { class: "presence-bar", "aria-hidden": "true" }, fill);
    const problem = h("div", { "aria-live": "assertive" });
    // Hide the browser's own bars too, on a phone left at the counter.
    const whole = document.fullscreenEnabled
      ? h("button", { type: "button", class: "secondary", id: "presence-fullscreen" }, t("presence_fullscreen"))
      : null;
    if (whole) {
      whole.addEventListener("click", () => {
        if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
        else screen.requestFullscreen().catch(() => {});
      });
    }
    const screen = h(
      "section",
      { class: "presence-screen", "aria-labelledby": "presence-heading" },
      title,
      h("p", { class: "note" }, t("presence_how")),
      code,
      qr,
      left,
      bar,
      problem,
      whole,
      h("a", { class: "link-button", href: `#/station/${id}` }, t("back_to_station")),
    );
    title.id = "presence-heading";
    root.append(screen);

    let shown = null; // {code, step_s, until: performance.now() when it changes}
    let expires = 0; // performance.now() when the shown code is no longer accepted
    let timer = null;
    let lock = null;
    // The view is put on the page after it rendered: until then it counts as alive; once
    // on the page, leaving it (another view replaced it) stops the timers.
    let attached = false;
    const alive = () => {
      if (screen.isConnected) attached = true;
      return screen.isConnected || !attached;
    };

    const tick = () => {
      if (!alive()) return stop();
      if (!shown) return;
      const now = performance.now();
      const seconds = Math.max(0, Math.ceil((shown.until - now) / 1000));
      left.textContent = t("presence_left", { s: seconds });
      fill.style.width = `${Math.min(100, (100 * (shown.until - now)) / (shown.step_s * 1000))}%`;
      code.classList.toggle("stale", now > expires);
    };
    const second = setInterval(tick, 1000);

    const stop = () => {
      if (document.fullscreenElement === screen) document.exitFullscreen().catch(() => {});
      clearInterval(second);
      clearTimeout(timer);
      if (lock) lock.release().catch(() => {});
      lock = null;
    };

    const load = async () => {
      if (!alive()) return stop();
      const answer = await api(`/v1/stations/${id}/presence`);
      if (!alive()) return stop();
      if (!answer.ok) {
        problem.replaceChildren(h("p", { class: "error", role: "alert" }, problemText(answer)));
        timer = setTimeout(load, RETRY_MS);
        return;
      }
      problem.replaceChildren();
      const data = answer.data;
      const now = performance.now();
      shown = { code: data.code, step_s: data.step_s, until: now + data.seconds_left * 1000 };
      // Accepted during its step and the next: after that it is crossed out.
      expires = shown.until + data.step_s * 1000;
      title.textContent = t("presence_heading", { station: data.station_name, code: data.station_code });
      code.textContent = spaced(data.code);
      qr.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(data.qr_svg)}`;
      qr.alt = t("presence_qr_alt", { code: data.code });
      tick();
      // Ask again just after the service's step changes.
      timer = setTimeout(load, data.seconds_left * 1000 + 300);
    };

    // A phone left at the counter must not dim and lock while it shows the code.
    if (navigator.wakeLock) {
      navigator.wakeLock.request("screen").then((l) => (lock = l), () => {});
    }
    await load();
  },
  { roles: ["operator", "admin"] },
);
