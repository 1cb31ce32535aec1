// authview.js - the sign-in and sign-up screen. Field errors from the API
// (problem+json "errors") appear under their fields.

import { h, icon, clear } from "../dom.js";
import * as auth from "../auth.js";
import * as theme from "../theme.js";
import { formatWait } from "../util.js";

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
    input,
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
    general.textContent = msg;
    general.hidden = false;
  }
}

export function renderAuth(root, mode = "login") {
  clear(root);
  const general = h("div.form-error", { role: "alert", hidden: true });
  const isLogin = mode === "login";
  const fields = isLogin
    ? [
        field({ name: "login", label: "Username or email", autocomplete: "username" }),
        field({ name: "password", label: "Password", type: "password", autocomplete: "current-password" }),
      ]
    : [
        field({ name: "username", label: "Username", autocomplete: "username", hint: "3–32 characters: a–z, 0–9, _ and ." }),
        field({ name: "display_name", label: "Display name", autocomplete: "name", required: false, hint: "Optional: how others see you" }),
        field({ name: "email", label: "Email", type: "email", autocomplete: "email" }),
        field({ name: "password", label: "Password", type: "password", autocomplete: "new-password", hint: "At least 8 characters" }),
      ];
  const submit = h("button.btn.primary.wide", { type: "submit" }, isLogin ? "Sign in" : "Create account");
  const form = h("form.auth-form", { novalidate: true, "aria-label": isLogin ? "Sign in" : "Create account" }, fields, general, submit);

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
      if (isLogin) await auth.login(data.login.trim(), data.password);
      else {
        const body = { username: data.username.trim().toLowerCase(), email: data.email.trim(), password: data.password };
        if (data.display_name && data.display_name.trim()) body.display_name = data.display_name.trim();
        await auth.register(body);
      }
      // auth.js announces the login; main.js takes over.
    } catch (e) {
      showErrors(form, e, general);
    } finally {
      submit.disabled = false;
      submit.classList.remove("busy");
    }
  });

  const switcher = h("p.auth-switch", null,
    isLogin ? "New here? " : "Already have an account? ",
    h("button.link", { type: "button", onclick: () => renderAuth(root, isLogin ? "register" : "login") },
      isLogin ? "Create an account" : "Sign in"));

  const themeBtn = h("button.icon-btn.auth-theme", {
    type: "button",
    "aria-label": "Toggle dark theme",
    title: "Toggle dark theme",
    onclick: () => {
      theme.toggle();
      themeBtn.replaceChildren(icon(theme.current() === "dark" ? "sun" : "moon"));
    },
  }, icon(theme.current() === "dark" ? "sun" : "moon"));

  root.append(h("main.auth-screen", null,
    themeBtn,
    h("div.auth-card", null,
      h("div.auth-logo", { "aria-hidden": "true" }, icon("chat")),
      h("h1.auth-title", { text: isLogin ? "Welcome back" : "Create your account" }),
      h("p.auth-sub", { text: isLogin ? "Sign in to continue to Messenger" : "It takes less than a minute" }),
      form,
      switcher)));
  requestAnimationFrame(() => form.querySelector("input").focus());
}
