"""The answers nginx gives itself on /api and /ws are problem documents that
say what happened (nginx/messenger-locations.conf, "answers nginx gives
itself"): a program that is not running is a 502 that says so, not a 503
"restarting" with a Retry-After that browsers would follow for ever."""

import contextlib
import json
import os
import socket
import threading

import pytest


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
