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
const nameOfUser = (u, id) => (u ? u.display_name || u.username : t("admin.userN", { id }));

// A text node filled in once the name is known.
function personName(id, cls = "adm-person") {
  const el = h("span." + cls, { text: t("admin.userN", { id }) });
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
    retry ? h("button.btn.small", { type: "button", onclick: retry }, t("blocked.retry")) : null);
}

function spinnerRow(text = t("app.loading")) {
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
  const more = h("button.btn.adm-more", { type: "button", hidden: true, onclick: () => load(false) }, t("admin.showMore"));
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
    placeholder: t("admin.searchPlaceholder"),
    "aria-label": t("admin.searchUsers"),
    autocomplete: "off",
    spellcheck: "false",
    maxlength: "256",
  });
  let status = ""; // "" all, "banned"
  const filter = choice(t("admin.show"), [["", t("admin.all")], ["banned", t("admin.banned")]], status, (v) => {
    status = v;
    pages.load(true);
  });
  const head = h("div.adm-users-head", { "aria-hidden": "true" },
    [t("admin.user"), t("admin.role"), t("admin.status"), t("admin.joined"), t("admin.lastSeen"), t("sidebar.messages"), t("admin.storage"), ""].map((label) => h("span", { text: label })));
  const pages = pager({
    path: "/admin/users",
    field: "users",
    limit: USERS_PAGE,
    listSpec: { tag: "div.adm-users", props: { role: "list", "aria-label": t("admin.users") } },
    params: () => {
      const p = new URLSearchParams();
      if (search.value.trim()) p.set("q", search.value.trim());
      if (status) p.set("status", status);
      return p;
    },
    item: (u) => row(u),
    empty: () => (search.value.trim() || status ? t("admin.nobody") : t("admin.noUsers")),
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
      "aria-label": t("admin.actionsFor", { name }),
      "aria-haspopup": "menu",
      onclick: (e) => actions(u, e.currentTarget),
    }, icon("more"), h("span", { text: t("admin.actions") }));
    return h("div.adm-user" + (banned ? ".banned" : ""), { role: "listitem", dataset: { userId: u.id, username: u.username } },
      h("div.adm-who", null,
        userAvatar(u, "md"),
        h("div.adm-who-text", null,
          h("span.adm-name", null, name, me ? h("span.adm-you", { text: " " + t("admin.you") }) : null),
          h("span.adm-sub", { text: "@" + u.username }),
          u.email ? h("span.adm-sub.adm-email", { text: u.email }) : null)),
      labelled(t("admin.role"), h("span.adm-badge.role-" + (admin ? "admin" : "user"), { text: admin ? t("admin.admin") : t("admin.user") }), "adm-role"),
      labelled(t("admin.status"), h("span.adm-badge.status-" + (banned ? "banned" : "active"), { text: banned ? t("admin.banned") : t("admin.active") }), "adm-status"),
      labelled(t("admin.joined"), u.created_at ? h("time", { datetime: u.created_at, title: formatFull(u.created_at), text: day.format(new Date(u.created_at)) }) : "–"),
      labelled(t("admin.lastSeen"), u.last_seen_at ? h("time", { datetime: u.last_seen_at, title: formatFull(u.last_seen_at), text: lastSeen({ last_seen_at: u.last_seen_at }).replace(/^last seen /, "") }) : t("admin.never")),
      labelled(t("sidebar.messages"), String(u.messages_count ?? 0), "adm-messages"),
      labelled(t("admin.storage"), formatSize(u.storage_bytes), "adm-storage"),
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
        ? { label: t("admin.unban"), icon: "check", onclick: async () => {
          if (await confirmDialog(t("admin.unbanTitle", { name }), t("admin.unbanText"), t("admin.unban"), false)) patch(u, { status: "active" }, t("admin.unbanned", { name }));
        } }
        : { label: t("admin.ban"), icon: "block", danger: true, onclick: async () => {
          if (await confirmDialog(t("admin.banTitle", { name }), t("admin.banText"), t("admin.ban"))) patch(u, { status: "banned" }, t("admin.bannedName", { name }));
        } },
      me ? null : admin
        ? { label: t("admin.removeAdmin"), icon: "shield", onclick: async () => {
          if (await confirmDialog(t("admin.removeAdminTitle", { name }), t("admin.removeAdminText"), t("admin.removeAdmin"))) patch(u, { role: "user" }, t("admin.noLongerAdmin", { name }));
        } }
        : { label: t("admin.makeAdmin"), icon: "shield", onclick: async () => {
          if (await confirmDialog(t("admin.makeAdminTitle", { name }), t("admin.makeAdminText"), t("admin.makeAdmin"), false)) patch(u, { role: "admin" }, t("admin.nowAdmin", { name }));
        } },
      { label: t("admin.deleteMessages"), icon: "trash", danger: true, onclick: () => deleteMessages(u) },
      // One's own account goes from the profile, with the password.
      me ? null : { label: t("admin.deleteUser"), icon: "trash", danger: true, onclick: () => deleteUser(u) },
    ]);
  }

  async function deleteUser(u) {
    const name = u.display_name || u.username;
    if (!(await confirmDialog(t("admin.deleteUserTitle", { name }), t("admin.deleteUserText"), t("admin.deleteUser")))) return;
    try {
      await api("DELETE", "/admin/users/" + u.id);
      toast(t("admin.userDeleted", { name }));
      pages.load(true);
    } catch (e) {
      if (!onForbidden(e)) errorToast(e);
    }
  }

  // Confirmed in its own dialog, with how far back.
  function deleteMessages(u) {
    const name = u.display_name || u.username;
    const spans = [["hour", t("admin.spanHour"), 3600e3], ["day", t("admin.spanDay"), 86400e3], ["week", t("admin.spanWeek"), 7 * 86400e3], ["all", t("admin.spanAll"), 0]];
    let pick = "hour";
    const group = h("div.adm-spans", { role: "radiogroup", "aria-label": t("admin.which") },
      spans.map(([key, label]) => h("label.check-row", null,
        h("input", { type: "radio", name: "adm-span", value: key, checked: key === pick, onchange: () => (pick = key) }),
        h("span", { text: label }))));
    const go = h("button.btn.primary.danger", { type: "button" }, t("menu.delete"));
    const progress = h("p.adm-progress", { role: "status" });
    const dlg = modal({
      title: t("admin.deleteTitle", { name }),
      cls: "small",
      body: h("div.adm-delete", null,
        h("p.confirm-text", { text: t("admin.deleteText") }), group, progress),
      actions: [h("button.btn", { type: "button", onclick: () => dlg.close() }, t("dialog.cancel")), go],
    });
    go.addEventListener("click", async () => {
      const ms = spans.find((s) => s[0] === pick)[2];
      const q = ms ? "?since=" + encodeURIComponent(new Date(Date.now() - ms).toISOString()) : "";
      go.disabled = true;
      let n = 0;
      const counted = () => put({ ...u, messages_count: Math.max(0, (u.messages_count || 0) - n) });
      try {
        // The server stops a long cleanup after a while ("has_more"): the
        // same request goes on with it, the dialog saying how far it is.
        for (;;) {
          const r = await api("DELETE", `/admin/users/${u.id}/messages${q}`);
          n += (r && r.deleted) || 0;
          if (!r || !r.has_more) break;
          progress.textContent = t("admin.deletedMessages", { n, name });
        }
        dlg.close();
        toast(n ? t("admin.deletedMessages", { n, name }) : t("admin.noneDeleted", { name }));
        counted();
      } catch (e) {
        go.disabled = false;
        if (n) counted();
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
  const filter = choice(t("admin.show"), [["open", t("admin.open")], ["", t("admin.all")]], status, (v) => {
    status = v;
    load();
  });
  const list = h("div.adm-reports", { role: "list", "aria-label": t("admin.reports") });
  const foot = h("div.adm-foot");
  const el = h("section.adm-tab", null,
    h("div.adm-toolbar", null, filter, h("span.spacer"), h("button.btn.small", { type: "button", onclick: () => load() }, icon("retry"), t("admin.refresh"))),
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
      foot.replaceChildren(reports.length ? "" : h("div.list-hint", { text: status === "open" ? t("admin.allClear") : t("admin.noReports") }));
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
      toast(verdict === "resolved" ? t("admin.resolved") : t("admin.dismissed"));
      const next = { ...r, ...(updated && updated.id ? updated : {}), status: verdict };
      reports = status === "open" ? reports.filter((x) => x.id !== r.id) : reports.map((x) => (x.id === r.id ? next : x));
      render();
      if (!reports.length) foot.replaceChildren(h("div.list-hint", { text: t("admin.allClear") }));
    } catch (e) {
      if (!onForbidden(e)) errorToast(e);
    }
  }

  function card(r) {
    const m = r.message || {};
    const chat = m.chat_id ? S.chat(m.chat_id) : null;
    const chatName = r.chat_title || (chat ? S.chatTitle(chat) : m.chat_id ? t("admin.chatN", { id: m.chat_id }) : "");
    const text = m.deleted ? t("quote.deleted") : m.text || messagePreview(m) || "";
    const st = r.status || "open";
    return h("article.adm-report.status-" + st, { role: "listitem", dataset: { reportId: r.id, messageId: m.id } },
      h("div.adm-report-head", null,
        icon("flag"),
        h("span", null, t("admin.reportedBy") + " ", personName(r.reporter_id)),
        h("time.adm-time", { datetime: r.created_at, text: r.created_at ? formatFull(r.created_at) : "" }),
        h("span.adm-badge.report-" + st, { text: t("admin.report." + st) })),
      h("blockquote.adm-quote" + (m.deleted ? ".deleted" : ""), null,
        h("div.adm-quote-head", null, m.sender_id ? personName(m.sender_id, "adm-quote-sender") : null,
          chatName ? h("span.adm-quote-chat", { text: " " + t("admin.inChat", { name: chatName }) }) : null),
        h("div.adm-quote-text", { text })),
      h("div.adm-reason", null, h("span.adm-cell-label", { text: t("report.reason") }), h("span.adm-reason-text", { text: r.reason })),
      st === "open"
        ? h("div.adm-report-actions", null,
          h("button.btn.small.primary", { type: "button", onclick: () => decide(r, "resolved") }, icon("check"), t("admin.resolve")),
          h("button.btn.small", { type: "button", onclick: () => decide(r, "dismissed") }, t("admin.dismiss")))
        : null);
  }

  return { el, show: load };
}

// ---- Stats --------------------------------------------------------------------------

function statsTab(onForbidden) {
  const cards = h("div.adm-stats");
  const when = h("span.adm-updated", { "aria-live": "polite" });
  const el = h("section.adm-tab", null,
    h("div.adm-toolbar", null, when, h("span.spacer"), h("button.btn.small.adm-refresh", { type: "button", onclick: () => load() }, icon("retry"), t("admin.refresh"))),
    cards);
  let seq = 0;
  const CARDS = [
    ["users", t("admin.users"), "users", String],
    ["users_active_24h", t("admin.active24"), "user", String],
    ["messages_24h", t("admin.messages24"), "chat", String],
    ["storage_bytes", t("admin.storage"), "file", formatSize],
    ["websockets", t("admin.websockets"), "retry", String],
  ];
  async function load() {
    const mine = ++seq;
    when.textContent = t("app.loading");
    try {
      const s = await api("GET", "/admin/stats");
      if (mine !== seq) return;
      clear(cards).append(...CARDS.map(([key, label, ic, fmt]) => h("div.adm-stat", { dataset: { stat: key } },
        h("span.adm-stat-icon", null, icon(ic)),
        h("span.adm-stat-value", { text: fmt(s[key] ?? 0) }),
        h("span.adm-stat-label", { text: label }))));
      when.textContent = t("admin.updated", { date: formatFull(new Date().toISOString()) });
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
function targetText(target) {
  if (target === null || target === undefined) return "";
  if (typeof target !== "object") return String(target);
  return Object.entries(target).map(([k, v]) => `${k.replace(/_/g, " ")}: ${v && typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
}

function auditTab(onForbidden) {
  const pages = pager({
    path: "/admin/audit",
    field: "entries",
    limit: AUDIT_PAGE,
    listSpec: { tag: "ol.adm-audit", props: { "aria-label": t("admin.audit") } },
    item: (x) => entry(x),
    empty: () => t("admin.nothing"),
    onForbidden,
  });
  const el = h("section.adm-tab", null,
    h("div.adm-toolbar", null, h("span.adm-updated", { text: t("admin.auditHint") }), h("span.spacer"),
      h("button.btn.small", { type: "button", onclick: () => pages.load(true) }, icon("retry"), t("admin.refresh"))),
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

// i18n-keys: admin.tab.users admin.tab.reports admin.tab.stats admin.tab.audit admin.report.open admin.report.resolved admin.report.dismissed
const TABS = [["users", usersTab], ["reports", reportsTab], ["stats", statsTab], ["audit", auditTab]];

// createAdminView() -> {el, show(), hide()}; `show` asks for the open tab
// again (what another administrator did meanwhile).
export function createAdminView() {
  let current = "users";
  // A 403 means the role was taken away meanwhile (its user.updated not
  // here yet): app.js sends us home, saying so.
  const onForbidden = (e) => {
    if (e.status !== 403 || e.code !== "admin_only") return false;
    if (S.state.me) S.state.me.role = "user";
    S.emit("me");
    return true;
  };
  const tabs = new Map(TABS.map(([key, make]) => [key, make(onForbidden)]));
  const bar = h("div.adm-tabs", { role: "tablist", "aria-label": t("admin.title") },
    TABS.map(([key]) => h("button.info-tab.adm-tab-btn" + (key === current ? ".active" : ""), {
      type: "button",
      role: "tab",
      id: "adm-tab-" + key,
      "aria-controls": "adm-panel-" + key,
      "aria-selected": key === current ? "true" : "false",
      tabindex: key === current ? "0" : "-1",
      dataset: { tab: key },
      onclick: () => pick(key, true),
    }, t("admin.tab." + key))));
  bar.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    e.preventDefault();
    const keys = TABS.map((tab) => tab[0]);
    const i = keys.indexOf(current);
    pick(keys[(i + (e.key === "ArrowRight" ? 1 : keys.length - 1)) % keys.length], true);
  });
  const panels = h("div.adm-panels", null, TABS.map(([key]) => {
    const tab = tabs.get(key);
    tab.el.id = "adm-panel-" + key;
    tab.el.setAttribute("role", "tabpanel");
    tab.el.setAttribute("aria-labelledby", "adm-tab-" + key);
    tab.el.hidden = key !== current;
    return tab.el;
  }));
  const el = h("main.admin-pane", { "aria-label": t("admin.title") },
    h("header.chat-head.adm-head", null,
      iconButton("back", t("chat.back"), () => A.go(null), "back-btn adm-back"),
      h("span.adm-head-icon", null, icon("shield")),
      h("h2.head-title", { text: t("admin.title") })),
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
