// sync.js - keeps the store in step with the server: the initial and
// recovery loads over REST, the realtime events, delivered acks and read
// markers.
//
// Ordering: the app connects to /ws first and loads over REST only after
// the first "ready", so every event newer than the REST snapshot arrives
// over the socket. Applying an event twice is harmless (messages merge by
// id, markers only move forward), which makes the overlap safe.

import { api } from "./api.js";
import * as auth from "./auth.js";
import * as S from "./store.js";
import { Realtime } from "./ws.js";
import { debounce, quoteOf } from "./util.js";
import * as media from "./media.js";

export let rt = null;
let fallback = 0;
let syncing = null;
let again = false;
let failing = false;
let offTokens = () => {};
const acked = new Map(); // chatId -> highest message id acked
const hooks = { removedFromChat: () => {}, failed: () => {}, becameOwner: () => {}, newMessage: () => {} };

export function setHooks(h) {
  Object.assign(hooks, h);
}

export function start() {
  rt = new Realtime({
    token: () => auth.accessToken(),
    refresh: (stale) => auth.refresh(stale),
    event: onEvent,
    ready: onReady,
    reset: () => fullSync(),
    state: (s) => {
      S.state.conn = s;
      S.emit("conn");
    },
  });
  rt.start();
  offTokens = auth.onTokens(() => rt && rt.renew());
  // Realtime slow to come up (or down): show the data over REST anyway;
  // the first "ready" loads again to close the gap.
  fallback = setTimeout(() => {
    if (!S.state.synced) fullSync();
  }, 2500);
}

export function stop() {
  clearTimeout(fallback);
  offTokens();
  offTokens = () => {};
  if (rt) rt.stop();
  rt = null;
  acked.clear();
}

// The realtime link again now, even while it waits out a refusal for too
// many connections (the notice's Retry).
export function reconnect() {
  if (rt) rt.reconnectNow(true);
}

function onReady(frame, first) {
  if (first) fullSync();
  else {
    refreshChats(); // presence changed while we were away
    retryFailed();
    ackAll();
  }
}

// ---- REST loads -------------------------------------------------------------------

export function fullSync() {
  if (syncing) {
    again = true;
    return syncing;
  }
  syncing = (async () => {
    await loadChats();
    // Histories of closed chats may now have gaps: load them anew on open.
    for (const id of [...S.state.messages.keys()]) if (id !== S.state.activeChatId) S.state.messages.delete(id);
    S.state.synced = true;
    S.emit("chats");
    // The open chat, unless its reader is still working through unread
    // messages below the loaded window (the view loads those as it goes).
    const open = S.state.activeChatId && S.chat(S.state.activeChatId) && S.msgList(S.state.activeChatId);
    if (open && (open.atLatest || !open.loaded)) await loadLatest(S.state.activeChatId);
    ackAll();
    failing = false;
  })()
    .catch((e) => {
      if (!failing) hooks.failed(e);
      failing = true;
      if (e.status !== 401) setTimeout(() => fullSync(), 3000);
    })
    .finally(() => {
      syncing = null;
      if (again) {
        again = false;
        fullSync();
      }
    });
  return syncing;
}

async function loadChats() {
  const mark = S.leaveMark();
  const { chats } = await api("GET", "/chats");
  const ids = new Set(chats.map((c) => c.id));
  for (const id of [...S.state.chats.keys()]) if (!ids.has(id)) S.removeChat(id);
  for (const c of chats) if (!S.leftSince(c.id, mark)) S.putChat(c);
}

const refreshChats = debounce(() => loadChats().catch(() => {}), 300);

// The chat, or null when this user left it while the answer was on its way.
export async function fetchChat(id) {
  const mark = S.leaveMark();
  let c;
  try {
    c = await api("GET", "/chats/" + id);
  } catch (e) {
    if (e.status === 404 && S.chat(id)) S.removeChat(id); // removed while we were away
    throw e;
  }
  if (S.leftSince(id, mark)) return null;
  S.putChat(c);
  return c;
}

// The newest page of a chat, merged with what is cached when they touch.
export async function loadLatest(chatId) {
  const l = S.msgList(chatId);
  const { messages, has_more } = await api("GET", `/chats/${chatId}/messages?limit=50`);
  const lastCached = l.items.length ? l.items[l.items.length - 1].id : 0;
  if (!l.items.length || (has_more && messages.length && messages[0].id > lastCached)) {
    l.items = [];
    l.hasMore = has_more;
  }
  l.atLatest = true;
  l.loaded = true;
  S.putMessages(chatId, messages);
  for (const m of messages) S.noteLastMessage(m);
  const last = messages[messages.length - 1];
  if (last && S.state.me && last.sender_id !== S.state.me.id) ack(chatId, last.id);
}

