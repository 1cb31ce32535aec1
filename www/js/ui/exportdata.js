// exportdata.js - the profile's "Export my data": ask for an archive of the
// account (POST /api/users/me/export), see how it goes (GET), download it
// when ready. The server says when it is ready with export.ready over the
// WebSocket (sync.js emits "export"), so the section follows live without
// polling.

import { h } from "../dom.js";
import * as S from "../store.js";
import { api, apiHref } from "../api.js";
import { formatFull, formatSize } from "../util.js";
import { t } from "../i18n.js";
import { errorText } from "./overlay.js";

export function exportSection() {
  const state = h("p.export-state", { role: "status", "aria-live": "polite" });
  const link = h("a.btn.small.primary.export-download", { hidden: true, download: "" }, t("export.download"));
  const ask = h("button.btn.small.export-request", { type: "button", onclick: request }, t("export.request"));
  const error = h("div.field-error", { "aria-live": "polite" });
  function render(e) {
    link.hidden = true;
    link.removeAttribute("href");
    const busy = !!e && (e.status === "pending" || e.status === "running");
    ask.disabled = busy;
    ask.textContent = e && !busy ? t("export.again") : t("export.request");
    if (!e) state.textContent = t("export.none");
    else if (busy) state.textContent = t("export.preparing", { time: formatFull(e.requested_at) });
    else if (e.status === "failed") state.textContent = t("export.failed");
    else {
      state.textContent = t("export.ready", { size: formatSize(e.size), until: formatFull(e.expires_at) });
      link.href = apiHref(e.url);
      link.hidden = false;
    }
  }

  async function request() {
    error.textContent = "";
    ask.disabled = true;
    try {
      const r = await api("POST", "/users/me/export");
      render({ ...r, ready_at: null, expires_at: null, size: null, url: null });
    } catch (e) {
      error.textContent = errorText(e);
      ask.disabled = false;
      if (e.code === "export_running") load();
    }
  }

  async function load() {
    try {
      render(await api("GET", "/users/me/export"));
    } catch (e) {
      if (e.status === 404) render(null);
      else error.textContent = errorText(e);
    }
  }

  const el = h("section.profile-section.export", { "aria-label": t("export.title") },
    h("div.profile-section-head", null, h("h3.profile-section-title", { text: t("export.title") })),
    h("p.muted.export-about", { text: t("export.about") }),
    state,
    h("div.export-actions", null, ask, link),
    error);
  state.textContent = t("app.loading");
  ask.disabled = true;
  // Live while the profile is open: the listener goes with the section.
  const off = S.on("export", (e) => {
    if (!el.isConnected) return off();
    if (e) render(e);
  });
  load();
  return el;
}
