// overlay.js - modals, confirmations, the image lightbox, popover menus and
// toasts. Escape closes the top one; focus returns where it came from.

import { apiHref } from "../api.js";
import { h, icon, iconButton, clear } from "../dom.js";

const stack = [];
const layer = () => document.getElementById("overlays");

document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && stack.length) {
    e.preventDefault();
    e.stopPropagation();
    stack[stack.length - 1].close();
  }
  if (e.key === "Tab" && stack.length) trapFocus(e, stack[stack.length - 1].el);
});

function trapFocus(e, root) {
  const f = [...root.querySelectorAll("button, [href], input, textarea, select, [tabindex]:not([tabindex='-1'])")].filter(
    (x) => !x.disabled && x.offsetParent !== null,
  );
  if (!f.length) return;
  const first = f[0];
  const last = f[f.length - 1];
  if (e.shiftKey && document.activeElement === first) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && document.activeElement === last) {
    e.preventDefault();
    first.focus();
  } else if (!root.contains(document.activeElement)) {
    e.preventDefault();
    first.focus();
  }
}

function push(el, onClose) {
  const back = document.activeElement;
  const entry = {
    el,
    close() {
      const i = stack.indexOf(entry);
      if (i < 0) return;
      stack.splice(i, 1);
      el.remove();
      if (onClose) onClose();
      if (back && back.isConnected && typeof back.focus === "function") back.focus({ preventScroll: true });
    },
  };
  stack.push(entry);
  layer().append(el);
  return entry;
}

export function closeAll() {
  while (stack.length) stack[stack.length - 1].close();
}

// modal({title, body: Node, actions: [Node], onClose, wide}) -> {close, el, body}
export function modal({ title, body, actions = [], onClose, cls = "" }) {
  const titleId = "m" + Math.random().toString(36).slice(2);
  let entry;
  const box = h("div.modal" + (cls ? "." + cls : ""), { role: "dialog", "aria-modal": "true", "aria-labelledby": titleId },
    h("header.modal-head", null,
      h("h2.modal-title", { id: titleId, text: title }),
      iconButton("x", "Close", () => entry.close(), "modal-close")),
    h("div.modal-body", null, body),
    actions.length ? h("footer.modal-actions", null, actions) : null);
  const backdrop = h("div.backdrop", {
    onmousedown: (e) => {
      if (e.target === backdrop) entry.close();
    },
  }, box);
  entry = push(backdrop, onClose);
  requestAnimationFrame(() => {
    const f = box.querySelector("[autofocus], .modal-body input, .modal-body textarea, .modal-actions .primary, .modal-actions button");
    (f || box.querySelector("button")).focus();
  });
  return { close: () => entry.close(), el: box };
}

// confirmDialog("Delete message?", "This cannot be undone.", "Delete") -> Promise<bool>
export function confirmDialog(title, text, okLabel = "OK", danger = true) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      resolve(v);
      m.close();
    };
    const m = modal({
      title,
      cls: "small",
      body: h("p.confirm-text", { text }),
      actions: [
        h("button.btn", { type: "button", onclick: () => finish(false) }, "Cancel"),
        h("button.btn.primary" + (danger ? ".danger" : ""), { type: "button", onclick: () => finish(true), autofocus: true }, okLabel),
      ],
      onClose: () => finish(false),
    });
  });
}

export function lightbox(file) {
  let entry;
  const img = h("img.lightbox-img", { src: apiHref(file.url), alt: file.name || "Image" });
  const box = h("div.lightbox", {
    role: "dialog",
    "aria-modal": "true",
    "aria-label": file.name || "Image",
    onclick: (e) => {
      if (e.target === box || e.target.classList.contains("lightbox-stage")) entry.close();
    },
  },
  h("div.lightbox-bar", null,
    h("span.lightbox-name", { text: file.name || "" }),
    h("a.icon-btn", { href: apiHref(file.url), download: file.name || "", "aria-label": "Download", title: "Download" }, icon("download")),
    iconButton("x", "Close", () => entry.close())),
  h("div.lightbox-stage", null, img));
  entry = push(box);
  requestAnimationFrame(() => box.querySelector(".lightbox-bar button").focus());
  return entry;
}

// A popover menu next to `anchor` (or at a point): items are
// {label, icon, onclick, danger} or a ready Node (e.g. a reaction row).
export function popover(anchor, items, at) {
  let entry;
  const menu = h("div.popover", { role: "menu" },
    items.filter(Boolean).map((it) =>
      it instanceof Node ? it : h("button.menu-item" + (it.danger ? ".danger" : ""), {
        type: "button",
        role: "menuitem",
        onclick: () => {
          entry.close();
          it.onclick();
        },
      }, it.icon ? icon(it.icon) : null, h("span", { text: it.label }))));
  const catcher = h("div.popover-catcher", {
    onmousedown: (e) => {
      if (e.target === catcher) entry.close();
    },
    oncontextmenu: (e) => {
      e.preventDefault();
      entry.close();
    },
  }, menu);
  entry = push(catcher);
  // Place it inside the viewport.
  const r = at ? { left: at.x, right: at.x, top: at.y, bottom: at.y } : anchor.getBoundingClientRect();
  const mw = menu.offsetWidth;
  const mh = menu.offsetHeight;
  let x = at ? r.left : r.right - mw;
  let y = r.bottom + 4;
  if (y + mh > window.innerHeight - 8) y = Math.max(8, r.top - mh - 4);
  x = Math.min(Math.max(8, x), window.innerWidth - mw - 8);
  menu.style.left = x + "px";
  menu.style.top = y + "px";
  menu.addEventListener("keydown", (e) => {
    const btns = [...menu.querySelectorAll("button")];
    const i = btns.indexOf(document.activeElement);
    if (e.key === "ArrowDown" || e.key === "ArrowRight") {
      e.preventDefault();
      btns[(i + 1) % btns.length].focus();
    } else if (e.key === "ArrowUp" || e.key === "ArrowLeft") {
      e.preventDefault();
      btns[(i - 1 + btns.length) % btns.length].focus();
    }
  });
  requestAnimationFrame(() => {
    const first = menu.querySelector("button");
    if (first) first.focus();
  });
  return entry;
}

export function toast(text, kind = "info", ms = 4000) {
  const box = document.getElementById("toasts");
  const t = h("div.toast." + kind, null, icon(kind === "error" ? "alert" : "info"), h("span", { text }));
  box.append(t);
  setTimeout(() => {
    t.classList.add("leaving");
    setTimeout(() => t.remove(), 300);
  }, ms);
}

export function errorToast(e) {
  toast(e && e.message ? e.message : String(e), "error");
}

export { clear };
