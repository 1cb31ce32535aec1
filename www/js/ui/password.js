// password.js - a password input with a "Show password" toggle: the one
// place every password field of the app (sign-in, sign-up, change, reset)
// gets it from.

import { h } from "../dom.js";
import { t } from "../i18n.js";

// withReveal(input) -> an element holding the input and its toggle. The
// toggle is a real button (keyboard, screen readers: aria-pressed) and
// does not take the focus from the input, so a person can peek mid-typing.
export function withReveal(input) {
  const btn = h("button.pw-toggle", {
    type: "button",
    "aria-pressed": "false",
    "aria-label": t("password.showLabel"),
    title: t("password.showLabel"),
    text: t("password.show"),
  });
  btn.addEventListener("mousedown", (e) => e.preventDefault());
  btn.addEventListener("click", () => {
    const show = input.type === "password";
    input.type = show ? "text" : "password";
    btn.textContent = show ? t("password.hide") : t("password.show");
    btn.setAttribute("aria-pressed", show ? "true" : "false");
    const label = show ? t("password.hideLabel") : t("password.showLabel");
    btn.setAttribute("aria-label", label);
    btn.title = label;
  });
  return h("div.pw-wrap", null, input, btn);
}
