// message.js - one message as a bubble: sender, "Forwarded from", the
// quote of a reply, attachments, text (markdown.js: formatting, links,
// mentions; a few emoji alone large), reactions (who reacted on hover or a
// long press), time, "edited", delivery ticks, and its actions menu (also:
// R replies, and on a phone a swipe to the left).

import { apiHref } from "../api.js";
import { h, icon } from "../dom.js";
import * as S from "../store.js";
import * as A from "../actions.js";
import { formatClock, formatFull, formatSize, isImage, colorClass, messagePreview } from "../util.js";
import { t } from "../i18n.js";
import { userAvatar } from "./avatar.js";
import { gallery } from "../media.js";
import { lightbox, popover, confirmDialog, errorToast, toast, onMenuGesture } from "./overlay.js";
import { openForward, openReport } from "./dialogs.js";
import { render as renderMarkdown, plainText, emojiCount } from "../markdown.js";
import { openEmojiPicker } from "./emojipicker.js";
import { serviceText, displayName } from "../service.js";

export const QUICK_REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏", "🎉", "🔥"];

// The usernames of the message's mentions (the server found them), for
// the highlight: lower case -> whether it names the reader.
function mentionNames(m) {
  const names = new Map();
  for (const id of m.mentions || []) {
    const u = S.user(id);
    if (u && u.username) names.set(u.username.toLowerCase(), id === S.state.me.id);
  }
  return names;
}

function attachmentsOf(m, onImageLoad) {
  const files = m.attachments || [];
  if (!files.length) return null;
  const images = files.filter(isImage);
  const others = files.filter((f) => !isImage(f));
  return [
    images.length
      ? h("div.media" + (images.length > 1 ? ".grid" : ""), null, images.map((f) => {
          const img = h("img", { src: apiHref(f.url) || f.localUrl, alt: f.name || t("message.image"), loading: "lazy", decoding: "async" });
          img.addEventListener("load", onImageLoad, { once: true });
          return h("button.media-item", {
            type: "button",
            "aria-label": t("message.openImage", { name: f.name || "" }),
            onclick: (e) => {
              e.stopPropagation();
              if (f.url) lightbox(f, gallery(m.chat_id));
            },
          }, img);
        }))
      : null,
    others.length
      ? h("div.files", null, others.map((f) =>
          h("a.file-chip", {
            href: apiHref(f.url) || null,
            download: f.name || "",
            title: t("message.download", { name: f.name }),
            "aria-label": `Download ${f.name}, ${formatSize(f.size)}`,
            onclick: (e) => e.stopPropagation(),
          },
          h("span.file-icon", null, icon("file")),
          h("span.file-meta", null,
            h("span.file-name", { text: f.name || "file" }),
            h("span.file-size", { text: formatSize(f.size) })),
          icon("download", "file-dl"))))
      : null,
  ];
}

function reactionsOf(m) {
  if (!m.reactions || !m.reactions.length || m.pending) return null;
  return h("div.reactions", null, m.reactions.map((r) => {
    const chip = h("button.reaction" + (r.me ? ".mine" : ""), {
      type: "button",
      "aria-pressed": r.me ? "true" : "false",
      "aria-label": `${r.emoji} ${r.count}, ` + (r.me ? t("reactions.remove") : t("reactions.add")),
      dataset: { emoji: r.emoji },
      onclick: (e) => {
        e.stopPropagation();
        A.toggleReaction(m, r.emoji).catch(errorToast);
      },
    }, h("span.reaction-emoji", { text: r.emoji }), h("span.reaction-count", { text: String(r.count) }));
    whoReacted(chip, m, r.emoji);
    return chip;
  }));
}

// Who reacted with `emoji` (GET /api/messages/{id}/reactions, asked when
// wanted: the message carries counts only): a tooltip while the pointer
// rests on the chip or the chip has the keyboard focus, a menu after a long
// press (touch screens have no hover) or a right click.
let tip = null;
function hideTip() {
  if (tip) tip.remove();
  tip = null;
}
// A redrawn row takes its chip away without a mouseleave: any scroll or
// press elsewhere ends the tooltip too.
document.addEventListener("scroll", hideTip, true);
document.addEventListener("pointerdown", hideTip, true);

