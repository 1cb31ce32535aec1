// dialogs.js - the profile (name, about, avatar, theme, notifications
// (notifysettings.js), password and devices (security.js), the export of
// the account's data (exportdata.js), log out), the
// new-group dialog and the forward dialog.

import { h, icon, clear } from "../dom.js";
import * as S from "../store.js";
import * as A from "../actions.js";
import * as theme from "../theme.js";
import { logout } from "../auth.js";
import { userAvatar, avatar, chatAvatar } from "./avatar.js";
import { userPicker } from "./picker.js";
import { modal, errorToast, toast } from "./overlay.js";
import { nameOf, quoteLine } from "./message.js";
import { t, LANGUAGES, LANGUAGE_NAMES, language, setLanguage } from "../i18n.js";
import { api } from "../api.js";
import { devicesSection, passwordSection, deleteAccountSection } from "./security.js";
import { notificationsSection } from "./notifysettings.js";
import { exportSection } from "./exportdata.js";
import { isAdmin } from "./admin.js";

// i18n-keys: theme.system theme.light theme.dark

function fieldBox(label, control, name, counterMax) {
  const err = h("div.field-error", { "aria-live": "polite" });
  const counter = counterMax ? h("span.counter") : null;
  const update = () => {
    if (counter) counter.textContent = [...control.value].length + " / " + counterMax;
  };
  control.addEventListener("input", () => {
    err.textContent = "";
    update();
  });
  update();
  const id = "p-" + name;
  control.id = id;
  return {
    el: h("div.field", { dataset: { field: name } }, h("div.field-label-row", null, h("label.field-label", { for: id, text: label }), counter), control, err),
    err,
  };
}

