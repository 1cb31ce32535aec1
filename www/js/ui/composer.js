// composer.js - writing and sending: Enter sends, Shift+Enter breaks the
// line, typing notifications (throttled), files by button, drag and drop or
// paste with progress and cancel, editing an own message, replying (a bar
// above the input) and, in groups, an @mention autocomplete of the
// members. Uploads and the reply are kept per chat; drafts per chat too,
// over reloads (drafts.js).

import { h, icon, iconButton, clear } from "../dom.js";
import * as S from "../store.js";
import * as A from "../actions.js";
import { rt } from "../sync.js";
import { draft, setDraft } from "../drafts.js";
import { formatSize, uuid } from "../util.js";
import { toast, errorToast } from "./overlay.js";
import { userAvatar } from "./avatar.js";
import { nameOf, quoteLine } from "./message.js";
import { emojiButton } from "./emojipicker.js";
import { t } from "../i18n.js";

const MAX_TEXT = 4000;
const MAX_FILES = 10;
const TYPING_EVERY = 3000;
// A file larger than the server accepts is refused here, before its bytes
// travel only to be answered 413: the server's own limit (GET
// /api/files/limits, loaded at the start), its default (API.md "Files")
// if that could not be read. A 413 the server still gives is shown with
// its own words.
const DEFAULT_MAX_FILE_SIZE = 25 * 1024 * 1024;
const maxFileSize = () => (S.state.uploadLimits && S.state.uploadLimits.max_file_size) || DEFAULT_MAX_FILE_SIZE;