// The list, once loaded (a popover is placed by its size when it opens).
async function reactorsBody(m, emoji) {
  const title = (label) => h("div.reactors-title", null, h("span.reactors-emoji", { text: emoji }), h("span", { text: label }));
  try {
    const r = (await A.reactors(m.id)).find((x) => x.emoji === emoji);
    const ids = r ? r.user_ids || [] : [];
    const count = r ? r.count : 0;
    return h("div.reactors", null, title(t("reactions.count", { n: count })),
      ids.map((id) => {
        const u = S.user(id);
        return h("div.reactor", null, userAvatar(u, "xs"),
          h("span.reactor-name", { text: u ? (id === S.state.me.id ? t("sidebar.you") : u.display_name || u.username) : t("user.deleted") }));
      }),
      count > ids.length ? h("div.reactor.more", { text: t("reactions.more", { n: count - ids.length }) }) : null);
  } catch (e) {
    return h("div.reactors", null, title(e.message || t("reactions.loadFailed")));
  }
}

function whoReacted(chip, m, emoji) {
  let wait = 0;
  let asked = 0; // the latest ask: an answer to an older one is dropped
  const show = async () => {
    const n = ++asked;
    const body = await reactorsBody(m, emoji);
    if (n !== asked || !chip.isConnected) return;
    hideTip();
    tip = h("div.reactors-tip", { role: "tooltip" }, body);
    document.getElementById("overlays").append(tip);
    const r = chip.getBoundingClientRect();
    tip.style.left = Math.max(8, Math.min(r.left, window.innerWidth - tip.offsetWidth - 8)) + "px";
    tip.style.top = (r.top > tip.offsetHeight + 14 ? r.top - tip.offsetHeight - 6 : r.bottom + 6) + "px";
  };
  const later = () => {
    clearTimeout(wait);
    wait = setTimeout(show, 400);
  };
  const cancel = () => {
    clearTimeout(wait);
    asked++;
    hideTip();
  };
  const menu = async () => {
    cancel();
    const n = asked;
    const body = await reactorsBody(m, emoji);
    if (n === asked && chip.isConnected) popover(chip, [body]);
  };
  chip.addEventListener("mouseenter", later);
  chip.addEventListener("mouseleave", cancel);
  chip.addEventListener("focus", () => chip.matches(":focus-visible") && later());
  chip.addEventListener("blur", cancel);
  // the click that ends a long press never comes here (onMenuGesture)
  chip.addEventListener("click", cancel);
  onMenuGesture(chip, menu);
}

// A sender's name as bubbles, quotes and the reply bar show it.
export function nameOf(userId) {
  return displayName(S.user(userId));
}

// What a quote says of the message `orig` it quotes: its first line, else
// its files ("Photo" when the message itself is at hand, else a count); a
// deleted one says so.
export function quoteLine(orig) {
  if (orig.deleted) return t("quote.deleted");
  const line = plainText((orig.text || "").trim().split("\n")[0]);
  if (line) return line;
  if (orig.attachments) return messagePreview(orig);
  return orig.attachments_count ? t("quote.attachments", { n: orig.attachments_count }) : t("quote.message");
}

// The quote of a reply as it is now: the server's copy is as it was when
// the reply was loaded; the original, when loaded, follows its edits and
// its deletion live.
function quoteNow(m) {
  if (!m.reply_to) return null;
  return S.findMessage(m.chat_id, m.reply_to.id) || m.reply_to;
}

function replyQuote(m) {
  const q = quoteNow(m);
  if (!q) return null;
  const who = nameOf(q.sender_id);
  const what = quoteLine(q);
  return h("button.reply-quote" + (q.deleted ? ".deleted" : ""), {
    type: "button",
    title: t("composer.showMessage"),
    "aria-label": t("message.inReplyTo", { name: who, text: what }),
    onclick: (e) => {
      e.stopPropagation();
      A.showMessage(m.chat_id, q.id);
    },
  }, h("span.quote-name", { text: who }), h("span.quote-text", { text: what }));
}

// Replied to and forwarded: a stored message, not deleted, not a service
// message (the API refuses to forward those: 409 not_forwardable).
export const canReply = (m) => !m.pending && !m.deleted && m.kind !== "service";

// Can the current user delete this message?
export function canDelete(m, chat) {
  if (m.pending || m.deleted || m.kind === "service") return false;
  const me = S.state.me;
  if (m.sender_id === me.id) return true;
  const mine = S.member(chat, me.id);
  return chat.type === "group" && mine && mine.role === "owner";
}

