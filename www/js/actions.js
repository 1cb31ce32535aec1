// actions.js - what the user does: send (optimistic, idempotent by
// client_id), edit, delete, react, chats and groups, profile.

import { api, upload } from "./api.js";
import * as S from "./store.js";
import { fetchChat, onRetryFailed } from "./sync.js";
import { uuid, quoteOf } from "./util.js";
import * as media from "./media.js";
import { setUserFetcher } from "./service.js";

export const go = (chatId) => {
  location.hash = chatId ? "#/c/" + chatId : "#/";
};

// Opens a chat at one of its messages (a reply's quote, a search result, a
// pin): the chat view loads the history around it when it is not loaded.
export function showMessage(chatId, messageId) {
  S.state.showing = { chatId, messageId };
  if (S.state.activeChatId === chatId) S.emit("show");
  else go(chatId);
}

// ---- messages -------------------------------------------------------------------------

// A reply (`replyTo`, a loaded message) goes with reply_to_id, and its
// bubble shows the quote at once, as the server will (API.md Quote).
export function send(chatId, text, files = [], replyTo = null) {
  const p = {
    client_id: uuid(),
    chat_id: chatId,
    sender_id: S.state.me.id,
    kind: "text",
    text,
    attachments: files,
    reactions: [],
    created_at: new Date().toISOString(),
    edited_at: null,
    deleted: false,
    pending: true,
    state: "sending",
    reply_to: replyTo ? quoteOf(replyTo) : null,
    forwarded_from: null,
  };
  S.addPending(p);
  // Offline, or behind messages that wait for the network: wait in line
  // (order is kept), shown with a clock.
  if (!navigator.onLine || S.pendingOf(chatId).some((x) => x.state === "queued")) {
    p.state = "queued";
    return Promise.resolve();
  }
  return attempt(p);
}

// No network: a send that could not go out waits for it (the browser's
// `online` event, or the socket's next "ready"), rather than failing. The
// socket may look open for a while after the network went away, so the
// browser's own flag decides.
const offline = (e) => e.status === 0 && !navigator.onLine;

async function attempt(p) {
  p.state = "sending";
  p.error = "";
  S.emit("messages", p.chat_id);
  const body = { client_id: p.client_id };
  if (p.text) body.text = p.text;
  if (p.attachments.length) body.attachment_ids = p.attachments.map((f) => f.id);
  // On the pending message itself, so that a queued or retried send keeps it.
  if (p.reply_to) body.reply_to_id = p.reply_to.id;
  try {
    const m = await api("POST", `/chats/${p.chat_id}/messages`, body);
    const l = S.state.messages.get(p.chat_id);
    if (l && l.atLatest) S.putMessages(p.chat_id, [m]);
    else S.dropPending(p.chat_id, p.client_id, m.sender_id);
    S.noteLastMessage(m);
  } catch (e) {
    if (!S.pendingOf(p.chat_id).includes(p)) return; // confirmed meanwhile over /ws
    if (retryLater(p, e)) return;
    if (offline(e)) {
      p.state = "queued";
      S.emit("messages", p.chat_id);
      S.emit("chats");
      return;
    }
    if (e.code === "blocked") refusedBy(p.chat_id);
    p.state = "failed";
    p.error = e.message;
    p.retryable = e.isNetwork;
    S.emit("messages", p.chat_id);
    S.emit("chats");
  }
}

// A 502 or 503 is a program restarting or not there for a moment (nginx's
// own answer), or unsure whether it stored the message: the same client_id
// goes again by itself (stored once either way), a few times, after the
// Retry-After the server gave (a second without one), before the user is
// asked.
const AUTO_RETRIES = 3;

function retryLater(p, e) {
  if ((e.status !== 502 && e.status !== 503) || (p.autoRetries || 0) >= AUTO_RETRIES) return false;
  p.autoRetries = (p.autoRetries || 0) + 1;
  setTimeout(() => {
    if (S.pendingOf(p.chat_id).includes(p)) attempt(p);
  }, Math.max(1, e.retryAfter || 1) * 1000);
  return true;
}

export const retry = (p) => {
  p.autoRetries = 0;
  return attempt(p);
};

export function discard(p) {
  S.state.pending.set(p.chat_id, S.pendingOf(p.chat_id).filter((x) => x !== p));
  S.emit("messages", p.chat_id);
  S.emit("chats");
}

