// pinbar.js - the open chat's pinned messages in a bar under its header,
// as Telegram has it: the newest pin first; a click shows that message in
// the chat (A.showMessage) and moves the bar on to the next older pin,
// around again after the oldest; the x unpins the one shown (for whoever
// may pin: either member of a direct chat, a group's owner). It follows the
// chat's pinned_message_ids, which the events keep current (S.notePin).

import { h, iconButton } from "../dom.js";
import * as S from "../store.js";
import * as A from "../actions.js";
import { loadMessage } from "../sync.js";
import { messagePreview } from "../util.js";
import { mayPin } from "./message.js";
import { errorToast } from "./overlay.js";
import { t } from "../i18n.js";

const MAX_LINES = 4; // the bar's left edge: one line per pin, as many as fit

export function createPinBar() {
  let chatId = null;
  let index = 0; // into pinned_message_ids: the pin shown
  const asked = new Set(); // pinned messages being (or once) loaded
  const hidden = new Set(); // pinned but not visible to this reader (a history cleared for them)

  const lines = h("span.pin-lines", { "aria-hidden": "true" });
  const label = h("span.pin-label");
  const text = h("span.pin-text");
  const main = h("button.pin-main", { type: "button", onclick: () => jump() }, lines, h("span.pin-body", null, label, text));
  const unpin = iconButton("x", t("pin.unpin"), () => unpinShown(), "pin-unpin");
  const el = h("div.pin-bar", { hidden: true, role: "region", "aria-label": t("pin.region") }, main, unpin);

  const ids = () => {
    const c = S.chat(chatId);
    return (c && c.pinned_message_ids) || [];
  };
  const messageOf = (id) => S.findMessage(chatId, id) || S.state.pinned.get(id) || null;

  function load(id) {
    if (asked.has(id)) return;
    asked.add(id);
    const cid = chatId;
    loadMessage(cid, id).then((m) => {
      if (!m) hidden.add(id);
      if (cid === chatId) render();
    }, () => asked.delete(id));
  }

  function render() {
    const c = S.chat(chatId);
    const list = ids();
    el.hidden = !c || !list.length;
    if (el.hidden) return;
    if (index >= list.length) index = 0;
    const id = list[index];
    const m = messageOf(id);
    if (!m) load(id);
    const number = list.length > 1 ? ` #${list.length - index}` : "";
    label.textContent = t("pin.label") + number;
    const preview = m ? messagePreview(m) || t("quote.message") : hidden.has(id) ? t("quote.message") : "…";
    text.textContent = preview;
    main.setAttribute("aria-label", t("pin.aria", { label: t("pin.label") + number, text: preview }));
    lines.replaceChildren(...list.slice(0, MAX_LINES).map((_, i) =>
      h("span.pin-line" + (i === Math.min(index, MAX_LINES - 1) ? ".on" : ""))));
    lines.dataset.n = String(Math.min(list.length, MAX_LINES));
    unpin.hidden = !mayPin(c);
  }

  function jump() {
    const list = ids();
    if (!list.length) return;
    const id = list[index % list.length];
    index = (index + 1) % list.length;
    render();
    A.showMessage(chatId, id);
  }

  function unpinShown() {
    const id = ids()[index];
    if (!id) return;
    A.pin(messageOf(id) || { id, chat_id: chatId }, false).catch(errorToast);
  }

  S.on("chat", (id) => id === chatId && render());
  // An edit of a loaded pinned message changes its text.
  S.on("messages", (id) => id === chatId && render());

  return {
    el,
    setChat(id) {
      chatId = id;
      index = 0;
      render();
    },
  };
}
