// emojipicker.js - the emoji picker: Unicode's emoji, bundled with the app
// (emoji-data.js, written by scripts/emoji-data.py: no CDN, no image
// sprites; the system's emoji font draws them), a tab per group, search by
// name, the recently used ones first. Opened from the composer (inserts at
// the caret, stays open for more) and from a message's menu (any emoji as
// a reaction).

import { h, icon, iconButton } from "../dom.js";
import { EMOJI_GROUPS } from "../emoji-data.js";
import { popover } from "./overlay.js";
import { t } from "../i18n.js";

const RECENT_KEY = "msgr.emoji.recent";
const RECENT_MAX = 32;
const COLUMNS = 8; // the grid's, as the stylesheet draws it (arrow keys move by it)
const MAX_RESULTS = 160;

// The groups' names in the app's language, by their names in
// emoji-data.js (generated, English). The emoji's own names stay English:
// the search matches them as Unicode wrote them.
const GROUP_KEYS = {
  "Smileys & People": "emoji.groupSmileys",
  "Animals & Nature": "emoji.groupAnimals",
  "Food & Drink": "emoji.groupFood",
  "Travel & Places": "emoji.groupTravel",
  Activities: "emoji.groupActivities",
  Objects: "emoji.groupObjects",
  Symbols: "emoji.groupSymbols",
  Flags: "emoji.groupFlags",
};
// i18n-keys: emoji.groupSmileys emoji.groupAnimals emoji.groupFood emoji.groupTravel
// i18n-keys: emoji.groupActivities emoji.groupObjects emoji.groupSymbols emoji.groupFlags

// [{name, icon, list: [{e, name}]}], read from the packed strings on first use.
let groups = null;
function allGroups() {
  if (!groups) {
    groups = EMOJI_GROUPS.map(([name, tabIcon, packed]) => ({
      name: GROUP_KEYS[name] ? t(GROUP_KEYS[name]) : name,
      icon: tabIcon,
      list: packed.split("\n").map((line) => {
        const sp = line.indexOf(" ");
        return { e: line.slice(0, sp), name: line.slice(sp + 1) };
      }),
    }));
  }
  return groups;
}

// Shared by the composer and reactions, per browser (like the theme).
export function recentEmoji() {
  try {
    const v = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
    return Array.isArray(v) ? v.filter((x) => typeof x === "string" && x.length <= 32) : [];
  } catch {
    return [];
  }
}

function noteRecent(e) {
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify([e, ...recentEmoji().filter((x) => x !== e)].slice(0, RECENT_MAX)));
  } catch {
    /* private mode: no recents, nothing else lost */
  }
}

function nameOf(e) {
  for (const g of allGroups()) {
    const f = g.list.find((x) => x.e === e);
    if (f) return f.name;
  }
  return e;
}