// Pins: either member of a direct chat, a group's owner (API.md).
export function mayPin(chat) {
  const mine = S.member(chat, S.state.me.id);
  return chat.type === "direct" || !!(mine && mine.role === "owner");
}

export function canPin(m, chat) {
  return !m.pending && !m.deleted && m.kind !== "service" && mayPin(chat);
}

// Reported: someone else's stored message (one's own has nobody to report).
export function canReport(m) {
  return !m.pending && !m.deleted && m.kind !== "service" && m.sender_id !== S.state.me.id;
}

export function canEdit(m) {
  return !m.pending && !m.deleted && m.kind !== "service" && m.sender_id === S.state.me.id && !!m.text;
}

export function openActions(m, chat, anchor, at, { startEdit, startReply }) {
  const mine = S.state.myReactions.get(m.id) || new Set();
  const items = [];
  if (!m.pending && !m.deleted && m.kind !== "service") {
    items.push(h("div.reaction-picker", { role: "group", "aria-label": t("reactions.react") }, QUICK_REACTIONS.map((e) =>
      h("button.pick" + (mine.has(e) ? ".mine" : ""), {
        type: "button",
        role: "menuitem",
        "aria-label": t("reactions.reactWith", { emoji: e }),
        title: t("reactions.reactWith", { emoji: e }),
        text: e,
        onclick: () => {
          entry.close();
          A.toggleReaction(m, e).catch(errorToast);
        },
      })),
    h("button.pick.pick-more", {
      type: "button",
      role: "menuitem",
      "aria-label": t("reactions.moreReactions"),
      title: t("reactions.moreReactions"),
      onclick: () => {
        entry.close();
        openEmojiPicker(anchor, (e) => A.toggleReaction(m, e).catch(errorToast), { label: t("reactions.anyEmoji") });
      },
    }, icon("plus"))));
  }
  if (canReply(m)) items.push({ label: t("menu.reply"), icon: "reply", onclick: () => startReply(m) });
  if (m.pending && m.state === "failed") {
    items.push({ label: t("conn.retry"), icon: "retry", onclick: () => A.retry(m) });
    items.push({ label: t("menu.delete"), icon: "trash", danger: true, onclick: () => A.discard(m) });
  }
  if (m.text && !m.deleted) {
    items.push({
      label: t("menu.copy"),
      icon: "copy",
      onclick: () => navigator.clipboard.writeText(m.text).then(() => toast(t("menu.copied")), () => toast(t("menu.copyFailed"), "error")),
    });
  }
  if (canReply(m)) items.push({ label: t("forward.button"), icon: "forward", onclick: () => openForward(m) });
  if (canPin(m, chat)) {
    items.push({ label: m.pinned ? t("menu.unpin") : t("menu.pin"), icon: "pin", onclick: () => A.pin(m, !m.pinned).catch(errorToast) });
  }
  if (canEdit(m)) items.push({ label: t("menu.edit"), icon: "edit", onclick: () => startEdit(m) });
  if (canDelete(m, chat)) {
    items.push({
      label: t("menu.delete"),
      icon: "trash",
      danger: true,
      onclick: async () => {
        const ok = await confirmDialog(t("menu.deleteTitle"), m.sender_id === S.state.me.id
          ? t("menu.deleteText")
          : t("menu.deleteOthers"), t("menu.delete"));
        if (ok) A.remove(m).catch(errorToast);
      },
    });
  }
  if (canReport(m)) items.push({ label: t("menu.report"), icon: "flag", danger: true, onclick: () => openReport(m) });
  if (!items.length) return;
  const entry = popover(anchor, items, at);
}

// The signature: what a re-render depends on (position classes and ticks
// are applied in place by the chat view, so they are not part of it).
export function signature(m) {
  const sender = S.user(m.sender_id) || {};
  const q = quoteNow(m);
  // a service message: its words, in the language and names of now
  return JSON.stringify([m.id, m.kind === "service" ? serviceText(m) : m.text, m.edited_at, m.deleted, m.state, m.error,
    (m.attachments || []).map((f) => f.id), m.reactions, m.kind, sender.display_name, sender.avatar_url,
    q && [quoteLine(q), q.deleted, nameOf(q.sender_id)], m.forwarded_from, m.pinned, [...mentionNames(m)]]);
}

