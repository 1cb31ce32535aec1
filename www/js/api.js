// api.js - the REST client: JSON in and out, problem+json errors as
// ApiError, the bearer token from auth.js, one retry after a 401 with a
// freshly refreshed token, and uploads with progress (XMLHttpRequest).

import { formatWait } from "./util.js";
import { t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, problem = {}, retryAfter = 0) {
    // A 429 is worded from Retry-After: the server's own words count
    // seconds ("try again in 893 seconds").
    const msg = (status === 429 && retryAfter ? t("error.tooManyRequests", { wait: formatWait(retryAfter) }) : "") ||
      problem.detail || problem.title || problem.error_description || problem.error ||
      (status ? t("error.requestFailed", { status }) : t("error.network"));
    super(msg);
    this.status = status;
    this.code = problem.code || problem.error || (status ? "http_" + status : "network");
    this.errors = problem.errors && typeof problem.errors === "object" ? problem.errors : {};
    this.retryAfter = retryAfter;
  }
  get isNetwork() {
    return this.status === 0 || this.status >= 500 || this.status === 429;
  }
}

let tokens = {
  get: async () => null, // the current access token
  refresh: async () => null, // a new one after a 401
};

export function configureTokens(get, refresh) {
  tokens = { get, refresh };
}

async function problemOf(res) {
  let body = {};
  try {
    const text = await res.text();
    body = text ? JSON.parse(text) : {};
  } catch {
    body = {};
  }
  return new ApiError(res.status, body, Number(res.headers.get("Retry-After")) || 0);
}

// The app may be mounted under a prefix (/chat/): every URL it requests is
// relative to its page, so "api/chats" is /chat/api/chats there and
// /api/chats at the root. Its routes live in the fragment (#/c/7), so the
// page is always the app's directory.
const API = "api";

// The URLs the API hands out (a File's url, a user's avatar_url) are
// paths from the root the API sees ("/api/files/7?exp=..."), which knows
// no prefix: they resolve against the app's directory like its own.
export function apiHref(url) {
  return typeof url === "string" && url.startsWith("/" + API + "/") ? url.slice(1) : url;
}

// api("GET", "/chats") -> parsed JSON (null for 204).
export async function api(method, path, body, opts = {}) {
  const { auth = true, signal, timeout = 30000 } = opts;
  const headers = { Accept: "application/json" };
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  for (let attempt = 0; ; attempt++) {
    let token = null;
    if (auth) {
      token = await tokens.get();
      if (token) headers.Authorization = "Bearer " + token;
    }
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeout);
    if (signal) signal.addEventListener("abort", () => ctl.abort(), { once: true });
    let res;
    try {
      res = await fetch(API + path, { method, headers, body: payload, signal: ctl.signal, cache: "no-store" });
    } catch (e) {
      if (signal && signal.aborted) throw e;
      throw new ApiError(0, {});
    } finally {
      clearTimeout(timer);
    }
    if (res.status === 401 && auth && attempt === 0) {
      await tokens.refresh(token);
      continue;
    }
    if (!res.ok) throw await problemOf(res);
    if (res.status === 204) return null;
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  }
}

// upload("POST", "/files", formData, pct => ...) -> {promise, abort()}
export function upload(method, path, form, onProgress) {
  let xhr = null;
  let aborted = false;
  const send = (token) =>
    new Promise((resolve, reject) => {
      if (aborted) {
        reject(Object.assign(new Error("cancelled"), { cancelled: true }));
        return;
      }
      xhr = new XMLHttpRequest();
      xhr.open(method, API + path);
      xhr.setRequestHeader("Accept", "application/json");
      if (token) xhr.setRequestHeader("Authorization", "Bearer " + token);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total);
      };
      xhr.onload = () => {
        let body = {};
        try {
          body = xhr.responseText ? JSON.parse(xhr.responseText) : {};
        } catch {
          body = {};
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(body);
        else reject(new ApiError(xhr.status, body, Number(xhr.getResponseHeader("Retry-After")) || 0));
      };
      xhr.onerror = () => reject(new ApiError(0, {}));
      xhr.onabort = () => reject(Object.assign(new Error("cancelled"), { cancelled: true }));
      xhr.send(form);
    });
  const promise = (async () => {
    const token = await tokens.get();
    try {
      return await send(token);
    } catch (e) {
      if (e.status === 401 && !aborted) return send(await tokens.refresh(token));
      throw e;
    }
  })();
  return {
    promise,
    abort() {
      aborted = true;
      if (xhr) xhr.abort();
    },
  };
}
