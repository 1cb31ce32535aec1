// sidebar.js - the left column: who I am, search (chats locally, people and
// messages over the API), and the chat list, most recent first, updated live.

import { h, icon, iconButton, clear } from "../dom.js";
import * as S from "../store.js";
import * as A from "../actions.js";
import * as theme from "../theme.js";
import { userAvatar, avatar } from "./avatar.js";
import { errorToast, onMenuGesture } from "./overlay.js";
import { chatMenu } from "./chatmenu.js";
import { formatListTime, messagePreview, debounce, formatFull } from "../util.js";
import { openProfile, openNewGroup } from "./dialogs.js";
import { chatMuted, wantsBanner, askPermission, dismissBanner } from "../notify.js";
import { reconcile } from "./reconcile.js";
import { reconnect } from "../sync.js";
import { tickState } from "./message.js";
import { logout } from "../auth.js";
import { draft } from "../drafts.js";
import { isAdmin } from "./admin.js";
import { t } from "../i18n.js";

// i18n-keys: ticks.sent ticks.delivered ticks.read

export function createSidebar() {
  const meBox = h("button.me", { type: "button", "aria-label": t("profile.mine"), title: t("profile.mine"), onclick: () => openProfile() });
  const themeBtn = iconButton("moon", t("auth.toggleTheme"), () => theme.toggle(), "theme-toggle");
  // Only for administrators (GET /api/users/me "role").
  const adminBtn = iconButton("shield", t("admin.title"), () => (location.hash = "#/admin"), "admin-btn");
  adminBtn.hidden = true;
  const head = h("header.side-head", null,
    meBox,
    h("div.side-actions", null,
      adminBtn,
      iconButton("pencilSquare", t("group.new"), () => openNewGroup()),
      themeBtn,
      iconButton("logout", t("profile.logout"), () => logout())));

  const search = h("input.search-input", {
    type: "search",
    placeholder: t("sidebar.searchPlaceholder"),
    "aria-label": t("sidebar.searchLabel"),
    maxlength: "256", // the message search's limit
    autocomplete: "off",
    spellcheck: "false",
  });
  const conn = h("div.conn-state", { role: "status", "aria-live": "polite", hidden: true });
  const list = h("nav.chat-list", { "aria-label": t("sidebar.chats") });
  const banner = notifyBanner();
  const results = h("div.search-results", { hidden: true, "aria-label": t("emoji.results") });
  const el = h("aside.sidebar", null,
    head,
    h("div.search-box", null, icon("search", "search-icon"), search),
    conn,
    banner,
    list,
    results);

  // ---- me and theme ----
  function renderMe() {
    const me = S.state.me;
    if (!me) return;
    clear(meBox).append(userAvatar(me, "sm"), h("span.me-name", { text: me.display_name || me.username }));
    adminBtn.hidden = !isAdmin();
    markAdmin();
  }
  // Lit while the page is open (app.js emits "active" on every route).
  function markAdmin() {
    if (location.hash === "#/admin") adminBtn.setAttribute("aria-current", "page");
    else adminBtn.removeAttribute("aria-current");
  }
  function renderTheme() {
    clear(themeBtn).append(icon(theme.current() === "dark" ? "sun" : "moon"));
    themeBtn.setAttribute("aria-pressed", theme.current() === "dark" ? "true" : "false");
  }
  theme.onThemeChange(renderTheme);

  // ---- connection state ----
  let connTimer = 0;
  function renderConn() {
    clearTimeout(connTimer);
    const s = S.state.conn;
    // At once (unlike the banner): a green dot must not outlive the socket.
    document.body.classList.toggle("presence-stale", s !== "online");
    if (s === "online" || s === "offline") {
      conn.hidden = true;
      document.body.classList.remove("is-reconnecting");
      return;
    }
    if (s === "limited") {
      // Refused for too many connections (4429): no spinner, it waits.
      document.body.classList.remove("is-reconnecting");
      conn.replaceChildren(
        h("span.conn-text", null, t("conn.limited")),
        h("button.link.conn-retry", { type: "button", onclick: reconnect }, t("conn.retry")));
      conn.hidden = false;
      return;
    }
    // Give the first connect a moment before saying anything.
    connTimer = setTimeout(() => {
      conn.replaceChildren(h("span.spinner.small", { "aria-hidden": "true" }), s === "connecting" ? t("conn.connecting") : t("conn.reconnecting"));
      conn.hidden = false;
      document.body.classList.add("is-reconnecting");
    }, s === "connecting" ? 1500 : 300);
  }

  // ---- chat list ----
  function preview(c) {
    const typing = S.typingUsers(c.id);
    if (typing.length) {
      const text = c.type === "group" ? t("typing.who", { name: typing[0].display_name || typing[0].username }) : t("typing.one");
      return { text, cls: "typing" };
    }
    // What was typed and not sent, as Telegram shows it, but not for the
    // chat open beside the list (it is in the composer there).
    const d = c.id !== S.state.activeChatId && draft(c.id);
    if (d) return { text: d.replace(/\s+/g, " ").trim(), cls: "draft", draft: true };
    const pend = S.pendingOf(c.id);
    const p = pend[pend.length - 1];
    const m = p || c.last_message;
    if (!m) return { text: c.type === "group" ? t("sidebar.groupCreated") : t("sidebar.noMessages"), cls: "muted" };
    let prefix = "";
    if (m.kind !== "service" && S.state.me && m.sender_id === S.state.me.id) prefix = t("sidebar.you") + ": ";
    else if (c.type === "group" && m.kind !== "service" && m.sender_id) {
      const u = S.user(m.sender_id);
      if (u) prefix = (u.display_name || u.username).split(" ")[0] + ": ";
    }
    return { text: prefix + messagePreview(m), cls: m.kind === "service" || m.deleted ? "muted" : "", failed: p && p.state === "failed", sending: p && (p.state === "sending" || p.state === "queued") };
  }

  function itemFor(c, active) {
    const peer = S.peer(c);
    const title = S.chatTitle(c);
    const pv = preview(c);
    const last = c.last_message;
    const mine = last && !pv.sending && !pv.failed && last.kind !== "service" && S.state.me && last.sender_id === S.state.me.id;
    const ticks = mine ? tickState(last, c) : null;
    const muted = chatMuted(c);
    const sig = JSON.stringify([title, active, pv, last && last.created_at, c.unread_count, c.unread_mentions, peer && [peer.online, peer.avatar_url], c.type, ticks, muted]);
    return {
      key: "c" + c.id,
      sig,
      build: () => withMenu(c.id,
        h("a.chat-item" + (active ? ".active" : "") + (muted ? ".muted-chat" : ""), {
          href: "#/c/" + c.id,
          dataset: { chatId: c.id },
          "aria-current": active ? "page" : null,
          "aria-label": title + (c.unread_count ? ", " + t("sidebar.unread", { n: c.unread_count }) : "") + (c.unread_mentions ? ", " + t("sidebar.mentionedLabel") : ""),
        },
        c.type === "direct"
          ? userAvatar(peer, "md", true)
          : avatar({ id: c.id, name: title, size: "md", group: true }),
        h("div.ci-main", null,
          h("div.ci-top", null,
            h("span.ci-title", { text: title }),
            c.type === "group" ? icon("users", "ci-kind") : null,
            muted ? h("span.ci-muted", { title: t("sidebar.muted"), "aria-label": t("sidebar.muted") }, icon("bell-off")) : null,
            h("span.ci-time", null,
              pv.failed ? icon("alert", "failed") : pv.sending ? icon("clock") : null,
              ticks ? h("span.ticks." + ticks, { "aria-label": t("ticks." + ticks), title: t("ticks." + ticks) }, icon(ticks === "sent" ? "check" : "checks")) : null,
              last ? formatListTime(last.created_at) : "")),
          h("div.ci-bottom", null,
            h("span.ci-preview" + (pv.cls ? "." + pv.cls : ""), null,
              pv.draft ? h("span.draft-label", { text: t("sidebar.draft") + ": " }) : null, pv.text),
            c.unread_mentions ? h("span.badge.mention", { title: t("sidebar.mentioned"), "aria-hidden": "true" }, "@") : null,
            // a muted chat's count is grey (and left out of the title)
            c.unread_count ? h("span.badge" + (muted ? ".muted" : ""), { text: c.unread_count > 999 ? "999+" : String(c.unread_count) }) : null)))),
    };
  }

  // The chat's menu (chatmenu.js, the header bell's) by a right click, a
  // long press on a phone, or the keyboard's menu key.
  function withMenu(id, item) {
    onMenuGesture(item, (at) => chatMenu(item, id, at, { markRead: true }));
    return item;
  }

  function renderList() {
    const chats = S.sortedChats();
    if (!chats.length && S.state.synced) {
      clear(list).append(h("div.list-empty", null,
        h("p", { text: t("sidebar.noChats") }),
        h("p.muted", { text: t("sidebar.noChatsHint") })));
      return;
    }
    if (list.querySelector(".list-empty")) clear(list);
    reconcile(list, chats.map((c) => itemFor(c, c.id === S.state.activeChatId)));
  }

  // ---- search ----
  // Chats by name here, people and messages over the API. Answers to an
  // older query are dropped (seq); message hits page on with "before".
  let seq = 0;
  let found = null; // {q, people, messages (null while asked), more, paging}
  let shownHit = 0; // the message hit last opened: marked as the open one
  const runSearch = debounce((q) => {
    const mine = seq;
    const settle = (key, value, e) => {
      if (mine !== seq) return;
      found[key] = value;
      if (key === "messages") found.more = value.length === A.SEARCH_PAGE;
      renderResults();
      if (e) errorToast(e);
    };
    A.searchUsers(q).then((v) => settle("people", v), (e) => settle("people", [], e));
    A.searchMessages(q).then((v) => settle("messages", v), (e) => settle("messages", [], e));
  }, 250);

  async function moreHits() {
    const mine = seq;
    const f = found;
    if (!f || f.paging || !f.messages || !f.messages.length) return;
    f.paging = true;
    renderResults();
    try {
      const older = await A.searchMessages(f.q, f.messages[f.messages.length - 1].id);
      if (mine !== seq) return;
      f.messages = [...f.messages, ...older];
      f.more = older.length === A.SEARCH_PAGE;
    } catch (e) {
      if (mine === seq) errorToast(e);
    } finally {
      f.paging = false;
    }
    if (mine === seq) renderResults();
  }

  function personItem(u) {
    return h("button.chat-item.person", {
      type: "button",
      dataset: { userId: u.id },
      "aria-label": t("sidebar.messageTo", { name: u.display_name || u.username }),
      onclick: async () => {
        try {
          await A.openDirect(u.id);
          search.value = "";
          showSearch("");
        } catch (e) {
          errorToast(e);
        }
      },
    },
    userAvatar(u, "md", true),
    h("div.ci-main", null,
      h("div.ci-top", null, h("span.ci-title", { text: u.display_name || u.username })),
      h("div.ci-bottom", null, h("span.ci-preview.muted", { text: "@" + u.username }))));
  }

  // A message found: its chat, date, sender and the text around the first
  // matching word, the matching words marked.
  function hitItem(m, stems) {
    const c = S.chat(m.chat_id);
    if (!c) return null;
    const title = S.chatTitle(c);
    const me = S.state.me;
    const u = m.sender_id && S.user(m.sender_id);
    const who = m.sender_id === me.id ? t("sidebar.you") : c.type === "group" && u ? u.display_name || u.username : "";
    const text = m.text ? snippet(m.text, stems) : [messagePreview(m)];
    return h("button.chat-item.msg-hit", {
      type: "button",
      dataset: { chatId: m.chat_id, messageId: m.id },
      "aria-label": t("sidebar.hitLabel", { who: who || (u ? u.display_name || u.username : ""), chat: title, date: formatFull(m.created_at), text: (m.text || "").slice(0, 200) }),
      onclick: () => {
        shownHit = m.id;
        markShown();
        A.showMessage(m.chat_id, m.id);
      },
    },
    c.type === "direct" ? userAvatar(S.peer(c), "md") : avatar({ id: c.id, name: title, size: "md", group: true }),
    h("div.ci-main", null,
      h("div.ci-top", null,
        h("span.ci-title", { text: title }),
        c.type === "group" ? icon("users", "ci-kind") : null,
        h("span.ci-time", { title: formatFull(m.created_at), text: formatListTime(m.created_at) })),
      h("div.hit-text", null, who ? h("span.hit-sender", { text: who + ": " }) : null, text)));
  }

  // Keyed (reconcile): the answers come one by one, and a result already
  // shown keeps its element (and the focus) when the next one arrives.
  function renderResults() {
    if (!found) return;
    const { q, people, messages } = found;
    const needle = q.toLowerCase();
    const chats = S.sortedChats().filter((c) => S.chatMatches(c, needle));
    const items = [];
    const heading = (text) => items.push({ key: "h-" + text, sig: text, build: () => h("h3.section-title", { text }) });
    if (chats.length) {
      heading(t("sidebar.chats"));
      for (const c of chats) items.push(itemFor(c, c.id === S.state.activeChatId));
    }
    if (people && people.length) {
      heading(t("sidebar.people"));
      for (const u of people) {
        items.push({ key: "u" + u.id, sig: JSON.stringify([u.display_name, u.username, u.avatar_url, u.online]), build: () => personItem(u) });
      }
    }
    const stems = queryStems(q);
    const hits = (messages || []).filter((m) => S.chat(m.chat_id));
    if (hits.length) {
      heading(t("sidebar.messages"));
      for (const m of hits) {
        const c = S.chat(m.chat_id);
        const u = m.sender_id && S.user(m.sender_id);
        items.push({
          key: "m" + m.id,
          sig: JSON.stringify([q, m.text, S.chatTitle(c), u && [u.display_name, u.avatar_url]]),
          build: () => hitItem(m, stems),
        });
      }
      if (found.more) {
        items.push({
          key: "more",
          sig: String(!!found.paging),
          build: () => h("button.btn.small.more-hits", { type: "button", disabled: !!found.paging, onclick: moreHits },
            found.paging ? t("app.loading") : t("sidebar.moreMessages")),
        });
      }
    }
    if (people === null || messages === null) {
      items.push({ key: "hint", sig: "…", build: () => h("div.list-hint", null, h("span.spinner.small", { "aria-hidden": "true" }), t("sidebar.searching")) });
    } else if (!chats.length && !people.length && !hits.length) {
      items.push({ key: "hint", sig: q, build: () => h("div.list-hint", { text: t("sidebar.nothingFound", { q }) }) });
    }
    reconcile(results, items);
    markShown();
  }

  function markShown() {
    for (const el of results.querySelectorAll(".msg-hit")) el.classList.toggle("active", Number(el.dataset.messageId) === shownHit);
  }

  function showSearch(q) {
    const on = q.trim().length > 0;
    results.hidden = !on;
    list.hidden = on;
    seq++;
    shownHit = 0;
    if (on) {
      found = { q: q.trim(), people: null, messages: null, more: false, paging: false };
      renderResults();
      runSearch(q.trim());
    } else {
      found = null;
      runSearch.cancel();
    }
  }
  search.addEventListener("input", () => showSearch(search.value));
  search.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && search.value) {
      e.stopPropagation();
      search.value = "";
      showSearch("");
    } else if (e.key === "ArrowDown" || e.key === "Enter") {
      const first = (results.hidden ? list : results).querySelector(".chat-item");
      if (first && (e.key === "ArrowDown" || !results.hidden)) {
        e.preventDefault();
        if (e.key === "Enter") first.click();
        else first.focus();
      }
    }
  });
  results.addEventListener("click", (e) => {
    if (e.target.closest("a.chat-item")) {
      search.value = "";
      showSearch("");
    }
  });
  list.addEventListener("keydown", arrowNav);
  results.addEventListener("keydown", arrowNav);
  function arrowNav(e) {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const items = [...e.currentTarget.querySelectorAll(".chat-item")];
    const i = items.indexOf(document.activeElement);
    if (i < 0) return;
    e.preventDefault();
    const next = items[e.key === "ArrowDown" ? Math.min(items.length - 1, i + 1) : i - 1];
    if (next) next.focus();
    else search.focus();
  }

  S.on("me", renderMe);
  // Hits show chat titles and senders: redrawn when those change.
  S.on("chats", () => found && found.messages && found.messages.length && renderResults());
  S.on("chats", renderList);
  S.on("active", renderList);
  S.on("active", markAdmin);
  S.on("conn", renderConn);
  renderMe();
  renderTheme();
  renderList();
  renderConn();
  return el;
}

