// util.js - small pure helpers: formatting, ids, timing.

import { plainText } from "./markdown.js";
import { t, language } from "./i18n.js";
import { serviceText } from "./service.js";

const pad = (n) => String(n).padStart(2, "0");

export function initials(name) {
  const words = String(name || "?").trim().split(/\s+/).filter(Boolean);
  if (!words.length) return "?";
  const first = [...words[0]][0] || "?";
  const second = words.length > 1 ? [...words[words.length - 1]][0] || "" : "";
  return (first + second).toUpperCase();
}

// A stable colour class for an id (avatars without a picture).
export function colorClass(id) {
  return "c" + (Math.abs(Number(id) || 0) % 8);
}

export function parseTime(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? new Date() : new Date(t);
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

function daysAgo(d) {
  const start = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  return Math.round((start(new Date()) - start(d)) / 86400000);
}

export function formatClock(iso) {
  const d = parseTime(iso);
  return pad(d.getHours()) + ":" + pad(d.getMinutes());
}

// The formatters of the app's language (i18n.js), made once per language.
const formatters = new Map();
function fmt() {
  const l = language();
  let f = formatters.get(l);
  if (!f) {
    const d = (o) => new Intl.DateTimeFormat(l, o);
    f = {
      shortDate: d({ day: "numeric", month: "short" }),
      shortDateYear: d({ day: "numeric", month: "short", year: "numeric" }),
      weekday: d({ weekday: "short" }),
      longDay: d({ weekday: "long", day: "numeric", month: "long" }),
      longDayYear: d({ day: "numeric", month: "long", year: "numeric" }),
      fullStamp: d({ dateStyle: "medium", timeStyle: "short" }),
      relative: new Intl.RelativeTimeFormat(l, { numeric: "auto" }),
      number: new Intl.NumberFormat(l, { maximumFractionDigits: 1, useGrouping: false }),
    };
    formatters.set(l, f);
  }
  return f;
}

// Chat list time: today "14:05", this week "Mon", else "21 Nov".
export function formatListTime(iso) {
  const d = parseTime(iso);
  const ago = daysAgo(d);
  if (ago <= 0) return formatClock(iso);
  if (ago < 7) return fmt().weekday.format(d);
  return d.getFullYear() === new Date().getFullYear() ? fmt().shortDate.format(d) : fmt().shortDateYear.format(d);
}

export function formatFull(iso) {
  return fmt().fullStamp.format(parseTime(iso));
}

// A date without the time ("21 Nov 2026"), in the app's language.
export function formatDate(iso) {
  return fmt().shortDateYear.format(parseTime(iso));
}

export function dayKey(iso) {
  const d = parseTime(iso);
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
}

// "Today", "Yesterday" (Intl's relative days), else the date.
export function dayLabel(iso) {
  const d = parseTime(iso);
  const ago = daysAgo(d);
  if (ago === 0 || ago === 1) return capitalize(fmt().relative.format(-ago, "day"));
  return d.getFullYear() === new Date().getFullYear() ? fmt().longDay.format(d) : fmt().longDayYear.format(d);
}

function capitalize(s) {
  return s ? s[0].toLocaleUpperCase(language()) + s.slice(1) : s;
}

export function lastSeen(user) {
  if (!user) return "";
  if (user.online) return t("lastSeen.online");
  if (!user.last_seen_at) return t("lastSeen.longAgo");
  const d = parseTime(user.last_seen_at);
  const mins = Math.floor((Date.now() - d.getTime()) / 60000);
  if (mins < 1) return t("lastSeen.justNow");
  if (mins < 60) return t("lastSeen.ago", { ago: fmt().relative.format(-mins, "minute") });
  const ago = daysAgo(d);
  if (ago === 0) return t("lastSeen.today", { time: formatClock(user.last_seen_at) });
  if (ago === 1) return t("lastSeen.yesterday", { time: formatClock(user.last_seen_at) });
  return t("lastSeen.date", { date: fmt().shortDateYear.format(d) });
}

export function formatSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return t("size.B", { n });
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  // i18n-keys: size.KB size.MB size.GB size.TB
  return t("size." + units[i], { n: fmt().number.format(v >= 100 ? Math.round(v) : v) });
}

// A wait as people say it: "40 seconds", "15 min", "2 h 5 min" (rounded up:
// trying earlier than told is refused again).
export function formatWait(seconds) {
  const s = Math.max(1, Math.ceil(Number(seconds) || 0));
  if (s < 60) return t("wait.seconds", { n: s });
  const min = Math.ceil(s / 60);
  if (min < 60) return t("wait.minutes", { n: min });
  const hours = t("wait.hours", { n: Math.floor(min / 60) });
  return min % 60 ? hours + " " + t("wait.minutes", { n: min % 60 }) : hours;
}

// crypto.randomUUID needs a secure context; getRandomValues does not.
export function uuid() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") {
    try {
      return crypto.randomUUID();
    } catch {
      /* fall through */
    }
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function debounce(fn, ms) {
  let t = 0;
  const wrapped = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(t);
  return wrapped;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function isImage(file) {
  return /^image\/(png|jpeg|gif|webp)$/.test(file && file.mime ? file.mime : "");
}

// A message as the Quote of a reply to it (API.md "Conversations").
export function quoteOf(m) {
  return {
    id: m.id,
    sender_id: m.sender_id,
    text: m.deleted ? "" : [...(m.text || "")].slice(0, 200).join(""),
    deleted: !!m.deleted,
    attachments_count: m.deleted ? 0 : (m.attachments || []).length,
  };
}

// Plain-text preview of a message for the chat list (its formatting
// signs dropped: "**hi**" reads "hi").
export function messagePreview(m) {
  if (!m) return "";
  if (m.deleted) return t("message.deletedPreview");
  const text = m.kind === "service" ? plainText(serviceText(m)) : plainText(m.text || "");
  if (text) return text;
  const files = m.attachments || [];
  if (!files.length) return "";
  if (files.every(isImage)) return files.length === 1 ? t("message.photo") : t("message.photos", { n: files.length });
  return files.length === 1 ? files[0].name : t("message.files", { n: files.length });
}
