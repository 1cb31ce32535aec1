"""The answers nginx gives itself on /api and /ws are problem documents that
say what happened (nginx/messenger-locations.conf, "answers nginx gives
itself"): a program that is not running is a 502 that says so, not a 503
"restarting" with a Retry-After that browsers would follow for ever. The
503 (nginx's own limits) and 504 (a program too slow) come from a second
nginx of this test, whose servers include the rendered snippets with a
limit_req and a short fastcgi_read_timeout, in front of a socket that
accepts and never answers."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from helpers import REPO, free_port, tail


def raw(stack, request):
    """Sends request bytes to nginx; returns (status, headers, body) of
    the answer, read up to its Content-Length (nginx may keep the
    connection open)."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, f"nginx closed the connection after {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        while len(body) < int(headers.get("content-length", 0)):
            chunk = s.recv(65536)
            assert chunk, "nginx closed the connection inside the body"
            body += chunk
    return int(lines[0].split()[1]), headers, body


def problem(status, headers, body, want_status, want_code):
    assert status == want_status, body
    assert headers["content-type"].startswith("application/problem+json")
    doc = json.loads(body)
    assert doc["status"] == want_status and doc["code"] == want_code, doc
    return doc


@contextlib.contextmanager
def socket_replaced(stack, name, mode):
    """Runs the block with the program's socket moved aside (the program
    keeps running and serving it under the other name) and, in its place,
    nothing ("missing"), a socket file nobody listens on ("refused") or a
    listener that closes every connection at once ("closes"). Puts the real
    socket back afterwards."""
    stack._need_local()
    path = stack.var / "run" / f"{name}.sock"
    aside = path.with_name(path.name + ".aside")
    os.rename(path, aside)
    listener = None
    try:
        if mode in ("refused", "closes"):
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(str(path))
            os.chmod(path, 0o666)  # nginx may run as another user
            if mode == "refused":
                listener.close()
                listener = None
            else:
                listener.listen(16)

                def serve(sock=listener):
                    with contextlib.suppress(OSError):
                        while True:
                            conn, _ = sock.accept()
                            conn.close()

                threading.Thread(target=serve, daemon=True).start()
        yield
    finally:
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.rename(aside, path)


@pytest.mark.parametrize("mode", ["missing", "refused"])
@pytest.mark.parametrize(
    "name,path,service",
    [("auth", "/api/health", "the auth service"), ("chats", "/api/chats", "the chats service")],
)
def test_program_not_running_is_a_502_that_says_so(stack, api, name, path, service, mode):
    with socket_replaced(stack, name, mode):
        r = api.get(path)
        doc = problem(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content,
                      502, "service_not_running")
        assert doc["detail"] == f"{service} is not running (nginx could not connect to it)"
        assert "restarting" not in r.text
        assert "Retry-After" not in r.headers
    assert api.get("/api/health").status_code == 200


def test_program_failing_a_request_is_a_502_service_failed(stack, api):
    with socket_replaced(stack, "chats", "closes"):
        r = api.get("/api/chats")
        doc = problem(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content,
                      502, "service_failed")
        assert doc["detail"] == "the chats service closed the connection without a valid answer"
        assert "Retry-After" not in r.headers


def test_wsd_not_running_is_a_502_problem_at_the_handshake(stack):
    upgrade = (
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\n\r\n"
    )
    with socket_replaced(stack, "wsd", "missing"):
        status, headers, body = raw(stack, upgrade)
        doc = problem(status, headers, body, 502, "service_not_running")
        assert doc["detail"].startswith("the realtime service (wsd) is not running")
        assert "retry-after" not in headers


@pytest.mark.parametrize(
    "path,limit",
    [("/api/auth/login", "1 MiB"), ("/api/users/me/avatar", "6 MiB"), ("/api/files", "256 MiB")],
)
def test_body_over_the_limit_is_a_413_that_names_it(stack, path, limit):
    # The declared length is enough: nginx answers before reading the body.
    too_big = {"1 MiB": 2 << 20, "6 MiB": 7 << 20, "256 MiB": 300 << 20}[limit]
    request = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {too_big}\r\nConnection: close\r\n\r\n"
    ).encode()
    status, headers, body = raw(stack, request)
    doc = problem(status, headers, body, 413, "body_too_large")
    assert doc["detail"].endswith(f"(at most {limit})")


def test_malformed_body_framing_is_a_400_problem(stack):
    request = (
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
    )
    status, headers, body = raw(stack, request)
    problem(status, headers, body, 400, "malformed_request")
    assert "retry-after" not in headers


def test_plain_get_of_ws_is_a_400_problem_saying_to_open_a_websocket(stack):
    for extra in (b"", b"Upgrade: h2c\r\nConnection: Upgrade\r\n"):
        request = b"GET /ws HTTP/1.1\r\nHost: x\r\n" + extra + b"Connection: close\r\n\r\n"
        status, headers, body = raw(stack, request)
        doc = problem(status, headers, body, 400, "websocket_upgrade_required")
        assert "open a WebSocket" in doc["detail"]
        assert "retry-after" not in headers


