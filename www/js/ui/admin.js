// admin.js - the administration page (#/admin), shown in the chat pane's
// place to users whose role is "admin" (API.md "Administration"): Users
// (search, banned filter, keyset paging; ban, make admin, delete their
// messages), Reports (the queue; resolve, dismiss), Stats and Audit.
// Nothing here is kept in the store: each tab asks the server when it is
// shown, and an answer to an older question is dropped (a tab's `seq`).

import { api } from "../api.js";
import { h, icon, iconButton, clear } from "../dom.js";
import * as S from "../store.js";
import * as A from "../actions.js";
import { userAvatar } from "./avatar.js";
import { modal, popover, confirmDialog, errorToast, toast } from "./overlay.js";
import { formatFull, formatSize, lastSeen, debounce, messagePreview } from "../util.js";
import { t } from "../i18n.js";

export const isAdmin = () => !!(S.state.me && S.state.me.role === "admin");

const USERS_PAGE = 30;
const day = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const AUDIT_PAGE = 50;

// Names of the people a report or an audit entry names by id: the app's own
// users first, else GET /api/users/{id} once per id.
const names = new Map(); // id -> Promise<User|null>
function person(id) {
  if (id === null || id === undefined) return Promise.resolve(null);
  const known = S.user(id);
  if (known) return Promise.resolve(known);
  if (!names.has(id)) names.set(id, api("GET", "/users/" + id).catch(() => null));
  return names.get(id);
}
const nameOfUser = (u, id) => (u ? u.display_name || u.username : "User #" + id);

// A text node filled in once the name is known.
function personName(id, cls = "adm-person") {
  const el = h("span." + cls, { text: "User #" + id });
  person(id).then((u) => {
    if (u) el.textContent = nameOfUser(u, id);
  });
  return el;
}

function labelled(label, value, cls = "") {
  return h("div.adm-cell" + (cls ? "." + cls : ""), { dataset: { label } },
    h("span.adm-cell-label", { text: label }), h("span.adm-cell-value", null, value));
}

function problemBox(e, retry) {
  return h("div.adm-problem", { role: "alert" }, icon("alert"), h("span", { text: e.message }),
    retry ? h("button.btn.small", { type: "button", onclick: retry }, "Try again") : null);
}

function spinnerRow(text = "Loading…") {
  return h("div.adm-loading", { role: "status" }, h("span.spinner.small", { "aria-hidden": "true" }), text);
}

// A segmented choice (radio buttons): options [[value, label]], each
// button's data-status the value ("all" for ""), onPick(value).
function choice(label, options, value, onPick) {
  const key = (v) => v || "all";
  const box = h("div.segmented", { role: "radiogroup", "aria-label": label },
    options.map(([v, text]) => h("button.seg", {
      type: "button",
      role: "radio",
      "aria-checked": v === value ? "true" : "false",
      dataset: { status: key(v) },
      onclick: () => {
        for (const x of box.children) x.setAttribute("aria-checked", x.dataset.status === key(v) ? "true" : "false");
        onPick(v);
      },
    }, text)));
  return box;
}

// A list paged by keyset (newest first, `before` the last id shown) with
// "Show more": pager({path, field (the answer's array), limit, listSpec
// ({tag, props} of the list element), params() -> URLSearchParams of the
// filters, item(x) -> Node, empty() -> text, onForbidden}) -> {list, foot,
// more, load(reset), replace(x)}. An answer to an older load is dropped.
function pager({ path, field, limit, params = () => new URLSearchParams(), item, empty, onForbidden, listSpec }) {
  const list = h(listSpec.tag, listSpec.props);
  const foot = h("div.adm-foot");
  const more = h("button.btn.adm-more", { type: "button", hidden: true, onclick: () => load(false) }, "Show more");
  let items = [];
  let seq = 0;
  async function load(reset) {
    const mine = ++seq;
    if (reset) {
      items = [];
      clear(list);
    }
    more.hidden = true;
    foot.replaceChildren(spinnerRow());
    const p = params();
    p.set("limit", String(limit));
    if (!reset && items.length) p.set("before", String(items[items.length - 1].id));
    try {
      const r = await api("GET", path + "?" + p);
      if (mine !== seq) return;
      const got = r[field] || [];
      items = items.concat(got);
      list.append(...got.map(item));
      foot.replaceChildren(items.length ? "" : h("div.list-hint", { text: empty() }));
      // The audit log says nothing of more: a full page may have more.
      more.hidden = r.has_more === undefined ? got.length < limit : !r.has_more;
    } catch (e) {
      if (mine !== seq) return;
      if (!onForbidden(e)) foot.replaceChildren(problemBox(e, () => load(reset)));
    }
  }
  // One item changed (an action's answer): drawn again in its place.
  function replace(x) {
    const i = items.findIndex((y) => y.id === x.id);
    if (i < 0) return;
    items[i] = { ...items[i], ...x };
    const old = list.children[i];
    if (old) old.replaceWith(item(items[i]));
  }
  return { list, foot, more, load, replace };
}

