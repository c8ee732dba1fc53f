// Signing in with member number and phone; the token lives in this tab's sessionStorage
// only. Signing out forgets it here and revokes it on the service.

import { $ } from "../common/dom.js";
import { t } from "../common/i18n.js";
import { NetworkError, request } from "../common/net.js";
import { save } from "../common/storage.js";
import { localWhen } from "./format.js";
import { redrawStation, sessionChanged } from "./page.js";
import { refusalText } from "./refusals.js";
import { KEYS, state, status } from "./state.js";
import { show } from "./views.js";

let afterSignIn = null;
let beforeSignIn = "list";

export function showSignIn(then) {
  afterSignIn = then || null;
  if (state.view !== "signin") beforeSignIn = state.view;
  $("signin-error").hidden = true;
  show("signin");
  $("member-no").focus();
}

function leaveSignIn() {
  $("phone").value = "";
  show(beforeSignIn);
  if (beforeSignIn === "station") redrawStation();
}

export function cancelSignIn() {
  afterSignIn = null;
  leaveSignIn();
}

export async function submitSignIn(event) {
  event.preventDefault();
  const memberNo = $("member-no").value.trim();
  const phone = $("phone").value.trim();
  const error = $("signin-error");
  if (!memberNo || !phone) {
    error.textContent = t("r_sign_in_failed");
    error.hidden = false;
    return;
  }
  error.textContent = t("signing_in");
  error.hidden = false;
  let answer;
  try {
    answer = await request("/v1/auth/member", {
      method: "POST",
      body: { member_no: memberNo, phone },
    });
  } catch (failure) {
    if (!(failure instanceof NetworkError)) throw failure;
    error.textContent = t("network_error");
    return;
  }
  if (!answer.ok) {
    error.textContent = refusalText(answer.data);
    return;
  }
  startSession(answer.data);
  error.hidden = true;
  // Wrong sign-ins with this number since the last one: the member should know.
  const { failed_attempts: failed, last_failed_at: last } = answer.data;
  finishSignIn(failed > 0 ? t("failed_sign_ins", { count: failed, time: localWhen(last) }) : "");
}

// Back to where the rider was before signing in, and on with what they were doing
// (a claim, a rating); also after a membership application signed them in (apply.js).
export function finishSignIn(line = "") {
  status(line);
  leaveSignIn();
  const then = afterSignIn;
  afterSignIn = null;
  sessionChanged();
  if (then) then();
}

// A member's sign-in answer (POST /v1/auth/member) becomes this tab's session; also
// used by the membership application once it is approved (apply.js).
export function startSession(data) {
  state.session = {
    token: data.token,
    member_no: data.member.member_no,
    expires_at: data.expires_at,
  };
  save(sessionStorage, KEYS.session, state.session);
  renderAccount();
}

export function signedOut() {
  state.session = null;
  save(sessionStorage, KEYS.session, null);
  renderAccount();
}

export async function signOut() {
  const token = state.session && state.session.token;
  signedOut();
  status(""); // a notice about this member's sign-ins is not for whoever comes next
  save(sessionStorage, KEYS.pending, null);
  save(sessionStorage, KEYS.results, null);
  sessionChanged();
  if (token) {
    try {
      await request("/v1/auth/logout", { method: "POST", token });
    } catch {
      // Offline: the token expires on its own; this tab has forgotten it already.
    }
  }
}

export function renderAccount() {
  const button = $("account");
  if (state.session) {
    button.textContent = t("sign_out");
    button.setAttribute("aria-label", t("sign_out_label", { no: state.session.member_no }));
  } else {
    button.textContent = t("sign_in");
    button.removeAttribute("aria-label");
  }
}
