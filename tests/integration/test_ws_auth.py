"""wsd: the handshake, the auth frame and the frame rules (API.md "Realtime"
1-2), through nginx at /ws."""

import base64
import json
import time

import pytest
import websockets

from ws_client import Closed, WsClient, loop


def b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_auth_answers_ready(ws, new_user):
    alice = new_user("alice")
    c = ws()
    ready = c.auth(alice)
    assert ready["user_id"] == alice["user"]["id"]
    assert isinstance(ready["last_event_id"], int) and ready["last_event_id"] >= 0
    c.send({"type": "ping"})
    assert c.wait_for(lambda f: f["type"] in ("pong", "error"))["type"] == "pong"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "",
        # alg "none": no signature at all
        b64({"alg": "none", "typ": "JWT"}) + "." + b64({"sub": "1", "exp": 4102444800}) + ".",
    ],
)
def test_bad_token_closes_4401(ws, token):
    c = ws()
    c.send({"type": "auth", "token": token})
    code, _ = c.wait_closed()
    assert code == 4401


def test_forged_and_expired_tokens_close_4401(ws, new_user, stack):
    alice = new_user("alice")
    head, body, sig = alice["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["sub"] = str(claims["sub"]) + "0"
    forged = f"{head}.{b64(claims)}.{sig}"
    c = ws()
    c.send({"type": "auth", "token": forged})
    assert c.wait_closed()[0] == 4401
    if stack.local:
        import jwt

        secret = (stack.var / "secret").read_bytes().strip()
        now = int(time.time())
        expired = jwt.encode(
            {"sub": str(alice["user"]["id"]), "iat": now - 100, "exp": now - 10, "typ": "access"},
            secret,
            algorithm="HS256",
        )
        c = ws()
        c.send({"type": "auth", "token": expired})
        assert c.wait_closed()[0] == 4401


def test_first_frame_must_be_auth(ws, new_user):
    c = ws()
    c.send({"type": "ping"})
    assert c.wait_closed()[0] == 4400
    c = ws()
    c.send("this is not json")
    assert c.wait_closed()[0] == 4400


def test_late_auth_is_closed(ws):
    c = ws()
    t0 = time.monotonic()
    code, _ = c.wait_closed(timeout=20)
    took = time.monotonic() - t0
    assert code == 4408
    assert 9 <= took <= 15


def handshake(stack, origin=None, request_id=None):
    """A raw WebSocket upgrade through nginx: (status, headers, body)."""
    import http.client

    conn = http.client.HTTPConnection(stack.base_url.split("//", 1)[1], timeout=10)
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Protocol": "msgr",
    }
    if origin:
        headers["Origin"] = origin
    if request_id:
        headers["X-Request-Id"] = request_id
    try:
        conn.request("GET", "/ws", headers=headers)
        r = conn.getresponse()
        body = r.read() if r.status != 101 else b""
        return r.status, r.headers, body
    finally:
        conn.close()


def test_foreign_origin_is_refused_at_the_handshake(stack):
    # An honest 403 with a problem document, not a dropped connection that
    # nginx turns into a 5xx a browser would retry for ever.
    status, headers, body = handshake(stack, origin="http://evil.example")
    assert status == 403
    assert headers["Content-Type"].startswith("application/problem+json")
    assert "Retry-After" not in headers
    problem = json.loads(body)
    assert problem["status"] == 403 and problem["code"] == "origin_not_allowed"
    # wsd names the request like the programs do, and logs it (API.md "Operations")
    assert problem["request_id"] == headers["X-Request-Id"]
    assert len(problem["request_id"]) == 32


def test_refused_origin_is_logged_with_the_clients_request_id(stack):
    status, headers, body = handshake(stack, origin="http://evil.example", request_id="trace-ws.403")
    assert status == 403
    assert json.loads(body)["request_id"] == "trace-ws.403" == headers["X-Request-Id"]
    deadline = time.monotonic() + 5
    while "request_id=trace-ws.403" not in stack.log("wsd"):
        assert time.monotonic() < deadline, "wsd did not log the request id"
        time.sleep(0.1)
    assert handshake(stack, origin=stack.origin)[0] == 101
    with pytest.raises((websockets.InvalidStatusCode, websockets.InvalidHandshake, OSError)):
        WsClient.open(stack.ws_url, origin="http://evil.example")
    # Allowed origins and clients that send none (not a browser) get in.
    WsClient.open(stack.ws_url, origin=stack.origin).close()
    WsClient.open(stack.ws_url).close()


