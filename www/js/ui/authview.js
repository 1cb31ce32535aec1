// authview.js - the screen before the app: sign in, sign up, "Forgot
// password?" and the page a reset link opens (#/reset?token=). Field errors
// from the API (problem+json "errors") appear under their fields.

import { h, icon, clear } from "../dom.js";
import * as auth from "../auth.js";
import * as theme from "../theme.js";
import { api } from "../api.js";
import { formatWait } from "../util.js";
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
    setError(form.querySelector('[data-field="username"]'), "This username is taken");
    shown = true;
  } else if (e.code === "email_taken") {
    setError(form.querySelector('[data-field="email"]'), "An account with this email exists");
    shown = true;
  }
  if (!shown) {
    let msg = e.message;
    if (e.status === 429) msg = "Too many attempts. Try again" + (e.retryAfter ? ` in ${formatWait(e.retryAfter)}.` : " later.");
    else if (e.code === "invalid_credentials") msg = "Wrong username, email or password.";
    else if (e.code === "account_banned") msg = "This account has been banned by an administrator.";
    else if (e.code === "invalid_token") msg = "This link has expired or was used. Ask for a new one.";
    general.textContent = msg;
    general.hidden = false;
  }
}

// The reset link's token: the mail links to MSGR_PUBLIC_URL + "/#/reset?token=".
export function resetToken(hash = location.hash) {
  if (!hash.startsWith("#/reset?")) return null;
  return new URLSearchParams(hash.slice("#/reset?".length)).get("token") || "";
}

const MODES = {
  login: { title: "Welcome back", sub: "Sign in to continue to Messenger", submit: "Sign in" },
  register: { title: "Create your account", sub: "It takes less than a minute", submit: "Create account" },
  forgot: { title: "Forgot your password?", sub: "We will e-mail you a link to choose a new one", submit: "Send the link" },
  reset: { title: "Choose a new password", sub: "Every device signed in to your account will be signed out", submit: "Set the password" },
};

// renderAuth(root, mode, notice): `notice` is said above the form (why
// the person is here: "You were signed out on this device").
export function renderAuth(root, mode = "login", notice = "") {
  if (!(mode in MODES)) mode = "login";
  clear(root);
  const general = h("div.form-error", { role: "alert", hidden: true });
  const M = MODES[mode];
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
      field({ name: "login", label: "Username or email", autocomplete: "username" }),
      field({ name: "password", label: "Password", type: "password", autocomplete: "current-password" }),
      h("p.auth-forgot", null, h("button.link", { type: "button", onclick: () => go("forgot") }, "Forgot password?")),
    ],
    register: () => [
      field({ name: "username", label: "Username", autocomplete: "username", hint: "3–32 characters: a–z, 0–9, _ and ." }),
      field({ name: "display_name", label: "Display name", autocomplete: "name", required: false, hint: "Optional: how others see you" }),
      field({ name: "email", label: "Email", type: "email", autocomplete: "email" }),
      field({ name: "password", label: "Password", type: "password", autocomplete: "new-password", hint: "At least 8 characters" }),
    ],
    forgot: () => [field({ name: "email", label: "Email", type: "email", autocomplete: "email" })],
    reset: () => [
      field({ name: "password", label: "New password", type: "password", autocomplete: "new-password", hint: "At least 8 characters" }),
      field({ name: "password2", label: "New password again", type: "password", autocomplete: "new-password" }),
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
      clear(form).append(h("p.auth-notice", { role: "status", text: "If an account has this address, a link is on its way. It works for an hour." }),
        h("button.btn.primary.wide", { type: "button", onclick: () => go("login") }, "Back to sign in"));
    },
    reset: async (data) => {
      if (data.password !== data.password2) {
        setError(form.querySelector('[data-field="password2"]'), "The two passwords differ");
        return;
      }
      await api("POST", "/auth/password-reset/confirm", { token: resetToken() || "", password: data.password }, { auth: false });
      // Every session of the account has ended on the server, this
      // device's too: forget it here without a log-out request.
      auth.forget();
      go("login", "Your password was changed and every device was signed out. Sign in with the new password.");
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
        setError(wrap, "Required");
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
    mode === "login" ? "New here? " : mode === "register" ? "Already have an account? " : "",
    h("button.link", { type: "button", onclick: () => go(mode === "login" ? "register" : "login") },
      mode === "login" ? "Create an account" : mode === "register" ? "Sign in" : "Back to sign in"));

  const themeBtn = h("button.icon-btn.auth-theme", {
    type: "button",
    "aria-label": "Toggle dark theme",
    title: "Toggle dark theme",
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
