// ws.js - the one WebSocket to /ws. Authenticates with its first frame,
// resumes with `since` after any drop (exponential backoff with jitter, a
// fresh token each time), drops replayed duplicates by event id, and
// watches the connection with pings so a dead link is noticed.

const PING_EVERY = 25000;
const PONG_WITHIN = 10000;
const READY_WITHIN = 12000;
// wsd refuses a user's connection over its limit (MSGR_WS_MAX_PER_USER)
// with 4429: other tabs or devices hold them, and that does not change in a
// second, so the next try waits this long (doubling, at most 5 minutes).
const TOO_MANY_WAIT = 30000;
const TOO_MANY_MAX = 300000;

export class Realtime {
  // handlers: {token(), refresh(stale), event(ev), ready(frame, first), reset(), state(s)}
  constructor(handlers) {
    this.h = handlers;
    this.ws = null;
    this.lastEventId = null;
    this.attempt = 0;
    this.refused = 0; // 4429s in a row
    this.stopped = true;
    this.state = "offline";
    this.timers = {};
    this.token = null;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this._onOnline = () => this.reconnectNow();
    window.addEventListener("online", this._onOnline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this._onOnline);
    this.clearTimers();
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000);
      this.ws = null;
    }
    this.setState("offline");
  }

  setState(s) {
    if (this.state === s) return;
    this.state = s;
    if (this.h.state) this.h.state(s);
  }

  clearTimers() {
    for (const t of Object.values(this.timers)) clearTimeout(t);
    this.timers = {};
  }

  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || this.state !== "online") return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // A renewed access token: wsd closes a connection when the token it was
  // opened with expires (4401), unless it is given a newer one in time.
  async renew() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.state !== "online") return;
    let token;
    try {
      token = await this.h.token();
    } catch {
      return; // logged out, or offline: the close path takes over
    }
    if (this.ws !== ws || ws.readyState !== WebSocket.OPEN || token === this.token) return;
    this.token = token;
    ws.send(JSON.stringify({ type: "auth", token }));
  }

  // Drop the link on purpose (tests, or after a network change): the
  // usual resume path takes over.
  drop() {
    if (this.ws) this.ws.close(4000, "client drop");
  }

  reconnectNow(force = false) {
    if (this.stopped) return;
    if (this.ws) return; // connecting or connected: its own timers watch it
    // Refused for too many connections: a network change frees none (the
    // notice's Retry may, once the user closed other tabs).
    if (this.state === "limited" && !force) return;
    this.attempt = 0;
    clearTimeout(this.timers.retry);
    this.connect();
  }

  async connect() {
    if (this.stopped || this.connecting || this.ws) return;
    this.clearTimers();
    this.setState(this.lastEventId === null && this.attempt === 0 ? "connecting" : "reconnecting");
    let token;
    this.connecting = true;
    try {
      token = await this.h.token();
    } catch (e) {
      if (e && (e.status === 401 || e.code === "logged_out")) return; // auth.js logs out
      this.retry();
      return;
    } finally {
      this.connecting = false;
    }
    if (this.stopped || this.ws) return;
    let ws;
    try {
      // Beside the page, like every URL of the app (api.js): /chat/ws
      // under a prefix.
      const url = new URL("ws", location.href);
      url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
      url.hash = "";
      ws = new WebSocket(url.href);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    this.token = token;
    ws.onopen = () => {
      const frame = { type: "auth", token };
      if (this.lastEventId !== null) frame.since = this.lastEventId;
      ws.send(JSON.stringify(frame));
    };
    ws.onmessage = (e) => this.onFrame(ws, e.data);
    ws.onerror = () => {};
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearTimers();
      if (this.stopped) return;
      if (e.code === 4401) {
        // The token was refused: renew it before the next try.
        Promise.resolve(this.h.refresh(token)).catch(() => {}).finally(() => this.retry());
        return;
      }
      if (e.code === 4429) {
        this.refused++;
        this.retry(Math.min(TOO_MANY_MAX, TOO_MANY_WAIT * 2 ** (this.refused - 1)), "limited");
        return;
      }
      this.retry();
    };
    this.timers.ready = setTimeout(() => ws.close(4000, "no ready"), READY_WITHIN);
  }

  // The next connect after a backoff with jitter: base (ms) or the usual
  // exponential one; state says why the link is down meanwhile.
  retry(base = Math.min(15000, 500 * 2 ** this.attempt), state = "reconnecting") {
    if (this.stopped) return;
    this.setState(state);
    this.attempt++;
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this.connect(), base / 2 + Math.random() * (base / 2));
  }

  heartbeat(ws) {
    clearTimeout(this.timers.ping);
    clearTimeout(this.timers.pong);
    this.timers.ping = setTimeout(() => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(JSON.stringify({ type: "ping" }));
      this.timers.pong = setTimeout(() => ws.close(4000, "no pong"), PONG_WITHIN);
    }, PING_EVERY);
  }

  onFrame(ws, data) {
    if (this.ws !== ws) return;
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    this.heartbeat(ws);
    if (f.type === "ready") {
      clearTimeout(this.timers.ready);
      const first = this.lastEventId === null;
      if (first) this.lastEventId = Number(f.last_event_id) || 0;
      this.readyLastId = Number(f.last_event_id) || 0;
      this.attempt = 0;
      this.refused = 0;
      this.setState("online");
      this.h.ready(f, first);
      return;
    }
    if (f.type === "reset") {
      // Our `since` is older than the retained history: refetch over REST
      // and carry on from the newest event.
      this.lastEventId = Math.max(this.lastEventId || 0, this.readyLastId || 0);
      this.h.reset();
      return;
    }
    if (f.type === "pong") return;
    if (typeof f.id === "number") {
      if (this.lastEventId !== null && f.id <= this.lastEventId) return; // a replayed duplicate
      this.lastEventId = f.id;
    }
    try {
      this.h.event(f);
    } catch (e) {
      console.warn("event handler failed", f.type, e);
    }
  }
}
