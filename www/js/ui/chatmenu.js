// chatmenu.js - a chat's notification menu, the one behind the chat
// header's bell and the chat list's right click / long press: mute for a
// while or forever, unmute, notify all messages or only mentions (PATCH
// /api/chats/{id}/settings), and from the list "Mark as read".

import * as S from "../store.js";
import * as A from "../actions.js";
import * as sync from "../sync.js";
import { chatMuted } from "../notify.js";
import { errorToast, popover, toast } from "./overlay.js";
import { t } from "../i18n.js";

const H = 3600 * 1000;

// chatMenu(anchor, chatId, at?, {markRead}): `at` a point (a right click)
// or null (by `anchor`); markRead offers "Mark as read" while the chat has
// unread messages (the open chat reads what comes into view by itself).
export function chatMenu(anchor, id, at = null, { markRead = false } = {}) {
  const c = S.chat(id);
  if (!c) return null;
  const set = (fields, said) => A.chatSettings(id, fields).then(() => said && toast(said)).catch(errorToast);
  const until = (ms) => new Date(Date.now() + ms).toISOString();
  const notify = c.notify || "all";
  const muted = chatMuted(c);
  const last = c.last_message;
  // The read marker moved to the newest message: what the server counts
  // unread, and the other members' ticks, follow it.
  const unread = markRead && last && (c.unread_count || c.unread_mentions);
  return popover(anchor, [
    unread ? { label: t("chatmenu.markRead"), icon: "checks", onclick: () => sync.markRead(id, last.id) } : null,
    muted ? { label: t("chatmenu.unmute"), icon: "bell", onclick: () => set({ muted_until: null, notify: notify === "none" ? "all" : notify }, t("chatmenu.unmuted")) } : null,
    { label: t("chatmenu.muteFor", { time: t("delay.hours", { n: 1 }) }), icon: "bell-off", onclick: () => set({ muted_until: until(H) }, t("chatmenu.mutedFor", { time: t("delay.hours", { n: 1 }) })) },
    { label: t("chatmenu.muteFor", { time: t("delay.hours", { n: 8 }) }), icon: "bell-off", onclick: () => set({ muted_until: until(8 * H) }, t("chatmenu.mutedFor", { time: t("delay.hours", { n: 8 }) })) },
    { label: t("chatmenu.muteFor", { time: t("delay.days", { n: 1 }) }), icon: "bell-off", onclick: () => set({ muted_until: until(24 * H) }, t("chatmenu.mutedFor", { time: t("delay.days", { n: 1 }) })) },
    // "Forever" is notify "none": a date would run out one day.
    { label: t("chatmenu.muteForever"), icon: "bell-off", onclick: () => set({ notify: "none" }, t("chatmenu.muted")) },
    { label: (notify === "all" ? "✓ " : "") + t("chatmenu.notifyAll"), onclick: () => set({ notify: "all" }) },
    { label: (notify === "mentions" ? "✓ " : "") + t("chatmenu.notifyMentions"), onclick: () => set({ notify: "mentions" }) },
  ], at);
}