// ---- Users --------------------------------------------------------------------------

function usersTab(onForbidden) {
  const search = h("input.input.adm-search", {
    type: "search",
    placeholder: "Search by name, username or e-mail",
    "aria-label": "Search users",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: "256",
  });
  let status = ""; // "" all, "banned"
  const filter = choice("Show", [["", "All"], ["banned", "Banned"]], status, (v) => {
    status = v;
    pages.load(true);
  });
  const head = h("div.adm-users-head", { "aria-hidden": "true" },
    ["User", "Role", "Status", "Joined", "Last seen", "Messages", "Storage", ""].map((t) => h("span", { text: t })));
  const pages = pager({
    path: "/admin/users",
    field: "users",
    limit: USERS_PAGE,
    listSpec: { tag: "div.adm-users", props: { role: "list", "aria-label": "Users" } },
    params: () => {
      const p = new URLSearchParams();
      if (search.value.trim()) p.set("q", search.value.trim());
      if (status) p.set("status", status);
      return p;
    },
    item: (u) => row(u),
    empty: () => (search.value.trim() || status ? "Nobody matches" : "No users yet"),
    onForbidden,
  });
  const el = h("section.adm-tab.adm-users-tab", null,
    h("div.adm-toolbar", null, h("div.search-box.adm-search-box", null, icon("search", "search-icon"), search), filter),
    head, pages.list, pages.foot, pages.more);
  const put = pages.replace;

  function row(u) {
    const me = S.state.me && S.state.me.id === u.id;
    const banned = u.status === "banned";
    const admin = u.role === "admin";
    const name = u.display_name || u.username;
    const menuBtn = h("button.btn.small.adm-actions", {
      type: "button",
      "aria-label": "Actions for " + name,
      "aria-haspopup": "menu",
      onclick: (e) => actions(u, e.currentTarget),
    }, icon("more"), h("span", { text: "Actions" }));
    return h("div.adm-user" + (banned ? ".banned" : ""), { role: "listitem", dataset: { userId: u.id, username: u.username } },
      h("div.adm-who", null,
        userAvatar(u, "md"),
        h("div.adm-who-text", null,
          h("span.adm-name", null, name, me ? h("span.adm-you", { text: " (you)" }) : null),
          h("span.adm-sub", { text: "@" + u.username }),
          u.email ? h("span.adm-sub.adm-email", { text: u.email }) : null)),
      labelled("Role", h("span.adm-badge.role-" + (admin ? "admin" : "user"), { text: admin ? "Admin" : "User" }), "adm-role"),
      labelled("Status", h("span.adm-badge.status-" + (banned ? "banned" : "active"), { text: banned ? "Banned" : "Active" }), "adm-status"),
      labelled("Joined", u.created_at ? h("time", { datetime: u.created_at, title: formatFull(u.created_at), text: day.format(new Date(u.created_at)) }) : "–"),
      labelled("Last seen", u.last_seen_at ? h("time", { datetime: u.last_seen_at, title: formatFull(u.last_seen_at), text: lastSeen({ last_seen_at: u.last_seen_at }).replace(/^last seen /, "") }) : "never"),
      labelled("Messages", String(u.messages_count ?? 0), "adm-messages"),
      labelled("Storage", formatSize(u.storage_bytes), "adm-storage"),
      h("div.adm-row-actions", null, menuBtn));
  }

  async function patch(u, fields, done) {
    try {
      const r = await api("PATCH", "/admin/users/" + u.id, fields);
      put(r && r.id ? r : { ...u, ...fields });
      toast(done);
    } catch (e) {
      if (!onForbidden(e)) errorToast(e);
    }
  }

  function actions(u, anchor) {
    const me = S.state.me && S.state.me.id === u.id;
    const name = u.display_name || u.username;
    const banned = u.status === "banned";
    const admin = u.role === "admin";
    // The server refuses one's own ban or demotion: not offered.
    popover(anchor, [
      me ? null : banned
        ? { label: "Unban", icon: "check", onclick: async () => {
          if (await confirmDialog(`Unban ${name}?`, "They can sign in again.", "Unban", false)) patch(u, { status: "active" }, `${name} is unbanned`);
        } }
        : { label: "Ban", icon: "block", danger: true, onclick: async () => {
          if (await confirmDialog(`Ban ${name}?`, "They are signed out everywhere at once and cannot sign in until unbanned.", "Ban")) patch(u, { status: "banned" }, `${name} is banned`);
        } },
      me ? null : admin
        ? { label: "Remove admin", icon: "shield", onclick: async () => {
          if (await confirmDialog(`Remove ${name} as administrator?`, "They will no longer see the administration page.", "Remove admin")) patch(u, { role: "user" }, `${name} is no longer an administrator`);
        } }
        : { label: "Make admin", icon: "shield", onclick: async () => {
          if (await confirmDialog(`Make ${name} an administrator?`, "They will manage users, reports and messages, as you do.", "Make admin", false)) patch(u, { role: "admin" }, `${name} is now an administrator`);
        } },
      { label: "Delete messages…", icon: "trash", danger: true, onclick: () => deleteMessages(u) },
    ]);
  }

  // Confirmed in its own dialog, with how far back.
  function deleteMessages(u) {
    const name = u.display_name || u.username;
    const spans = [["hour", "The last hour", 3600e3], ["day", "The last 24 hours", 86400e3], ["week", "The last 7 days", 7 * 86400e3], ["all", "All their messages", 0]];
    let pick = "hour";
    const group = h("div.adm-spans", { role: "radiogroup", "aria-label": "Which messages" },
      spans.map(([key, label]) => h("label.check-row", null,
        h("input", { type: "radio", name: "adm-span", value: key, checked: key === pick, onchange: () => (pick = key) }),
        h("span", { text: label }))));
    const go = h("button.btn.primary.danger", { type: "button" }, "Delete");
    const dlg = modal({
      title: `Delete messages of ${name}?`,
      cls: "small",
      body: h("div.adm-delete", null,
        h("p.confirm-text", { text: "They are deleted for everyone, with their files. This cannot be undone." }), group),
      actions: [h("button.btn", { type: "button", onclick: () => dlg.close() }, "Cancel"), go],
    });
    go.addEventListener("click", async () => {
      const ms = spans.find((s) => s[0] === pick)[2];
      const q = ms ? "?since=" + encodeURIComponent(new Date(Date.now() - ms).toISOString()) : "";
      go.disabled = true;
      try {
        const r = await api("DELETE", `/admin/users/${u.id}/messages${q}`);
        const n = (r && r.deleted) || 0;
        dlg.close();
        toast(n ? t("admin.deletedMessages", { n, name }) : `${name} had no messages to delete`);
        put({ ...u, messages_count: Math.max(0, (u.messages_count || 0) - n) });
      } catch (e) {
        go.disabled = false;
        if (!onForbidden(e)) errorToast(e);
      }
    });
  }

  search.addEventListener("input", debounce(() => pages.load(true), 300));
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") pages.load(true);
  });
  return { el, show: () => pages.load(true) };
}

