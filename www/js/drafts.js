// drafts.js - what was typed in a chat and not sent, kept per user in
// localStorage ("msgr.drafts.<user id>": {chat id: text}), so a reload or
// another tab finds it; the chat list shows it as "Draft: …".

import * as S from "./store.js";

let cacheKey = null;
let cache = {};

function all() {
  const key = S.state.me ? "msgr.drafts." + S.state.me.id : null;
  if (key !== cacheKey) {
    cacheKey = key;
    try {
      cache = (key && JSON.parse(localStorage.getItem(key))) || {};
    } catch {
      cache = {};
    }
  }
  return cache;
}

export const draft = (chatId) => all()[chatId] || "";

export function setDraft(chatId, text) {
  const d = all();
  const t = text.trim() ? text : "";
  if (!cacheKey || (d[chatId] || "") === t) return;
  if (t) d[chatId] = t;
  else delete d[chatId];
  try {
    localStorage.setItem(cacheKey, JSON.stringify(d));
  } catch {
    // storage full or denied: the draft lives in this page only
  }
  S.emit("chats");
}

// Logging out takes what was typed along (a shared computer); a session
// that merely expired keeps it for the same person signing in again.
export function clearDrafts() {
  for (let i = localStorage.length - 1; i >= 0; i--) {
    const k = localStorage.key(i);
    if (k && k.startsWith("msgr.drafts.")) localStorage.removeItem(k);
  }
  cacheKey = null;
}

// Another tab typed: read again.
window.addEventListener("storage", (e) => {
  if (e.key && e.key === cacheKey) {
    cacheKey = null;
    S.emit("chats");
  }
});