def test_token_in_the_url_is_not_accepted(stack, new_user):
    alice = new_user("alice")
    c = WsClient.open(stack.ws_url + "?token=" + alice["access_token"], origin=stack.origin)
    # Still needs the auth frame: nothing arrives, then the deadline.
    with pytest.raises(TimeoutError):
        c.recv(1)
    c.close()


def test_frames_over_4_kib_close_1009(ws, new_user):
    alice = new_user("alice")
    c = ws()
    c.auth(alice)
    c.send({"type": "ping", "pad": "x" * 4000})  # just under: fine
    assert c.wait_for(lambda f: f["type"] == "pong")
    c.send({"type": "ping", "pad": "x" * 5000})
    assert c.wait_closed()[0] == 1009


def test_oversized_auth_frame_closes_1009(ws):
    c = ws()
    c.send({"type": "auth", "token": "x" * 10000})
    assert c.wait_closed()[0] == 1009


def test_fragmented_frame_is_reassembled(ws, new_user):
    alice = new_user("alice")
    c = ws()
    c.auth(alice)
    from ws_client import run

    async def fragments():
        await c.ws.send(iter(['{"type":', '"ping",', '"pad":"' + "y" * 1500 + '"}']))

    run(fragments())
    assert c.wait_for(lambda f: f["type"] == "pong")


def test_binary_frames_are_refused(ws, new_user):
    alice = new_user("alice")
    c = ws()
    c.auth(alice)
    c.send(b'{"type":"ping"}')
    assert c.wait_closed()[0] == 1003


def test_unknown_and_malformed_frames_get_errors(ws, new_user):
    alice = new_user("alice")
    c = ws()
    c.auth(alice)
    c.send({"type": "dance"})
    assert c.wait_for(lambda f: f["type"] == "error")["code"] == "unknown_type"
    c.send("[1, 2]")
    assert c.wait_for(lambda f: f["type"] == "error")["code"] == "bad_frame"
    c.send({"type": "typing", "chat_id": "x"})
    assert c.wait_for(lambda f: f["type"] == "error")["code"] == "bad_frame"
    c.send({"type": "typing", "chat_id": 999999999})
    assert c.wait_for(lambda f: f["type"] == "error")["code"] == "chat_not_found"
    # Still connected.
    c.send({"type": "ping"})
    assert c.wait_for(lambda f: f["type"] == "pong")


# The frames REST's reader refuses (shared/json.h) are refused here too: a
# single-quoted frame gets what any malformed frame gets.
MALFORMED = [
    "{'type':'ping'}",
    "{\"type\":'ping'}",
    '{"type":"ping"} trailing',
    '{"type":"ping","n":NaN}',
    "this is not json",
]


@pytest.mark.parametrize("frame", MALFORMED)
def test_a_malformed_first_frame_closes_4400(ws, frame):
    c = ws()
    c.send(frame)
    assert c.wait_closed()[0] == 4400


def test_a_single_quoted_auth_frame_closes_4400(ws, new_user):
    alice = new_user("alice")
    c = ws()
    c.send("{'type':'auth','token':'%s'}" % alice["access_token"])
    assert c.wait_closed()[0] == 4400


def test_malformed_frames_after_auth_get_bad_frame(ws, new_user):
    alice = new_user("alice")
    c = ws()
    c.auth(alice)
    for frame in MALFORMED:
        c.send(frame)
        error = c.wait_for(lambda f: f["type"] in ("error", "pong"))
        assert error["type"] == "error" and error["code"] == "bad_frame", frame
    # Still connected, and the same frame in double quotes is a ping.
    c.send('{"type":"ping"}')
    assert c.wait_for(lambda f: f["type"] in ("error", "pong"))["type"] == "pong"


