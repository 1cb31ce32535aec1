// overlay.js - modals, confirmations, the image lightbox, popover menus and
// toasts. Escape closes the top one; focus returns where it came from.

import { apiHref } from "../api.js";
import { h, icon, iconButton, clear } from "../dom.js";
import { t, has } from "../i18n.js";

const stack = [];
const layer = () => document.getElementById("overlays");

document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && stack.length) {
    e.preventDefault();
    // Immediate: the app's own Escape (closing the info panel) listens on
    // the document too, and would see the overlay already gone.
    e.stopImmediatePropagation();
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
      iconButton("x", t("dialog.close"), () => entry.close(), "modal-close")),
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
export function confirmDialog(title, text, okLabel = t("dialog.ok"), danger = true) {
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
        h("button.btn", { type: "button", onclick: () => finish(false) }, t("dialog.cancel")),
        h("button.btn.primary" + (danger ? ".danger" : ""), { type: "button", onclick: () => finish(true), autofocus: true }, okLabel),
      ],
      onClose: () => finish(false),
    });
  });
}

// lightbox(file) shows one picture large. With a gallery ({list() -> the
// chat's pictures [File], oldest first; older() -> Promise<bool>: looks
// for earlier ones, resolving to whether there may be still more; done()
// -> whether list() holds them all already}) it
// steps through them: the arrow keys, the buttons beside the picture, a
// sideways swipe on a touch screen.
export function lightbox(file, gallery) {
  let entry;
  let cur = file;
  let more = !!gallery && !gallery.done();
  let busy = false;
  const img = h("img.lightbox-img");
  const name = h("span.lightbox-name");
  const count = h("span.lightbox-count", { "aria-live": "polite" });
  const dl = h("a.icon-btn", { "aria-label": t("dialog.download"), title: t("dialog.download") }, icon("download"));
  const prev = iconButton("left", t("lightbox.prev"), () => step(-1), "lightbox-prev");
  const next = iconButton("right", t("lightbox.next"), () => step(1), "lightbox-next");
  const stage = h("div.lightbox-stage", null, img, gallery ? [prev, next] : null);
  const box = h("div.lightbox", {
    role: "dialog",
    "aria-modal": "true",
    onclick: (e) => {
      if (e.target === box || e.target === stage) entry.close();
    },
  },
  h("div.lightbox-bar", null, name, count, dl, iconButton("x", t("dialog.close"), () => entry.close())),
  stage);

  const list = () => (gallery ? gallery.list() : [file]);
  const at = (l) => l.findIndex((f) => f.id === cur.id);
  function show() {
    img.src = apiHref(cur.url);
    img.alt = cur.name || t("message.image");
    name.textContent = cur.name || "";
    dl.href = apiHref(cur.url);
    dl.download = cur.name || "";
    box.setAttribute("aria-label", cur.name || t("message.image"));
    const l = list();
    const i = at(l);
    prev.hidden = i <= 0 && !more;
    next.hidden = i < 0 || i >= l.length - 1;
    // The total only once it is known.
    count.textContent = gallery && l.length > 1 && !more && i >= 0 ? `${i + 1} of ${l.length}` : "";
  }
  async function step(d) {
    if (busy || !gallery) return;
    let l = list();
    let i = at(l);
    if (d < 0 && i <= 0 && more) {
      busy = true;
      prev.disabled = true;
      try {
        more = await gallery.older();
      } catch (e) {
        more = false;
        errorToast(e);
      } finally {
        busy = false;
        prev.disabled = false;
      }
      if (!box.isConnected) return;
      l = list();
      i = at(l);
    }
    if (l[i + d]) cur = l[i + d];
    show();
    // A hidden button cannot keep the focus: the other one takes it.
    if (document.activeElement && document.activeElement.hidden) (prev.hidden ? next : prev).focus();
  }
  box.addEventListener("keydown", (e) => {
    if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      e.preventDefault();
      step(e.key === "ArrowLeft" ? -1 : 1);
    }
  });
  let touch = null;
  stage.addEventListener("touchstart", (e) => {
    touch = e.touches.length === 1 ? { x: e.touches[0].clientX, y: e.touches[0].clientY } : null;
  }, { passive: true });
  stage.addEventListener("touchend", (e) => {
    const t = e.changedTouches[0];
    if (!touch || !t) return;
    const dx = t.clientX - touch.x;
    const dy = t.clientY - touch.y;
    touch = null;
    if (Math.abs(dx) > 50 && Math.abs(dx) > 1.5 * Math.abs(dy)) step(dx < 0 ? 1 : -1);
  });
  show();
  entry = push(box);
  // At once, not on the next frame: an arrow key pressed right after the
  // click that opened it must reach the lightbox, not the page behind.
  box.querySelector(".lightbox-bar button").focus();
  return entry;
}

const LONG_PRESS_GRACE = 1000; // ms

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
      // A phone's own long press ends after the one that opened this menu
      // (onMenuGesture's timer) and fires its contextmenu on this catcher,
      // now on top: that one must not close it.
      if (performance.now() - opened > LONG_PRESS_GRACE) entry.close();
    },
  }, menu);
  const opened = performance.now();
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

// A menu asked for by a right click or, on a touch screen, by a long
// press: a touch held LONG_PRESS ms, or the contextmenu some phones fire
// for it (whichever comes first). open(at) gets the point of a right click
// (null for a press or the keyboard's menu key, ContextMenu or Shift+F10,
// which fire contextmenu too: place it by the element).
// The click that ends a long press is swallowed before the element's own
// listeners see it: a link does not open, a chip does not toggle.
const LONG_PRESS = 500;
export function onMenuGesture(el, open) {
  let timer = 0;
  let touching = false;
  let pressed = false; // a press opened the menu: its click is not a click
  el.addEventListener("contextmenu", (e) => {
    e.preventDefault();
    e.stopPropagation();
    clearTimeout(timer);
    if (pressed) return; // the timer opened it already
    if (touching) pressed = true;
    open(e.clientX || e.clientY ? { x: e.clientX, y: e.clientY } : null);
  });
  el.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse") return;
    touching = true;
    pressed = false;
    clearTimeout(timer);
    timer = setTimeout(() => {
      pressed = true;
      open(null);
    }, LONG_PRESS);
  });
  // a finger that moves on is a scroll (the browser cancels the pointer)
  for (const ev of ["pointerup", "pointercancel", "pointerleave"]) {
    el.addEventListener(ev, () => {
      touching = false;
      clearTimeout(timer);
    });
  }
  el.addEventListener("click", (e) => {
    if (!pressed) return;
    pressed = false;
    e.preventDefault();
    e.stopImmediatePropagation();
  }, true);
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

// A failure as a toast: the app's own words for a problem's code where the
// catalogue has them ("error.CODE"; problem documents keep their English
// detail), else the detail.
export function errorToast(e) {
  toast(errorText(e), "error");
}

export function errorText(e) {
  if (e && e.code && e.status !== 429 && has("error." + e.code)) return t("error." + e.code);
  return e && e.message ? e.message : String(e);
}

export { clear };