# ---- 503 and 504, from a second nginx ----------------------------------------------


class SilentProgram:
    """A unix socket that accepts connections, reads what comes and never
    answers: a program stuck on every request."""

    def __init__(self, path):
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(path))
        os.chmod(path, 0o666)  # nginx's workers run as www-data
        self.listener.listen(16)
        self.conns = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                self.conns.append(conn)

    def close(self):
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for c in self.conns:
            c.close()


OWN_NGINX_CONF = """\
user www-data;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {tmp}/tmp/client_body;
    proxy_temp_path {tmp}/tmp/proxy;
    fastcgi_temp_path {tmp}/tmp/fastcgi;
    uwsgi_temp_path {tmp}/tmp/uwsgi;
    scgi_temp_path {tmp}/tmp/scgi;
    access_log off;
    include {conf}/messenger-upstreams.conf;
    limit_req_zone $binary_remote_addr zone=one_a_minute:1m rate=1r/m;

    # A program too slow: 1 s is all nginx waits here.
    server {{
        listen 127.0.0.1:{slow_port};
        fastcgi_read_timeout 1s;
        include {conf}/messenger-locations.conf;
    }}

    # nginx's own limit: one request a minute.
    server {{
        listen 127.0.0.1:{limited_port};
        limit_req zone=one_a_minute nodelay;
        fastcgi_read_timeout 1s;
        include {conf}/messenger-locations.conf;
    }}
}}
"""


@pytest.fixture(scope="module")
def own_nginx():
    """An nginx of this test with the rendered snippets: .slow_port (a
    server whose programs answer nothing within its 1 s timeout) and
    .limited_port (one request a minute)."""
    if os.geteuid() != 0:
        pytest.skip("starts an nginx whose workers run as www-data: needs root")
    tmp = Path(tempfile.mkdtemp(prefix="msgr-nginx-errors-"))
    os.chmod(tmp, 0o755)
    run, conf = tmp / "run", tmp / "conf"
    for d in (run, conf, tmp / "files", tmp / "tmp"):
        d.mkdir()
        os.chmod(d, 0o755)
    subprocess.run(
        [str(REPO / "scripts" / "render-nginx.sh"), "--snippets", str(conf)],
        env=dict(os.environ, RUN_DIR=str(run), STORAGE_DIR=str(tmp / "files")),
        check=True, capture_output=True,
    )
    silent = [SilentProgram(run / f"{name}.sock") for name in ("auth", "files")]
    slow_port, limited_port = free_port(), free_port()
    (tmp / "nginx.conf").write_text(OWN_NGINX_CONF.format(
        tmp=tmp, conf=conf, slow_port=slow_port, limited_port=limited_port))
    proc = subprocess.Popen(
        ["nginx", "-p", f"{tmp}/", "-c", str(tmp / "nginx.conf"), "-e", "stderr", "-g", "daemon off;"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(tmp / "stderr", "wb"),
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", limited_port), timeout=1).close()
                socket.create_connection(("127.0.0.1", slow_port), timeout=1).close()
                break
            assert proc.poll() is None, tail(tmp / "stderr")
            assert time.monotonic() < deadline, "the test's nginx did not start: " + tail(tmp / "stderr")
            time.sleep(0.1)
        own = type("OwnNginx", (), {})()
        own.slow_port, own.limited_port = slow_port, limited_port
        yield own
    finally:
        proc.terminate()
        proc.wait(15)
        for s in silent:
            s.close()
        shutil.rmtree(tmp, ignore_errors=True)


def own_raw(port, request):
    return raw(type("At", (), {"port": port})(), request)


@pytest.mark.parametrize(
    "path,service",
    [("/api/health", "the auth service"), ("/api/files/1", "the files service")],
)
def test_program_too_slow_is_a_504_that_names_it(own_nginx, path, service):
    started = time.monotonic()
    status, headers, body = own_raw(
        own_nginx.slow_port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    assert time.monotonic() - started >= 0.9, "answered before the timeout?"
    doc = problem(status, headers, body, 504, "service_timeout")
    assert doc["detail"] == f"{service} did not answer in time"
    assert doc["title"] == "Gateway Timeout"
    assert "retry-after" not in headers


def test_nginx_limit_is_a_503_with_retry_after(own_nginx):
    port = own_nginx.limited_port
    first = b"GET /api/chats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    # The minute's one request reaches nginx's upstream (chats is not
    # running here: 502); the next ones are refused by the limit.
    status, headers, body = own_raw(port, first)
    problem(status, headers, body, 502, "service_not_running")
    upgrade = (
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\n\r\n"
    )
    for request in (first, upgrade):
        status, headers, body = own_raw(port, request)
        doc = problem(status, headers, body, 503, "service_unavailable")
        # No program was asked: nginx names itself.
        assert doc["detail"] == "the server is busy, try again in a moment"
        assert headers.get("retry-after") == "1"