export function renderMessage(m, chat, { onImageLoad, startEdit, startReply }) {
  const acts = { startEdit, startReply };
  const me = S.state.me;
  if (m.kind === "service") {
    // The server quotes the pinned message's text as written: its
    // formatting signs are dropped, as in the chat list.
    return h("div.msg-row.service", { dataset: { messageId: m.id } },
      h("span.service-pill", { text: plainText(serviceText(m)) }));
  }
  const out = m.sender_id === me.id;
  const sender = S.user(m.sender_id);
  const senderName = nameOf(m.sender_id);
  const time = h("time.msg-time", { datetime: m.created_at, title: formatFull(m.created_at), text: formatClock(m.created_at) });
  const meta = h("span.msg-meta", null,
    m.edited_at && !m.deleted ? h("span.edited", { text: t("message.edited"), title: t("message.editedAt", { date: formatFull(m.edited_at) }) }) : null,
    time,
    out ? h("span.ticks", { "aria-label": "" }) : null);

  const bubbleKids = [];
  if (!out && chat.type === "group") bubbleKids.push(h("div.msg-sender." + colorClass(m.sender_id), { text: senderName }));
  if (m.deleted) {
    bubbleKids.push(h("div.msg-text.deleted", null, icon("trash"), t("message.deletedPreview")), meta);
  } else {
    const fwd = m.forwarded_from;
    if (fwd) bubbleKids.push(h("div.fwd-from", null, icon("forward"), h("span.fwd-text", null, t("message.forwardedFrom") + " ", h("b.fwd-name", { text: fwd.sender_name }))));
    bubbleKids.push(replyQuote(m));
    const att = attachmentsOf(m, onImageLoad);
    if (att) bubbleKids.push(att);
    const reactions = reactionsOf(m);
    // With reactions, the time and ticks close their row instead.
    if (reactions) reactions.append(meta);
    if (m.text) bubbleKids.push(h("div.msg-text", null, renderMarkdown(m.text, mentionNames(m)), reactions ? null : meta));
    else if (!reactions) bubbleKids.push(h("div.msg-meta-row", null, meta));
    bubbleKids.push(reactions);
  }
  const onlyImages = !m.deleted && !m.text && (m.attachments || []).length && m.attachments.every(isImage);
  // One to three emoji and nothing else: large, without a bubble (Telegram).
  const emoji = !m.deleted && !(m.attachments || []).length && !m.reply_to && !m.forwarded_from ? emojiCount(m.text) : 0;
  const bubble = h("div.bubble" + (onlyImages ? ".media-only" : "") + (emoji ? ".emoji-only.e" + emoji : ""), null, bubbleKids);
  if (!m.deleted && m.reactions && m.reactions.length && !m.pending) bubble.classList.add("has-reactions");

  const more = h("button.msg-more.icon-btn", {
    type: "button",
    "aria-label": t("message.actions"),
    title: t("message.more"),
    tabindex: "-1",
    onclick: (e) => {
      e.stopPropagation();
      openActions(m, chat, more, null, acts);
    },
  }, icon(m.pending ? "more" : "smile"));

  // One Tab stop for the whole list: the chat view makes one row 0 (roving).
  const row = h("div.msg-row." + (out ? "out" : "in"), {
    tabindex: "-1",
    "aria-label": `${out ? t("sidebar.you") : senderName}, ${formatClock(m.created_at)}: ${m.deleted ? t("message.deletedLabel") : plainText(m.text) || t("message.attachment")}`,
    dataset: m.pending ? { clientId: m.client_id } : { messageId: m.id, senderId: m.sender_id },
  },
  !out && chat.type === "group" ? h("div.msg-avatar", null, userAvatar(sender, "sm")) : null,
  bubble,
  m.deleted ? null : more);

  if (m.pending) {
    row.classList.add("pending", m.state);
    if (m.state === "failed") {
      row.append(h("div.send-failed", { role: "alert" },
        icon("alert"),
        h("span", { text: t("tick.failed") + (m.error ? ": " + m.error : "") }),
        h("button.link", { type: "button", onclick: () => A.retry(m) }, t("conn.retry")),
        h("button.link", { type: "button", onclick: () => A.discard(m) }, t("menu.delete"))));
    }
  }
  if (m.deleted) row.classList.add("is-deleted");
  if (m.edited_at && !m.deleted) row.classList.add("is-edited");

  row.addEventListener("contextmenu", (e) => {
    if (e.target.closest("a")) return;
    e.preventDefault();
    openActions(m, chat, row, { x: e.clientX, y: e.clientY }, acts);
  });
  bubble.addEventListener("click", (e) => {
    // Touch screens have no hover: a tap on the bubble opens the menu.
    if (e.target.closest("a, button") || !window.matchMedia("(pointer: coarse)").matches) return;
    openActions(m, chat, bubble, null, acts);
  });
  row.addEventListener("keydown", (e) => {
    if (e.target !== row) return;
    if (e.key === "Enter" || e.key === "ContextMenu" || (e.shiftKey && e.key === "F10")) {
      e.preventDefault();
      openActions(m, chat, bubble, null, acts);
    } else if (e.key.toLowerCase() === "r" && !e.ctrlKey && !e.metaKey && !e.altKey && canReply(m)) {
      e.preventDefault();
      startReply(m);
    }
  });
  if (canReply(m)) swipeToReply(row, bubble, () => startReply(m));
  return row;
}

