// notifysettings.js - the profile's "Notifications" section, every
// notification setting in one place: desktop notifications and the sound
// belong to this browser (notify.js); e-mail notifications and their delay
// to the account (GET/PATCH /api/users/me/settings), saved at each change.

import { h, icon } from "../dom.js";
import { api } from "../api.js";
import { supported, permission, askPermission, soundOn, setSound, beep } from "../notify.js";
import { t } from "../i18n.js";

// i18n-keys: email.all email.mentions email.none
const EMAIL = ["all", "mentions", "none"];
const DELAYS = [1, 5, 10, 30, 60, 180, 1440]; // minutes; the API takes 1-1440

export function delayLabel(min) {
  if (min % 1440 === 0) return t("delay.days", { n: min / 1440 });
  if (min % 60 === 0) return t("delay.hours", { n: min / 60 });
  return t("delay.minutes", { n: min });
}

export function notificationsSection() {
  // ---- this browser ----
  const desktop = h("div.notify-desktop");
  function renderDesktop() {
    const p = permission();
    let state;
    if (!supported()) state = h("span.muted", { text: t("notify.unavailable") });
    else if (p === "granted") state = h("span.notify-on", { text: t("notify.on") });
    else if (p === "denied") state = h("span.muted", { text: t("notify.blocked") });
    else {
      // a click is the sensible moment to ask (notify.js)
      state = h("button.btn.small", { type: "button", onclick: () => askPermission().then(renderDesktop, renderDesktop) }, t("notify.turnOn"));
    }
    desktop.replaceChildren(h("span.notify-desktop-label", { text: t("notify.desktop") }), state);
  }
  renderDesktop();
  const sound = h("label.check-row", null,
    h("input", { type: "checkbox", id: "p-sound", checked: soundOn(), onchange: (e) => {
      setSound(e.target.checked);
      if (e.target.checked) beep(); // what it will sound like
    } }),
    h("span", { text: t("notify.sound") }));

  // ---- the account's e-mail ----
  const emailErr = h("div.field-error", { "aria-live": "polite" });
  const delayErr = h("div.field-error", { "aria-live": "polite" });
  const general = h("div.field-error", { "aria-live": "polite" });
  const email = h("div.segmented", { role: "radiogroup", "aria-label": t("email.label"), id: "p-email-notifications" },
    EMAIL.map((value) => h("button.seg", {
      type: "button",
      role: "radio",
      disabled: true,
      "aria-checked": "false",
      dataset: { value },
      onclick: () => change({ email_notifications: value }),
    }, t("email." + value))));
  const delay = h("select.input.delay-select", { id: "p-email-delay", disabled: true,
    onchange: () => change({ email_delay_minutes: Number(delay.value) }) });
  const savedSign = h("span.saved-sign", { role: "status", hidden: true }, icon("check"), t("notify.savedSign"));

  let saved = null; // the settings as the server last answered
  function render(s) {
    for (const b of email.children) {
      b.disabled = false;
      b.setAttribute("aria-checked", b.dataset.value === s.email_notifications ? "true" : "false");
    }
    // a delay set elsewhere (the API takes any minute) is offered as it is
    const choices = [...new Set([...DELAYS, s.email_delay_minutes])].sort((a, b) => a - b);
    delay.replaceChildren(...choices.map((m) => h("option", { value: String(m), text: delayLabel(m) })));
    delay.value = String(s.email_delay_minutes);
    // a delay means nothing while no mail is sent
    delay.disabled = s.email_notifications === "none";
  }

  let flash = 0;
  function showSaved() {
    savedSign.hidden = false;
    clearTimeout(flash);
    flash = setTimeout(() => (savedSign.hidden = true), 2000);
  }

  // One PATCH at a time, in the order made: a quick second change never
  // lands before the first and is never undone by its answer.
  let chain = Promise.resolve();
  let queued = 0;
  function change(fields) {
    if (!saved) return;
    render({ ...saved, ...fields });
    for (const e of [emailErr, delayErr, general]) e.textContent = "";
    savedSign.hidden = true;
    queued++;
    chain = chain.then(async () => {
      try {
        saved = await api("PATCH", "/users/me/settings", fields);
        if (queued === 1) {
          render(saved);
          showSaved();
        }
      } catch (e) {
        if (queued === 1) render(saved);
        if (e.errors.email_notifications) emailErr.textContent = String(e.errors.email_notifications);
        else if (e.errors.email_delay_minutes) delayErr.textContent = String(e.errors.email_delay_minutes);
        else general.textContent = e.message;
      } finally {
        queued--;
      }
    });
  }

  api("GET", "/users/me/settings").then((s) => {
    saved = s;
    render(s);
  }, (e) => {
    general.textContent = t("email.loadFailed", { detail: e.message });
  });

  const el = h("section.profile-section.notifications", { "aria-label": t("notify.title") },
    h("div.profile-section-head", null, h("h3.profile-section-title", { text: t("notify.title") }), savedSign),
    desktop,
    sound,
    h("div.field", { dataset: { field: "email_notifications" } },
      h("span.field-label", { text: t("email.title") }),
      email, emailErr),
    h("div.field", { dataset: { field: "email_delay_minutes" } },
      h("label.field-label", { for: delay.id, text: t("email.delay") }),
      delay, delayErr),
    general);
  return el;
}
