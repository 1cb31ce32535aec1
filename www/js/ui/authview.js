// authview.js - the screen before the app: sign in, sign up, "Forgot
// password?" and the page a reset link opens (#/reset?token=). Field errors
// from the API (problem+json "errors") appear under their fields.

import { h, icon, clear } from "../dom.js";
import * as auth from "../auth.js";
import * as theme from "../theme.js";
import { api } from "../api.js";
import { formatWait } from "../util.js";
import { t } from "../i18n.js";
import { withReveal } from "./password.js";

function field({ name, label, type = "text", autocomplete, hint, required = true }) {
  const id = "f-" + name;
  const input = h("input.input", {
    id,
    name,
    type,
    autocomplete,
    required,
    spellcheck: "false",
    autocapitalize: "none",
    "aria-describedby": id + "-err" + (hint ? " " + id + "-hint" : ""),
  });
  const err = h("div.field-error", { id: id + "-err", "aria-live": "polite" });
  const wrap = h("div.field", { dataset: { field: name } },
    h("label.field-label", { for: id, text: label }),
    type === "password" ? withReveal(input) : input,
    hint ? h("div.field-hint", { id: id + "-hint", text: hint }) : null,
    err);
  input.addEventListener("input", () => setError(wrap, ""));
  return wrap;
}

const sentence = (s) => (s ? s[0].toUpperCase() + s.slice(1) : "");

function setError(wrap, msg) {
  msg = sentence(msg);
  const err = wrap.querySelector(".field-error");
  err.textContent = msg || "";
  wrap.classList.toggle("invalid", !!msg);
  wrap.querySelector("input").setAttribute("aria-invalid", msg ? "true" : "false");
}

function showErrors(form, e, general) {
  let shown = false;
  for (const [name, msg] of Object.entries(e.errors || {})) {
    const wrap = form.querySelector(`.field[data-field="${CSS.escape(name)}"]`);
    if (wrap) {
      setError(wrap, String(msg));
      if (!shown) wrap.querySelector("input").focus();
      shown = true;
    }
  }
  if (e.code === "username_taken") {
    setError(form.querySelector('[data-field="username"]'), t("auth.usernameTaken"));
    shown = true;
  } else if (e.code === "email_taken") {
    setError(form.querySelector('[data-field="email"]'), t("auth.emailTaken"));
    shown = true;
  }
  if (!shown) {
    let msg = e.message;
    if (e.status === 429) msg = e.retryAfter ? t("auth.tooManyIn", { wait: formatWait(e.retryAfter) }) : t("auth.tooManyLater");
    else if (e.code === "invalid_credentials") msg = t("auth.wrongCredentials");
    else if (e.code === "account_banned") msg = t("session.banned");
    else if (e.code === "invalid_token") msg = t("auth.invalidToken");
    else if (e.code === "network" || e.status === 0) msg = t("error.network");
    general.textContent = msg;
    general.hidden = false;
  }
}

// The reset link's token: the mail links to MSGR_PUBLIC_URL + "/#/reset?token=".
export function resetToken(hash = location.hash) {
  if (!hash.startsWith("#/reset?")) return null;
  return new URLSearchParams(hash.slice("#/reset?".length)).get("token") || "";
}

// Each mode's title, subtitle and button: auth.MODE.title, .sub, .submit.
const MODES = ["login", "register", "forgot", "reset"];
// i18n-keys: auth.login.title auth.login.sub auth.login.submit auth.register.title auth.register.sub auth.register.submit
// i18n-keys: auth.forgot.title auth.forgot.sub auth.forgot.submit auth.reset.title auth.reset.sub auth.reset.submit

