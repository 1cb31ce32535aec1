// i18n.js - the app's words in English, Russian and Ukrainian: one JSON
// catalogue per language (www/i18n/LANG.json, fetched at start: no build
// step), t(key, params) to look a text up, plurals by Intl.PluralRules.
//
// A catalogue maps a key to a text with {name} placeholders, or, for a
// text that counts, to its plural forms ("members": {"one": "{n} member",
// "other": "{n} members"}; Russian and Ukrainian need "few" and "many"
// too), chosen by params.n. tests/unit/i18n_test.mjs holds every
// catalogue to the keys www/js uses.

export const LANGUAGES = ["en", "ru", "uk"];
// Each language by its own name, for the switch in the profile.
export const LANGUAGE_NAMES = { en: "English", ru: "Русский", uk: "Українська" };

const STORE = "msgr.lang"; // this browser's last language, for the next start

let lang = "en";
let catalogue = {};
let english = {}; // a key a catalogue lacks reads in English, never as the key
let plurals = new Intl.PluralRules("en");

export function language() {
  return lang;
}

// The first of the browser's languages the app speaks ("ru-RU" is ru),
// else English.
export function browserLanguage(list = navigator.languages || [navigator.language]) {
  for (const tag of list || []) {
    const base = String(tag || "").toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

async function fetchCatalogue(l) {
  const res = await fetch(`i18n/${l}.json`, { cache: "no-cache" });
  if (!res.ok) throw new Error(`catalogue ${l}: ${res.status}`);
  return res.json();
}

// Loads the catalogue of l (one of LANGUAGES) and makes it the app's. A
// catalogue that cannot be fetched leaves the language as it was.
export async function setLanguage(l) {
  if (!LANGUAGES.includes(l)) l = "en";
  if (l === lang && Object.keys(catalogue).length) return;
  try {
    if (!Object.keys(english).length) english = await fetchCatalogue("en");
    catalogue = l === "en" ? english : await fetchCatalogue(l);
    lang = l;
  } catch (e) {
    console.warn("i18n:", e.message);
    if (!Object.keys(catalogue).length) catalogue = english;
  }
  plurals = new Intl.PluralRules(lang);
  document.documentElement.lang = lang;
  try {
    localStorage.setItem(STORE, lang);
  } catch {
    /* private mode: the next start asks the browser again */
  }
}

// The language to start in before the account's setting is known: the
// one this browser used last, else the browser's own.
export function startLanguage() {
  let saved = null;
  try {
    saved = localStorage.getItem(STORE);
  } catch {
    saved = null;
  }
  return LANGUAGES.includes(saved) ? saved : browserLanguage();
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (all, name) => (params[name] !== undefined ? String(params[name]) : all));
}

// t("profile.language") -> "Language"; t("members", {n: 3}) -> "3 members".
export function t(key, params = {}) {
  let v = catalogue[key];
  if (v === undefined) v = english[key];
  if (v === undefined) return key;
  if (typeof v === "object") {
    const n = Number(params.n) || 0;
    v = v[plurals.select(n)] ?? v.other;
  }
  return fill(v, params);
}

// Whether the catalogue has a text for key (errorToast: a problem's code).
export function has(key) {
  return catalogue[key] !== undefined || english[key] !== undefined;
}
