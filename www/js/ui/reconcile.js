// reconcile.js - keyed list rendering: items are {key, sig, build()}; an
// element is rebuilt only when its signature changed, and existing nodes
// are moved rather than recreated (images do not reload, focus survives).

export function reconcile(container, items, onRemove) {
  const old = new Map();
  for (const el of container.children) if (el.dataset.key) old.set(el.dataset.key, el);
  const nodes = items.map((it) => {
    let el = old.get(it.key);
    if (el && el._sig === it.sig) {
      old.delete(it.key);
      return el;
    }
    const fresh = it.build();
    fresh.dataset.key = it.key;
    fresh._sig = it.sig;
    if (el) {
      const hadFocus = el.contains(document.activeElement);
      el.replaceWith(fresh);
      old.delete(it.key);
      if (onRemove) onRemove(el);
      // (tabindex="-1" is focusable too: a roving list's other items.)
      if (hadFocus && fresh.hasAttribute("tabindex")) fresh.focus({ preventScroll: true });
    }
    return fresh;
  });
  let cursor = container.firstChild;
  for (const n of nodes) {
    if (n === cursor) cursor = cursor.nextSibling;
    else container.insertBefore(n, cursor);
  }
  while (cursor) {
    const next = cursor.nextSibling;
    if (cursor.nodeType === 1 && cursor.dataset && cursor.dataset.key && onRemove) onRemove(cursor);
    cursor.remove();
    cursor = next;
  }
  for (const el of old.values()) if (el.isConnected) {
    if (onRemove) onRemove(el);
    el.remove();
  }
}