// renderAuth(root, mode, notice): `notice` is said above the form (why
// the person is here: "You were signed out on this device").
export function renderAuth(root, mode = "login", notice = "") {
  if (!MODES.includes(mode)) mode = "login";
  clear(root);
  const general = h("div.form-error", { role: "alert", hidden: true });
  const M = { title: t(`auth.${mode}.title`), sub: t(`auth.${mode}.sub`), submit: t(`auth.${mode}.submit`) };
  const go = (m, n = "") => {
    // Leaving the reset page forgets its link: a reload must not open it
    // again. Still signed in here (the link was opened in the app's tab):
    // main.js goes back to the app.
    if (location.hash.startsWith("#/reset")) {
      history.replaceState(null, "", location.pathname);
      if (auth.loggedIn()) {
        window.dispatchEvent(new HashChangeEvent("hashchange"));
        return;
      }
    }
    renderAuth(root, m, n);
  };
  const fields = {
    login: () => [
      field({ name: "login", label: t("auth.usernameOrEmail"), autocomplete: "username" }),
      field({ name: "password", label: t("auth.password"), type: "password", autocomplete: "current-password" }),
      h("p.auth-forgot", null, h("button.link", { type: "button", onclick: () => go("forgot") }, t("auth.forgotLink"))),
    ],
    register: () => [
      field({ name: "username", label: t("auth.username"), autocomplete: "username", hint: t("auth.usernameHint") }),
      field({ name: "display_name", label: t("auth.displayName"), autocomplete: "name", required: false, hint: t("auth.displayNameHint") }),
      field({ name: "email", label: t("auth.email"), type: "email", autocomplete: "email" }),
      field({ name: "password", label: t("auth.password"), type: "password", autocomplete: "new-password", hint: t("auth.passwordHint") }),
    ],
    forgot: () => [field({ name: "email", label: t("auth.email"), type: "email", autocomplete: "email" })],
    reset: () => [
      field({ name: "password", label: t("auth.newPassword"), type: "password", autocomplete: "new-password", hint: t("auth.passwordHint") }),
      field({ name: "password2", label: t("auth.newPasswordAgain"), type: "password", autocomplete: "new-password" }),
    ],
  }[mode]();
  const submit = h("button.btn.primary.wide", { type: "submit" }, M.submit);
  const form = h("form.auth-form", { novalidate: true, "aria-label": M.submit }, fields, general, submit);
  const noticeEl = h("p.auth-notice", { role: "status", text: notice, hidden: !notice });

  // What each form does once its fields are filled in.
  const actions = {
    login: (data) => auth.login(data.login.trim(), data.password),
    register: (data) => {
      const body = { username: data.username.trim().toLowerCase(), email: data.email.trim(), password: data.password };
      if (data.display_name && data.display_name.trim()) body.display_name = data.display_name.trim();
      return auth.register(body);
    },
    // 202 whether or not the address has an account (the server does not
    // tell), so the answer here is the same for both.
    forgot: async (data) => {
      await api("POST", "/auth/password-reset", { email: data.email.trim() }, { auth: false });
      clear(form).append(h("p.auth-notice", { role: "status", text: t("auth.resetSent") }),
        h("button.btn.primary.wide", { type: "button", onclick: () => go("login") }, t("auth.backToSignIn")));
    },
    reset: async (data) => {
      if (data.password !== data.password2) {
        setError(form.querySelector('[data-field="password2"]'), t("auth.passwordsDiffer"));
        return;
      }
      await api("POST", "/auth/password-reset/confirm", { token: resetToken() || "", password: data.password }, { auth: false });
      // Every session of the account has ended on the server, this
      // device's too: forget it here without a log-out request.
      auth.forget();
      go("login", t("auth.passwordChanged"));
    },
  };

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    general.hidden = true;
    const data = Object.fromEntries(new FormData(form).entries());
    let bad = false;
    for (const wrap of form.querySelectorAll(".field")) {
      const input = wrap.querySelector("input");
      if (input.required && !input.value.trim()) {
        setError(wrap, t("auth.required"));
        if (!bad) input.focus();
        bad = true;
      }
    }
    if (bad) return;
    submit.disabled = true;
    submit.classList.add("busy");
    try {
      await actions[mode](data);
      // A login: auth.js announces it; main.js takes over.
    } catch (e) {
      // a malformed token is a 422 on "token", a field this form has not
      if (e.status === 422 && e.errors.token) e.code = "invalid_token";
      showErrors(form, e, general);
    } finally {
      submit.disabled = false;
      submit.classList.remove("busy");
    }
  });

  const switcher = h("p.auth-switch", null,
    mode === "login" ? t("auth.newHere") + " " : mode === "register" ? t("auth.haveAccount") + " " : "",
    h("button.link", { type: "button", onclick: () => go(mode === "login" ? "register" : "login") },
      mode === "login" ? t("auth.createAccount") : mode === "register" ? t("auth.login.submit") : t("auth.backToSignIn")));

  const themeBtn = h("button.icon-btn.auth-theme", {
    type: "button",
    "aria-label": t("auth.toggleTheme"),
    title: t("auth.toggleTheme"),
    onclick: () => {
      theme.toggle();
      themeBtn.replaceChildren(icon(theme.current() === "dark" ? "sun" : "moon"));
    },
  }, icon(theme.current() === "dark" ? "sun" : "moon"));

  root.append(h("main.auth-screen", { dataset: { mode } },
    themeBtn,
    h("div.auth-card", null,
      h("div.auth-logo", { "aria-hidden": "true" }, icon("chat")),
      h("h1.auth-title", { text: M.title }),
      h("p.auth-sub", { text: M.sub }),
      noticeEl,
      form,
      switcher)));
  requestAnimationFrame(() => form.querySelector("input").focus());
}
