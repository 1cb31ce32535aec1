// chatview.js - the open chat: header, the message list (day separators,
// runs of one sender, history on scroll, jump to latest, read markers as
// messages come into view) and the composer, with drag and drop of files.

import { h, icon, iconButton, clear } from "../dom.js";
import * as S from "../store.js";
import * as A from "../actions.js";
import * as sync from "../sync.js";
import { avatar, userAvatar } from "./avatar.js";
import { renderMessage, signature, tickState, applyTicks } from "./message.js";
import { createComposer } from "./composer.js";
import { createPinBar } from "./pinbar.js";
import { createBlockedNotice } from "./blocked.js";
import { reconcile } from "./reconcile.js";
import { errorToast, toast } from "./overlay.js";
import { chatMenu } from "./chatmenu.js";
import { chatMuted } from "../notify.js";
import { dayKey, dayLabel, lastSeen, debounce } from "../util.js";
import { t } from "../i18n.js";

const RUN_GAP = 5 * 60 * 1000; // one sender's messages closer than this form a run

export function createChatView({ openInfo }) {
  let chatId = null;
  let atBottom = true;
  let firstUnread = undefined; // id of the first unread message when the chat was opened
  let readSnapshot = 0;
  let opening = false;
  let rovingKey = null; // the message row that is the list's one Tab stop
  const visible = new Set();

  // ---- header ----
  const headAvatar = h("span.head-avatar");
  const headTitle = h("h2.head-title");
  const headSub = h("div.head-sub", { "aria-live": "polite" });
  const header = h("header.chat-head", null,
    iconButton("back", t("chat.back"), () => A.go(null), "back-btn"),
    h("button.head-main", { type: "button", onclick: () => openInfo(), "aria-label": t("chat.info") },
      headAvatar, h("div.head-text", null, headTitle, headSub)),
    iconButton("bell", t("notify.title"), (e) => chatMenu(e.currentTarget, chatId), "mute-btn"),
    iconButton("info", t("chat.info"), () => openInfo(), "info-btn"));
  const muteBtn = header.querySelector(".mute-btn");

  // ---- messages ----
  const loader = h("div.history-loader", { hidden: true, role: "status" }, h("span.spinner.small", { "aria-hidden": "true" }), t("chat.loadingHistory"));
  const list = h("div.msg-list", { role: "log", "aria-label": t("sidebar.messages") });
  const scroller = h("div.messages", null, loader, list);
  const jumpBadge = h("span.jump-badge", { hidden: true });
  const jump = h("button.jump", { type: "button", hidden: true, "aria-label": t("chat.jumpLabel"), title: t("chat.jump"), onclick: () => scrollToBottom(true) }, icon("down"), jumpBadge);
  const composer = createComposer({ onSent: () => scrollToBottom(false) });
  const pinBar = createPinBar();
  const blocked = createBlockedNotice(composer.el);
  const dropZone = h("div.drop-zone", { hidden: true }, h("div.drop-inner", null, icon("clip"), h("span", { text: t("chat.drop") })));
  const empty = h("div.chat-empty", null,
    h("div.empty-icon", { "aria-hidden": "true" }, icon("chat")),
    h("h2", { text: t("chat.select") }),
    h("p", { text: t("chat.selectHint") }));
  const body = h("div.chat-body", { hidden: true }, header, pinBar.el, h("div.messages-wrap", null, scroller, jump), composer.el, dropZone);
  const el = h("main.chat-pane", { "aria-label": t("chat.conversation") }, empty, body);

  // ---- header rendering ----
  function renderHeader() {
    const c = S.chat(chatId);
    if (!c) return;
    const title = S.chatTitle(c);
    headTitle.textContent = title;
    const peer = S.peer(c);
    clear(headAvatar).append(c.type === "direct" ? userAvatar(peer, "md", true) : avatar({ id: c.id, name: title, size: "md", group: true }));
    const typing = S.typingUsers(c.id);
    let sub;
    let live = false;
    if (S.state.conn === "reconnecting") sub = t("chat.reconnecting");
    else if (S.state.conn === "limited") sub = t("chat.paused");
    else if (typing.length) {
      live = true;
      if (c.type === "direct") sub = t("typing.one");
      else if (typing.length === 1) sub = t("typing.who", { name: typing[0].display_name || typing[0].username });
      else sub = t("typing.many", { n: typing.length });
    } else if (c.type === "direct") {
      sub = peer ? lastSeen(peer) : "";
      live = !!(peer && peer.online);
    } else {
      const online = c.members.filter((m) => m.user_id !== S.state.me.id && (S.user(m.user_id) || {}).online).length;
      sub = online ? t("membersOnline", { members: t("members", { n: c.members.length }), online }) : t("members", { n: c.members.length });
    }
    headSub.textContent = sub;
    // changed in place: a header drawn again (typing…) keeps the focus on it
    const muted = chatMuted(c);
    const label = muted ? t("chat.notificationsMuted") : t("notify.title");
    if (muteBtn.getAttribute("aria-label") !== label) {
      muteBtn.setAttribute("aria-label", label);
      muteBtn.title = label;
      muteBtn.replaceChildren(icon(muted ? "bell-off" : "bell"));
    }
    headSub.classList.toggle("live", live);
    headSub.classList.toggle("typing", typing.length > 0);
  }

  // ---- message list rendering ----
  const onImageLoad = () => {
    const l = S.state.messages.get(chatId);
    if (atBottom && (!l || l.atLatest)) scroller.scrollTop = scroller.scrollHeight;
  };

  function renderMessages() {
    const c = S.chat(chatId);
    if (!c) return;
    const l = S.state.messages.get(chatId);
    const items = l ? l.items : [];
    const all = [...items, ...S.pendingOf(chatId)];
    const me = S.state.me.id;
    if (firstUnread === undefined && l && l.loaded) {
      const f = items.find((m) => m.id > readSnapshot && m.sender_id !== me && m.kind !== "service" && !m.deleted);
      firstUnread = f ? f.id : null;
    }

    // Keep what the reader looks at in place when history is prepended.
    let anchor = null;
    if (!atBottom) {
      for (const row of list.children) {
        if (row.offsetTop + row.offsetHeight > scroller.scrollTop) {
          anchor = { el: row, off: row.offsetTop - scroller.scrollTop };
          break;
        }
      }
    }

    const desired = [];
    const msgs = [];
    let day = null;
    for (const m of all) {
      const dk = dayKey(m.created_at);
      if (dk !== day) {
        day = dk;
        const label = dayLabel(m.created_at);
        desired.push({ key: "d" + dk, sig: label, build: () => h("div.day-sep", { role: "separator" }, h("span", { text: label })) });
      }
      if (firstUnread && m.id === firstUnread) {
        desired.push({ key: "unread", sig: "u", build: () => h("div.unread-sep", { role: "separator" }, h("span", { text: t("chat.unreadSep") })) });
      }
      const key = m.pending ? "p" + m.client_id : "m" + m.id;
      msgs.push({ m, key });
      desired.push({ key, sig: signature(m) + c.type, build: () => renderMessage(m, c, { onImageLoad, startEdit: composer.startEdit, startReply: composer.startReply }) });
    }
    if (!all.length && l && l.loaded) {
      desired.push({ key: "empty", sig: "e", build: () => h("div.list-empty-chat", null, h("p", { text: t("chat.empty") }), h("p.muted", { text: t("chat.sayHello") })) });
    }
    reconcile(list, desired, (row) => io.unobserve(row));

    // Runs, ticks and read tracking, applied in place.
    const rows = new Map();
    for (const row of list.children) rows.set(row.dataset.key, row);
    const myRead = (S.member(c, me) || {}).last_read_message_id || 0;
    for (let i = 0; i < msgs.length; i++) {
      const { m, key } = msgs[i];
      const row = rows.get(key);
      if (!row || m.kind === "service") continue;
      const prev = msgs[i - 1] && msgs[i - 1].m;
      const next = msgs[i + 1] && msgs[i + 1].m;
      const joins = (a, b) => a && b && a.kind !== "service" && b.kind !== "service" && a.sender_id === b.sender_id &&
        Math.abs(Date.parse(b.created_at) - Date.parse(a.created_at)) < RUN_GAP && dayKey(a.created_at) === dayKey(b.created_at) &&
        !(firstUnread && b.id === firstUnread);
      row.classList.toggle("run-start", !joins(prev, m));
      row.classList.toggle("run-end", !joins(m, next));
      if (m.sender_id === me) applyTicks(row, tickState(m, c));
      else if (!m.pending && m.id > myRead) io.observe(row);
    }
    for (const row of list.querySelectorAll(".msg-row.service")) {
      const id = Number(row.dataset.messageId);
      if (id > myRead) io.observe(row);
    }

    // Stuck to the bottom only at the latest message: below a window of
    // unread history, the bottom is where the next page goes, and sticking
    // to it would skip (and mark read) messages nobody saw.
    if (atBottom && (!l || l.atLatest)) scroller.scrollTop = scroller.scrollHeight;
    else if (anchor && anchor.el.isConnected) {
      // Only when something above moved it: an assignment would also stop
      // a smooth scroll under way.
      const want = anchor.el.offsetTop - anchor.off;
      if (Math.abs(want - scroller.scrollTop) > 1) scroller.scrollTop = want;
    }
    roving();
    loader.hidden = !(l && l.loading);
    updateJump();
    if (l && l.loaded && l.hasMore && scroller.scrollHeight <= scroller.clientHeight + 200) loadOlder();
    if (l && l.loaded && !l.atLatest && scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 400) loadNewer();
  }

  // The message list is one Tab stop (roving tabindex): the row last
  // focused, else the newest, has tabindex 0 and so do the links and
  // buttons inside it; every other row and its controls -1. The arrow
  // keys, Home and End move between messages; Enter opens a message's menu.
  const CONTROLS = "a[href], button:not(.msg-more)";
  const rowsOf = () => [...list.querySelectorAll(".msg-row[tabindex]")];
  function roving() {
    const rows = rowsOf();
    const cur = rows.find((r) => r.dataset.key === rovingKey) || rows[rows.length - 1];
    for (const r of rows) {
      const t = r === cur ? 0 : -1;
      if (r.tabIndex !== t) r.tabIndex = t;
      for (const c of r.querySelectorAll(CONTROLS)) if (c.tabIndex !== t) c.tabIndex = t;
    }
  }
  list.addEventListener("focusin", (e) => {
    const row = e.target.closest(".msg-row[tabindex]");
    if (!row || row.dataset.key === rovingKey) return;
    rovingKey = row.dataset.key;
    roving();
  });
  list.addEventListener("keydown", (e) => {
    if (!e.target.matches(".msg-row[tabindex]") || e.altKey || e.ctrlKey || e.metaKey) return;
    const rows = rowsOf();
    const i = rows.indexOf(e.target);
    const to = { ArrowUp: i - 1, ArrowDown: i + 1, Home: 0, End: rows.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    if (rows[to]) rows[to].focus();
  });

  async function scrollToBottom(smooth) {
    const l = S.state.messages.get(chatId);
    if (l && l.loaded && !l.atLatest) {
      // The latest page replaces a window that does not reach it.
      const id = chatId;
      try {
        await sync.loadLatest(id);
      } catch (e) {
        errorToast(e);
      }
      if (id !== chatId) return;
    }
    const far = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight > 2500;
    atBottom = true;
    scroller.scrollTo({ top: scroller.scrollHeight, behavior: smooth && !far ? "smooth" : "auto" });
    updateJump();
  }

  function updateJump() {
    const dist = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
    const c = S.chat(chatId);
    const l = S.state.messages.get(chatId);
    jump.hidden = !c || (dist < 300 && (!l || l.atLatest));
    const n = c ? c.unread_count : 0;
    jumpBadge.hidden = !n;
    jumpBadge.textContent = n > 99 ? "99+" : String(n);
  }

  async function loadOlder() {
    const l = S.state.messages.get(chatId);
    if (!l || l.loading || !l.hasMore || !l.loaded) return;
    const id = chatId;
    loader.hidden = false;
    let more = false;
    try {
      more = await sync.loadOlder(id);
    } catch (e) {
      errorToast(e);
    } finally {
      if (id === chatId) loader.hidden = true;
    }
    // Still near the top (a reader at the very top gets no scroll event
    // to ask again): the next page.
    if (more && id === chatId && scroller.scrollTop < 400) loadOlder();
  }

  async function loadNewer() {
    const l = S.state.messages.get(chatId);
    if (!l || l.loading || l.atLatest || !l.loaded) return;
    try {
      await sync.loadNewer(chatId);
    } catch (e) {
      errorToast(e);
    }
  }

  scroller.addEventListener("scroll", () => {
    const dist = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
    atBottom = dist < 60;
    updateJump();
    if (scroller.scrollTop < 400) loadOlder();
    if (dist < 400) loadNewer();
  }, { passive: true });

  // ---- read markers ----
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const id = Number(e.target.dataset.messageId);
      if (!id) continue;
      const seen = e.isIntersecting && (e.intersectionRatio >= 0.5 || e.intersectionRect.height >= 48);
      if (seen) visible.add(id);
      else visible.delete(id);
    }
    flushRead();
  }, { root: scroller, threshold: [0, 0.5, 1] });

  const flushRead = debounce(() => {
    if (!chatId || document.visibilityState !== "visible" || !visible.size) return;
    const max = Math.max(...visible);
    sync.markRead(chatId, max);
    for (const row of list.querySelectorAll(".msg-row[data-message-id]")) {
      if (Number(row.dataset.messageId) <= max) {
        io.unobserve(row);
        visible.delete(Number(row.dataset.messageId));
      }
    }
  }, 150);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") flushRead();
  });

  // ---- drag and drop ----
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
  body.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth++;
    dropZone.hidden = false;
  });
  body.addEventListener("dragover", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
  });
  body.addEventListener("dragleave", (e) => {
    if (!hasFiles(e)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) dropZone.hidden = true;
  });
  body.addEventListener("drop", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    dropZone.hidden = true;
    composer.addFiles(e.dataTransfer.files);
  });

  // ---- opening a chat ----
  async function setChat(id) {
    if (id === chatId) return;
    chatId = id;
    visible.clear();
    io.disconnect();
    clear(list);
    empty.hidden = !!id;
    body.hidden = !id;
    if (!id) return;
    const c = S.chat(id);
    readSnapshot = c ? (S.member(c, S.state.me.id) || {}).last_read_message_id || 0 : 0;
    firstUnread = undefined;
    rovingKey = null;
    atBottom = true;
    composer.setChat(id);
    pinBar.setChat(id);
    blocked.setChat(id);
    renderHeader();
    const l = S.msgList(id);
    const target = takeShowing();
    // Opened at the first unread message: around the read marker when the
    // newest page may not reach back to it (it holds 50, some of them ours
    // or service messages), or when what is cached does not.
    const unread = c ? c.unread_count || 0 : 0;
    const cachedReachesMarker = l.loaded && (!l.hasMore || (l.items.length && l.items[0].id <= readSnapshot));
    let load = null;
    if (target) load = S.findMessage(id, target) ? null : () => sync.loadAround(id, target, SHOW_CONTEXT, SHOW_CONTEXT);
    // A little of what was read before the marker, and the page after it.
    else if (unread > 20 && !cachedReachesMarker) load = () => sync.loadAround(id, readSnapshot, 10, 50);
    else if (!l.loaded) load = () => sync.loadLatest(id);
    if (load) {
      clear(list);
      list.append(h("div.list-loading", { role: "status" }, h("span.spinner", { "aria-hidden": "true" }), h("span.sr-only", { text: t("chat.loadingMessages") })));
      opening = true;
      try {
        await load();
      } catch (e) {
        if (id === chatId) errorToast(e);
      } finally {
        opening = false;
      }
      if (id !== chatId) return;
      clear(list);
    }
    if (target) atBottom = false;
    renderMessages();
    const sep = list.querySelector(".unread-sep");
    if (target) showRow(target);
    else if (sep) {
      atBottom = false;
      scroller.scrollTop = Math.max(0, sep.offsetTop - 12);
      atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 60;
    } else scrollToBottom(false);
    if (!window.matchMedia("(pointer: coarse)").matches) composer.focus();
  }

  // ---- showing one message ----
  const SHOW_CONTEXT = 25; // messages loaded on each side of a shown one

  // The message asked for with A.showMessage() in this chat, once.
  function takeShowing() {
    const s = S.state.showing;
    if (!s || s.chatId !== chatId) return null;
    S.state.showing = null;
    return s.messageId;
  }

  async function showInOpenChat() {
    const target = takeShowing();
    if (!target || opening) return;
    const id = chatId;
    if (!S.findMessage(id, target)) {
      loader.hidden = false;
      opening = true;
      try {
        await sync.loadAround(id, target, SHOW_CONTEXT, SHOW_CONTEXT);
      } catch (e) {
        errorToast(e);
      } finally {
        opening = false;
        loader.hidden = true;
      }
      if (id !== chatId) return;
    }
    atBottom = false;
    renderMessages();
    showRow(target);
  }

  // Centred, made the list's Tab stop, and flashed so the eye finds it.
  function showRow(messageId) {
    const row = list.querySelector(`.msg-row[data-message-id="${messageId}"]`);
    if (!row) {
      toast(t("chat.messageGone"));
      scrollToBottom(false);
      return;
    }
    scroller.scrollTop = Math.max(0, row.offsetTop - (scroller.clientHeight - row.offsetHeight) / 2);
    atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 60;
    rovingKey = row.dataset.key;
    roving();
    row.classList.remove("flash");
    void row.offsetWidth; // restarts the animation when it is shown twice
    row.classList.add("flash");
    row.addEventListener("animationend", () => row.classList.remove("flash"), { once: true });
  }

  S.on("show", () => chatId && showInOpenChat());
  S.on("messages", (id) => {
    if (id === chatId && !opening) renderMessages();
  });
  S.on("chat", (id) => {
    if (id === chatId) {
      renderHeader();
      updateJump();
    }
  });
  S.on("typing", (id) => id === chatId && renderHeader());
  S.on("users", () => chatId && renderHeader());
  // A sender's new name or picture (not presence, which bubbles do not show).
  S.on("profile", () => chatId && !opening && renderMessages());
  S.on("conn", () => chatId && renderHeader());
  S.on("chats", () => chatId && updateJump());

  return { el, setChat, get chatId() { return chatId; } };
}