// ---- Reports ------------------------------------------------------------------------

function reportsTab(onForbidden) {
  let status = "open"; // "open" or "" (all)
  const filter = choice("Show", [["open", "Open"], ["", "All"]], status, (v) => {
    status = v;
    load();
  });
  const list = h("div.adm-reports", { role: "list", "aria-label": "Reports" });
  const foot = h("div.adm-foot");
  const el = h("section.adm-tab", null,
    h("div.adm-toolbar", null, filter, h("span.spacer"), h("button.btn.small", { type: "button", onclick: () => load() }, icon("retry"), "Refresh")),
    list, foot);
  let reports = [];
  let seq = 0;

  async function load() {
    const mine = ++seq;
    foot.replaceChildren(spinnerRow());
    try {
      const r = await api("GET", "/admin/reports" + (status ? "?status=" + status : ""));
      if (mine !== seq) return;
      reports = r.reports || [];
      render();
      foot.replaceChildren(reports.length ? "" : h("div.list-hint", { text: status === "open" ? "No open reports. All clear." : "No reports yet" }));
    } catch (e) {
      if (mine !== seq) return;
      if (onForbidden(e)) return;
      clear(list);
      foot.replaceChildren(problemBox(e, load));
    }
  }

  function render() {
    clear(list).append(...reports.map(card));
  }

  async function decide(r, verdict) {
    try {
      const updated = await api("PATCH", "/admin/reports/" + r.id, { status: verdict });
      toast(verdict === "resolved" ? "Report resolved" : "Report dismissed");
      const next = { ...r, ...(updated && updated.id ? updated : {}), status: verdict };
      reports = status === "open" ? reports.filter((x) => x.id !== r.id) : reports.map((x) => (x.id === r.id ? next : x));
      render();
      if (!reports.length) foot.replaceChildren(h("div.list-hint", { text: "No open reports. All clear." }));
    } catch (e) {
      if (!onForbidden(e)) errorToast(e);
    }
  }

  function card(r) {
    const m = r.message || {};
    const chat = m.chat_id ? S.chat(m.chat_id) : null;
    const chatName = r.chat_title || (chat ? S.chatTitle(chat) : m.chat_id ? "Chat #" + m.chat_id : "");
    const text = m.deleted ? "Deleted message" : m.text || messagePreview(m) || "";
    const st = r.status || "open";
    return h("article.adm-report.status-" + st, { role: "listitem", dataset: { reportId: r.id, messageId: m.id } },
      h("div.adm-report-head", null,
        icon("flag"),
        h("span", null, "Reported by ", personName(r.reporter_id)),
        h("time.adm-time", { datetime: r.created_at, text: r.created_at ? formatFull(r.created_at) : "" }),
        h("span.adm-badge.report-" + st, { text: st[0].toUpperCase() + st.slice(1) })),
      h("blockquote.adm-quote" + (m.deleted ? ".deleted" : ""), null,
        h("div.adm-quote-head", null, m.sender_id ? personName(m.sender_id, "adm-quote-sender") : null,
          chatName ? h("span.adm-quote-chat", { text: " in " + chatName }) : null),
        h("div.adm-quote-text", { text })),
      h("div.adm-reason", null, h("span.adm-cell-label", { text: "Reason" }), h("span.adm-reason-text", { text: r.reason })),
      st === "open"
        ? h("div.adm-report-actions", null,
          h("button.btn.small.primary", { type: "button", onclick: () => decide(r, "resolved") }, icon("check"), "Resolve"),
          h("button.btn.small", { type: "button", onclick: () => decide(r, "dismissed") }, "Dismiss"))
        : null);
  }

  return { el, show: load };
}