export function openProfile() {
  const me = S.state.me;
  if (!me) return;
  const pic = h("div.profile-pic");
  const progress = h("progress.upload-bar", { max: "1", value: "0", hidden: true, "aria-label": t("composer.uploadProgress") });
  const file = h("input.sr-only", { type: "file", accept: "image/png,image/jpeg,image/gif,image/webp", tabindex: "-1", "aria-hidden": "true" });
  const removeBtn = h("button.btn.small", { type: "button" }, t("profile.removePhoto"));
  const changeBtn = h("button.btn.small.primary", { type: "button", onclick: () => file.click() }, icon("camera"), t("profile.uploadPhoto"));
  const avatarErr = h("div.field-error", { "aria-live": "polite" });
  const showPic = (url) => {
    clear(pic).append(url ? avatar({ id: me.id, name: me.display_name, url, size: "xl" }) : userAvatar(S.state.me, "xl"));
    removeBtn.hidden = !S.state.me.avatar_url;
  };
  showPic(null);

  file.addEventListener("change", () => {
    const f = file.files[0];
    file.value = "";
    if (!f) return;
    avatarErr.textContent = "";
    const preview = URL.createObjectURL(f);
    showPic(preview);
    progress.hidden = false;
    progress.value = 0;
    changeBtn.disabled = true;
    const job = A.uploadAvatar(f, (p) => (progress.value = p));
    job.promise
      .then(() => toast(t("profile.photoUpdated")))
      .catch((e) => {
        avatarErr.textContent = e.status === 415 ? t("profile.photoType") : e.status === 413 ? t("profile.photoSize") : e.message;
      })
      .finally(() => {
        URL.revokeObjectURL(preview);
        progress.hidden = true;
        changeBtn.disabled = false;
        showPic(null);
      });
  });
  removeBtn.addEventListener("click", async () => {
    try {
      await A.removeAvatar();
      showPic(null);
    } catch (e) {
      errorToast(e);
    }
  });

  const name = h("input.input", { value: me.display_name || "", maxlength: "64", autocomplete: "name" });
  const about = h("textarea.input", { rows: "3", maxlength: "500", placeholder: t("profile.aboutPlaceholder") });
  about.value = me.about || "";
  const fName = fieldBox(t("auth.displayName"), name, "display_name", 64);
  const fAbout = fieldBox(t("profile.about"), about, "about", 500);

  const themeGroup = h("div.segmented", { role: "radiogroup", "aria-label": t("profile.theme") },
    ["system", "light", "dark"].map((th) => {
      const b = h("button.seg", {
        type: "button",
        role: "radio",
        "aria-checked": theme.choice() === th ? "true" : "false",
        dataset: { theme: th },
        onclick: () => {
          theme.set(th);
          for (const x of themeGroup.children) x.setAttribute("aria-checked", x.dataset.theme === th ? "true" : "false");
        },
      }, t("theme." + th));
      return b;
    }));

  // The account's language (settings' "language"): saved, then the app
  // starts again in it, every screen drawn anew.
  const langGroup = h("div.segmented", { role: "radiogroup", "aria-label": t("profile.language"), id: "p-language" },
    LANGUAGES.map((l) => h("button.seg", {
      type: "button",
      role: "radio",
      lang: l,
      "aria-checked": language() === l ? "true" : "false",
      dataset: { value: l },
      onclick: async () => {
        if (l === language()) return;
        for (const x of langGroup.children) x.disabled = true;
        try {
          await api("PATCH", "/users/me/settings", { language: l });
          await setLanguage(l);
          location.reload();
        } catch (e) {
          errorToast(e);
          for (const x of langGroup.children) x.disabled = false;
        }
      },
    }, LANGUAGE_NAMES[l])));

  const form = h("form.profile-form", { novalidate: true },
    h("div.profile-top", null, pic,
      h("div.profile-id", null,
        h("div.profile-username", { text: "@" + me.username }),
        me.email ? h("div.profile-email", { text: me.email }) : null,
        h("div.profile-pic-actions", null, changeBtn, removeBtn, file),
        progress,
        avatarErr)),
    isAdmin()
      ? h("button.btn.profile-admin", {
        type: "button",
        onclick: () => {
          m.close();
          location.hash = "#/admin";
        },
      }, icon("shield"), t("admin.title"))
      : null,
    fName.el,
    fAbout.el,
    h("div.field", null, h("span.field-label", { text: t("profile.theme") }), themeGroup),
    h("div.field", null, h("span.field-label", { text: t("profile.language") }), langGroup));

  const save = h("button.btn.primary", { type: "submit" }, t("dialog.save"));
  save.setAttribute("form", "profile-form");
  form.id = "profile-form";
  const devices = devicesSection();
  let unsub = () => {};
  const m = modal({
    title: t("profile.title"),
    onClose: () => unsub(),
    // the sections are forms of their own, beside the profile's
    body: [form, notificationsSection(), passwordSection(() => devices.reload()), devices.el, exportSection(), deleteAccountSection()],
    cls: "profile",
    actions: [
      h("button.btn.danger-text", { type: "button", onclick: () => { m.close(); logout(); } }, icon("logout"), t("profile.logout")),
      h("span.spacer"),
      h("button.btn", { type: "button", onclick: () => m.close() }, t("dialog.cancel")),
      save,
    ],
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const fields = {};
    if (name.value.trim() !== (S.state.me.display_name || "")) fields.display_name = name.value.trim();
    if (about.value !== (S.state.me.about || "")) fields.about = about.value.trim();
    if (fields.display_name === "") {
      fName.err.textContent = t("auth.required");
      return;
    }
    if (!Object.keys(fields).length) return m.close();
    save.disabled = true;
    try {
      await A.saveProfile(fields);
      toast(t("profile.saved"));
      m.close();
    } catch (err) {
      const errs = err.errors || {};
      if (errs.display_name) fName.err.textContent = errs.display_name;
      if (errs.about) fAbout.err.textContent = errs.about;
      if (!errs.display_name && !errs.about) errorToast(err);
    } finally {
      save.disabled = false;
    }
  });
  unsub = S.on("me", () => {
    if (progress.hidden) showPic(null);
  });
}

// A picked person or chat, with a button that unpicks it.
function chip(pic, label, onRemove) {
  return h("span.chip", null, pic, h("span", { text: label }),
    h("button.chip-x", { type: "button", "aria-label": t("dialog.removeChip", { name: label }), onclick: onRemove }, icon("x")));
}