// The queued messages go out one after another, in the order they were
// written; the first that finds no network again stops the line.
let flushing = false;
async function sendQueued() {
  if (flushing || !navigator.onLine) return;
  flushing = true;
  try {
    for (const list of [...S.state.pending.values()]) {
      for (const p of [...list]) {
        if (p.state !== "queued" || !S.pendingOf(p.chat_id).includes(p)) continue;
        await attempt(p);
        if (p.state === "queued") return;
      }
    }
  } finally {
    flushing = false;
  }
}
window.addEventListener("online", sendQueued);

// After a reconnect, what waited or failed for want of a network goes
// again (the same client_id, so the server never stores it twice).
onRetryFailed(() => {
  for (const list of S.state.pending.values()) {
    for (const p of list) if (p.state === "failed" && p.retryable) attempt(p);
  }
  sendQueued();
});

// Copies of a message in 1-10 chats; they join the open lists at once
// (their message.created events merge by id).
export async function forward(m, chatIds) {
  const { messages } = await api("POST", `/messages/${m.id}/forward`, { chat_ids: chatIds });
  for (const c of messages) {
    const l = S.state.messages.get(c.chat_id);
    if (l && l.atLatest) S.putMessages(c.chat_id, [c]);
    S.noteLastMessage(c);
  }
  return messages;
}

// To the administrators' queue (202; a repeat by the same person changes
// nothing on the server).
export async function report(m, reason) {
  await api("POST", `/messages/${m.id}/report`, { reason });
}

export async function edit(m, text) {
  const updated = await api("PATCH", "/messages/" + m.id, { text });
  S.putMessages(m.chat_id, [updated]);
  const c = S.chat(m.chat_id);
  if (c && c.last_message && c.last_message.id === m.id) {
    c.last_message = updated;
    S.emit("chats");
  }
}

export async function remove(m) {
  await api("DELETE", "/messages/" + m.id);
  S.updateMessage(m.chat_id, m.id, (x) => Object.assign(x, { deleted: true, text: "", attachments: [], reactions: [] }));
  S.notePin({ id: m.id, chat_id: m.chat_id, deleted: true });
}

export async function toggleReaction(m, emoji) {
  let mine = S.state.myReactions.get(m.id);
  if (!mine) S.state.myReactions.set(m.id, (mine = new Set()));
  const had = mine.has(emoji);
  const apply = (adding) =>
    S.updateMessage(m.chat_id, m.id, (x) => {
      const list = (x.reactions || []).map((r) => ({ ...r }));
      const r = list.find((y) => y.emoji === emoji);
      if (adding) {
        if (r) {
          if (!r.me) r.count++;
          r.me = true;
        } else list.push({ emoji, count: 1, me: true });
      } else if (r) {
        if (r.me) r.count--;
        r.me = false;
      }
      x.reactions = list.filter((y) => y.count > 0);
    });
  if (had) mine.delete(emoji);
  else mine.add(emoji);
  apply(!had);
  try {
    await api(had ? "DELETE" : "PUT", `/messages/${m.id}/reactions/${encodeURIComponent(emoji)}`);
  } catch (e) {
    if (had) mine.add(emoji);
    else mine.delete(emoji);
    apply(had);
    throw e;
  }
}

// Who reacted: [{emoji, count, me, user_ids}] (the first 100 of each).
export const reactors = (messageId) => api("GET", `/messages/${messageId}/reactions`).then((r) => r.reactions || []);

export async function pin(m, on) {
  await api(on ? "PUT" : "DELETE", `/chats/${m.chat_id}/pins/${m.id}`);
  S.notePin({ ...m, pinned: on });
}

// ---- chats ----------------------------------------------------------------------------

export async function openDirect(userId) {
  const c = await api("POST", "/chats", { type: "direct", user_id: userId });
  S.putChat(c);
  go(c.id);
  return c;
}

export async function createGroup(title, memberIds) {
  const c = await api("POST", "/chats", { type: "group", title, member_ids: memberIds });
  S.putChat({ ...c, unread_count: 0 });
  go(c.id);
  return c;
}

export async function rename(chatId, title) {
  S.putChat(await api("PATCH", "/chats/" + chatId, { title }));
}