// ---- Stats --------------------------------------------------------------------------

function statsTab(onForbidden) {
  const cards = h("div.adm-stats");
  const when = h("span.adm-updated", { "aria-live": "polite" });
  const el = h("section.adm-tab", null,
    h("div.adm-toolbar", null, when, h("span.spacer"), h("button.btn.small.adm-refresh", { type: "button", onclick: () => load() }, icon("retry"), "Refresh")),
    cards);
  let seq = 0;
  const CARDS = [
    ["users", "Users", "users", String],
    ["users_active_24h", "Active in 24 h", "user", String],
    ["messages_24h", "Messages in 24 h", "chat", String],
    ["storage_bytes", "Storage", "file", formatSize],
    ["websockets", "Open WebSockets", "retry", String],
  ];
  async function load() {
    const mine = ++seq;
    when.textContent = "Loading…";
    try {
      const s = await api("GET", "/admin/stats");
      if (mine !== seq) return;
      clear(cards).append(...CARDS.map(([key, label, ic, fmt]) => h("div.adm-stat", { dataset: { stat: key } },
        h("span.adm-stat-icon", null, icon(ic)),
        h("span.adm-stat-value", { text: fmt(s[key] ?? 0) }),
        h("span.adm-stat-label", { text: label }))));
      when.textContent = "Updated " + formatFull(new Date().toISOString());
    } catch (e) {
      if (mine !== seq) return;
      when.textContent = "";
      if (!onForbidden(e)) clear(cards).append(problemBox(e, load));
    }
  }
  return { el, show: load };
}

// ---- Audit --------------------------------------------------------------------------

