// One-tap rating after a visit: the service says whether the member may rate now (and
// why not); one tap on the stars sends, a changed tag sends again.

import { $, h } from "../common/dom.js";
import { label, t } from "../common/i18n.js";
import { NetworkError, request, withRetries } from "../common/net.js";
import { when } from "./format.js";
import { refusalText } from "./refusals.js";
import { showSignIn, signedOut } from "./signin.js";
import { config, state } from "./state.js";

const RATE_TAGS = [
  "clean",
  "water_available",
  "friendly",
  "crowded",
  "no_water",
  "closed_when_listed_open",
];

export async function loadRating(stationId) {
  state.rating = {
    stationId,
    stars: null,
    tags: new Set(),
    eligibility: null,
    message: null,
    loading: true,
  };
  renderRating();
  if (!state.session) {
    state.rating.loading = false;
    renderRating();
    return;
  }
  try {
    const answer = await request(`/v1/stations/${stationId}/ratings/eligibility`, {
      token: state.session.token,
    });
    if (!state.rating || state.rating.stationId !== stationId) return;
    state.rating.loading = false;
    if (answer.status === 401) {
      signedOut();
      renderRating();
      return;
    }
    if (!answer.ok) {
      state.rating.message = refusalText(answer.data);
    } else {
      state.rating.eligibility = answer.data;
      if (answer.data.today) {
        state.rating.stars = answer.data.today.stars;
        state.rating.tags = new Set(answer.data.today.tags);
        state.rating.sent = true;
      }
    }
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    state.rating.loading = false;
    state.rating.message = t("network_error");
  }
  renderRating();
}

export function renderRating() {
  const box = $("rating");
  const r = state.rating;
  if (!box || !r || !state.station || r.stationId !== state.station.id) return;
  const heading = h("h3", {}, t("rate_title"));
  if (!state.session) {
    box.replaceChildren(
      heading,
      h("p", { class: "why" }, t("rate_sign_in")),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: () => showSignIn(() => loadRating(r.stationId)),
        },
        t("sign_in"),
      ),
    );
    return;
  }
  if (r.loading) {
    box.replaceChildren(heading, h("p", { class: "why" }, t("rate_loading")));
    return;
  }
  const e = r.eligibility;
  if (!e || !e.can_rate) {
    // The eligibility answer names its refusal in `reason`, an error answer in `code`.
    const why = e
      ? refusalText({ code: e.reason, detail: e.detail })
      : r.message || t("rate_loading");
    box.replaceChildren(heading, h("p", { class: "why", id: "rating-why" }, why));
    return;
  }
  const stars = h(
    "div",
    { class: "stars", role: "group", "aria-label": t("rate_title") },
    [1, 2, 3, 4, 5].map((n) =>
      h(
        "button",
        {
          type: "button",
          class: `star${r.stars && n <= r.stars ? " on" : ""}`,
          "aria-label": t("rate_stars", { n }),
          "aria-pressed": String(r.stars === n),
          "data-stars": n,
          onclick: () => rate(n),
        },
        r.stars && n <= r.stars ? "★" : "☆",
      ),
    ),
  );
  const tags = h(
    "div",
    { class: "chips", role: "group", "aria-label": t("rate_tags") },
    RATE_TAGS.map((tag) =>
      h(
        "button",
        {
          type: "button",
          class: "chip small",
          "aria-pressed": String(r.tags.has(tag)),
          "data-tag": tag,
          onclick: () => toggleTag(tag),
        },
        label(config.vocab.tags[tag], tag),
      ),
    ),
  );
  box.replaceChildren(
    heading,
    h("p", { class: "why" }, t("rate_until", { time: when(e.visit.rate_until) })),
    stars,
    tags,
    h("p", { class: "rated", id: "rated", role: "status" }, r.message || ""),
  );
}

let tagTimer = null;

function toggleTag(tag) {
  const r = state.rating;
  if (r.tags.has(tag)) r.tags.delete(tag);
  else r.tags.add(tag);
  renderRating();
  // After the stars were sent, a changed tag re-sends (a new rating the same day replaces).
  if (r.sent && r.stars) {
    clearTimeout(tagTimer);
    tagTimer = setTimeout(() => rate(r.stars), 600);
  }
}

async function rate(stars) {
  const r = state.rating;
  r.stars = stars;
  r.message = null;
  renderRating();
  let answer;
  try {
    answer = await withRetries(() =>
      request(`/v1/stations/${r.stationId}/ratings`, {
        method: "POST",
        token: state.session && state.session.token,
        body: { stars, tags: [...r.tags] },
      }),
    );
  } catch (error) {
    if (!(error instanceof NetworkError)) throw error;
    r.message = t("network_error");
    renderRating();
    return;
  }
  if (answer.status === 401) {
    signedOut();
    showSignIn(() => loadRating(r.stationId));
    return;
  }
  if (answer.ok) {
    r.sent = true;
    const summary = answer.data.summary;
    r.message = `${t("rated", { n: stars })} ${t("rating_summary", {
      count: summary.ratings,
      mean: summary.mean_stars === null ? "–" : Number(summary.mean_stars).toFixed(1),
    })}`;
  } else {
    r.message = refusalText(answer.data);
    if (answer.status === 403 && answer.data) {
      const { code, detail } = answer.data;
      r.eligibility = { ...r.eligibility, can_rate: false, reason: code, detail };
    }
  }
  renderRating();
}
