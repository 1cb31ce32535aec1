// avatar.js - a round picture, or initials on a colour chosen by id.

import { apiHref } from "../api.js";
import { h } from "../dom.js";
import { initials, colorClass } from "../util.js";
import * as S from "../store.js";

// avatar({id, name, url, size: "sm"|"md"|"lg"|"xl", online, group})
export function avatar({ id, name, url, size = "md", online = false, group = false }) {
  const el = h("span.avatar." + size + "." + colorClass(id), { "aria-hidden": "true" });
  if (url) {
    const img = h("img", { src: apiHref(url), alt: "", loading: "lazy", decoding: "async" });
    img.addEventListener("error", () => {
      img.remove();
      el.classList.add("no-img");
      el.prepend(h("span.initials", { text: initials(name) }));
    }, { once: true });
    el.append(img);
  } else {
    el.append(h("span.initials", { text: initials(name) }));
  }
  if (group) el.classList.add("group");
  if (online) el.append(h("span.online-dot"));
  return el;
}

export function userAvatar(u, size = "md", showOnline = false) {
  if (!u) return avatar({ id: 0, name: "?", size });
  return avatar({ id: u.id, name: u.display_name || u.username, url: u.avatar_url, size, online: showOnline && u.online });
}

// A chat's picture: the peer's (with the online dot) or the group's initials.
export function chatAvatar(c, title, size = "md") {
  return c.type === "direct" ? userAvatar(S.peer(c), size, true) : avatar({ id: c.id, name: title, size, group: true });
}