export async function addMember(chatId, userId) {
  S.putChat(await api("POST", `/chats/${chatId}/members`, { user_id: userId }));
}

export async function removeMember(chatId, userId) {
  await api("DELETE", `/chats/${chatId}/members/${userId}`);
  if (userId === S.state.me.id) {
    S.removeChat(chatId);
    if (S.state.activeChatId === chatId) go(null);
  } else {
    await fetchChat(chatId).catch(() => {});
  }
}

// Deletes a group for everyone (its owner), or clears a direct chat for
// this user only and takes it off the list.
export async function deleteChat(chatId) {
  const c = S.chat(chatId);
  await api("DELETE", "/chats/" + chatId);
  media.forget(chatId);
  S.removeChat(chatId);
  // A cleared direct chat is not left: the other's next message brings it
  // back (with only what came after), so its events must not be ignored.
  if (c && c.type === "direct") S.state.left.delete(chatId);
  if (S.state.activeChatId === chatId) go(null);
}

export async function setOwner(chatId, userId) {
  S.putChat(await api("PUT", `/chats/${chatId}/owner`, { user_id: userId }));
}

export async function loadBlocks() {
  const { users } = await api("GET", "/users/me/blocks");
  S.state.blocked = new Set(users.map((u) => (S.putUser(u), u.id)));
  S.emit("blocked");
}

export async function setBlocked(userId, on) {
  await api(on ? "PUT" : "DELETE", `/users/${userId}/block`);
  if (on) S.state.blocked.add(userId);
  else S.state.blocked.delete(userId);
  S.emit("blocked");
}

// The server refused a message because the other member of this direct
// chat blocked us: the composer says so instead of failing again.
function refusedBy(chatId) {
  const p = S.peer(S.chat(chatId));
  if (!p) return;
  S.state.blockedBy.add(p.id);
  S.emit("blocked");
}

export const SEARCH_PAGE = 20;
export const searchMessages = (q, before) =>
  api("GET", `/search/messages?q=${encodeURIComponent(q)}&limit=${SEARCH_PAGE}${before ? "&before=" + before : ""}`)
    .then((r) => r.messages || []);

export const searchUsers = (q, limit = 20) =>
  api("GET", `/users?q=${encodeURIComponent(q)}&limit=${limit}`).then((r) => r.users || []);

// The caller's own settings for a chat: {muted_until?, notify?}.
export async function chatSettings(chatId, fields) {
  const c = await api("PATCH", `/chats/${chatId}/settings`, fields);
  S.putChat({ id: chatId, muted_until: c.muted_until, notify: c.notify });
  S.emit("chats");
  S.emit("chat", chatId);
}

// ---- profile ----------------------------------------------------------------------------

// A user a service message names and the app has not met: once fetched,
// the open chat and the list say the message with the name.
setUserFetcher(async (id) => {
  try {
    S.putUser(await api("GET", `/users/${id}`));
  } catch {
    return; // gone for good (404): the message keeps its stored text
  }
  S.emit("profile", id);
  S.emit("chats");
});

function putMe(u) {
  S.putUser(u);
  S.state.me = Object.assign(S.state.me || {}, u);
  S.emit("me");
  S.emit("chats");
}

export async function loadMe() {
  const u = await api("GET", "/users/me");
  S.state.me = { ...u };
  S.putUser(u);
  S.emit("me");
  return u;
}

export async function saveProfile(fields) {
  putMe(await api("PATCH", "/users/me", fields));
}

export function uploadAvatar(file, onProgress) {
  const form = new FormData();
  form.append("file", file, file.name || "avatar");
  const job = upload("PUT", "/users/me/avatar", form, onProgress);
  return { abort: job.abort, promise: job.promise.then(putMe) };
}

export async function removeAvatar() {
  putMe(await api("DELETE", "/users/me/avatar"));
}

// What the server accepts (its MSGR_MAX_FILE_SIZE...), for the composer
// to refuse a file before its bytes travel.
export async function loadUploadLimits() {
  S.state.uploadLimits = await api("GET", "/files/limits", undefined, { timeout: 5000 });
}

export function uploadFile(file, onProgress) {
  const form = new FormData();
  form.append("file", file, file.name || "file");
  const job = upload("POST", "/files", form, onProgress);
  return { abort: job.abort, promise: job.promise.then((r) => r.files[0]) };
}
