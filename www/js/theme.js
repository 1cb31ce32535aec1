// theme.js - light/dark: follows prefers-color-scheme until the user picks
// one; the pick is saved.

const KEY = "msgr.theme";
const media = window.matchMedia("(prefers-color-scheme: dark)");
const listeners = new Set();

export function current() {
  const t = document.documentElement.getAttribute("data-theme");
  if (t === "light" || t === "dark") return t;
  return media.matches ? "dark" : "light";
}

export function choice() {
  const t = localStorage.getItem(KEY);
  return t === "light" || t === "dark" ? t : "system";
}

export function set(choiceValue) {
  if (choiceValue === "light" || choiceValue === "dark") {
    localStorage.setItem(KEY, choiceValue);
    document.documentElement.setAttribute("data-theme", choiceValue);
  } else {
    localStorage.removeItem(KEY);
    document.documentElement.removeAttribute("data-theme");
  }
  listeners.forEach((fn) => fn(current()));
}

export function toggle() {
  set(current() === "dark" ? "light" : "dark");
}

export function onThemeChange(fn) {
  listeners.add(fn);
}

media.addEventListener("change", () => {
  if (choice() === "system") listeners.forEach((fn) => fn(current()));
});
window.addEventListener("storage", (e) => {
  if (e.key !== KEY) return;
  const t = e.newValue;
  if (t === "light" || t === "dark") document.documentElement.setAttribute("data-theme", t);
  else document.documentElement.removeAttribute("data-theme");
  listeners.forEach((fn) => fn(current()));
});
