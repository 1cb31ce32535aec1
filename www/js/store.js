// store.js - the client's state and a tiny publish/subscribe. Views
// subscribe to topics and re-render what changed; sync.js and actions.js are
// the only writers.
//
// Topics: "me", "chats" (the list), "chat" (id: header/info of one chat),
// "messages" (chatId), "typing" (chatId), "users" (id: presence/profile),
// "profile" (id: a name or picture changed), "conn" (realtime state),
// "active" (the open chat changed), "show" (state.showing was set for the
// open chat), "blocked" (who blocked whom changed), "export" (the export
// of the account's data is ready: the Export).

import { t } from "./i18n.js";

const subs = new Map();

export function on(topic, fn) {
  if (!subs.has(topic)) subs.set(topic, new Set());
  subs.get(topic).add(fn);
  return () => subs.get(topic).delete(fn);
}

// Notifications are batched per animation frame: a burst of replayed
// events renders once.
const queued = new Map();
let frame = 0;
export function emit(topic, arg) {
  const key = topic + "\u0000" + (arg ?? "");
  queued.set(key, [topic, arg]);
  if (!frame) frame = requestAnimationFrame(flush);
}

export function flush() {
  cancelAnimationFrame(frame);
  frame = 0;
  const batch = [...queued.values()];
  queued.clear();
  for (const [topic, arg] of batch) {
    for (const fn of subs.get(topic) || []) {
      try {
        fn(arg);
      } catch (e) {
        console.warn("render failed", topic, e);
      }
    }
  }
}

export const state = {
  me: null,
  users: new Map(), // id -> User
  chats: new Map(), // id -> Chat, members normalised to {user_id, role, last_read_message_id, last_delivered_message_id}
  messages: new Map(), // chatId -> {items: [Message] ascending, hasMore, atLatest}
  pending: new Map(), // chatId -> [outgoing message not yet confirmed]
  typing: new Map(), // chatId -> Map(userId -> timer)
  myReactions: new Map(), // messageId -> Set(emoji) (what this user reacted with)
  pinned: new Map(), // messageId -> pinned Message known here, loaded in its chat's history or not (the pinned bar)
  left: new Map(), // chat id -> leaveMark() when this user was removed from it or left
  blocked: new Set(), // ids of the users this user blocked (GET /api/users/me/blocks)
  blockedBy: new Set(), // ids of the users whose direct chat refused our message (403 blocked)
  uploadLimits: null, // GET /api/files/limits, once loaded
  activeChatId: null,
  showing: null, // {chatId, messageId}: the message the chat view is to show next
  conn: "connecting",
  synced: false,
};

// A new session: forget everything, including the views' subscriptions.
export function reset() {
  subs.clear();
  queued.clear();
  state.me = null;
  state.users.clear();
  state.chats.clear();
  state.messages.clear();
  state.pending.clear();
  for (const m of state.typing.values()) for (const t of m.values()) clearTimeout(t);
  state.typing.clear();
  state.myReactions.clear();
  state.pinned.clear();
  state.left.clear();
  state.blocked.clear();
  state.blockedBy.clear();
  state.uploadLimits = null;
  state.activeChatId = null;
  state.showing = null;
  state.synced = false;
}

export function putUser(u) {
  if (!u || !u.id) return null;
  const old = state.users.get(u.id);
  const merged = old ? Object.assign(old, u) : { ...u };
  state.users.set(u.id, merged);
  if (state.me && state.me.id === u.id) Object.assign(state.me, u);
  return merged;
}

export const user = (id) => state.users.get(id) || null;

function normMember(m) {
  if (m.user) putUser(m.user);
  return {
    user_id: m.user ? m.user.id : m.user_id,
    role: m.role || "member",
    last_read_message_id: m.last_read_message_id || 0,
    last_delivered_message_id: m.last_delivered_message_id || 0,
  };
}

function noteReactions(m) {
  if (!m || !m.reactions) return;
  const mine = new Set(m.reactions.filter((r) => r.me).map((r) => r.emoji));
  state.myReactions.set(m.id, mine);
}

// Insert or replace a chat from the server. Markers only move forward.
export function putChat(c) {
  const old = state.chats.get(c.id);
  const chat = { ...(old || {}), ...c };
  if (c.members) {
    const oldMembers = new Map((old ? old.members : []).map((m) => [m.user_id, m]));
    chat.members = c.members.map((m) => {
      const n = normMember(m);
      const o = oldMembers.get(n.user_id);
      if (o) {
        n.last_read_message_id = Math.max(n.last_read_message_id, o.last_read_message_id);
        n.last_delivered_message_id = Math.max(n.last_delivered_message_id, o.last_delivered_message_id);
      }
      return n;
    });
  } else if (old) chat.members = old.members;
  else chat.members = [];
  if (old && old.last_message && (!c.last_message || c.last_message.id < old.last_message.id)) {
    chat.last_message = old.last_message;
  }
  state.left.delete(c.id);
  if (c.unread_count === undefined && old) chat.unread_count = old.unread_count;
  if (c.unread_mentions === undefined && old) chat.unread_mentions = old.unread_mentions;
  chat.unread_count = chat.unread_count || 0;
  chat.unread_mentions = chat.unread_count ? chat.unread_mentions || 0 : 0;
  if (chat.last_message) noteReactions(chat.last_message);
  // Keep the object's identity: views hold on to it.
  if (old) Object.assign(old, chat);
  state.chats.set(c.id, old || chat);
  emit("chats");
  emit("chat", c.id);
  return old || chat;
}

// Leaving is numbered, so that an answer requested before the leave (a
// chat list, a chat) cannot bring the chat back after it: it would then
// ask the server for a chat it is no longer in, for ever.
let leaves = 0;
export const leaveMark = () => leaves;
export const leftSince = (id, mark) => (state.left.get(id) || 0) > mark;