export function openNewGroup() {
  const title = h("input.input", { maxlength: "128", placeholder: t("group.name"), autofocus: true });
  const fTitle = fieldBox(t("group.name"), title, "title");
  const selected = new Map(); // id -> User
  const chips = h("div.chips", { "aria-label": t("group.selected") });
  const renderChips = () => {
    clear(chips);
    for (const u of selected.values()) {
      chips.append(chip(userAvatar(u, "xs"), u.display_name || u.username, () => {
        selected.delete(u.id);
        renderChips();
        picker.refresh();
      }));
    }
    create.textContent = selected.size ? t("group.createWith", { n: selected.size + 1 }) : t("group.create");
  };
  const picker = userPicker({
    label: t("group.addPeople"),
    actionLabel: (u) => (selected.has(u.id) ? { text: t("group.added") } : { text: t("group.add"), primary: true }),
    onPick: (u) => {
      if (selected.has(u.id)) selected.delete(u.id);
      else selected.set(u.id, u);
      renderChips();
    },
  });
  const create = h("button.btn.primary", { type: "button" }, t("group.create"));
  const m = modal({
    title: t("group.new"),
    body: h("div.newgroup", null, fTitle.el, h("div.field", null, h("span.field-label", { text: t("group.members") }), chips, picker.el)),
    actions: [h("button.btn", { type: "button", onclick: () => m.close() }, t("dialog.cancel")), create],
  });
  const submit = async () => {
    const t = title.value.trim();
    if (!t) {
      fTitle.err.textContent = t("group.nameRequired");
      title.focus();
      return;
    }
    create.disabled = true;
    try {
      await A.createGroup(t, [...selected.keys()]);
      m.close();
    } catch (e) {
      if (e.errors && e.errors.title) fTitle.err.textContent = e.errors.title;
      else errorToast(e);
    } finally {
      create.disabled = false;
    }
  };
  create.addEventListener("click", submit);
  title.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      picker.input.focus();
    }
  });
}

// Forward a message to 1-10 of my chats (POST /api/messages/{id}/forward),
// picked from my chat list with a search; Enter in the search picks the
// first match.
const FORWARD_MAX = 10;

export function openForward(m) {
  const selected = new Set(); // chat ids, in the order picked
  const search = h("input.input", { type: "search", placeholder: t("forward.search"), "aria-label": t("forward.search"), autocomplete: "off", spellcheck: "false" });
  const list = h("div.picker-results.fwd-list", { role: "group", "aria-label": t("sidebar.chats") });
  const note = h("div.fwd-note", { "aria-live": "polite" });
  const chips = h("div.chips", { "aria-label": t("forward.chosen") });
  const send = h("button.btn.primary", { type: "button", disabled: true }, t("forward.button"));
  const preview = h("div.fwd-preview", null, icon("forward"),
    h("div.edit-body", null, h("span.edit-title", { text: nameOf(m.sender_id) }), h("span.edit-text", { text: quoteLine(m) })));

  function update() {
    const full = selected.size >= FORWARD_MAX;
    send.disabled = !selected.size;
    send.textContent = selected.size ? t("forward.toChats", { n: selected.size }) : t("forward.button");
    note.textContent = full ? t("forward.max", { n: FORWARD_MAX }) : "";
    for (const box of list.querySelectorAll("input")) box.disabled = !box.checked && full;
    // What is picked stays in sight while the list is searched or scrolled.
    clear(chips);
    for (const id of selected) {
      const c = S.chat(id);
      if (!c) continue;
      const title = S.chatTitle(c);
      chips.append(chip(chatAvatar(c, title, "xs"), title, () => {
        selected.delete(id);
        render();
      }));
    }
  }

  function render() {
    const needle = search.value.trim().toLowerCase();
    const chats = S.sortedChats().filter((c) => !needle || S.chatMatches(c, needle));
    clear(list);
    if (!chats.length) list.append(h("div.list-hint", { text: t("forward.none") }));
    for (const c of chats) {
      const title = S.chatTitle(c);
      const box = h("input.fwd-check", { type: "checkbox", checked: selected.has(c.id), "aria-label": t("forward.to", { name: title }) });
      box.addEventListener("change", () => {
        if (box.checked) selected.add(c.id);
        else selected.delete(c.id);
        update();
      });
      const sub = c.type === "group" ? t("members", { n: c.members.length }) : "@" + ((S.peer(c) || {}).username || "");
      list.append(h("label.picker-row.fwd-row", { dataset: { chatId: c.id } },
        chatAvatar(c, title, "sm"),
        h("div.picker-text", null, h("span.picker-name", { text: title }), h("span.picker-sub", { text: sub })),
        box));
    }
    update();
  }

  search.addEventListener("input", render);
  search.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    const box = list.querySelector("input:not(:checked):not(:disabled)");
    if (box) box.click();
  });
  send.addEventListener("click", async () => {
    const ids = [...selected];
    send.disabled = true;
    try {
      await A.forward(m, ids);
      dlg.close();
      toast(ids.length === 1 ? t("forward.doneOne", { name: S.chatTitle(S.chat(ids[0])) }) : t("forward.done", { n: ids.length }));
    } catch (e) {
      errorToast(e);
      update();
    }
  });
  const dlg = modal({
    title: t("forward.title"),
    cls: "forward",
    body: h("div.fwd", null, preview, chips, search, list, note),
    actions: [h("button.btn", { type: "button", onclick: () => dlg.close() }, t("dialog.cancel")), send],
  });
  render();
}

