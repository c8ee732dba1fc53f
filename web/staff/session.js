// Signing in and out, setting a first password with a one-time link, changing one's
// password, and signing in again when a session ends in the middle of work (a dialog
// over the page, after which the interrupted request goes out again).

import { $, h } from "../common/dom.js";
import { t } from "../common/i18n.js";
import { api, onSessionEnded } from "./api.js";
import { go, route } from "./router.js";
import { busy, config, field, message, problemText, signedIn, state } from "./shell.js";

const PASSWORD = { type: "password", required: true, maxlength: 256 };

function signInForm(onDone, { name = "", idPrefix = "signin" } = {}) {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, t("sign_in"));
  const nameId = `${idPrefix}-name`;
  const passwordId = `${idPrefix}-password`;
  const form = h(
    "form",
    { class: "form", novalidate: true },
    ...field(nameId, "account_name", {
      autocomplete: "username",
      required: true,
      maxlength: 100,
      value: name || null,
    }),
    ...field(passwordId, "password", {
      ...PASSWORD,
      autocomplete: "current-password",
      autofocus: Boolean(name), // the name is known: type the password
    }),
    error,
    submit,
  );
  const say = (text) => {
    error.textContent = text;
    error.hidden = false;
  };
  form.addEventListener(
    "submit",
    busy(submit, async () => {
      const body = {
        name: form.elements[nameId].value.trim(),
        password: form.elements[passwordId].value,
      };
      if (!body.name || !body.password) return say(t("sign_in_missing"));
      const answer = await api("/v1/auth/staff", { method: "POST", body });
      if (answer.ok) {
        signedIn(answer.data);
        return onDone(answer.data);
      }
      say(problemText(answer));
      form.elements[passwordId].value = "";
      form.elements[passwordId].focus();
    }),
  );
  return form;
}

route(
  "/sign-in",
  ({ root, query }) => {
    const next = query.get("next") || "/";
    root.append(
      h("h2", {}, t("sign_in_title")),
      h("p", { class: "note" }, t("sign_in_why")),
      signInForm(() => go(next.startsWith("/") ? next : "/")),
      h("p", { class: "note" }, t("no_password_yet")),
    );
  },
  { public: true },
);

function newPasswordFields(prefix) {
  return [
    ...field(
      `${prefix}-new`,
      "new_password",
      { ...PASSWORD, autocomplete: "new-password", minlength: config.password.min_length },
      "password_rule",
    ),
    ...field(`${prefix}-again`, "new_password_again", { ...PASSWORD, autocomplete: "new-password" }),
  ];
}

function readNewPassword(form, prefix) {
  const password = form.elements[`${prefix}-new`].value;
  if (password !== form.elements[`${prefix}-again`].value) return [null, t("passwords_differ")];
  if (password.length < config.password.min_length) {
    return [null, t("p_invalid_password", config.password)];
  }
  return [password, null];
}

route(
  "/set-password",
  ({ root, query }) => {
    const token = query.get("token") || "";
    const out = h("div", { "aria-live": "polite" });
    const submit = h("button", { type: "submit", class: "primary" }, t("set_password"));
    const form = h("form", { class: "form", novalidate: true }, ...newPasswordFields("link"), submit);
    form.addEventListener(
      "submit",
      busy(submit, async () => {
        const [password, problem] = readNewPassword(form, "link");
        if (!password) return out.replaceChildren(message("error", problem));
        const answer = await api("/v1/auth/staff/password", {
          method: "POST",
          body: { token, password },
        });
        if (!answer.ok) return out.replaceChildren(message("error", problemText(answer)));
        form.remove();
        out.replaceChildren(
          message("done", t("password_set", { name: answer.data.name })),
          signInForm(() => go("/"), { name: answer.data.name }),
        );
      }),
    );
    root.append(
      h("h2", {}, t("set_password_title")),
      h("p", { class: "note" }, t(token ? "set_password_why" : "link_missing")),
      ...(token ? [form] : []),
      out,
    );
  },
  { public: true },
);

route("/password", ({ root }) => {
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "primary" }, t("change_password"));
  const form = h(
    "form",
    { class: "form", novalidate: true },
    ...field("current-password", "current_password", {
      ...PASSWORD,
      autocomplete: "current-password",
    }),
    ...newPasswordFields("change"),
    submit,
  );
  form.addEventListener(
    "submit",
    busy(submit, async () => {
      const [password, problem] = readNewPassword(form, "change");
      if (!password) return out.replaceChildren(message("error", problem));
      const answer = await api("/v1/auth/staff/password", {
        method: "PUT",
        body: { current_password: form.elements["current-password"].value, new_password: password },
      });
      if (!answer.ok) return out.replaceChildren(message("error", problemText(answer)));
      signedIn(answer.data);
      form.reset();
      out.replaceChildren(message("done", t("password_changed")));
    }),
  );
  root.append(h("h2", {}, t("change_password_title")), h("p", { class: "note" }, t("change_password_why")), form, out);
});

export async function signOut() {
  await api("/v1/auth/staff/logout", { method: "POST" });
  signedIn(null);
  go("/sign-in");
}

// One dialog for every request that found the session ended; they all wait for it.
let again = null;
onSessionEnded((problem) => {
  if (!state.session) return Promise.resolve(false);
  if (again) return again;
  const dialog = $("again");
  again = new Promise((resolve) => {
    const finish = (ok) => {
      dialog.close();
      again = null;
      resolve(ok);
    };
    const why = problem && problem.code === "session_expired" ? "again_expired" : "again_needed";
    dialog.replaceChildren(
      h("h2", { id: "again-heading" }, t("again_title")),
      h("p", {}, t(why)),
      signInForm(() => finish(true), { name: state.session.name, idPrefix: "again" }),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: () => {
            finish(false);
            signedIn(null);
            go("/sign-in");
          },
        },
        t("cancel"),
      ),
    );
    dialog.addEventListener("cancel", (event) => event.preventDefault(), { once: true });
    dialog.showModal();
  });
  return again;
});