// Lower case, "ё" as "е", as the server compares; one character for one,
// so that places found in the folded text are places in the original.
function fold(s) {
  return s.replace(/[\s\S]/gu, (ch) => {
    const l = ch.toLowerCase().replace("ё", "е");
    return l.length === ch.length ? l : ch;
  });
}

// The server matches word forms (its own stemmers): "message" finds
// "messages", "туман" finds "тумане". To show where a message matched, a
// word counts when it begins with a query word less its last two letters
// (at least four kept). An approximation of where, never of whether.
function queryStems(q) {
  const words = fold(q).match(/[\p{L}\p{N}]+/gu) || [];
  return [...new Set(words.map((w) => {
    const cp = [...w];
    return cp.length > 4 ? cp.slice(0, Math.max(4, cp.length - 2)).join("") : w;
  }))];
}

const CONTEXT = 28; // characters shown before the first matching word

// The text from a little before its first matching word, as text nodes
// and <mark> elements (the list shows two lines of it).
function snippet(raw, stems) {
  const t = raw.replace(/\s+/g, " ").trim();
  if (!stems.length) return [t];
  const esc = stems.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const re = new RegExp(`(?<![\\p{L}\\p{N}])(?:${esc.join("|")})[\\p{L}\\p{N}]*`, "gu");
  const hits = [...fold(t).matchAll(re)];
  let from = 0;
  if (hits.length && hits[0].index > CONTEXT) {
    const space = t.indexOf(" ", hits[0].index - CONTEXT);
    from = space >= 0 && space < hits[0].index ? space + 1 : hits[0].index - CONTEXT;
  }
  const out = from ? ["…"] : [];
  let pos = from;
  for (const m of hits) {
    if (m.index < pos) continue;
    if (m.index > pos) out.push(t.slice(pos, m.index));
    out.push(h("mark.hit", { text: t.slice(m.index, m.index + m[0].length) }));
    pos = m.index + m[0].length;
  }
  if (pos < t.length) out.push(t.slice(pos));
  return out;
}

// The one-time "Turn on notifications" banner above the chat list: the
// browser's question is asked only from its button (notify.js).
function notifyBanner() {
  const el = h("div.notify-banner", { role: "region", "aria-label": t("notify.title"), hidden: !wantsBanner() });
  el.append(
    h("span.notify-banner-text", { text: t("notify.bannerText") }),
    h("button.btn.small.primary", { type: "button", onclick: async () => {
      el.hidden = true;
      await askPermission();
    } }, t("notify.bannerButton")),
    h("button.icon-btn.small", { type: "button", "aria-label": t("notify.notNow"), title: t("notify.notNow"), onclick: () => {
      dismissBanner();
      el.hidden = true;
    } }, icon("x")));
  return el;
}