// Report a message to the administrators (POST /api/messages/{id}/report):
// a quick reason, and words of one's own (needed for "Other"). The reason
// the server stores is the choice and the words together, 1-500 code
// points, so the counter counts both.
// The reasons as the report says them to the administrators (in English,
// like the rest of what they read), shown in the app's language.
// i18n-keys: report.Spam report.Abuse report.Other
const REPORT_REASONS = ["Spam", "Abuse", "Other"];
const REPORT_MAX = 500;

export function openReport(m) {
  let kind = "Spam";
  const kinds = h("div.segmented.report-kinds", { role: "radiogroup", "aria-label": t("report.reason") },
    REPORT_REASONS.map((k) => h("button.seg", {
      type: "button",
      role: "radio",
      "aria-checked": k === kind ? "true" : "false",
      dataset: { reason: k },
      onclick: () => {
        kind = k;
        for (const x of kinds.children) x.setAttribute("aria-checked", x.dataset.reason === k ? "true" : "false");
        update();
        if (k === "Other") details.focus();
      },
    }, t("report." + k))));
  const details = h("textarea.input", { rows: "3", placeholder: t("report.placeholder") });
  const fDetails = fieldBox(t("report.details"), details, "reason");
  const counter = h("span.counter");
  fDetails.el.querySelector(".field-label-row").append(counter);
  const send = h("button.btn.primary.danger", { type: "button" }, t("menu.report"));
  const reason = () => {
    const own = details.value.trim();
    return kind === "Other" ? own : own ? `${kind}: ${own}` : kind;
  };
  function update() {
    const n = [...reason()].length;
    counter.textContent = n + " / " + REPORT_MAX;
    counter.classList.toggle("over", n > REPORT_MAX);
    fDetails.el.classList.remove("invalid");
  }
  details.addEventListener("input", update);
  const preview = h("div.fwd-preview.report-preview", null, icon("flag"),
    h("div.edit-body", null, h("span.edit-title", { text: nameOf(m.sender_id) }), h("span.edit-text", { text: quoteLine(m) })));
  const fail = (text) => {
    fDetails.err.textContent = text;
    fDetails.el.classList.add("invalid");
    details.focus();
  };
  send.addEventListener("click", async () => {
    const r = reason();
    if (!r) return fail(t("report.say"));
    if ([...r].length > REPORT_MAX) return fail(t("report.max", { n: REPORT_MAX }));
    send.disabled = true;
    try {
      await A.report(m, r);
      dlg.close();
      toast(t("report.done"));
    } catch (e) {
      if (e.errors && e.errors.reason) fail(e.errors.reason);
      else errorToast(e);
    } finally {
      send.disabled = false;
    }
  });
  const dlg = modal({
    title: t("report.title"),
    cls: "report",
    body: h("div.fwd", null, preview, h("div.field", null, h("span.field-label", { text: t("report.reason") }), kinds), fDetails.el),
    actions: [h("button.btn", { type: "button", onclick: () => dlg.close() }, t("dialog.cancel")), send],
  });
  update();
}
