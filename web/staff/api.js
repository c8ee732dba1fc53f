// The console's one way to the service. Requests carry the session cookie; every
// change (POST, PUT, PATCH, DELETE) carries the session's CSRF token in X-CSRF-Token.
// When the session has ended (401: idle too long, too old, signed out elsewhere), the
// console asks to sign in again in a dialog and then sends the same request once more,
// so whatever the person was doing (a stock figure typed, a hand-over) is not lost.
// Error answers are the service's problems ({detail, code, …facts}); views pick their
// words by code (words.js), never from detail.

import { NetworkError, request } from "../common/net.js";

const CHANGES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
let csrf = null;
let signInAgain = null;

export function useCsrf(token) {
  csrf = token;
}

// handler(problem) → Promise<boolean>: true once signed in again.
export function onSessionEnded(handler) {
  signInAgain = handler;
}

// An answer {status, ok, data, headers}; status 0 when the network gave none.
export async function api(path, { method = "GET", body, headers = {}, timeoutMs } = {}) {
  const send = async () => {
    const sent = { ...headers };
    if (CHANGES.has(method) && csrf) sent["X-CSRF-Token"] = csrf;
    try {
      return await request(path, { method, body, headers: sent, credentials: "same-origin", timeoutMs });
    } catch (error) {
      if (!(error instanceof NetworkError)) throw error;
      return { status: 0, ok: false, data: null, headers: new Headers() };
    }
  };
  let answer = await send();
  const signingIn = path.startsWith("/v1/auth/staff");
  if (answer.status === 401 && !signingIn && signInAgain && (await signInAgain(answer.data))) {
    answer = await send();
  }
  return answer;
}