// openEmojiPicker(anchor, (emoji) => ..., {label, keepOpen}) -> the popover entry.
export function openEmojiPicker(anchor, onPick, { label = t("emoji.label"), keepOpen = false } = {}) {
  const recent = recentEmoji();
  const tabs = [
    ...(recent.length ? [{ name: t("emoji.recent"), tab: icon("clock"), list: () => recent.map((e) => ({ e, name: nameOf(e) })) }] : []),
    ...allGroups().map((g) => ({ name: g.name, tab: g.icon, list: () => g.list })),
  ];
  let current = 0;
  let entry;

  const search = h("input.emoji-search", { type: "search", placeholder: t("emoji.search"), "aria-label": t("emoji.search"), autocomplete: "off" });
  const title = h("div.emoji-title", { "aria-live": "polite" });
  const grid = h("div.emoji-grid", { role: "group" });
  const tabBar = h("div.emoji-tabs", { role: "tablist", "aria-label": t("emoji.groups") }, tabs.map((t, i) =>
    h("button.emoji-tab", {
      type: "button",
      role: "tab",
      title: t.name,
      "aria-label": t.name,
      onclick: () => {
        search.value = "";
        show(i);
      },
    }, t.tab)));
  const panel = h("div.emoji-picker", { role: "dialog", "aria-label": label }, search, title, grid, tabBar);

  function pick(e) {
    noteRecent(e);
    if (!keepOpen) entry.close();
    onPick(e);
  }

  function fill(list, heading) {
    title.textContent = heading;
    grid.setAttribute("aria-label", heading);
    grid.replaceChildren(...list.map((x, i) => h("button.emoji-cell", {
      type: "button",
      title: x.name,
      "aria-label": x.name,
      tabindex: i ? "-1" : "0",
      text: x.e,
      onclick: () => pick(x.e),
    })));
    grid.scrollTop = 0;
  }

  function show(i) {
    current = i;
    tabBar.querySelectorAll(".emoji-tab").forEach((b, k) => b.setAttribute("aria-selected", String(k === i)));
    fill(tabs[i].list(), tabs[i].name);
  }

  function find() {
    const q = search.value.trim().toLowerCase();
    if (!q) return show(current);
    tabBar.querySelectorAll(".emoji-tab").forEach((b) => b.setAttribute("aria-selected", "false"));
    const found = [];
    for (const g of allGroups()) {
      for (const x of g.list) {
        if (x.name.includes(q)) found.push(x);
        if (found.length >= MAX_RESULTS) break;
      }
    }
    fill(found, found.length ? t("emoji.results") : t("emoji.none"));
  }

  search.addEventListener("input", find);
  // The arrow keys are the picker's (the popover's own would walk every
  // button in a line): the caret in the search box, a grid of COLUMNS in
  // the grid, left and right along the tabs.
  panel.addEventListener("keydown", (e) => {
    if (!e.key.startsWith("Arrow") && e.key !== "Enter") return;
    e.stopPropagation();
    const t = e.target;
    if (t === search) {
      if (e.key === "Enter") {
        e.preventDefault();
        const first = grid.querySelector(".emoji-cell");
        if (first) pick(first.textContent);
      } else if (e.key === "ArrowDown") {
        e.preventDefault();
        const first = grid.querySelector(".emoji-cell");
        if (first) first.focus();
      }
      return;
    }
    const inGrid = t.classList.contains("emoji-cell");
    const row = inGrid ? [...grid.children] : t.classList.contains("emoji-tab") ? [...tabBar.children] : null;
    if (!row || e.key === "Enter") return;
    const i = row.indexOf(t);
    const step = (inGrid ? { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -COLUMNS, ArrowDown: COLUMNS } : { ArrowLeft: -1, ArrowRight: 1 })[e.key];
    if (!step) return;
    e.preventDefault();
    if (inGrid && e.key === "ArrowUp" && i < COLUMNS) return search.focus();
    const next = row[Math.min(Math.max(0, i + step), row.length - 1)];
    if (inGrid) {
      t.tabIndex = -1;
      next.tabIndex = 0;
    }
    next.focus();
  });

  show(0);
  entry = popover(anchor, [panel]);
  // After the popover focused its first button: the search box, except on
  // a touch screen, where that would raise the keyboard over the grid.
  requestAnimationFrame(() => {
    if (!window.matchMedia("(pointer: coarse)").matches) search.focus();
    else if (grid.firstChild) grid.firstChild.focus({ preventScroll: true });
  });
  return entry;
}

// The composer's emoji button: a picked emoji goes in at the caret (and
// the composer hears an "input", as if typed); once the picker closes, the
// writing goes on in the composer (a touch screen keeps its keyboard down).
export function emojiButton(input) {
  const btn = iconButton("smile", t("emoji.label"), () => {
    let picked = false;
    const entry = openEmojiPicker(btn, (e) => {
      picked = true;
      const start = input.selectionStart ?? input.value.length;
      const end = input.selectionEnd ?? start;
      input.setRangeText(e, start, end, "end");
      input.dispatchEvent(new Event("input", { bubbles: true }));
    }, { label: t("emoji.label"), keepOpen: true });
    const close = entry.close;
    entry.close = () => {
      close();
      if (picked && !window.matchMedia("(pointer: coarse)").matches) input.focus();
    };
  }, "emoji-btn");
  return btn;
}
