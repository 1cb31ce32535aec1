// info.js - the chat info panel: a person's profile for a direct chat; for a
// group its title (owner renames), members and roles, add and remove
// (owner), and leave.

import { h, icon, iconButton, clear } from "../dom.js";
import * as S from "../store.js";
import * as A from "../actions.js";
import { avatar, userAvatar } from "./avatar.js";
import { userPicker } from "./picker.js";
import { confirmDialog, errorToast, toast } from "./overlay.js";
import { lastSeen, plural } from "../util.js";

export function createInfoPanel({ onClose }) {
  let chatId = null;
  let renaming = false;
  let adding = false;
  let picker = null;
  const content = h("div.info-content");
  const el = h("aside.info-panel", { "aria-label": "Chat info", hidden: true },
    h("header.info-head", null,
      iconButton("x", "Close chat info", () => onClose(), "info-close"),
      h("h2.info-heading", { text: "Info" })),
    content);

  function render() {
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
          h("dt", { text: "Username" }), h("dd", { text: "@" + p.username }),
          p.about ? [h("dt", { text: "About" }), h("dd.about", { text: p.about })] : null));
      return;
    }
    const mine = S.member(c, me.id);
    const owner = mine && mine.role === "owner";
    const title = S.chatTitle(c);
    const hero = h("div.info-hero", null, avatar({ id: c.id, name: title, size: "xl", group: true }));
    if (renaming) {
      const input = h("input.input", { value: title, "aria-label": "Group name", maxlength: "128" });
      const err = h("div.field-error");
      const save = async () => {
        const t = input.value.trim();
        if (!t) {
          err.textContent = "The name cannot be empty";
          return;
        }
        try {
          await A.rename(c.id, t);
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
          h("button.btn.small", { type: "button", onclick: () => { renaming = false; render(); } }, "Cancel"),
          h("button.btn.small.primary", { type: "button", onclick: save }, "Save")), err));
      requestAnimationFrame(() => input.select());
    } else {
      hero.append(h("div.info-title-row", null,
        h("h3.info-title", { text: title }),
        owner ? iconButton("edit", "Rename group", () => { renaming = true; render(); }, "small") : null));
    }
    hero.append(h("div.info-sub", { text: plural(c.members.length, "member", "members") }));
    content.append(hero);

    if (owner) {
      if (adding) {
        const fresh = !picker;
        if (fresh) picker = userPicker({
          label: "Add people by name",
          exclude: (id) => !!S.member(S.chat(chatId), id),
          actionLabel: () => ({ text: "Add", primary: true }),
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
          h("div.section-row", null, h("h4.section-title", { text: "Add members" }),
            h("button.link", { type: "button", onclick: () => { adding = false; picker = null; render(); } }, "Done")),
          picker.el));
        if (fresh) requestAnimationFrame(() => picker.input.focus());
      } else {
        content.append(h("button.info-action", { type: "button", onclick: () => { adding = true; render(); } }, icon("userPlus"), "Add members"));
      }
    }

    const members = [...c.members].sort((a, b) => (a.role === "owner" ? -1 : 0) - (b.role === "owner" ? -1 : 0) ||
      (S.user(a.user_id)?.display_name || "").localeCompare(S.user(b.user_id)?.display_name || ""));
    content.append(h("section.info-section", null,
      h("h4.section-title", { text: "Members" }),
      h("ul.member-list", null, members.map((m) => {
        const u = S.user(m.user_id) || { id: m.user_id, username: "?", display_name: "Unknown" };
        const isMe = m.user_id === me.id;
        return h("li.member", { dataset: { userId: m.user_id } },
          userAvatar(u, "sm", true),
          h("div.member-text", null,
            h("span.member-name", null, (u.display_name || u.username) + (isMe ? " (you)" : "")),
            h("span.member-sub" + (u.online && !isMe ? ".live" : ""), { text: isMe ? "@" + u.username : lastSeen(u) })),
          m.role === "owner" ? h("span.role-badge", { text: "owner" }) : null,
          owner && !isMe
            ? iconButton("x", "Remove " + (u.display_name || u.username), async () => {
                const ok = await confirmDialog("Remove member?", `Remove ${u.display_name || u.username} from “${title}”?`, "Remove");
                if (ok) A.removeMember(c.id, m.user_id).catch(errorToast);
              }, "small")
            : null);
      }))));

    content.append(h("button.info-action.danger", {
      type: "button",
      onclick: async () => {
        const ok = await confirmDialog("Leave group?", `You will stop receiving messages from “${title}”.`, "Leave");
        if (ok) {
          try {
            await A.removeMember(c.id, me.id);
            onClose();
          } catch (e) {
            errorToast(e);
          }
        }
      },
    }, icon("leave"), "Leave group"));
  }

  S.on("chat", (id) => id === chatId && !el.hidden && !renaming && render());
  const resetAdd = () => {
    adding = false;
    picker = null;
  };
  S.on("users", () => chatId && !el.hidden && !renaming && !adding && render());

  return {
    el,
    show(id) {
      if (id !== chatId) {
        renaming = false;
        resetAdd();
      }
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