export function removeChat(id) {
  state.left.set(id, ++leaves); // late events of this chat are ignored
  state.chats.delete(id);
  state.messages.delete(id);
  state.pending.delete(id);
  emit("chats");
  emit("chat", id);
}

export const chat = (id) => state.chats.get(id) || null;

export function member(c, userId) {
  return c && c.members ? c.members.find((m) => m.user_id === userId) || null : null;
}

// The other person of a direct chat.
export function peer(c) {
  if (!c || c.type !== "direct" || !state.me) return null;
  const m = c.members.find((x) => x.user_id !== state.me.id) || c.members[0];
  return m ? user(m.user_id) : null;
}

export function chatTitle(c) {
  if (!c) return "";
  if (c.type === "direct") {
    const p = peer(c);
    return p ? p.display_name || p.username : t("store.direct");
  }
  return c.title || t("store.group");
}

// Whether a chat matches what was typed in a search (lower case): its
// title, or the username of a direct chat's peer.
export function chatMatches(c, needle) {
  return chatTitle(c).toLowerCase().includes(needle) || (c.type === "direct" && !!(peer(c) || {}).username?.includes(needle));
}

export function chatActivity(c) {
  return c.last_message ? Date.parse(c.last_message.created_at) : Date.parse(c.created_at) || 0;
}

export function sortedChats() {
  return [...state.chats.values()].sort((a, b) => chatActivity(b) - chatActivity(a) || b.id - a.id);
}

// ---- messages ---------------------------------------------------------------

export function msgList(chatId) {
  let l = state.messages.get(chatId);
  if (!l) {
    l = { items: [], hasMore: true, atLatest: false, loaded: false };
    state.messages.set(chatId, l);
  }
  return l;
}

function indexOf(items, id) {
  let lo = 0;
  let hi = items.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].id === id) return mid;
    if (items[mid].id < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -(lo + 1);
}

export function findMessage(chatId, id) {
  const l = state.messages.get(chatId);
  if (!l) return null;
  const i = indexOf(l.items, id);
  return i >= 0 ? l.items[i] : null;
}

// Merge server messages into a chat's list (dedupe by id, keep order).
export function putMessages(chatId, msgs) {
  const l = msgList(chatId);
  for (const m of msgs) {
    noteReactions(m);
    const i = indexOf(l.items, m.id);
    if (i >= 0) l.items[i] = m;
    else l.items.splice(-i - 1, 0, m);
    dropPending(chatId, m.client_id, m.sender_id);
  }
  emit("messages", chatId);
}

// Replies in the loaded history quote a message as it was when they were
// loaded (its original may not be loaded): its edit or deletion reaches
// their quotes here.
export function requote(chatId, id, quote) {
  const l = state.messages.get(chatId);
  if (!l) return;
  let hit = false;
  for (const m of l.items) {
    if (m.reply_to && m.reply_to.id === id) {
      m.reply_to = { ...m.reply_to, ...quote };
      hit = true;
    }
  }
  if (hit) emit("messages", chatId);
}

// The newest message of a chat moved: preview and order in the list.
export function noteLastMessage(m) {
  const c = state.chats.get(m.chat_id);
  if (!c) return;
  if (!c.last_message || m.id >= c.last_message.id) {
    c.last_message = m;
    emit("chats");
  }
}

export function updateMessage(chatId, id, fn) {
  const m = findMessage(chatId, id);
  if (m) {
    fn(m);
    emit("messages", chatId);
  }
  const c = state.chats.get(chatId);
  if (c && c.last_message && c.last_message.id === id) {
    if (c.last_message !== m) fn(c.last_message);
    emit("chats");
  }
}

// A message's pin state, from the server (a pin or unpin, an edit or a
// delete of it): no chat event carries pins, so the chat's
// pinned_message_ids (newest pin first) follow the messages' `pinned`.
// A message pinned now becomes the newest pin; an edit keeps its place.
export function notePin(m) {
  const on = !!m.pinned && !m.deleted;
  if (on) state.pinned.set(m.id, m);
  else state.pinned.delete(m.id);
  updateMessage(m.chat_id, m.id, (x) => {
    x.pinned = on;
  });
  const c = state.chats.get(m.chat_id);
  const ids = (c && c.pinned_message_ids) || [];
  if (!c || ids.includes(m.id) === on) return;
  c.pinned_message_ids = on ? [m.id, ...ids] : ids.filter((id) => id !== m.id);
  emit("chat", c.id);
}

// ---- outgoing messages --------------------------------------------------------

export function pendingOf(chatId) {
  return state.pending.get(chatId) || [];
}

export function addPending(p) {
  state.pending.set(p.chat_id, [...pendingOf(p.chat_id), p]);
  emit("messages", p.chat_id);
  emit("chats");
}

export function dropPending(chatId, clientId, senderId) {
  if (!clientId || !state.me || senderId !== state.me.id) return;
  const list = pendingOf(chatId);
  const rest = list.filter((p) => p.client_id !== clientId);
  if (rest.length !== list.length) {
    state.pending.set(chatId, rest);
    emit("messages", chatId);
    emit("chats");
  }
}

// ---- typing -----------------------------------------------------------------

export function setTyping(chatId, userId, on = true) {
  let m = state.typing.get(chatId);
  if (!m) state.typing.set(chatId, (m = new Map()));
  clearTimeout(m.get(userId));
  if (on) m.set(userId, setTimeout(() => setTyping(chatId, userId, false), 6000));
  else m.delete(userId);
  emit("typing", chatId);
  emit("chats");
}

export function typingUsers(chatId) {
  const m = state.typing.get(chatId);
  return m ? [...m.keys()].map(user).filter(Boolean) : [];
}
