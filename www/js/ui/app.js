// app.js - the signed-in screen: sidebar, chat pane and info panel, the
// #/c/ID route, and the document title and favicon with the count of unread
// messages (notify.js).

import { h, clear } from "../dom.js";
import * as S from "../store.js";
import * as A from "../actions.js";
import * as sync from "../sync.js";
import { createSidebar } from "./sidebar.js";
import { createChatView } from "./chatview.js";
import { createInfoPanel } from "./info.js";
import { createAdminView, isAdmin } from "./admin.js";
import { closeAll, toast } from "./overlay.js";
import * as notify from "../notify.js";
import { api } from "../api.js";
import { t, setLanguage } from "../i18n.js";

let teardown = null;

export async function startApp(root) {
  stopApp();
  S.reset();
  clear(root).append(h("div.boot", { role: "status" }, h("span.spinner", { "aria-hidden": "true" }), h("span.sr-only", { text: t("app.loading") })));
  for (;;) {
    try {
      await A.loadMe();
      break;
    } catch (e) {
      if (e.status === 401) return; // auth.js has logged out; the sign-in screen follows
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  // The account's language (settings' "language") over this browser's
  // guess, before anything is drawn; unreachable, the guess stays. The
  // upload limits alongside, so that the composer knows them from its
  // first file (without them it assumes the default).
  const limits = A.loadUploadLimits().catch(() => {});
  try {
    await setLanguage((await api("GET", "/users/me/settings", undefined, { timeout: 5000 })).language);
  } catch {
    /* the language this start began with */
  }
  await limits;

  const shell = h("div.app");
  const info = createInfoPanel({ onClose: () => closeInfo() });
  const chat = createChatView({ openInfo: () => (info.open ? closeInfo() : openInfo()) });
  const admin = createAdminView();
  admin.el.hidden = true;
  shell.append(createSidebar(), chat.el, admin.el, info.el);
  clear(root).append(shell);

  function openInfo() {
    if (!S.state.activeChatId) return;
    info.show(S.state.activeChatId);
    shell.classList.add("info-open");
  }
  function closeInfo() {
    info.hide();
    shell.classList.remove("info-open");
  }

  // #/admin: the administration page in the chat pane's place, for
  // administrators only; anyone else is sent home (the server would
  // answer 403 admin_only to everything on it anyway).
  function routeAdmin() {
    if (!isAdmin()) {
      toast(t("app.adminOnly"), "error");
      A.go(null);
      return;
    }
    closeInfo();
    S.state.activeChatId = null;
    shell.classList.remove("chat-open");
    shell.classList.add("admin-open");
    admin.el.hidden = false;
    S.emit("active");
    S.flush();
    chat.setChat(null);
    admin.show();
  }

  async function route() {
    if (location.hash === "#/admin") return routeAdmin();
    if (!admin.el.hidden) {
      admin.el.hidden = true;
      shell.classList.remove("admin-open");
    }
    const m = location.hash.match(/^#\/c\/(\d+)$/);
    let id = m ? Number(m[1]) : null;
    if (id && !S.chat(id)) {
      if (!S.state.synced) return; // routed again once the chats are in
      try {
        if (!(await sync.fetchChat(id))) throw new Error("left");
      } catch {
        toast(t("app.chatUnavailable"), "error");
        A.go(null);
        return;
      }
    }
    if (id !== S.state.activeChatId) closeInfo();
    S.state.activeChatId = id;
    shell.classList.toggle("chat-open", !!id);
    S.emit("active");
    S.flush();
    await chat.setChat(id);
  }

  const onHash = () => route();
  window.addEventListener("hashchange", onHash);
  const offChats = S.on("chats", () => {
    if (location.hash.startsWith("#/c/") && S.state.activeChatId === null && S.state.synced) route();
    updateTitle();
  });
  // The role taken away while the administration page is open
  // (user.updated of our own account): home, saying so.
  const offMe = S.on("me", () => {
    if (location.hash !== "#/admin" || isAdmin()) return;
    toast(t("admin.revoked"), "error");
    A.go(null);
  });
  function updateTitle() {
    const n = notify.unreadTotal(); // muted chats are not counted
    document.title = (n ? `(${n}) ` : "") + "Messenger";
    notify.drawFavicon(n);
  }
  const onKey = (e) => {
    if (e.key === "Escape" && info.open && !document.querySelector("#overlays > *")) closeInfo();
    // Ctrl+K (Cmd+K): jump to the search.
    if ((e.ctrlKey || e.metaKey) && (e.key || "").toLowerCase() === "k" && !document.querySelector("#overlays > *")) {
      e.preventDefault();
      const s = shell.querySelector(".search-input");
      const focus = () => {
        s.focus();
        s.select();
      };
      if (s.offsetParent) focus();
      else {
        A.go(null); // a phone: the list comes back first
        setTimeout(focus, 50);
      }
    }
  };
  document.addEventListener("keydown", onKey);
  const noDrop = (e) => {
    if (e.dataTransfer && [...e.dataTransfer.types].includes("Files")) e.preventDefault();
  };
  window.addEventListener("dragover", noDrop);
  window.addEventListener("drop", noDrop);

  sync.setHooks({
    removedFromChat: (id, title, deleted) => {
      if (S.state.activeChatId === id) A.go(null);
      if (title) toast(deleted ? t("info.groupDeleted", { title }) : t("app.noLongerMember", { title }));
    },
    failed: (e) => {
      if (e.status !== 401) toast(t("app.chatsFailed", { detail: e.message }), "error");
    },
    becameOwner: (id, title) => toast(t("app.nowOwner", { title })),
    newMessage: (c, m) => notify.newMessage(c, m, (id) => A.go(id)),
  });
  sync.start();
  // Whom we blocked: a direct chat with them shows "Unblock" for a composer.
  A.loadBlocks().catch(() => {});
  route();

  // For tests and debugging: drop the realtime link on purpose.
  window.messenger = {
    dropSocket: () => sync.rt && sync.rt.drop(),
    get connection() {
      return S.state.conn;
    },
    get lastEventId() {
      return sync.rt ? sync.rt.lastEventId : null;
    },
  };

  teardown = () => {
    window.removeEventListener("hashchange", onHash);
    window.removeEventListener("dragover", noDrop);
    window.removeEventListener("drop", noDrop);
    document.removeEventListener("keydown", onKey);
    offChats();
    offMe();
    sync.stop();
    closeAll();
    delete window.messenger;
    document.title = "Messenger";
    notify.drawFavicon(0);
    document.body.classList.remove("presence-stale", "is-reconnecting");
  };
}

export function stopApp() {
  if (teardown) teardown();
  teardown = null;
}