// A phone's swipe to the left on a bubble answers it, as in Telegram: the
// bubble follows the finger (at most SWIPE_MAX px) and a reply arrow
// shows; let go past SWIPE_REPLY and the reply starts. A gesture that
// starts vertical is the list's scroll and is left alone.
const SWIPE_REPLY = 56;
const SWIPE_MAX = 84;
function swipeToReply(row, bubble, reply) {
  let x0 = 0;
  let y0 = 0;
  let dx = 0;
  let state = "idle"; // "idle" | "undecided" | "swiping"
  row.addEventListener("touchstart", (e) => {
    if (e.touches.length !== 1) return;
    x0 = e.touches[0].clientX;
    y0 = e.touches[0].clientY;
    dx = 0;
    state = "undecided";
  }, { passive: true });
  row.addEventListener("touchmove", (e) => {
    if (state === "idle") return;
    const mx = e.touches[0].clientX - x0;
    const my = e.touches[0].clientY - y0;
    if (state === "undecided") {
      if (Math.abs(mx) < 10 && Math.abs(my) < 10) return;
      if (Math.abs(my) >= Math.abs(mx) || mx > 0) {
        state = "idle";
        return;
      }
      state = "swiping";
      if (!row.querySelector(".swipe-reply")) row.append(h("span.swipe-reply", { "aria-hidden": "true" }, icon("reply")));
      row.classList.add("swiping");
    }
    dx = Math.max(-SWIPE_MAX, Math.min(0, mx));
    bubble.style.transform = `translateX(${dx}px)`;
    row.classList.toggle("swipe-ready", dx <= -SWIPE_REPLY);
  }, { passive: true });
  const end = (cancelled) => {
    const was = state;
    state = "idle";
    if (was !== "swiping") return;
    bubble.style.transform = "";
    row.classList.remove("swiping", "swipe-ready");
    if (!cancelled && dx <= -SWIPE_REPLY) reply();
  };
  row.addEventListener("touchend", () => end(false));
  row.addEventListener("touchcancel", () => end(true));
}

// Ticks for an own message: sending or queued (clock), failed, sent, delivered, read.
export function tickState(m, chat) {
  if (m.pending) return m.state === "failed" || m.state === "queued" ? m.state : "sending";
  const me = S.state.me.id;
  let delivered = false;
  for (const mm of chat.members) {
    if (mm.user_id === me) continue;
    if (mm.last_read_message_id >= m.id) return "read";
    if (mm.last_delivered_message_id >= m.id) delivered = true;
  }
  return delivered ? "delivered" : "sent";
}

// i18n-keys: tick.sending tick.queued tick.failed tick.sent tick.delivered tick.read
export function applyTicks(row, stateName) {
  const el = row.querySelector(".ticks");
  if (!el || el.dataset.state === stateName) return;
  el.dataset.state = stateName;
  el.className = "ticks " + stateName;
  el.setAttribute("aria-label", t("tick." + stateName));
  el.setAttribute("title", t("tick." + stateName));
  el.replaceChildren(icon(stateName === "sending" || stateName === "queued" ? "clock" : stateName === "failed" ? "alert" : stateName === "sent" ? "check" : "checks"));
}
