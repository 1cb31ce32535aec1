// service.js - a service message in the reader's language. The server
// stores what happened as data (Message "service": {type, actor, users,
// title, text}, schema/functions/messages.sql service_text()) with user
// ids, so the names are the users' names now; the English `text` is only
// shown for an old message whose data the server could not read back, and
// while a user it names is being fetched. Kept history pages are the same
// for every reader: the translation happens here, never on the server.

import * as S from "./store.js";
import { t } from "./i18n.js";

// A deleted account keeps its row with username "deleted-" and its id
// (schema/functions/account.sql): it reads "Deleted account" in the
// reader's language, not the server's English display name.
export function displayName(u) {
  if (!u) return t("user.deleted");
  if (/^deleted-\d+$/.test(u.username || "")) return t("user.deleted");
  return u.display_name || u.username;
}

// Users a service message names that the app has not met (a member
// removed before the reader opened the chat): fetched once each by the
// function actions.js registers, which then re-renders.
let fetchUser = null;
const asked = new Set();
export function setUserFetcher(fn) {
  fetchUser = fn;
}

function known(id) {
  const u = S.user(id);
  if (u) return true;
  if (fetchUser && !asked.has(id)) {
    asked.add(id);
    fetchUser(id);
  }
  return false;
}

const KEYS = {
  "group.created": "service.groupCreated",
  "group.renamed": "service.groupRenamed",
  "member.added": "service.memberAdded",
  "member.removed": "service.memberRemoved",
  "member.left": "service.memberLeft",
  "owner.handed": "service.ownerHanded",
  "owner.inherited": "service.ownerInherited",
  "message.pinned": "service.messagePinned",
  welcome: "service.welcome",
};
// i18n-keys: service.groupCreated service.groupRenamed service.memberAdded service.memberRemoved
// i18n-keys: service.memberLeft service.ownerHanded service.ownerInherited service.messagePinned
// i18n-keys: service.welcome

// The text of a service message m, one line.
export function serviceText(m) {
  const d = m.service;
  const key = d && KEYS[d.type];
  if (!key) return (m.text || "").replace(/\s+/g, " ").trim();
  const ids = [d.actor, ...(d.users || [])].filter((id) => id != null);
  // every unknown one is asked for at once
  if (!ids.map(known).every(Boolean)) return (m.text || "").replace(/\s+/g, " ").trim();
  if (d.type === "message.pinned" && !d.text) return t("service.messagePinnedEmpty", { actor: displayName(S.user(d.actor)) });
  return t(key, {
    actor: d.actor != null ? displayName(S.user(d.actor)) : "",
    user: d.users && d.users.length ? displayName(S.user(d.users[0])) : "",
    title: d.title || "",
    text: (d.text || "").replace(/\s+/g, " ").trim(),
  });
}
