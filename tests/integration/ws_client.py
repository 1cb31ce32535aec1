"""A WebSocket client with a synchronous API for the wsd tests.

python3-websockets 10 is asyncio-only: every client shares one event loop
running in a background thread, frames are collected as they arrive, and
the test thread reads them with timeouts:

    c = WsClient.open(stack.ws_url, origin=stack.origin)
    ready = c.auth(alice["access_token"], since=0)
    ev = c.wait_for(lambda f: f["type"] == "message.created")
    c.close()
"""

import asyncio
import json
import queue
import threading
import time

import websockets

_loop = None
_loop_lock = threading.Lock()


def loop():
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="ws-loop", daemon=True).start()
        return _loop


def run(coro, timeout=30):
    return asyncio.run_coroutine_threadsafe(coro, loop()).result(timeout)


class Closed(Exception):
    """The server closed the connection: .code and .reason."""

    def __init__(self, code, reason):
        super().__init__(f"closed {code} {reason!r}")
        self.code = code
        self.reason = reason


class WsClient:
    def __init__(self, ws):
        self.ws = ws
        self.frames = queue.Queue()
        self.close_code = None
        self.close_reason = None
        self._done = threading.Event()
        self.received = []  # every frame, in order
        asyncio.run_coroutine_threadsafe(self._reader(), loop())

    @classmethod
    def open(cls, url, origin=None, headers=None, timeout=15, **kw):
        kw.setdefault("max_size", 2**24)
        kw.setdefault("ping_interval", None)  # the server pings; we answer
        async def connect():
            return await websockets.connect(
                url, origin=origin, extra_headers=headers or {}, open_timeout=timeout, **kw
            )

        return cls(run(connect(), timeout + 5))

    async def _reader(self):
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                self.received.append(frame)
                self.frames.put(frame)
        except websockets.ConnectionClosed:
            pass
        except Exception as e:  # a bad frame: make the test fail loudly
            self.frames.put({"type": "__error__", "error": repr(e)})
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason
            self._done.set()
            self.frames.put(None)

    # ---- sending --------------------------------------------------------

    def send(self, obj):
        data = obj if isinstance(obj, (str, bytes)) else json.dumps(obj)
        run(self.ws.send(data))

    def auth(self, token, since=None, timeout=15):
        """Sends the auth frame; returns the "ready" frame."""
        if isinstance(token, dict):
            token = token["access_token"]
        frame = {"type": "auth", "token": token}
        if since is not None:
            frame["since"] = since
        self.send(frame)
        return self.wait_for(lambda f: f["type"] == "ready", timeout)

    # ---- receiving ------------------------------------------------------

    def recv(self, timeout=10):
        """The next frame; Closed when the connection ended, TimeoutError
        when nothing came."""
        try:
            frame = self.frames.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no frame within {timeout}s") from None
        if frame is None:
            self.frames.put(None)  # stay closed for the next caller
            raise Closed(self.close_code, self.close_reason)
        if frame.get("type") == "__error__":
            raise AssertionError(frame["error"])
        return frame

    def wait_for(self, pred, timeout=10):
        """Skips frames until one satisfies pred; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching frame")
            frame = self.recv(left)
            if pred(frame):
                return frame

    def drain(self, quiet=0.3):
        """The frames that arrive until none came for quiet seconds."""
        out = []
        while True:
            try:
                out.append(self.recv(quiet))
            except (TimeoutError, Closed):
                return out

    def wait_closed(self, timeout=15):
        """Waits for the server to close; returns (code, reason)."""
        if not self._done.wait(timeout):
            raise TimeoutError("the connection stayed open")
        return self.close_code, self.close_reason

    @property
    def open_(self):
        return not self._done.is_set()

    def close(self):
        if not self._done.is_set():
            try:
                run(self.ws.close(), 10)
            except Exception:
                pass
        self._done.wait(10)

    def abort(self):
        """Drops the TCP connection without a close handshake."""
        self.ws.transport.abort()
        self._done.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def events(frames, kind=None):
    """The stored events among frames (those with an id), of one kind."""
    return [f for f in frames if "id" in f and (kind is None or f["type"] == kind)]


class ExtraWsd:
    """Another wsd process against the stack's database, on a TCP port of
    its own (not behind nginx): several wsd side by side.

        with ExtraWsd(stack) as w2:
            c = WsClient.open(w2.url)
    """

    def __init__(self, stack, wsd_id=None, **env):
        import os
        import subprocess

        from helpers import free_port

        self.stack = stack
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/"
        var = stack.var
        full = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "MSGR_DATABASE_URL": f"host={var}/run dbname=messenger user=msgr_app",
            "MSGR_SECRET_FILE": f"{var}/secret",
            "MSGR_ALLOWED_ORIGINS": stack.origin,
            "MSGR_WSD_ID": wsd_id or f"test-wsd-{self.port}",
            "ASAN_OPTIONS": f"log_path={var}/log/asan:detect_leaks=0",
            "UBSAN_OPTIONS": f"print_stacktrace=1:halt_on_error=1:log_path={var}/log/ubsan",
        }
        full.update({k: str(v) for k, v in env.items()})
        self.env = full
        self.log_path = var / "log" / f"wsd-{self.port}.log"
        self.bin = os.path.join(stack.env["BIN"], "wsd")
        self.proc = None
        self.start()

    def start(self):
        import subprocess

        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.bin, "--port", str(self.port)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                WsClient.open(self.url, timeout=2).close()
                return
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"wsd on port {self.port} did not start: "
                                       + self.log_path.read_text(errors="replace")[-2000:])
                time.sleep(0.1)

    def stop(self, sig=None):
        import signal

        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig or signal.SIGTERM)
            try:
                self.proc.wait(15)
            except Exception:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode if self.proc else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
