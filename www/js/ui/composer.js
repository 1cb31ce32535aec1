// composer.js - writing and sending: Enter sends, Shift+Enter breaks the
// line, typing notifications (throttled), files by button, drag and drop or
// paste with progress and cancel, and editing an own message. Uploads are
// kept per chat; drafts per chat too, over reloads (drafts.js).

import { h, icon, iconButton, clear } from "../dom.js";
import * as S from "../store.js";
import * as A from "../actions.js";
import { rt } from "../sync.js";
import { draft, setDraft } from "../drafts.js";
import { formatSize, uuid } from "../util.js";
import { toast, errorToast } from "./overlay.js";
import { emojiButton } from "./emojipicker.js";

const MAX_TEXT = 4000;
const MAX_FILES = 10;
const TYPING_EVERY = 3000;
// The server's default limit of a file (API.md "Files": 25 MiB,
// MSGR_MAX_FILE_SIZE): a larger file is refused here, before its bytes
// travel only to be answered 413. A server configured lower still answers
// 413, shown with its own words.
export const MAX_FILE_SIZE = 25 * 1024 * 1024;

export function createComposer({ onSent }) {
  const drafts = new Map(); // chatId -> {uploads: [], editing: Message|null}
  let chatId = null;
  let lastTyping = 0;

  const textarea = h("textarea.composer-input", {
    rows: "1",
    placeholder: "Write a message…",
    "aria-label": "Message",
    maxlength: String(MAX_TEXT),
  });
  const fileInput = h("input.sr-only", { type: "file", multiple: true, tabindex: "-1", "aria-hidden": "true" });
  const attach = iconButton("clip", "Attach files", () => fileInput.click(), "attach");
  const sendBtn = h("button.send-btn", { type: "button", "aria-label": "Send", title: "Send (Enter)", onclick: () => submit() }, icon("send"));
  const tray = h("div.upload-tray", { hidden: true, "aria-label": "Attachments" });
  const editLabel = h("span.edit-text");
  const editBanner = h("div.edit-banner", { hidden: true },
    icon("edit"),
    h("div.edit-body", null, h("span.edit-title", { text: "Editing message" }), editLabel),
    iconButton("x", "Cancel editing", () => cancelEdit()));
  const el = h("div.composer", null, editBanner, tray,
    h("div.composer-row", null, attach, fileInput, h("div.input-wrap", null, textarea, emojiButton(textarea)), sendBtn));

  const st = () => {
    if (!drafts.has(chatId)) drafts.set(chatId, { uploads: [], editing: null });
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
      toast(`At most ${MAX_FILES * 3} files at a time`, "error");
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
      if (file.size > MAX_FILE_SIZE) {
        u.status = "error";
        u.error = `Too large: at most ${formatSize(MAX_FILE_SIZE)} a file`;
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
          u.error = e.status === 413 ? "Too large: " + e.message : e.status === 415 ? "Not allowed" : e.message;
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
        ? `Uploading ${Math.round(u.progress * 100)}%`
        : u.status === "error" ? u.error || "Failed" : formatSize(u.file.size);
      tray.append(h("div.upload." + u.status, { dataset: { key: u.key }, role: "group", "aria-label": u.file.name },
        u.preview ? h("img.upload-thumb", { src: u.preview, alt: "" }) : h("span.upload-thumb.file-icon", null, icon("file")),
        h("div.upload-meta", null,
          h("span.upload-name", { text: u.file.name || "file" }),
          h("span.upload-status", { text: label }),
          u.status === "uploading" ? h("progress.upload-bar", { max: "1", value: String(u.progress), "aria-label": "Upload progress" }) : null),
        iconButton("x", u.status === "uploading" ? "Cancel upload" : "Remove attachment", () => dropUpload(u), "upload-cancel")));
    }
    updateSend();
  }

  // ---- edit ----
  function startEdit(m) {
    const s = st();
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
      toast(`A message is at most ${MAX_TEXT} characters`, "error");
      return;
    }
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
    A.send(id, text, first);
    for (let i = MAX_FILES; i < files.length; i += MAX_FILES) A.send(id, "", files.slice(i, i + MAX_FILES));
    lastTyping = 0;
    onSent();
  }

  // ---- events ----
  textarea.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !e.ctrlKey && !e.altKey && !e.metaKey) {
      e.preventDefault();
      submit();
    } else if (e.key === "Escape" && st().editing) {
      e.preventDefault();
      e.stopPropagation();
      cancelEdit();
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
    if (!st().editing) setDraft(chatId, textarea.value);
    const now = Date.now();
    if (textarea.value.trim() && !st().editing && now - lastTyping > TYPING_EVERY && rt) {
      if (rt.send({ type: "typing", chat_id: chatId })) lastTyping = now;
    }
  });
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
    focus: () => textarea.focus({ preventScroll: true }),
    setChat(id) {
      if (chatId !== null && !st().editing) setDraft(chatId, textarea.value);
      chatId = id;
      const s = st();
      editBanner.hidden = !s.editing;
      if (s.editing) editLabel.textContent = s.editing.text;
      textarea.value = s.editing ? s.editing.text : draft(id);
      renderTray();
      autosize();
      updateSend();
    },
  };
}
