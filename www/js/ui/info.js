// info.js - the chat info panel: a person's profile for a direct chat,
// block or unblock them, delete the chat (for me); for a group its title
// (owner renames), members and roles, add, remove and make owner (owner),
// leave, delete the group (owner); and for both the chat's shared pictures
// and files, as tabs.

import { apiHref } from "../api.js";
import { h, icon, iconButton, clear, append } from "../dom.js";
import * as S from "../store.js";
import * as A from "../actions.js";
import * as media from "../media.js";
import { avatar, userAvatar } from "./avatar.js";
import { userPicker } from "./picker.js";
import { confirmDialog, errorToast, lightbox, popover, toast } from "./overlay.js";
import { formatListTime, formatSize, lastSeen } from "../util.js";
import { t } from "../i18n.js";

// i18n-keys: info.tab.members info.tab.media info.tab.files

export function createInfoPanel({ onClose }) {
  let chatId = null;
  let renaming = false;
  let adding = false;
  let picker = null;
  let tab = null; // the shown tab: "members" (groups), "media" or "files"
  const content = h("div.info-content");
  const el = h("aside.info-panel", { "aria-label": t("chat.info"), hidden: true },
    h("header.info-head", null,
      iconButton("x", t("info.close"), () => onClose(), "info-close"),
      h("h2.info-heading", { text: t("info.heading") })),
    content);

  // Drawn anew on every change; the reader's place in it stays.
  function render() {
    const top = content.scrollTop;
    draw();
    content.scrollTop = top;
  }

  function draw() {
    const c = S.chat(chatId);
    clear(content);
    if (!c) return;
    const me = S.state.me;
    if (c.type === "direct") {
      const p = S.peer(c);
      if (!p) return;
      content.append(
        h("div.info-hero", null,
          userAvatar(p, "xl"),
          h("h3.info-title", { text: p.display_name || p.username }),
          h("div.info-sub" + (p.online ? ".live" : ""), { text: lastSeen(p) })),
        h("dl.info-list", null,
          h("dt", { text: t("auth.username") }), h("dd", { text: "@" + p.username }),
          p.about ? [h("dt", { text: t("profile.about") }), h("dd.about", { text: p.about })] : null));
      tabs(["media", "files"]);
      directActions(c, p);
      return;
    }
    const mine = S.member(c, me.id);
    const owner = mine && mine.role === "owner";
    const title = S.chatTitle(c);
    const hero = h("div.info-hero", null, avatar({ id: c.id, name: title, size: "xl", group: true }));
    if (renaming) {
      const input = h("input.input", { value: title, "aria-label": t("group.name"), maxlength: "128" });
      const err = h("div.field-error");
      const save = async () => {
        const name = input.value.trim();
        if (!name) {
          err.textContent = t("info.nameEmpty");
          return;
        }
        try {
          await A.rename(c.id, name);
          renaming = false;
          render();
        } catch (e) {
          err.textContent = (e.errors && e.errors.title) || e.message;
        }
      };
      input.addEventListener("keydown", (e) => {
        if (e.key === "Enter") save();
        if (e.key === "Escape") {
          e.stopPropagation();
          renaming = false;
          render();
        }
      });
      hero.append(h("div.rename", null, input,
        h("div.rename-actions", null,
          h("button.btn.small", { type: "button", onclick: () => { renaming = false; render(); } }, t("dialog.cancel")),
          h("button.btn.small.primary", { type: "button", onclick: save }, t("dialog.save"))), err));
      requestAnimationFrame(() => input.select());
    } else {
      hero.append(h("div.info-title-row", null,
        h("h3.info-title", { text: title }),
        owner ? iconButton("edit", t("info.rename"), () => { renaming = true; render(); }, "small") : null));
    }
    hero.append(h("div.info-sub", { text: t("members", { n: c.members.length }) }));
    content.append(hero);

    if (owner) {
      if (adding) {
        const fresh = !picker;
        if (fresh) picker = userPicker({
          label: t("info.addByName"),
          exclude: (id) => !!S.member(S.chat(chatId), id),
          actionLabel: () => ({ text: t("group.add"), primary: true }),
          onPick: async (u) => {
            try {
              await A.addMember(c.id, u.id);
              toast((u.display_name || u.username) + " added");
            } catch (e) {
              errorToast(e);
            }
          },
        });
        content.append(h("section.info-section", null,
          h("div.section-row", null, h("h4.section-title", { text: t("info.addMembers") }),
            h("button.link", { type: "button", onclick: () => { adding = false; picker = null; render(); } }, t("info.done"))),
          picker.el));
        if (fresh) requestAnimationFrame(() => picker.input.focus());
      } else {
        content.append(h("button.info-action", { type: "button", onclick: () => { adding = true; render(); } }, icon("userPlus"), t("info.addMembers")));
      }
    }

    tabs(["members", "media", "files"], () => membersOf(c, owner, title));
    groupActions(c, owner, title);
  }

  // The tab strip and the shown tab's content (members come from the
  // caller: only groups have them).
  function tabs(names, members) {
    if (!names.includes(tab)) tab = names[0];
    const strip = h("div.info-tabs", { role: "tablist", "aria-label": t("info.content") }, names.map((n) =>
      h("button.info-tab" + (n === tab ? ".active" : ""), {
        type: "button",
        role: "tab",
        id: "info-tab-" + n,
        "aria-selected": n === tab ? "true" : "false",
        tabindex: n === tab ? "0" : "-1",
        dataset: { tab: n },
        onclick: () => {
          tab = n;
          render();
          content.querySelector(".info-tab.active").focus();
        },
      }, t("info.tab." + n))));
    strip.addEventListener("keydown", (e) => {
      const i = names.indexOf(tab) + (e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0);
      if (i === names.indexOf(tab) || !names[i]) return;
      e.preventDefault();
      strip.querySelector(`[data-tab="${names[i]}"]`).click();
    });
    const panel = h("div.info-tabpanel", { role: "tabpanel", "aria-labelledby": "info-tab-" + tab });
    append(panel, [tab === "members" ? members() : shared(tab === "media" ? "image" : "file")]);
    content.append(h("section.info-section.info-shared", null, strip, panel));
  }

  // The chat's pictures (a grid; each opens in the lightbox, which steps
  // through them) or other files (a list), newest first, found by reading
  // the history back (media.js); "Look further back" while it is not read.
  function shared(kind) {
    const st = media.scanState(chatId);
    if (!st.started) scan();
    const found = media.items(chatId, kind).reverse();
    const out = [];
    if (kind === "image" && found.length) {
      out.push(h("div.media-grid", null, found.map(({ file, message }) =>
        h("button.media-cell", {
          type: "button",
          dataset: { messageId: message.id, fileId: file.id },
          "aria-label": t("message.openImage", { name: file.name || "" }) + ", " + formatListTime(message.created_at),
          onclick: () => lightbox(file, media.gallery(chatId)),
        }, h("img", { src: apiHref(file.url), alt: "", loading: "lazy", decoding: "async" })))));
    } else if (found.length) {
      out.push(h("ul.shared-files", null, found.map(({ file, message }) =>
        h("li", null, h("a.shared-file", {
          href: apiHref(file.url),
          download: file.name || "",
          dataset: { messageId: message.id, fileId: file.id },
          "aria-label": `Download ${file.name}, ${formatSize(file.size)}`,
        },
        h("span.file-icon", null, icon("file")),
        h("span.file-meta", null,
          h("span.file-name", { text: file.name || "file" }),
          h("span.file-size", { text: formatSize(file.size) + " · " + formatListTime(message.created_at) })),
        icon("download", "file-dl"))))));
    }
    if (st.busy || !st.started) {
      out.push(h("div.list-hint", { role: "status" }, h("span.spinner.small", { "aria-hidden": "true" }), t("info.scanning")));
    } else if (!st.done) {
      out.push(h("div.shared-more", null,
        h("span.muted", { text: t("info.scanned", { n: st.scanned }) }),
        h("button.btn.small", { type: "button", onclick: () => { scan(); render(); } }, t("info.further"))));
    } else if (!found.length) {
      out.push(h("div.list-hint", { text: kind === "image" ? t("info.noPictures") : t("info.noFiles") }));
    }
    return out;
  }

  // Reads on; drawn again when done (the caller draws the spinner).
  function scan() {
    const id = chatId;
    media.scanMore(id).catch(errorToast).finally(() => id === chatId && !el.hidden && render());
  }

  function directActions(c, p) {
    const name = p.display_name || p.username;
    const blocked = S.state.blocked.has(p.id);
    content.append(
      h("button.info-action.block-action", {
        type: "button",
        onclick: async () => {
          if (!blocked && !(await confirmDialog(t("info.blockTitle", { name }),
            t("info.blockText", { name }), t("info.block")))) return;
          try {
            await A.setBlocked(p.id, !blocked);
            toast(blocked ? t("info.unblocked", { name }) : t("info.blocked", { name }));
          } catch (e) {
            errorToast(e);
          }
        },
      }, icon("block"), blocked ? t("info.unblockName", { name }) : t("info.blockName", { name })),
      h("button.info-action.danger.delete-chat", {
        type: "button",
        onclick: async () => {
          const ok = await confirmDialog(t("info.deleteChatTitle"),
            t("info.deleteChatText", { name }), t("menu.delete"));
          if (!ok) return;
          try {
            await A.deleteChat(c.id);
            onClose();
          } catch (e) {
            errorToast(e);
          }
        },
      }, icon("trash"), t("info.deleteChat")));
  }

  function groupActions(c, owner, title) {
    const me = S.state.me;
    content.append(h("button.info-action.danger", {
      type: "button",
      onclick: async () => {
        const ok = await confirmDialog(t("info.leaveTitle"), t("info.leaveText", { title }), t("info.leave"));
        if (ok) {
          try {
            await A.removeMember(c.id, me.id);
            onClose();
          } catch (e) {
            errorToast(e);
          }
        }
      },
    }, icon("leave"), t("info.leaveGroup")));
    if (!owner) return;
    content.append(h("button.info-action.danger.delete-chat", {
      type: "button",
      onclick: async () => {
        const ok = await confirmDialog(t("info.deleteGroupTitle"),
          t("group.deleteText", { title, members: t("members", { n: c.members.length }) }), t("info.deleteGroup"));
        if (!ok) return;
        try {
          await A.deleteChat(c.id);
          onClose();
          toast(t("info.groupDeleted", { title }));
        } catch (e) {
          errorToast(e);
        }
      },
    }, icon("trash"), t("info.deleteGroup")));
  }

  function membersOf(c, owner, title) {
    const me = S.state.me;
    const members = [...c.members].sort((a, b) => (a.role === "owner" ? -1 : 0) - (b.role === "owner" ? -1 : 0) ||
      (S.user(a.user_id)?.display_name || "").localeCompare(S.user(b.user_id)?.display_name || ""));
    return h("ul.member-list", null, members.map((m) => {
      const u = S.user(m.user_id) || { id: m.user_id, username: "?", display_name: t("info.unknown") };
      const isMe = m.user_id === me.id;
      return h("li.member", { dataset: { userId: m.user_id } },
        userAvatar(u, "sm", true),
        h("div.member-text", null,
          h("span.member-name", null, (u.display_name || u.username) + (isMe ? " (you)" : "")),
          h("span.member-sub" + (u.online && !isMe ? ".live" : ""), { text: isMe ? "@" + u.username : lastSeen(u) })),
        m.role === "owner" ? h("span.role-badge", { text: t("info.owner") }) : null,
        owner && !isMe ? iconButton("more", t("info.manage", { name: u.display_name || u.username }), (e) => memberMenu(e.currentTarget, c, u, title), "small") : null);
    }));
  }

  // The owner's menu on a member: hand the group over, or remove them.
  function memberMenu(anchor, c, u, title) {
    const name = u.display_name || u.username;
    popover(anchor, [
      {
        label: t("info.makeOwner"),
        icon: "crown",
        onclick: async () => {
          const ok = await confirmDialog(t("info.makeOwnerTitle", { name }),
            t("info.makeOwnerText", { name, title }), t("info.makeOwner"), false);
          if (!ok) return;
          try {
            await A.setOwner(c.id, u.id);
            toast(t("info.nowOwner", { name }));
          } catch (e) {
            errorToast(e);
          }
        },
      },
      {
        label: t("info.removeFromGroup"),
        icon: "x",
        danger: true,
        onclick: async () => {
          const ok = await confirmDialog(t("info.removeTitle"), t("info.removeText", { name, title }), t("info.remove"));
          if (ok) A.removeMember(c.id, u.id).catch(errorToast);
        },
      },
    ]);
  }

  S.on("chat", (id) => id === chatId && !el.hidden && !renaming && render());
  const resetAdd = () => {
    adding = false;
    picker = null;
  };
  S.on("users", () => chatId && !el.hidden && !renaming && !adding && render());
  S.on("blocked", () => chatId && !el.hidden && !renaming && render());
  // Pictures and files that arrive while the tab is shown.
  S.on("messages", (id) => id === chatId && !el.hidden && (tab === "media" || tab === "files") && !renaming && !adding && render());

  return {
    el,
    show(id) {
      if (id !== chatId) {
        renaming = false;
        resetAdd();
        tab = null;
      }
      // What was found before may miss what came since: read it anew.
      media.forget(id);
      chatId = id;
      el.hidden = false;
      render();
      requestAnimationFrame(() => el.querySelector(".info-close").focus());
    },
    hide() {
      el.hidden = true;
      renaming = false;
      resetAdd();
    },
    get open() {
      return !el.hidden;
    },
  };
}
