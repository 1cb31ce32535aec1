// security.js - the profile's "Devices" (the caller's live login sessions:
// GET /api/auth/sessions, end one, end all others), "Change password"
// (POST /api/users/me/password, which ends every other session) and
// "Delete account" (DELETE /api/users/me).

import { h, clear } from "../dom.js";
import { api } from "../api.js";
import { formatFull } from "../util.js";
import { withReveal } from "./password.js";
import { t } from "../i18n.js";
import { confirmDialog, errorToast, toast } from "./overlay.js";
import { deleteAccount } from "../auth.js";

// "Mozilla/5.0 (Windows NT 10.0; Win64; x64) ... Chrome/120.0 Safari/537.36"
// -> "Chrome on Windows". Order matters: Edge and Opera also say Chrome,
// Chrome also says Safari, Android also says Linux.
export function readableAgent(ua) {
  if (!ua) return t("devices.unknown");
  const browsers = [
    [/Edg(e|A|iOS)?\//, "Edge"],
    [/OPR\/|Opera/, "Opera"],
    [/Firefox\/|FxiOS\//, "Firefox"],
    [/Chrome\/|CriOS\//, "Chrome"],
    [/Safari\//, "Safari"],
    [/curl\//, "curl"],
  ];
  const systems = [
    [/iPhone/, "iPhone"],
    [/iPad/, "iPad"],
    [/Android/, "Android"],
    [/CrOS/, "ChromeOS"],
    [/Windows/, "Windows"],
    [/Mac OS X|Macintosh/, "macOS"],
    [/Linux/, "Linux"],
  ];
  const pick = (list) => (list.find(([re]) => re.test(ua)) || [])[1];
  const b = pick(browsers);
  const s = pick(systems);
  if (b && s) return t("devices.browserOn", { browser: b, system: s });
  return b || s || ua.slice(0, 60);
}

export function devicesSection() {
  const list = h("ul.device-list", { "aria-label": t("devices.title") });
  const endOthers = h("button.btn.small.danger-text", { type: "button", hidden: true }, t("devices.endOthers"));
  const status = h("div.field-error", { "aria-live": "polite" });
  let sessions = [];

  async function load() {
    try {
      sessions = (await api("GET", "/auth/sessions")).sessions || [];
      status.textContent = "";
    } catch (e) {
      status.textContent = e.message;
      return;
    }
    clear(list).append(...sessions.map(row));
    endOthers.hidden = !sessions.some((s) => !s.current);
  }

  function row(s) {
    const end = s.current ? h("span.device-here", { text: t("devices.this") }) : h("button.btn.small", {
      type: "button",
      onclick: async () => {
        end.disabled = true;
        try {
          await api("DELETE", "/auth/sessions/" + encodeURIComponent(s.id));
          toast(t("devices.ended"));
        } catch (e) {
          if (e.status !== 404) errorToast(e); // already ended: the list catches up
        }
        load();
      },
    }, t("devices.end"));
    const where = [s.ip, s.last_used_at ? t("devices.lastUsed", { date: formatFull(s.last_used_at) }) : ""].filter(Boolean).join(" · ");
    return h("li.device", { dataset: { sid: String(s.id) }, class: s.current ? "current" : null },
      h("div.device-text", null,
        h("div.device-name", { text: readableAgent(s.user_agent) }),
        h("div.device-meta", { text: where })),
      end);
  }

  // The API ends one session at a time; the others go one by one (a
  // person has a handful of devices).
  endOthers.addEventListener("click", async () => {
    const others = sessions.filter((s) => !s.current);
    if (!(await confirmDialog(t("devices.endOthersTitle"), t("devices.endOthersText"), t("devices.endSessions")))) return;
    endOthers.disabled = true;
    try {
      for (const s of others) {
        try {
          await api("DELETE", "/auth/sessions/" + encodeURIComponent(s.id));
        } catch (e) {
          if (e.status !== 404) throw e;
        }
      }
      toast(t("devices.othersEnded"));
    } catch (e) {
      errorToast(e);
    } finally {
      endOthers.disabled = false;
      load();
    }
  });

  load();
  const el = h("section.profile-section.devices", { "aria-label": t("devices.title") },
    h("div.profile-section-head", null, h("h3.profile-section-title", { text: t("devices.title") }), endOthers),
    list,
    status);
  return { el, reload: load };
}

// A password field of the profile's forms, with its error line.
function passwordField(name, label, autocomplete) {
  const input = h("input.input", { id: "pw-" + name, name, type: "password", autocomplete, required: true });
  const err = h("div.field-error", { "aria-live": "polite" });
  input.addEventListener("input", () => (err.textContent = ""));
  return { input, err, el: h("div.field", { dataset: { field: name } }, h("label.field-label", { for: input.id, text: label }), withReveal(input), err) };
}

// onChanged() after a change (the other sessions have ended).
export function passwordSection(onChanged) {
  const cur = passwordField("current_password", t("password.current"), "current-password");
  const next = passwordField("new_password", t("auth.newPassword"), "new-password");
  const again = passwordField("new_password2", t("auth.newPasswordAgain"), "new-password");
  const save = h("button.btn.primary.small", { type: "submit" }, t("password.change"));
  const form = h("form.password-form", { novalidate: true, "aria-label": t("password.change") }, cur.el, next.el, again.el, save);
  const details = h("details.profile-section.password", null, h("summary.profile-section-title", { text: t("password.change") }), form);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    let bad = false;
    for (const f of [cur, next, again]) {
      if (!f.input.value) {
        f.err.textContent = t("auth.required");
        bad = true;
      }
    }
    if (!bad && next.input.value !== again.input.value) {
      again.err.textContent = t("auth.passwordsDiffer");
      bad = true;
    }
    if (bad) return;
    save.disabled = true;
    try {
      await api("POST", "/users/me/password", { current_password: cur.input.value, new_password: next.input.value });
      for (const f of [cur, next, again]) f.input.value = "";
      details.open = false;
      toast(t("password.changed"));
      onChanged();
    } catch (e) {
      if (e.status === 403) cur.err.textContent = t("password.wrong");
      else if (e.errors.new_password) next.err.textContent = String(e.errors.new_password);
      else if (e.errors.current_password) cur.err.textContent = String(e.errors.current_password);
      else errorToast(e);
    } finally {
      save.disabled = false;
    }
  });
  return details;
}

// What deleting the account means (README "Deleting an account"), then
// the password and a last confirmation. Done: signed out to the sign-in
// card, which says so (auth.deleteAccount(), main.js).
export function deleteAccountSection() {
  const pw = passwordField("delete_password", t("password.current"), "current-password");
  const go = h("button.btn.primary.danger.small", { type: "submit" }, t("deleteAccount.button"));
  const form = h("form.delete-account-form", { novalidate: true, "aria-label": t("deleteAccount.title") },
    h("p.delete-account-text", { text: t("deleteAccount.explain") }), pw.el, go);
  const details = h("details.profile-section.delete-account", null,
    h("summary.profile-section-title", { text: t("deleteAccount.title") }), form);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!pw.input.value) {
      pw.err.textContent = t("auth.required");
      return;
    }
    if (!(await confirmDialog(t("deleteAccount.confirmTitle"), t("deleteAccount.confirmText"), t("deleteAccount.button")))) return;
    go.disabled = true;
    try {
      await deleteAccount(pw.input.value);
    } catch (e) {
      go.disabled = false;
      if (e.status === 403) pw.err.textContent = t("password.wrong");
      else if (e.errors && e.errors.password) pw.err.textContent = String(e.errors.password);
      else errorToast(e);
    }
  });
  return details;
}