// A window of history around one message, for a chat opened at its first
// unread message (the newest page would not reach back to it) or at a
// message shown from a reply or a search: `before` messages up to and
// including `id`, then `after` past it. The window is not at the latest
// message; loadNewer() extends it as the reader scrolls down.
export async function loadAround(chatId, id, before, after) {
  const l = S.msgList(chatId);
  const page = (q) => api("GET", `/chats/${chatId}/messages?${q}`);
  const [older, newer] = await Promise.all([
    id ? page(`before=${id + 1}&limit=${before}`) : { messages: [], has_more: false },
    page(`after=${id}&limit=${after}`),
  ]);
  l.items = [];
  l.hasMore = older.has_more;
  l.loaded = true;
  S.putMessages(chatId, [...older.messages, ...newer.messages]);
  settleLatest(chatId, newer.has_more);
}

// Whether the window now reaches the latest message: not when the page said
// there is more, nor when a message came (over /ws, not added to a window
// that was not at the latest) after the page was read.
function settleLatest(chatId, hasMore) {
  const l = S.msgList(chatId);
  const c = S.chat(chatId);
  const newest = l.items.length ? l.items[l.items.length - 1].id : 0;
  l.atLatest = !hasMore && !(c && c.last_message && c.last_message.id > newest);
}

export async function loadNewer(chatId) {
  const l = S.msgList(chatId);
  if (l.loading || l.atLatest || !l.loaded) return false;
  l.loading = true;
  try {
    const newest = l.items.length ? l.items[l.items.length - 1].id : 0;
    const { messages, has_more } = await api("GET", `/chats/${chatId}/messages?after=${newest}&limit=50`);
    S.putMessages(chatId, messages);
    settleLatest(chatId, has_more);
    return messages.length > 0;
  } finally {
    l.loading = false;
  }
}

export async function loadOlder(chatId) {
  const l = S.msgList(chatId);
  if (l.loading || !l.hasMore || !l.items.length) return false;
  l.loading = true;
  try {
    const { messages, has_more } = await api("GET", `/chats/${chatId}/messages?before=${l.items[0].id}&limit=50`);
    l.hasMore = has_more;
    S.putMessages(chatId, messages);
    return messages.length > 0;
  } finally {
    l.loading = false;
  }
}

// One message of a chat, by id (the page that ends with it), or null when
// the caller cannot see it. For the pinned bar, whose pins may be far
// above the loaded history.
export async function loadMessage(chatId, id) {
  const { messages } = await api("GET", `/chats/${chatId}/messages?before=${id + 1}&limit=1`);
  const m = messages.find((x) => x.id === id) || null;
  if (m) S.notePin(m);
  return m;
}

// ---- delivered and read ---------------------------------------------------------------

export function ack(chatId, messageId) {
  const c = S.chat(chatId);
  const mine = S.state.me && S.member(c, S.state.me.id);
  if (!mine || mine.last_delivered_message_id >= messageId) return;
  if ((acked.get(chatId) || 0) >= messageId) return;
  if (rt && rt.send({ type: "ack", chat_id: chatId, message_id: messageId })) acked.set(chatId, messageId);
}

function ackAll() {
  if (!S.state.me) return;
  for (const c of S.state.chats.values()) {
    const m = c.last_message;
    if (m && m.sender_id !== S.state.me.id) ack(c.id, m.id);
  }
}

const refetchUnread = new Map();
function refetchSoon(id) {
  clearTimeout(refetchUnread.get(id));
  refetchUnread.set(id, setTimeout(() => {
    refetchUnread.delete(id);
    if (S.chat(id)) fetchChat(id).catch(() => {});
  }, 400));
}

