// blocked.js - what takes the composer's place in a direct chat with a
// blocked person: "You blocked NAME" with Unblock (as Telegram does: the
// API would still take our messages, but writing to someone one blocked is
// rarely meant), or, once the server refused a message of ours with
// 403 blocked, that NAME blocked us. The server says the latter only then,
// so it lasts until a reload or "Try again".

import { h, icon } from "../dom.js";
import * as S from "../store.js";
import * as A from "../actions.js";
import { errorToast } from "./overlay.js";
import { t } from "../i18n.js";

export function createBlockedNotice(composerEl) {
  let chatId = null;
  const text = h("span.blocked-text");
  const btn = h("button.btn.small", { type: "button" });
  const el = h("div.blocked-notice", { role: "status", hidden: true }, icon("block", "blocked-icon"), text, btn);
  let onBtn = () => {};
  btn.addEventListener("click", () => onBtn());

  function render() {
    if (!el.isConnected && composerEl.parentNode) composerEl.after(el);
    const p = S.peer(S.chat(chatId));
    const name = p ? p.display_name || p.username : "";
    const mine = !!p && S.state.blocked.has(p.id);
    const theirs = !!p && !mine && S.state.blockedBy.has(p.id);
    el.hidden = !mine && !theirs;
    composerEl.hidden = mine || theirs;
    if (mine) {
      text.textContent = t("blocked.you", { name });
      btn.textContent = t("blocked.unblock");
      btn.setAttribute("aria-label", t("info.unblockName", { name }));
      onBtn = () => A.setBlocked(p.id, false).catch(errorToast);
    } else if (theirs) {
      text.textContent = t("blocked.them", { name });
      btn.textContent = t("blocked.retry");
      btn.setAttribute("aria-label", t("blocked.retryLabel"));
      onBtn = () => {
        S.state.blockedBy.delete(p.id);
        render();
      };
    }
  }

  S.on("blocked", () => chatId && render());
  S.on("chat", (id) => id === chatId && render());
  return {
    el,
    setChat(id) {
      chatId = id;
      render();
    },
  };
}
