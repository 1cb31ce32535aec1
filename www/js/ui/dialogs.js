// dialogs.js - the profile (name, about, avatar, theme, log out) and the
// new-group dialog.

import { h, icon, clear } from "../dom.js";
import * as S from "../store.js";
import * as A from "../actions.js";
import * as theme from "../theme.js";
import { logout } from "../auth.js";
import { userAvatar, avatar } from "./avatar.js";
import { userPicker } from "./picker.js";
import { modal, errorToast, toast } from "./overlay.js";

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
  const progress = h("progress.upload-bar", { max: "1", value: "0", hidden: true, "aria-label": "Upload progress" });
  const file = h("input.sr-only", { type: "file", accept: "image/png,image/jpeg,image/gif,image/webp", tabindex: "-1", "aria-hidden": "true" });
  const removeBtn = h("button.btn.small", { type: "button" }, "Remove photo");
  const changeBtn = h("button.btn.small.primary", { type: "button", onclick: () => file.click() }, icon("camera"), "Upload photo");
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
      .then(() => toast("Profile photo updated"))
      .catch((e) => {
        avatarErr.textContent = e.status === 415 ? "Use a PNG, JPEG, GIF or WebP picture" : e.status === 413 ? "The picture is too large (5 MiB at most)" : e.message;
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
  const about = h("textarea.input", { rows: "3", maxlength: "500", placeholder: "A few words about you" });
  about.value = me.about || "";
  const fName = fieldBox("Display name", name, "display_name", 64);
  const fAbout = fieldBox("About", about, "about", 500);

  const themeGroup = h("div.segmented", { role: "radiogroup", "aria-label": "Theme" },
    ["system", "light", "dark"].map((t) => {
      const b = h("button.seg", {
        type: "button",
        role: "radio",
        "aria-checked": theme.choice() === t ? "true" : "false",
        dataset: { theme: t },
        onclick: () => {
          theme.set(t);
          for (const x of themeGroup.children) x.setAttribute("aria-checked", x.dataset.theme === t ? "true" : "false");
        },
      }, t[0].toUpperCase() + t.slice(1));
      return b;
    }));

  const form = h("form.profile-form", { novalidate: true },
    h("div.profile-top", null, pic,
      h("div.profile-id", null,
        h("div.profile-username", { text: "@" + me.username }),
        me.email ? h("div.profile-email", { text: me.email }) : null,
        h("div.profile-pic-actions", null, changeBtn, removeBtn, file),
        progress,
        avatarErr)),
    fName.el,
    fAbout.el,
    h("div.field", null, h("span.field-label", { text: "Theme" }), themeGroup));

  const save = h("button.btn.primary", { type: "submit" }, "Save");
  save.setAttribute("form", "profile-form");
  form.id = "profile-form";
  let unsub = () => {};
  const m = modal({
    title: "Profile",
    onClose: () => unsub(),
    body: form,
    cls: "profile",
    actions: [
      h("button.btn.danger-text", { type: "button", onclick: () => { m.close(); logout(); } }, icon("logout"), "Log out"),
      h("span.spacer"),
      h("button.btn", { type: "button", onclick: () => m.close() }, "Cancel"),
      save,
    ],
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const fields = {};
    if (name.value.trim() !== (S.state.me.display_name || "")) fields.display_name = name.value.trim();
    if (about.value !== (S.state.me.about || "")) fields.about = about.value.trim();
    if (fields.display_name === "") {
      fName.err.textContent = "Required";
      return;
    }
    if (!Object.keys(fields).length) return m.close();
    save.disabled = true;
    try {
      await A.saveProfile(fields);
      toast("Profile saved");
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

export function openNewGroup() {
  const title = h("input.input", { maxlength: "128", placeholder: "Group name", autofocus: true });
  const fTitle = fieldBox("Group name", title, "title");
  const selected = new Map(); // id -> User
  const chips = h("div.chips", { "aria-label": "Selected people" });
  const renderChips = () => {
    clear(chips);
    for (const u of selected.values()) {
      chips.append(h("span.chip", null, userAvatar(u, "xs"), h("span", { text: u.display_name || u.username }),
        h("button.chip-x", {
          type: "button",
          "aria-label": "Remove " + (u.display_name || u.username),
          onclick: () => {
            selected.delete(u.id);
            renderChips();
            picker.refresh();
          },
        }, icon("x"))));
    }
    create.textContent = selected.size ? `Create with ${selected.size + 1} members` : "Create group";
  };
  const picker = userPicker({
    label: "Add people",
    actionLabel: (u) => (selected.has(u.id) ? { text: "Added" } : { text: "Add", primary: true }),
    onPick: (u) => {
      if (selected.has(u.id)) selected.delete(u.id);
      else selected.set(u.id, u);
      renderChips();
    },
  });
  const create = h("button.btn.primary", { type: "button" }, "Create group");
  const m = modal({
    title: "New group",
    body: h("div.newgroup", null, fTitle.el, h("div.field", null, h("span.field-label", { text: "Members" }), chips, picker.el)),
    actions: [h("button.btn", { type: "button", onclick: () => m.close() }, "Cancel"), create],
  });
  const submit = async () => {
    const t = title.value.trim();
    if (!t) {
      fTitle.err.textContent = "Give the group a name";
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