def test_since_must_be_an_event_id(ws, new_user):
    alice = new_user("alice")
    c = ws()
    c.send({"type": "auth", "token": alice["access_token"], "since": "yesterday"})
    assert c.wait_closed()[0] == 4400


def test_plain_http_is_refused(api):
    r = api.get("/ws")
    assert r.status_code in (400, 404, 426)


def test_several_connections_of_one_user(ws, new_user):
    alice = new_user("alice")
    conns = [ws() for _ in range(3)]
    for c in conns:
        assert c.auth(alice)["user_id"] == alice["user"]["id"]
    conns[0].close()
    conns[1].send({"type": "ping"})
    assert conns[1].wait_for(lambda f: f["type"] == "pong")
    with pytest.raises(Closed):
        conns[0].recv(0.1)


def test_idle_connections_are_pinged_and_dead_ones_reaped(stack, new_user):
    if not stack.local:
        pytest.skip("needs the local stack")
    from ws_client import ExtraWsd

    alice = new_user("alice")
    with ExtraWsd(stack, MSGR_WSD_PING_SECS=1, MSGR_WSD_HANGUP_SECS=3) as w:
        alive = WsClient.open(w.url, origin=stack.origin)  # answers pings
        alive.auth(alice)
        dead = WsClient.open(w.url, origin=stack.origin)
        dead.auth(alice)
        # A peer that vanished: no pongs. On the clients' loop, whose thread
        # owns the transport (from this one, it failed once under load).
        on_loop = loop().call_soon_threadsafe
        on_loop(dead.ws.transport.pause_reading)
        time.sleep(6)
        on_loop(lambda: dead.ws.transport.is_closing() or dead.ws.transport.resume_reading())
        code, _ = dead.wait_closed(10)
        assert code != 1000  # cut off, no clean close
        alive.send({"type": "ping"})
        assert alive.wait_for(lambda f: f["type"] == "pong")
        alive.close()


def token_for(stack, user, ttl):
    """An access token of user that expires in ttl seconds, signed with the
    stack's secret like the auth program's."""
    import jwt

    secret = (stack.var / "secret").read_bytes().strip()
    now = int(time.time())
    return jwt.encode({"sub": str(user["user"]["id"]), "iat": now, "exp": now + ttl,
                       "typ": "access"}, secret, algorithm="HS256")


def test_a_connection_ends_with_its_token(ws, new_user, stack):
    if not stack.local:
        pytest.skip("needs the stack's secret")
    alice, bob = new_user("alice"), new_user("bob")
    c = ws()
    c.auth(token_for(stack, alice, 3))
    # Someone else's token, however long, does not renew alice's connection.
    c.send({"type": "auth", "token": bob["access_token"]})
    assert c.wait_for(lambda f: f["type"] == "error")["code"] == "invalid_token"
    c.send({"type": "auth", "token": "not a token"})
    assert c.wait_for(lambda f: f["type"] == "error")["code"] == "invalid_token"
    t0 = time.monotonic()
    code, reason = c.wait_closed(timeout=10)
    assert code == 4401 and reason == "token expired"
    assert time.monotonic() - t0 < 6


def test_a_renewed_token_keeps_the_connection(ws, new_user, stack, api):
    if not stack.local:
        pytest.skip("needs the stack's secret")
    alice = new_user("alice")
    c = ws()
    c.auth(token_for(stack, alice, 3))
    c.send({"type": "auth", "token": token_for(stack, alice, 60)})
    time.sleep(5)
    c.send({"type": "ping"})
    assert c.wait_for(lambda f: f["type"] in ("pong", "error"))["type"] == "pong"
    # Still receiving: a message sent now arrives.
    cid = api.post("/api/chats", token=alice, json={"type": "group", "title": "Renewed"}).json()["id"]
    r = api.post(f"/api/chats/{cid}/messages", token=alice, json={"text": "still here"})
    assert r.status_code == 201, r.text
    f = c.wait_for(lambda f: f["type"] == "message.created" and f["data"]["message"]["text"] == "still here")
    assert f["chat_id"] == cid
