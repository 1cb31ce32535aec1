// message.js - one message as a bubble: sender, attachments, text with
// links, reactions, time, "edited", delivery ticks, and its actions menu.

import { apiHref } from "../api.js";
import { h, icon } from "../dom.js";
import * as S from "../store.js";
import * as A from "../actions.js";
import { formatClock, formatFull, formatSize, isImage, colorClass } from "../util.js";
import { userAvatar } from "./avatar.js";
import { gallery } from "../media.js";
import { lightbox, popover, confirmDialog, errorToast, toast } from "./overlay.js";

export const QUICK_REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏", "🎉", "🔥"];

// http(s) URLs, and "www." addresses as people write them (not inside a
// word, an email address or a path).
const URL_RE = /(?:\bhttps?:\/\/|(?<![\w@.\/-])www\.)[^\s<>"']+[^\s<>"'.,;:!?)\]}]/gi;

// Text with links made clickable (a "www." one goes to https://); the
// link is an element with a text node, everything else stays text.
function richText(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const href = /^www\./i.test(m[0]) ? "https://" + m[0] : m[0];
    out.push(h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", text: m[0] }));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function attachmentsOf(m, onImageLoad) {
  const files = m.attachments || [];
  if (!files.length) return null;
  const images = files.filter(isImage);
  const others = files.filter((f) => !isImage(f));
  return [
    images.length
      ? h("div.media" + (images.length > 1 ? ".grid" : ""), null, images.map((f) => {
          const img = h("img", { src: apiHref(f.url) || f.localUrl, alt: f.name || "Image", loading: "lazy", decoding: "async" });
          img.addEventListener("load", onImageLoad, { once: true });
          return h("button.media-item", {
            type: "button",
            "aria-label": "Open image " + (f.name || ""),
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
            title: "Download " + f.name,
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
  return h("div.reactions", null, m.reactions.map((r) =>
    h("button.reaction" + (r.me ? ".mine" : ""), {
      type: "button",
      "aria-pressed": r.me ? "true" : "false",
      "aria-label": `${r.emoji} ${r.count}${r.me ? ", remove your reaction" : ", react"}`,
      dataset: { emoji: r.emoji },
      onclick: (e) => {
        e.stopPropagation();
        A.toggleReaction(m, r.emoji).catch(errorToast);
      },
    }, h("span.reaction-emoji", { text: r.emoji }), h("span.reaction-count", { text: String(r.count) }))));
}

// Can the current user delete this message?
export function canDelete(m, chat) {
  if (m.pending || m.deleted || m.kind === "service") return false;
  const me = S.state.me;
  if (m.sender_id === me.id) return true;
  const mine = S.member(chat, me.id);
  return chat.type === "group" && mine && mine.role === "owner";
}

export function canEdit(m) {
  return !m.pending && !m.deleted && m.kind !== "service" && m.sender_id === S.state.me.id && !!m.text;
}

export function openActions(m, chat, anchor, at, { startEdit }) {
  const mine = S.state.myReactions.get(m.id) || new Set();
  const items = [];
  if (!m.pending && !m.deleted && m.kind !== "service") {
    items.push(h("div.reaction-picker", { role: "group", "aria-label": "React" }, QUICK_REACTIONS.map((e) =>
      h("button.pick" + (mine.has(e) ? ".mine" : ""), {
        type: "button",
        role: "menuitem",
        "aria-label": "React with " + e,
        title: "React with " + e,
        text: e,
        onclick: () => {
          entry.close();
          A.toggleReaction(m, e).catch(errorToast);
        },
      }))));
  }
  if (m.pending && m.state === "failed") {
    items.push({ label: "Retry", icon: "retry", onclick: () => A.retry(m) });
    items.push({ label: "Delete", icon: "trash", danger: true, onclick: () => A.discard(m) });
  }
  if (m.text && !m.deleted) {
    items.push({
      label: "Copy text",
      icon: "copy",
      onclick: () => navigator.clipboard.writeText(m.text).then(() => toast("Copied"), () => toast("Could not copy", "error")),
    });
  }
  if (canEdit(m)) items.push({ label: "Edit", icon: "edit", onclick: () => startEdit(m) });
  if (canDelete(m, chat)) {
    items.push({
      label: "Delete",
      icon: "trash",
      danger: true,
      onclick: async () => {
        const ok = await confirmDialog("Delete message?", m.sender_id === S.state.me.id
          ? "It will be deleted for everyone in this chat."
          : "You are deleting someone else's message as the group owner.", "Delete");
        if (ok) A.remove(m).catch(errorToast);
      },
    });
  }
  if (!items.length) return;
  const entry = popover(anchor, items, at);
}

// The signature: what a re-render depends on (position classes and ticks
// are applied in place by the chat view, so they are not part of it).
export function signature(m) {
  const sender = S.user(m.sender_id) || {};
  return JSON.stringify([m.id, m.text, m.edited_at, m.deleted, m.state, m.error,
    (m.attachments || []).map((f) => f.id), m.reactions, m.kind, sender.display_name, sender.avatar_url]);
}

export function renderMessage(m, chat, { onImageLoad, startEdit }) {
  const me = S.state.me;
  if (m.kind === "service") {
    return h("div.msg-row.service", { dataset: { messageId: m.id } },
      h("span.service-pill", { text: m.text }));
  }
  const out = m.sender_id === me.id;
  const sender = S.user(m.sender_id);
  const senderName = sender ? sender.display_name || sender.username : "Deleted account";
  const time = h("time.msg-time", { datetime: m.created_at, title: formatFull(m.created_at), text: formatClock(m.created_at) });
  const meta = h("span.msg-meta", null,
    m.edited_at && !m.deleted ? h("span.edited", { text: "edited", title: "Edited " + formatFull(m.edited_at) }) : null,
    time,
    out ? h("span.ticks", { "aria-label": "" }) : null);

  const bubbleKids = [];
  if (!out && chat.type === "group") bubbleKids.push(h("div.msg-sender." + colorClass(m.sender_id), { text: senderName }));
  if (m.deleted) {
    bubbleKids.push(h("div.msg-text.deleted", null, icon("trash"), "Message deleted"), meta);
  } else {
    const att = attachmentsOf(m, onImageLoad);
    if (att) bubbleKids.push(att);
    const reactions = reactionsOf(m);
    // With reactions, the time and ticks close their row instead.
    if (reactions) reactions.append(meta);
    if (m.text) bubbleKids.push(h("div.msg-text", null, richText(m.text), reactions ? null : meta));
    else if (!reactions) bubbleKids.push(h("div.msg-meta-row", null, meta));
    bubbleKids.push(reactions);
  }
  const onlyImages = !m.deleted && !m.text && (m.attachments || []).length && m.attachments.every(isImage);
  const bubble = h("div.bubble" + (onlyImages ? ".media-only" : ""), null, bubbleKids);
  if (!m.deleted && m.reactions && m.reactions.length && !m.pending) bubble.classList.add("has-reactions");

  const more = h("button.msg-more.icon-btn", {
    type: "button",
    "aria-label": "Message actions",
    title: "More",
    tabindex: "-1",
    onclick: (e) => {
      e.stopPropagation();
      openActions(m, chat, more, null, { startEdit });
    },
  }, icon(m.pending ? "more" : "smile"));

  // One Tab stop for the whole list: the chat view makes one row 0 (roving).
  const row = h("div.msg-row." + (out ? "out" : "in"), {
    tabindex: "-1",
    "aria-label": `${out ? "You" : senderName}, ${formatClock(m.created_at)}: ${m.deleted ? "deleted message" : m.text || "attachment"}`,
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
        h("span", { text: "Not sent" + (m.error ? ": " + m.error : "") }),
        h("button.link", { type: "button", onclick: () => A.retry(m) }, "Retry"),
        h("button.link", { type: "button", onclick: () => A.discard(m) }, "Delete")));
    }
  }
  if (m.deleted) row.classList.add("is-deleted");
  if (m.edited_at && !m.deleted) row.classList.add("is-edited");

  row.addEventListener("contextmenu", (e) => {
    if (e.target.closest("a")) return;
    e.preventDefault();
    openActions(m, chat, row, { x: e.clientX, y: e.clientY }, { startEdit });
  });
  bubble.addEventListener("click", (e) => {
    // Touch screens have no hover: a tap on the bubble opens the menu.
    if (e.target.closest("a, button") || !window.matchMedia("(pointer: coarse)").matches) return;
    openActions(m, chat, bubble, null, { startEdit });
  });
  row.addEventListener("keydown", (e) => {
    if (e.target !== row) return;
    if (e.key === "Enter" || e.key === "ContextMenu" || (e.shiftKey && e.key === "F10")) {
      e.preventDefault();
      openActions(m, chat, bubble, null, { startEdit });
    }
  });
  return row;
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

const TICK_LABEL = { sending: "Sending", queued: "Waiting for network", failed: "Not sent", sent: "Sent", delivered: "Delivered", read: "Read" };

export function applyTicks(row, stateName) {
  const t = row.querySelector(".ticks");
  if (!t || t.dataset.state === stateName) return;
  t.dataset.state = stateName;
  t.className = "ticks " + stateName;
  t.setAttribute("aria-label", TICK_LABEL[stateName]);
  t.setAttribute("title", TICK_LABEL[stateName]);
  t.replaceChildren(icon(stateName === "sending" || stateName === "queued" ? "clock" : stateName === "failed" ? "alert" : stateName === "sent" ? "check" : "checks"));
}