export function createComposer({ onSent }) {
  const drafts = new Map(); // chatId -> {uploads: [], editing: Message|null, replyTo: Message|null}
  let chatId = null;
  let lastTyping = 0;

  const textarea = h("textarea.composer-input", {
    rows: "1",
    placeholder: t("composer.placeholder"),
    "aria-label": t("quote.message"),
    "aria-autocomplete": "list",
    maxlength: String(MAX_TEXT),
  });
  const fileInput = h("input.sr-only", { type: "file", multiple: true, tabindex: "-1", "aria-hidden": "true" });
  const attach = iconButton("clip", t("composer.attach"), () => fileInput.click(), "attach");
  const sendBtn = h("button.send-btn", { type: "button", "aria-label": t("composer.send"), title: t("composer.sendTitle"), onclick: () => submit() }, icon("send"));
  const tray = h("div.upload-tray", { hidden: true, "aria-label": t("composer.attachments") });
  const editLabel = h("span.edit-text");
  const editBanner = h("div.edit-banner", { hidden: true },
    icon("edit"),
    h("div.edit-body", null, h("span.edit-title", { text: t("composer.editing") }), editLabel),
    iconButton("x", t("composer.cancelEdit"), () => cancelEdit()));
  const replyTitle = h("span.edit-title");
  const replyLabel = h("span.edit-text");
  const replyBar = h("div.edit-banner.reply-bar", { hidden: true, role: "group", "aria-label": t("menu.reply") },
    icon("reply"),
    h("button.edit-body.reply-show", {
      type: "button",
      title: t("composer.showMessage"),
      onclick: () => st().replyTo && A.showMessage(chatId, st().replyTo.id),
    }, replyTitle, replyLabel),
    iconButton("x", t("composer.cancelReply"), () => cancelReply()));
  const mentionList = h("div.mention-list", { id: "mention-list", role: "listbox", "aria-label": t("composer.mentionList"), hidden: true });
  const el = h("div.composer", null, mentionList, editBanner, replyBar, tray,
    h("div.composer-row", null, attach, fileInput, h("div.input-wrap", null, textarea, emojiButton(textarea)), sendBtn));

  const st = () => {
    if (!drafts.has(chatId)) drafts.set(chatId, { uploads: [], editing: null, replyTo: null });
    return drafts.get(chatId);
  };

  function autosize() {
    textarea.style.height = "auto";
    textarea.style.height = Math.min(textarea.scrollHeight, 200) + "px";
  }

  function updateSend() {
    const s = st();
    const has = textarea.value.trim().length > 0 || s.uploads.some((u) => u.status !== "error");
    sendBtn.disabled = !has;
    el.classList.toggle("has-content", has);
  }

  // ---- uploads ----
  function addFiles(list) {
    if (!chatId) return;
    const s = st();
    if (s.editing) cancelEdit();
    let files = [...list].filter((f) => f && f.size >= 0);
    const room = MAX_FILES * 3 - s.uploads.length;
    if (files.length > room) {
      toast(t("composer.tooManyFiles", { n: MAX_FILES * 3 }), "error");
      files = files.slice(0, room);
    }
    for (const file of files) {
      const u = {
        key: uuid(),
        file,
        progress: 0,
        status: "uploading",
        result: null,
        preview: /^image\/(png|jpeg|gif|webp)$/.test(file.type) ? URL.createObjectURL(file) : null,
      };
      s.uploads.push(u);
      if (file.size > maxFileSize()) {
        u.status = "error";
        u.error = t("composer.tooLarge", { size: formatSize(maxFileSize()) });
        continue;
      }
      u.job = A.uploadFile(file, (p) => {
        u.progress = p;
        const bar = tray.querySelector(`[data-key="${u.key}"] progress`);
        if (bar) bar.value = p;
      });
      u.job.promise.then(
        (f) => {
          u.status = "done";
          u.result = f;
          renderTray();
        },
        (e) => {
          if (e.cancelled) return;
          u.status = "error";
          u.error = e.status === 413 ? t("composer.tooLargeServer", { detail: e.message }) : e.status === 415 ? t("composer.notAllowed") : e.message;
          renderTray();
        },
      );
    }
    renderTray();
    textarea.focus();
  }

  function dropUpload(u) {
    const s = st();
    if (u.status === "uploading" && u.job) u.job.abort();
    if (u.preview) URL.revokeObjectURL(u.preview);
    s.uploads = s.uploads.filter((x) => x !== u);
    renderTray();
  }

  function renderTray() {
    const s = st();
    tray.hidden = !s.uploads.length;
    clear(tray);
    for (const u of s.uploads) {
      const label = u.status === "uploading"
        ? t("composer.uploading", { n: Math.round(u.progress * 100) })
        : u.status === "error" ? u.error || t("composer.failed") : formatSize(u.file.size);
      tray.append(h("div.upload." + u.status, { dataset: { key: u.key }, role: "group", "aria-label": u.file.name },
        u.preview ? h("img.upload-thumb", { src: u.preview, alt: "" }) : h("span.upload-thumb.file-icon", null, icon("file")),
        h("div.upload-meta", null,
          h("span.upload-name", { text: u.file.name || "file" }),
          h("span.upload-status", { text: label }),
          u.status === "uploading" ? h("progress.upload-bar", { max: "1", value: String(u.progress), "aria-label": t("composer.uploadProgress") }) : null),
        iconButton("x", u.status === "uploading" ? t("composer.cancelUpload") : t("composer.removeAttachment"), () => dropUpload(u), "upload-cancel")));
    }
    updateSend();
  }

  // ---- reply ----
  function startReply(m) {
    if (m.chat_id !== chatId) return;
    const s = st();
    if (s.editing) cancelEdit();
    s.replyTo = m;
    showReply();
    textarea.focus();
  }

  function showReply() {
    const m = st().replyTo;
    replyBar.hidden = !m;
    if (!m) return;
    replyTitle.textContent = t("composer.replyTo", { name: nameOf(m.sender_id) });
    replyLabel.textContent = quoteLine(m);
  }

  function cancelReply() {
    st().replyTo = null;
    showReply();
  }

  // ---- @mentions (groups) ----
  // The "@name" being typed just before the caret (usernames are
  // [a-z0-9_.], API.md), not inside a word or an e-mail address.
  const MENTION_RE = /(?:^|[^\w@.])@([a-z0-9_.]{0,32})$/i;
  const MENTION_MAX = 8;
  let mention = null; // while the list is open: {start, users, index}
  let dismissed = -1; // where the "@" was whose list Escape closed

  // The members (not me) whose username starts with q, then those with a
  // word of their name starting with it.
  function mentionable(q) {
    const c = S.chat(chatId);
    if (!c || c.type !== "group") return [];
    const needle = q.toLowerCase();
    const found = [];
    for (const mm of c.members) {
      const u = S.user(mm.user_id);
      if (!u || !u.username || u.id === S.state.me.id) continue;
      const rank = u.username.toLowerCase().startsWith(needle) ? 0
        : (u.display_name || "").toLowerCase().split(/\s+/).some((w) => w.startsWith(needle)) ? 1 : -1;
      if (rank >= 0) found.push({ u, rank });
    }
    found.sort((a, b) => a.rank - b.rank || nameOf(a.u.id).localeCompare(nameOf(b.u.id)));
    return found.slice(0, MENTION_MAX).map((x) => x.u);
  }

  function updateMention() {
    const pos = textarea.selectionStart;
    const m = textarea.selectionEnd === pos ? textarea.value.slice(0, pos).match(MENTION_RE) : null;
    const start = m ? pos - m[1].length - 1 : -1;
    if (start !== dismissed) dismissed = -1;
    const users = m && start !== dismissed ? mentionable(m[1]) : [];
    if (!users.length) return closeMention();
    const was = mention && mention.users[mention.index];
    mention = { start, users, index: Math.max(0, users.indexOf(was)) };
    renderMention();
  }

  function renderMention() {
    clear(mentionList);
    mention.users.forEach((u, i) => {
      mentionList.append(h("div.mention-item" + (i === mention.index ? ".active" : ""), {
        id: "mention-opt-" + u.id,
        role: "option",
        "aria-selected": i === mention.index ? "true" : "false",
        // The focus (and so the caret) stays in the textarea.
        onmousedown: (e) => e.preventDefault(),
        onclick: () => insertMention(u),
      }, userAvatar(u, "sm"), h("span.mention-name", { text: nameOf(u.id) }), h("span.mention-user", { text: "@" + u.username })));
    });
    mentionList.hidden = false;
    textarea.setAttribute("aria-controls", mentionList.id);
    textarea.setAttribute("aria-activedescendant", "mention-opt-" + mention.users[mention.index].id);
    const active = mentionList.querySelector(".active");
    if (active) active.scrollIntoView({ block: "nearest" });
  }

  function closeMention() {
    mention = null;
    if (mentionList.hidden) return;
    mentionList.hidden = true;
    clear(mentionList);
    textarea.removeAttribute("aria-controls");
    textarea.removeAttribute("aria-activedescendant");
  }

  function insertMention(u) {
    if (!mention) return;
    const v = textarea.value;
    const end = textarea.selectionStart;
    const ins = "@" + u.username + " ";
    textarea.value = v.slice(0, mention.start) + ins + v.slice(end).replace(/^ /, "");
    const caret = mention.start + ins.length;
    textarea.setSelectionRange(caret, caret);
    closeMention();
    textarea.dispatchEvent(new Event("input"));
  }

  // Arrows, Enter/Tab and Escape while the list is open; true when used.
  function mentionKey(e) {
    if (!mention) return false;
    const n = mention.users.length;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      mention.index = (mention.index + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      renderMention();
    } else if ((e.key === "Enter" && !e.shiftKey) || e.key === "Tab") {
      insertMention(mention.users[mention.index]);
    } else if (e.key === "Escape") {
      e.stopPropagation();
      dismissed = mention.start;
      closeMention();
    } else return false;
    e.preventDefault();
    return true;
  }

  // ---- edit ----
  function startEdit(m) {
    const s = st();
    if (s.replyTo) cancelReply();
    if (!s.editing) setDraft(chatId, textarea.value);
    s.editing = m;
    editLabel.textContent = m.text;
    editBanner.hidden = false;
    textarea.value = m.text;
    autosize();
    updateSend();
    textarea.focus();
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
  }

  function cancelEdit() {
    const s = st();
    if (!s.editing) return;
    s.editing = null;
    editBanner.hidden = true;
    textarea.value = draft(chatId);
    autosize();
    updateSend();
  }

  // ---- send ----
  async function submit() {
    const id = chatId;
    const s = st();
    const text = textarea.value.trim();
    if (s.editing) {
      const m = s.editing;
      if (!text) return;
      if (text === m.text) return cancelEdit();
      sendBtn.disabled = true;
      try {
        await A.edit(m, text);
        cancelEdit();
      } catch (e) {
        errorToast(e);
      } finally {
        updateSend();
      }
      return;
    }
    const uploads = s.uploads.filter((u) => u.status !== "error");
    if (!text && !uploads.length) return;
    if ([...text].length > MAX_TEXT) {
      toast(t("composer.tooLong", { n: MAX_TEXT }), "error");
      return;
    }
    const replyTo = s.replyTo;
    s.replyTo = null;
    showReply();
    closeMention();
    textarea.value = "";
    setDraft(id, "");
    autosize();
    if (uploads.some((u) => u.status === "uploading")) {
      el.classList.add("waiting");
      await Promise.allSettled(uploads.map((u) => u.job.promise));
      el.classList.remove("waiting");
    }
    const done = uploads.filter((u) => u.status === "done");
    // These leave the tray now (failed ones stay, to be seen and removed).
    s.uploads = s.uploads.filter((u) => !uploads.includes(u) || u.status === "error");
    for (const u of done) if (u.preview) URL.revokeObjectURL(u.preview);
    if (id === chatId) renderTray();
    const files = done.map((u) => u.result);
    if (!text && !files.length) return;
    // Ten files a message: more go as further messages.
    const first = files.slice(0, MAX_FILES);
    A.send(id, text, first, replyTo);
    for (let i = MAX_FILES; i < files.length; i += MAX_FILES) A.send(id, "", files.slice(i, i + MAX_FILES));
    lastTyping = 0;
    onSent();
  }

  // ---- events ----
  textarea.addEventListener("keydown", (e) => {
    if (mentionKey(e)) return;
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !e.ctrlKey && !e.altKey && !e.metaKey) {
      e.preventDefault();
      submit();
    } else if (e.key === "Escape" && st().editing) {
      e.preventDefault();
      e.stopPropagation();
      cancelEdit();
    } else if (e.key === "Escape" && st().replyTo) {
      e.preventDefault();
      e.stopPropagation();
      cancelReply();
    } else if (e.key === "ArrowUp" && !textarea.value && !st().editing) {
      const l = S.state.messages.get(chatId);
      const mine = l && [...l.items].reverse().find((m) => m.sender_id === S.state.me.id && !m.deleted && m.kind !== "service" && m.text);
      if (mine) {
        e.preventDefault();
        startEdit(mine);
      }
    }
  });
  textarea.addEventListener("input", () => {
    autosize();
    updateSend();
    updateMention();
    if (!st().editing) setDraft(chatId, textarea.value);
    const now = Date.now();
    if (textarea.value.trim() && !st().editing && now - lastTyping > TYPING_EVERY && rt) {
      if (rt.send({ type: "typing", chat_id: chatId })) lastTyping = now;
    }
  });
  // The caret moved without typing: the "@name" under it may differ.
  textarea.addEventListener("click", updateMention);
  textarea.addEventListener("keyup", (e) => {
    if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) updateMention();
  });
  textarea.addEventListener("blur", closeMention);
  textarea.addEventListener("paste", (e) => {
    const files = [...(e.clipboardData ? e.clipboardData.files : [])];
    if (!files.length) return;
    if (!e.clipboardData.types.includes("text/plain")) e.preventDefault();
    addFiles(files);
  });
  fileInput.addEventListener("change", () => {
    addFiles(fileInput.files);
    fileInput.value = "";
  });

  return {
    el,
    addFiles,
    startEdit,
    startReply,
    focus: () => textarea.focus({ preventScroll: true }),
    setChat(id) {
      if (chatId !== null && !st().editing) setDraft(chatId, textarea.value);
      chatId = id;
      const s = st();
      closeMention();
      showReply();
      editBanner.hidden = !s.editing;
      if (s.editing) editLabel.textContent = s.editing.text;
      textarea.value = s.editing ? s.editing.text : draft(id);
      renderTray();
      autosize();
      updateSend();
    },
  };
}
