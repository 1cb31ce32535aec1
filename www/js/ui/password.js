// password.js - a password input with a "Show password" toggle: the one
// place every password field of the app (sign-in, sign-up, change, reset)
// gets it from.

import { h } from "../dom.js";

// withReveal(input) -> an element holding the input and its toggle. The
// toggle is a real button (keyboard, screen readers: aria-pressed) and
// does not take the focus from the input, so a person can peek mid-typing.
export function withReveal(input) {
  const btn = h("button.pw-toggle", {
    type: "button",
    "aria-pressed": "false",
    "aria-label": "Show password",
    title: "Show password",
    text: "Show",
  });
  btn.addEventListener("mousedown", (e) => e.preventDefault());
  btn.addEventListener("click", () => {
    const show = input.type === "password";
    input.type = show ? "text" : "password";
    btn.textContent = show ? "Hide" : "Show";
    btn.setAttribute("aria-pressed", show ? "true" : "false");
    const label = show ? "Hide password" : "Show password";
    btn.setAttribute("aria-label", label);
    btn.title = label;
  });
  return h("div.pw-wrap", null, input, btn);
}
