// Talking to the service over a phone's network: timeouts and retries with backoff.
// An error answer's data is the service's problem: {detail, code, …facts}; pages pick
// their words from code and facts (api/errors.py lists them), never from detail.

export const TIMEOUT_MS = 15000;
export const BACKOFF_FIRST_MS = 500;
export const BACKOFF_CAP_MS = 8000;
export const ATTEMPTS = 6;

// The request never got an answer (no network, dropped, timed out): safe to send again
// when it carries an Idempotency-Key.
export class NetworkError extends Error {}

// A new Idempotency-Key (a UUID). crypto.randomUUID exists only on https and localhost;
// a union office's plain-http intranet gets the same from getRandomValues.
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// An answer: status, parsed JSON body (or null) and the response headers. The rider
// page sends its token and no cookies ("omit"); the staff console its session cookie
// ("same-origin") and the session's CSRF token in headers. read: "blob" gives a good
// answer's body as a Blob (an image); errors are always read as JSON problems. A
// FormData body (a file upload) is sent as multipart, as the browser encodes it.
export async function request(
  path,
  {
    method = "GET",
    body,
    token,
    headers = {},
    credentials = "omit",
    read = "json",
    timeoutMs = TIMEOUT_MS,
  } = {},
) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const sent = { Accept: "application/json", ...headers };
  if (token) sent.Authorization = `Bearer ${token}`;
  const form = typeof FormData !== "undefined" && body instanceof FormData;
  if (body !== undefined && !form) sent["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: sent,
      body: body === undefined || form ? body : JSON.stringify(body),
      signal: controller.signal,
      cache: "no-store",
      credentials,
    });
  } catch {
    throw new NetworkError("no answer");
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  if (read === "blob" && response.ok) {
    data = await response.blob();
  } else if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      // A proxy's error page: keep the status, nothing to read.
      if (response.ok) throw new NetworkError("unreadable answer");
    }
  }
  return { status: response.status, ok: response.ok, data, headers: response.headers };
}

// Gateway trouble and overload: the request may not have been decided yet.
function transient(status) {
  return status === 408 || status === 429 || status >= 500;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Send until an answer that decides the request arrives, waiting 0.5 s, 1 s, 2 s … (at
// most BACKOFF_CAP_MS, with a little jitter) between attempts. onRetry(seconds, attempt)
// lets the page say what is happening. After `attempts` tries the last NetworkError is
// thrown; the caller keeps the request (and its key) to send again later.
export async function withRetries(send, { onRetry = () => {}, attempts = ATTEMPTS } = {}) {
  let delay = BACKOFF_FIRST_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await send();
      if (!transient(answer.status) || attempt >= attempts) return answer;
    } catch (error) {
      if (!(error instanceof NetworkError) || attempt >= attempts) throw error;
    }
    const wait = delay + Math.random() * delay * 0.2;
    onRetry(Math.ceil(wait / 1000), attempt + 1);
    await sleep(wait);
    delay = Math.min(delay * 2, BACKOFF_CAP_MS);
  }
}