// "user.ban" -> "User ban"; a target object -> "user_id: 7, since: …".
const actionText = (a) => String(a || "").replace(/[._]/g, " ").replace(/^./, (c) => c.toUpperCase());
function targetText(t) {
  if (t === null || t === undefined) return "";
  if (typeof t !== "object") return String(t);
  return Object.entries(t).map(([k, v]) => `${k.replace(/_/g, " ")}: ${v && typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
}

function auditTab(onForbidden) {
  const pages = pager({
    path: "/admin/audit",
    field: "entries",
    limit: AUDIT_PAGE,
    listSpec: { tag: "ol.adm-audit", props: { "aria-label": "Audit log" } },
    item: (x) => entry(x),
    empty: () => "Nothing yet",
    onForbidden,
  });
  const el = h("section.adm-tab", null,
    h("div.adm-toolbar", null, h("span.adm-updated", { text: "Every administrator's action, newest first" }), h("span.spacer"),
      h("button.btn.small", { type: "button", onclick: () => pages.load(true) }, icon("retry"), "Refresh")),
    pages.list, pages.foot, pages.more);
  function entry(x) {
    // msgrctl acts with no administrator: the OS user it names, if any.
    const who = x.admin_id !== null && x.admin_id !== undefined
      ? personName(x.admin_id)
      : h("span.adm-person.adm-cli", { text: x.actor || "msgrctl" });
    return h("li.adm-entry", { dataset: { entryId: x.id, action: x.action } },
      h("time.adm-time", { datetime: x.created_at, text: x.created_at ? formatFull(x.created_at) : "" }),
      h("span.adm-entry-text", null, who, " · ", h("strong.adm-action", { text: actionText(x.action) })),
      h("span.adm-target", { text: targetText(x.target) }));
  }
  return { el, show: () => pages.load(true) };
}

// ---- the page -----------------------------------------------------------------------

const TABS = [["users", "Users", usersTab], ["reports", "Reports", reportsTab], ["stats", "Stats", statsTab], ["audit", "Audit", auditTab]];

// createAdminView() -> {el, show(), hide()}; `show` asks for the open tab
// again (what another administrator did meanwhile).
export function createAdminView() {
  let current = "users";
  // A 403 means the role was taken away meanwhile: home, saying so.
  const onForbidden = (e) => {
    if (e.status !== 403 || e.code !== "admin_only") return false;
    if (S.state.me) S.state.me.role = "user";
    S.emit("me");
    toast("You are no longer an administrator", "error");
    A.go(null);
    return true;
  };
  const tabs = new Map(TABS.map(([key, , make]) => [key, make(onForbidden)]));
  const bar = h("div.adm-tabs", { role: "tablist", "aria-label": "Administration" },
    TABS.map(([key, label]) => h("button.info-tab.adm-tab-btn" + (key === current ? ".active" : ""), {
      type: "button",
      role: "tab",
      id: "adm-tab-" + key,
      "aria-controls": "adm-panel-" + key,
      "aria-selected": key === current ? "true" : "false",
      tabindex: key === current ? "0" : "-1",
      dataset: { tab: key },
      onclick: () => pick(key, true),
    }, label)));
  bar.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    e.preventDefault();
    const keys = TABS.map((t) => t[0]);
    const i = keys.indexOf(current);
    pick(keys[(i + (e.key === "ArrowRight" ? 1 : keys.length - 1)) % keys.length], true);
  });
  const panels = h("div.adm-panels", null, TABS.map(([key]) => {
    const t = tabs.get(key);
    t.el.id = "adm-panel-" + key;
    t.el.setAttribute("role", "tabpanel");
    t.el.setAttribute("aria-labelledby", "adm-tab-" + key);
    t.el.hidden = key !== current;
    return t.el;
  }));
  const el = h("main.admin-pane", { "aria-label": "Administration" },
    h("header.chat-head.adm-head", null,
      iconButton("back", "Back to chats", () => A.go(null), "back-btn adm-back"),
      h("span.adm-head-icon", null, icon("shield")),
      h("h2.head-title", { text: "Administration" })),
    bar,
    h("div.adm-scroll", null, panels));

  function pick(key, focus) {
    current = key;
    for (const b of bar.children) {
      const on = b.dataset.tab === key;
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.classList.toggle("active", on);
      b.tabIndex = on ? 0 : -1;
      if (on && focus) b.focus();
    }
    for (const [k, t] of tabs) t.el.hidden = k !== key;
    tabs.get(key).show();
  }

  return {
    el,
    show: () => pick(current, false),
    hide: () => {},
  };
}
