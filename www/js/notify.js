// notify.js - what tells the person of new messages while they look
// elsewhere: desktop notifications (Notification API), an optional short
// sound (WebAudio, off by default), and the unread count in the title and
// on the favicon. One place says whether a chat is muted and whether a
// message should notify (chatMuted, shouldNotify); the sidebar's grey
// badge and the counts follow it.

import * as S from "./store.js";
import { messagePreview } from "./util.js";
import { t } from "./i18n.js";

const SOUND_KEY = "msgr.sound";
const BANNER_KEY = "msgr.notify-banner-dismissed";

// Muted: notify "none", or muted_until still ahead.
export function chatMuted(c) {
  if (!c) return false;
  if (c.notify === "none") return true;
  return !!c.muted_until && Date.parse(c.muted_until) > Date.now();
}

// A message from someone else notifies when its chat allows: a mention
// always does unless the chat's notify is "none" (API.md "Notifications");
// otherwise only "all" in a chat not muted. Service messages never do.
export function shouldNotify(c, m) {
  const me = S.state.me;
  if (!c || !m || !me || m.kind === "service" || m.sender_id === me.id) return false;
  const notify = c.notify || "all";
  if (notify === "none") return false;
  if (m.mentions && m.mentions.includes(me.id)) return true;
  return notify === "all" && !chatMuted(c);
}

// The unread messages counted in the title and favicon: muted chats not.
export function unreadTotal() {
  let n = 0;
  for (const c of S.state.chats.values()) if (!chatMuted(c)) n += c.unread_count || 0;
  return n;
}

export const supported = () => "Notification" in window;
export const permission = () => (supported() ? Notification.permission : "denied");

// The chat list's one-time "Turn on notifications" banner: while the
// browser has not been asked and the person has not said no here.
export function wantsBanner() {
  return permission() === "default" && !localStorage.getItem(BANNER_KEY);
}
export function dismissBanner() {
  localStorage.setItem(BANNER_KEY, "1");
}
// Asked only from a click on the banner or the profile's "Turn on" (browsers ignore or punish a
// request made without one, and a prompt on load is rude).
export async function askPermission() {
  if (!supported()) return "denied";
  const p = await Notification.requestPermission();
  dismissBanner();
  // asked from the profile: the chat list's banner has had its answer too
  for (const el of document.querySelectorAll(".notify-banner")) el.hidden = true;
  return p;
}

export const soundOn = () => localStorage.getItem(SOUND_KEY) === "1";
export function setSound(on) {
  if (on) localStorage.setItem(SOUND_KEY, "1");
  else localStorage.removeItem(SOUND_KEY);
}

let audio = null;
// Two short soft tones, made here: no sound file to fetch.
export function beep() {
  try {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return;
    audio = audio || new AC();
    const t = audio.currentTime;
    for (const [i, f] of [[0, 880], [1, 1320]]) {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.frequency.value = f;
      g.gain.setValueAtTime(0.0001, t + i * 0.12);
      g.gain.exponentialRampToValueAtTime(0.15, t + i * 0.12 + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.12 + 0.11);
      o.connect(g).connect(audio.destination);
      o.start(t + i * 0.12);
      o.stop(t + i * 0.12 + 0.12);
    }
  } catch {
    /* no audio output: the notification itself still shows */
  }
}

// A new message arrived over the socket (sync.js). Told only while the
// tab is hidden or not focused: in view, the chat list says it already.
export function newMessage(c, m, open) {
  if (!shouldNotify(c, m)) return;
  if (!document.hidden && document.hasFocus()) return;
  if (soundOn()) beep();
  if (permission() !== "granted") return;
  const sender = S.state.users.get(m.sender_id);
  const who = sender ? sender.display_name || sender.username : t("notify.someone");
  const title = c.type === "group" ? `${who} in ${S.chatTitle(c)}` : who;
  try {
    // One per chat (tag): a burst replaces rather than piles up.
    const n = new Notification(title, { body: messagePreview(m), tag: "chat-" + c.id, icon: "favicon.svg" });
    n.onclick = () => {
      window.focus();
      open(c.id);
      n.close();
    };
  } catch {
    /* Chrome on Android wants a service worker for this: nothing shown */
  }
}

// The favicon with the count drawn on it (a canvas; the plain icon at 0).
let plainIcon = null;
let drawn = -1;
export function drawFavicon(n) {
  const link = document.querySelector('link[rel="icon"]');
  if (!link || n === drawn) return;
  if (plainIcon === null) plainIcon = link.getAttribute("href");
  drawn = n;
  if (!n) {
    delete link.dataset.count;
    link.setAttribute("href", plainIcon);
    link.setAttribute("type", "image/svg+xml");
    return;
  }
  const img = new Image();
  img.onload = () => {
    if (drawn !== n) return;
    const cv = document.createElement("canvas");
    cv.width = cv.height = 64;
    const g = cv.getContext("2d");
    g.drawImage(img, 0, 0, 64, 64);
    const text = n > 99 ? "99+" : String(n);
    g.fillStyle = "#e5484d";
    g.beginPath();
    g.arc(44, 20, 20, 0, Math.PI * 2);
    g.fill();
    g.fillStyle = "#fff";
    g.font = `bold ${text.length > 2 ? 18 : 26}px sans-serif`;
    g.textAlign = "center";
    g.textBaseline = "middle";
    g.fillText(text, 44, 21);
    link.setAttribute("href", cv.toDataURL("image/png"));
    link.setAttribute("type", "image/png");
    link.dataset.count = String(n);
  };
  img.src = plainIcon;
}
