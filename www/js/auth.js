// auth.js - the login session: tokens in localStorage (so a reload and other
// tabs stay logged in), the access token renewed before it expires, and
// refresh-token rotation done one tab at a time. Presenting an already
// rotated refresh token revokes the whole session, so every refresh runs
// under a cross-tab lock and re-reads the stored pair first: if another tab
// has just rotated it, this tab adopts the new pair instead of refreshing.

import { api, ApiError, configureTokens } from "./api.js";

const KEY = "msgr.session";
const LOCK = "msgr.refresh-lock";
const listeners = new Set();
const tokenListeners = new Set(); // told of every new access token
let session = read();
let timer = 0;
let inflight = null;
let leaving = false; // logout() is ending the session: no refresh
const channel = "BroadcastChannel" in globalThis ? new BroadcastChannel("msgr-auth") : null;

function read() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) || "null");
    return s && s.refresh ? s : null;
  } catch {
    return null;
  }
}

function write(s) {
  if (s) localStorage.setItem(KEY, JSON.stringify(s));
  else localStorage.removeItem(KEY);
}

function fromPair(pair) {
  const ttl = Math.max(5, Number(pair.expires_in) || 900) * 1000;
  return { access: pair.access_token, refresh: pair.refresh_token, exp: Date.now() + ttl, ttl };
}

// Renew this long before the access token expires.
const margin = (s) => Math.min(60000, s.ttl / 4);

function set(s, why) {
  const was = session;
  session = s;
  write(s);
  schedule();
  if (s && (!was || was.access !== s.access)) tokensChanged();
  if (channel) channel.postMessage({ type: s ? "tokens" : "logout" });
  if (!!was !== !!s || why) emit(s ? "login" : "logout", why);
}

function emit(kind, why) {
  for (const fn of listeners) fn(kind, why);
}

function tokensChanged() {
  for (const fn of tokenListeners) fn();
}

// Other tabs: adopt what they stored.
function adopt() {
  const was = session;
  session = read();
  schedule();
  if (session && (!was || was.access !== session.access)) tokensChanged();
  if (was && !session) emit("logout", "elsewhere");
  else if (!was && session) emit("login");
}
window.addEventListener("storage", (e) => {
  if (e.key === KEY || e.key === null) adopt();
});
if (channel) channel.onmessage = () => adopt();

function schedule() {
  clearTimeout(timer);
  if (!session) return;
  const due = session.exp - margin(session) - Date.now() - Math.random() * 3000;
  timer = setTimeout(() => {
    refresh(session && session.access).catch(() => {
      // offline or the server is down: try again soon.
      clearTimeout(timer);
      timer = setTimeout(schedule, 10000);
    });
  }, Math.max(1000, due));
}

// A lock across tabs: the Web Locks API where there is one (secure
// contexts), else a best-effort lease in localStorage.
async function withLock(fn) {
  if (navigator.locks && navigator.locks.request) return navigator.locks.request("msgr-refresh", fn);
  const me = Math.random().toString(36).slice(2);
  for (let i = 0; i < 100; i++) {
    const cur = JSON.parse(localStorage.getItem(LOCK) || "null");
    if (!cur || cur.until < Date.now()) {
      localStorage.setItem(LOCK, JSON.stringify({ me, until: Date.now() + 10000 }));
      await new Promise((r) => setTimeout(r, 30));
      if ((JSON.parse(localStorage.getItem(LOCK) || "null") || {}).me === me) break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    return await fn();
  } finally {
    const cur = JSON.parse(localStorage.getItem(LOCK) || "null");
    if (cur && cur.me === me) localStorage.removeItem(LOCK);
  }
}

// A fresh access token. `stale` is the token that was rejected or is about
// to expire; if the stored one differs and is still good, that one is used.
export function refresh(stale) {
  if (leaving) return Promise.reject(new ApiError(401, { detail: "Logging out", code: "logged_out" }));
  if (inflight) return inflight;
  inflight = withLock(async () => {
    const stored = read();
    if (!stored) {
      if (session) set(null, "expired");
      throw new ApiError(401, { detail: "Please log in again", code: "logged_out" });
    }
    if (stored.access !== stale && stored.exp - Date.now() > margin(stored)) {
      session = stored;
      schedule();
      return stored.access;
    }
    try {
      const pair = await api("POST", "/auth/refresh", { refresh_token: stored.refresh }, { auth: false });
      set(fromPair(pair));
      return session.access;
    } catch (e) {
      // The server refused the refresh token: this login session was ended
      // there (revoked from another device, a password change or reset, a
      // ban) or ran out. Either way this device is signed out. A banned
      // account's refresh may be told so (403 account_banned): said on the card.
      if (e.code === "account_banned") set(null, "banned");
      else if (e.status === 401 || e.status === 400) set(null, "revoked");
      throw e;
    }
  }).finally(() => {
    inflight = null;
  });
  return inflight;
}

export async function accessToken() {
  if (!session) throw new ApiError(401, { detail: "Please log in", code: "logged_out" });
  if (session.exp - Date.now() > margin(session) / 2) return session.access;
  return refresh(session.access);
}

configureTokens(
  () => (session ? accessToken() : null),
  (stale) => refresh(stale),
);

export const loggedIn = () => !!session;

export function onAuthChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// fn() after every renewal of the access token (in this tab or another).
export function onTokens(fn) {
  tokenListeners.add(fn);
  return () => tokenListeners.delete(fn);
}

export async function login(loginName, password) {
  const pair = await api("POST", "/auth/login", { login: loginName, password }, { auth: false });
  set(fromPair(pair));
}

export async function register(fields) {
  const res = await api("POST", "/auth/register", fields, { auth: false });
  set(fromPair(res));
  return res.user;
}

// The server has already ended every session (a password reset): forget
// this device's pair without asking it to. Other tabs hear of it as a
// log-out; this one draws the sign-in card itself (authview.js).
export function forget() {
  session = null;
  write(null);
  schedule();
  if (channel) channel.postMessage({ type: "logout" });
}

// DELETE /users/me {password}: the account goes, and with it every
// session; the server closes this tab's socket (4401) as it ends them, so
// no refresh is tried meanwhile (it would be refused, and sign out as
// "revoked"). Done: this tab signs out saying why (main.js), the other
// tabs as after a log-out. Refused (403 wrong password): nothing changed,
// the error is the caller's.
export async function deleteAccount(password) {
  leaving = true;
  try {
    await api("DELETE", "/users/me", { password });
  } finally {
    leaving = false;
  }
  set(null, "deleted");
}

// Revokes the session on the server first (a few seconds at most), so that
// once this tab's sign-in screen shows, the refresh token is dead. The
// other tabs sign out before that: the server closes their sockets (4401)
// as it ends the session, and they would answer that with a refresh it
// refuses.
export async function logout() {
  const s = session || read();
  leaving = true;
  write(null);
  if (channel) channel.postMessage({ type: "logout" });
  if (s) {
    try {
      await api("POST", "/auth/logout", { refresh_token: s.refresh }, { auth: false, timeout: 5000 });
    } catch {
      /* offline: the session is forgotten here all the same */
    }
  }
  leaving = false;
  set(null, "logout");
}
