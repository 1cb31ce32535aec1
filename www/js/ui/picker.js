// picker.js - search people as you type (GET /api/users?q=), used by the
// new-group dialog and by "add member".

import { h, clear } from "../dom.js";
import * as A from "../actions.js";
import { userAvatar } from "./avatar.js";
import { debounce } from "../util.js";
import { t } from "../i18n.js";

// userPicker({label, exclude(id) -> bool, actionLabel(user) -> {text, primary}, doneLabel, onPick(user)})
export function userPicker({ label = t("picker.search"), exclude = () => false, actionLabel, doneLabel = t("group.added"), onPick }) {
  const input = h("input.input", { type: "search", placeholder: label, "aria-label": label, autocomplete: "off", spellcheck: "false" });
  const out = h("div.picker-results", { role: "list" });
  let seq = 0;
  // Picked here: they stay in the results, marked done, rather than
  // vanish (a list left empty read "Nobody found" right after an add).
  const picked = new Set();
  const run = debounce(async (q) => {
    const mine = ++seq;
    let users = [];
    try {
      users = await A.searchUsers(q, 10);
    } catch (e) {
      if (mine === seq) clear(out).append(h("div.list-hint", { text: e.message }));
      return;
    }
    if (mine !== seq) return;
    render(users, q);
  }, 200);

  function render(users, q) {
    clear(out);
    const shown = users.filter((u) => picked.has(u.id) || !exclude(u.id));
    if (!shown.length) {
      out.append(h("div.list-hint", { text: q ? t("picker.none") : "" }));
      return;
    }
    for (const u of shown) {
      const name = u.display_name || u.username;
      const done = picked.has(u.id) && exclude(u.id);
      const lbl = done ? { text: doneLabel } : actionLabel(u);
      out.append(h("div.picker-row", { role: "listitem", dataset: { userId: u.id } },
        userAvatar(u, "sm"),
        h("div.picker-text", null, h("span.picker-name", { text: name }), h("span.picker-sub", { text: "@" + u.username })),
        h("button.btn.small" + (lbl.primary ? ".primary" : ""), {
          type: "button",
          disabled: done,
          "aria-label": lbl.text + " " + name,
          onclick: async (e) => {
            e.currentTarget.disabled = true;
            await onPick(u);
            picked.add(u.id);
            render(users, q);
          },
        }, lbl.text)));
    }
  }

  input.addEventListener("input", () => {
    const q = input.value.trim();
    if (!q) {
      seq++;
      run.cancel();
      clear(out);
      return;
    }
    run(q);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      const b = out.querySelector("button");
      if (b) b.click();
    }
  });
  return { el: h("div.picker", null, input, out), input, refresh: () => input.dispatchEvent(new Event("input")) };
}
