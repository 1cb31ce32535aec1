// media.js - a chat's shared pictures and files, for the info panel's
// Media and Files tabs and for stepping through a chat's pictures in the
// lightbox.
//
// The API has no attachment filter: GET /api/chats/{id}/messages pages by
// id only. So the history is read backwards, 100 messages a request, and
// at most SCAN_STEP requests each time more is asked for (a chat of a
// million text messages is not read to its start to find one picture);
// the caller offers "more" while the scan is not done. What this finds is
// merged with the messages the chat view has loaded, which also brings in
// the pictures that arrived after the scan.

import { api } from "./api.js";
import * as S from "./store.js";
import { isImage } from "./util.js";

const PAGE = 100;
export const SCAN_STEP = 10; // requests per step: 1000 messages

// chatId -> {found: Map(message id -> Message with attachments), cursor, done, busy}
const scans = new Map();

function scanOf(chatId) {
  let s = scans.get(chatId);
  if (!s) scans.set(chatId, (s = { found: new Map(), cursor: 0, done: false, busy: null, scanned: 0 }));
  return s;
}

// Reads the next step of history, older than what was read so far.
// Resolves to whether there is more to read.
export function scanMore(chatId, steps = SCAN_STEP) {
  const s = scanOf(chatId);
  if (s.done) return Promise.resolve(false);
  if (s.busy) return s.busy;
  s.busy = (async () => {
    try {
      for (let i = 0; i < steps && !s.done; i++) {
        const q = s.cursor ? `before=${s.cursor}&limit=${PAGE}` : `limit=${PAGE}`;
        const { messages, has_more } = await api("GET", `/chats/${chatId}/messages?${q}`);
        if (scans.get(chatId) !== s) return false; // forgotten meanwhile
        for (const m of messages) if (!m.deleted && m.attachments && m.attachments.length) s.found.set(m.id, m);
        s.scanned += messages.length;
        if (messages.length) s.cursor = messages[0].id;
        s.done = !has_more || !messages.length;
      }
      return !s.done;
    } finally {
      s.busy = null;
    }
  })();
  return s.busy;
}

export function scanState(chatId) {
  const s = scans.get(chatId);
  return s ? { done: s.done, busy: !!s.busy, scanned: s.scanned, started: true } : { done: false, busy: false, scanned: 0, started: false };
}

// Start again from the newest message (the panel was opened anew).
export function forget(chatId) {
  scans.delete(chatId);
}

export function dropMessage(chatId, messageId) {
  const s = scans.get(chatId);
  if (s) s.found.delete(messageId);
}

// [{file, message}] of the chat, oldest first; kind "image" or "file".
export function items(chatId, kind) {
  const byId = new Map();
  const s = scans.get(chatId);
  if (s) for (const m of s.found.values()) byId.set(m.id, m);
  const l = S.state.messages.get(chatId);
  // The chat view's copy is the live one (edits, deletions).
  if (l) for (const m of l.items) if (byId.has(m.id) || (m.attachments && m.attachments.length)) byId.set(m.id, m);
  const out = [];
  for (const m of [...byId.values()].sort((a, b) => a.id - b.id)) {
    if (m.deleted) continue;
    for (const f of m.attachments) if (f.url && (kind === "image") === isImage(f)) out.push({ file: f, message: m });
  }
  return out;
}

// The chat's pictures for the lightbox to step through (ui/overlay.js).
export function gallery(chatId) {
  return {
    list: () => items(chatId, "image").map((x) => x.file),
    older: () => scanMore(chatId),
    done: () => scanState(chatId).done,
  };
}
