// Confirming that a member got their bottle: the member shows the claim's QR code on
// their signed-in phone (the code plus a tag only their page is given), which the
// operator scans with the camera or photographs; or the member reads out the claim code
// (seven characters) and the last four characters of their member number, which the
// operator types. The code alone is not enough. POST /v1/claims/{code}/handover with
// {qr} or {member_digits}, as programs do; the claims still waiting are listed below.

import { h } from "../common/dom.js";
import { clock } from "../common/hours.js";
import { t } from "../common/i18n.js";
import { api } from "./api.js";
import { route } from "./router.js";
import { busy, field, message, problemText } from "./shell.js";
import { cameraAvailable, decodeFile, scanCamera } from "./scanner.js";
import { stationTitle } from "./today.js";

const CODE = /^[0-9A-Z]{7}$/;
const CLAIM_QR = /^([0-9A-Za-z]{7})\.([A-Z2-7]{16})$/;
const DIGITS = /^[0-9A-Za-z]{4}$/;

function confirmedText(claim) {
  const before = !claim.confirmed_now;
  const facts = {
    code: claim.claim_code,
    station: claim.station.name,
    time: clock(claim.claimed_at),
    at: clock(claim.handed_over_at),
  };
  return [
    t(before ? "handed_over_before" : "handed_over_now", facts),
    claim.prize ? ` ${t("with_prize", { prize: claim.prize })}` : "",
  ].join("");
}

function waitingList(claims) {
  const waiting = claims.filter((c) => !c.handed_over_at);
  if (!waiting.length) return h("p", { class: "note" }, t("none_waiting"));
  return h(
    "ul",
    { class: "claims" },
    waiting.map((c) => h("li", {}, h("span", { class: "mono" }, c.claim_code), " · ", clock(c.claimed_at))),
  );
}

route(
  "/station/:id/handover",
  async ({ root, params }) => {
    const id = Number(params.id);
    const [day, listed] = await Promise.all([
      api(`/v1/stations/${id}/today`),
      api(`/v1/claims?station_id=${id}`),
    ]);
    if (!day.ok) {
      root.append(h("h2", {}, t("confirm_handover")), message("error", problemText(day)));
      return;
    }
    const result = h("div", { class: "result", id: "handover-result", "aria-live": "assertive" });
    const waiting = h("div", {}, listed.ok ? waitingList(listed.data) : message("error", problemText(listed)));
    const show = (kind, text) => result.replaceChildren(message(kind, text));

    // proof: {qr: scanned text} or {member_digits}.
    const confirm = async (code, proof) => {
      const answer = await api(`/v1/claims/${encodeURIComponent(code)}/handover`, {
        method: "POST",
        body: proof,
      });
      if (!answer.ok) return show("error", problemText(answer));
      // Confirmed before: a warning, so nobody hands out a second bottle.
      show(answer.data.confirmed_now ? "done" : "error", confirmedText(answer.data));
      const again = await api(`/v1/claims?station_id=${id}`);
      if (again.ok) waiting.replaceChildren(waitingList(again.data));
      return true;
    };
    const confirmTyped = async (typedCode, typedDigits) => {
      const code = typedCode.trim().toUpperCase();
      const digits = typedDigits.trim().toUpperCase();
      if (!CODE.test(code)) return show("error", t("not_a_claim_code"));
      if (!DIGITS.test(digits)) return show("error", t("not_member_digits"));
      return confirm(code, { member_digits: digits });
    };
    const confirmScanned = async (text) => {
      const found = CLAIM_QR.exec(text.trim());
      if (!found) return show("error", t("not_a_claim_qr"));
      return confirm(found[1].toUpperCase(), { qr: text.trim() });
    };

    const typed = h("button", { type: "submit", class: "primary" }, t("confirm"));
    const form = h(
      "form",
      { class: "form", novalidate: true },
      ...field("claim-code", "claim_code", {
        autocomplete: "off",
        autocapitalize: "characters",
        spellcheck: "false",
        maxlength: 20,
        inputmode: "text",
        class: "code-input",
      }, "claim_code_hint"),
      ...field("member-digits", "member_digits", {
        autocomplete: "off",
        autocapitalize: "characters",
        spellcheck: "false",
        maxlength: 4,
        inputmode: "text",
        class: "code-input digits-input",
      }, "member_digits_hint"),
      typed,
    );
    form.addEventListener(
      "submit",
      busy(typed, async () => {
        const done = await confirmTyped(
          form.elements["claim-code"].value,
          form.elements["member-digits"].value,
        );
        if (done) {
          form.elements["claim-code"].value = "";
          form.elements["member-digits"].value = "";
        }
      }),
    );

    const photo = h("input", {
      type: "file",
      id: "claim-photo",
      accept: "image/*",
      capture: "environment",
      class: "file",
    });
    photo.addEventListener("change", async () => {
      const file = photo.files && photo.files[0];
      if (!file) return;
      show("done", t("reading_photo"));
      const text = await decodeFile(file).catch(() => null);
      photo.value = "";
      if (text === null) return show("error", t("no_qr_found"));
      await confirmScanned(text);
    });

    const video = h("video", { class: "camera", hidden: true, "aria-label": t("camera_view") });
    let stop = null;
    const camera = h("button", { type: "button", class: "secondary", id: "scan-camera" }, t("scan_camera"));
    camera.addEventListener("click", async () => {
      if (stop) {
        stop();
        stop = null;
        video.hidden = true;
        camera.textContent = t("scan_camera");
        return;
      }
      try {
        video.hidden = false;
        camera.textContent = t("stop_camera");
        stop = await scanCamera(video, (text) => {
          stop = null;
          video.hidden = true;
          camera.textContent = t("scan_camera");
          confirmScanned(text);
        });
      } catch {
        video.hidden = true;
        camera.textContent = t("scan_camera");
        show("error", t("no_camera"));
      }
    });

    root.append(
      h("h2", {}, t("confirm_handover"), " · ", ...stationTitle(day.data.station)),
      h("p", { class: "note" }, t("handover_why")),
      result,
      form,
      h(
        "section",
        { class: "card", "aria-labelledby": "scan-heading" },
        h("h3", { id: "scan-heading" }, t("scan_title")),
        cameraAvailable() ? camera : null,
        video,
        photo,
        h("label", { for: "claim-photo", class: "link-button" }, t("scan_photo")),
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "waiting-heading" },
        h("h3", { id: "waiting-heading" }, t("waiting_title")),
        waiting,
      ),
      h("a", { class: "link-button", href: `#/station/${id}` }, t("back_to_station")),
    );
  },
  { roles: ["operator", "admin"] },
);