// The unread count after the read marker moved or a message went away:
// counted here when the loaded history covers it, else asked of the server.
function recomputeUnread(c) {
  const me = S.state.me;
  const mine = S.member(c, me.id);
  if (!mine) return;
  const read = mine.last_read_message_id;
  const lm = c.last_message;
  if (!lm || read >= lm.id) {
    c.unread_count = 0;
    c.unread_mentions = 0;
  } else {
    const l = S.state.messages.get(c.id);
    const covered = l && l.atLatest && l.items.length && (!l.hasMore || l.items[0].id <= read);
    const after = covered ? l.items.filter((m) => m.id > read && !m.deleted) : [];
    if (covered && !after.some((m) => m.kind === "service")) {
      c.unread_count = after.filter((m) => m.sender_id !== me.id).length;
      c.unread_mentions = after.filter((m) => m.sender_id !== me.id && mentionsMe(m)).length;
    } else refetchSoon(c.id);
  }
  S.emit("chats");
  S.emit("chat", c.id);
}

const mentionsMe = (m) => !!(S.state.me && m.mentions && m.mentions.includes(S.state.me.id));

// Advance the read marker as messages come into view.
export function markRead(chatId, messageId) {
  const c = S.chat(chatId);
  const mine = c && S.state.me && S.member(c, S.state.me.id);
  if (!mine || mine.last_read_message_id >= messageId) return;
  mine.last_read_message_id = messageId;
  recomputeUnread(c);
  api("POST", `/chats/${chatId}/read`, { message_id: messageId }).catch(() => {
    // try again on the next view; the marker only moves forward
    if (mine.last_read_message_id === messageId) mine.last_read_message_id = 0;
  });
}

// ---- outgoing retries ------------------------------------------------------------------

let retryFailedHook = () => {};
export function onRetryFailed(fn) {
  retryFailedHook = fn;
}
function retryFailed() {
  retryFailedHook();
}

// ---- realtime events ------------------------------------------------------------------

function onEvent(ev) {
  const d = ev.data || {};
  const me = S.state.me;
  if (!me) return;
  const c = ev.chat_id ? S.chat(ev.chat_id) : null;
  if (!c && S.state.left.has(ev.chat_id)) {
    // The tail of a chat we are no longer in; only being added again counts.
    const back = ev.type === "chat.created" || (ev.type === "member.added" && d.user && d.user.id === me.id);
    if (!back) return;
  }
  switch (ev.type) {
    case "message.created": {
      const m = d.message;
      if (!m) return;
      if (!c) {
        // A chat new to this list (a direct chat's first message): acked
        // as delivered once it is there.
        fetchChat(m.chat_id)
          .then((got) => got && m.sender_id !== me.id && ack(m.chat_id, m.id))
          .catch(() => {});
        return;
      }
      const known = !!S.findMessage(m.chat_id, m.id);
      const newer = !c.last_message || m.id > c.last_message.id;
      const l = S.state.messages.get(m.chat_id);
      if (l && l.atLatest) S.putMessages(m.chat_id, [m]);
      else S.dropPending(m.chat_id, m.client_id, m.sender_id);
      S.noteLastMessage(m);
      if (m.kind === "service") {
        // Whose action it tells of is not in the message: ask the server
        // whether it counts as unread for us.
        refetchSoon(c.id);
        ack(m.chat_id, m.id);
      } else if (m.sender_id !== me.id) {
        if (!known && newer) {
          c.unread_count = (c.unread_count || 0) + 1;
          if (mentionsMe(m)) c.unread_mentions = (c.unread_mentions || 0) + 1;
          hooks.newMessage(c, m); // new to us: not a replayed or fetched one
        }
        if (m.sender_id) S.setTyping(m.chat_id, m.sender_id, false);
        ack(m.chat_id, m.id);
      }
      S.emit("chats");
      break;
    }
    case "message.updated": {
      const m = d.message;
      if (!m) return;
      const l = S.state.messages.get(m.chat_id);
      if (l && S.findMessage(m.chat_id, m.id)) S.putMessages(m.chat_id, [m]);
      S.requote(m.chat_id, m.id, quoteOf(m));
      if (c && c.last_message && c.last_message.id === m.id) {
        c.last_message = m;
        S.emit("chats");
      }
      S.notePin(m);
      break;
    }
    case "message.deleted":
      S.updateMessage(ev.chat_id, d.message_id, (m) => {
        Object.assign(m, { deleted: true, text: "", attachments: [], reactions: [] });
      });
      S.requote(ev.chat_id, d.message_id, { text: "", deleted: true, attachments_count: 0 });
      S.notePin({ id: d.message_id, chat_id: ev.chat_id, deleted: true }); // deleting unpins
      if (c && d.message_id > ((S.member(c, me.id) || {}).last_read_message_id || 0)) recomputeUnread(c);
      media.dropMessage(ev.chat_id, d.message_id);
      break;
    case "reaction.updated": {
      const mine = S.state.myReactions.get(d.message_id) || new Set();
      if (d.user_id === me.id && d.emoji && typeof d.added === "boolean") {
        // the event names its actor: our own state, exactly
        if (d.added) mine.add(d.emoji);
        else mine.delete(d.emoji);
      }
      const list = (d.reactions || []).map((r) => ({ emoji: r.emoji, count: r.count, me: mine.has(r.emoji) }));
      for (const e of [...mine]) if (!list.some((r) => r.emoji === e)) mine.delete(e);
      S.state.myReactions.set(d.message_id, mine);
      S.updateMessage(ev.chat_id, d.message_id, (m) => {
        m.reactions = list;
      });
      break;
    }
    case "chat.created":
    case "chat.updated": {
      if (!d.chat) return;
      // Someone opened a direct chat with us and has not written yet: it
      // joins the list with its first message (API.md), fetched then.
      if (!c && d.chat.type === "direct" && !d.chat.last_message) return;
      // Events carry no per-caller counts (0) nor settings (null, "all").
      const { unread_count, unread_mentions, muted_until, notify, ...rest } = d.chat;
      const wasOwner = c && (S.member(c, me.id) || {}).role === "owner";
      const chat = S.putChat(c ? rest : { ...rest, unread_count: 0, unread_mentions: 0 });
      // Ownership that came to us (handed over, or ours automatically when
      // the owner left) is told: it brings rights and a duty to moderate.
      if (c && !wasOwner && (S.member(chat, me.id) || {}).role === "owner") hooks.becameOwner(chat.id, S.chatTitle(chat));
      break;
    }
    case "member.added": {
      const u = d.user;
      if (!u) return;
      S.putUser(u);
      if (!c || u.id === me.id) {
        fetchChat(ev.chat_id).catch(() => {});
        return;
      }
      if (!S.member(c, u.id)) {
        c.members.push({ user_id: u.id, role: "member", last_read_message_id: 0, last_delivered_message_id: 0 });
        S.emit("chat", c.id);
        S.emit("chats");
      }
      break;
    }
    case "member.removed":
      if (d.user_id === me.id) {
        const title = c ? S.chatTitle(c) : "";
        S.removeChat(ev.chat_id);
        hooks.removedFromChat(ev.chat_id, title);
      } else if (c) {
        c.members = c.members.filter((m) => m.user_id !== d.user_id);
        S.emit("chat", c.id);
        S.emit("chats");
        S.emit("messages", c.id);
      }
      break;
    case "read":
    case "delivered": {
      const mm = c && S.member(c, d.user_id);
      if (!mm) return;
      const key = ev.type === "read" ? "last_read_message_id" : "last_delivered_message_id";
      if (d.message_id > mm[key]) mm[key] = d.message_id;
      if (ev.type === "read" && d.message_id > mm.last_delivered_message_id) mm.last_delivered_message_id = d.message_id;
      if (d.user_id === me.id && ev.type === "read") recomputeUnread(c);
      S.emit("messages", c.id);
      S.emit("chats");
      break;
    }
    case "typing":
      if (d.user_id && d.user_id !== me.id && c) S.setTyping(ev.chat_id, d.user_id, true);
      break;
    case "user.updated":
      // A profile changed (name, about, avatar): ours or a chat partner's;
      // or our role (ours alone, with our e-mail and role, as /users/me).
      if (d.user) {
        S.putUser(d.user);
        if (d.user.id === me.id) S.emit("me");
        S.emit("users", d.user.id);
        S.emit("profile", d.user.id);
        S.emit("chats");
        if (S.state.activeChatId) S.emit("chat", S.state.activeChatId);
      }
      break;
    case "export.ready":
      // The archive asked for in the profile (exportdata.js) is ready.
      if (d.export) S.emit("export", d.export);
      break;
    case "chat.deleted":
      media.forget(ev.chat_id);
      if (c) {
        const title = S.chatTitle(c);
        S.removeChat(ev.chat_id);
        hooks.removedFromChat(ev.chat_id, title, true);
      }
      break;
    case "presence":
      if (d.user_id) {
        S.putUser({ id: d.user_id, online: !!d.online, last_seen_at: d.last_seen_at ?? null });
        S.emit("users", d.user_id);
        S.emit("chats");
        if (S.state.activeChatId) S.emit("chat", S.state.activeChatId);
      }
      break;
    default:
      break;
  }
}
