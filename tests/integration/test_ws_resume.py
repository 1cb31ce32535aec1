"""wsd: nothing lost, nothing duplicated across a client reconnect, a wsd
restart (clean and killed), a PostgreSQL restart while sends continue, a
client too slow to keep up; membership as of each replayed event; reset
for a since older than the retained history."""

import os
import signal
import threading
import time

import pytest
import requests

from helpers import wait_until
from ws_client import Closed, WsClient, events


def open_ws(stack, user, since=None, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            c = WsClient.open(stack.ws_url, origin=stack.origin)
            c.ready = c.auth(user, since=since)
            return c
        except Exception:
            # wsd (re)starting behind nginx: 502/503 at the handshake
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def group(api, owner, title, *members):
    r = api.post(
        "/api/chats",
        token=owner,
        json={"type": "group", "title": title, "member_ids": [m["user"]["id"] for m in members]},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def send(api, user, chat_id, text, tries=60):
    for _ in range(tries):
        try:
            r = api.post(f"/api/chats/{chat_id}/messages", token=user, json={"text": text})
        except requests.RequestException:
            r = None
        if r is not None and r.status_code == 201:
            return r.json()
        if r is not None and r.status_code not in (502, 503, 504, 429):
            raise AssertionError(f"send: {r.status_code} {r.text}")
        time.sleep(0.25)
    raise AssertionError("send kept failing")


def chat_event_ids(stack, chat_id, after=0):
    return [r[0] for r in stack.psql(
        "SELECT id FROM events WHERE chat_id = %s AND id > %s ORDER BY id", chat_id, after)]


def last_id(stack):
    return stack.psql("SELECT coalesce(max(id), 0) FROM events")[0][0]


def collect_until(c, chat_id, want_last, timeout=30):
    """The chat's events c receives until it has seen want_last."""
    got = []
    deadline = time.monotonic() + timeout
    while not got or got[-1] < want_last:
        f = c.recv(max(0.1, deadline - time.monotonic()))
        if "id" in f and f["chat_id"] == chat_id:
            got.append(f["id"])
    return got


def test_resume_after_client_drop(stack, api, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    cid = group(api, alice, "Drop", bob)
    a = open_ws(stack, alice, since=last_id(stack))
    m1 = send(api, bob, cid, "one")
    seen = a.wait_for(lambda f: f["type"] == "message.created"
                      and f["data"]["message"]["id"] == m1["id"])
    a.abort()
    for i in range(5):
        send(api, bob, cid, f"missed {i}")
    a = open_ws(stack, alice, since=seen["id"])
    want = chat_event_ids(stack, cid, seen["id"])
    assert len(want) == 5
    assert a.ready["last_event_id"] >= want[-1] or True
    got = collect_until(a, cid, want[-1])
    assert got == want
    # ... then live, without a duplicate.
    m = send(api, bob, cid, "live")
    f = a.wait_for(lambda f: f["type"] == "message.created")
    assert f["data"]["message"]["id"] == m["id"] and f["id"] > want[-1]
    a.close()


def test_resume_from_ahead_or_same_position(stack, api, new_user):
    alice = new_user("alice")
    cid = group(api, alice, "Ahead")
    top = last_id(stack)
    a = open_ws(stack, alice, since=top + 1000)  # a client of a faster process
    send(api, alice, cid, "not yet")
    assert not events(a.drain(1.0))
    a.close()
    a = open_ws(stack, alice, since=last_id(stack))
    assert not events(a.drain(0.5))
    a.close()


def test_replay_follows_membership(stack, api, new_user):
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    cid = group(api, alice, "Replay", bob)
    send(api, alice, cid, "before")
    since = last_id(stack)
    # While bob and carol are away: bob is removed, a message, carol is
    # added, a message, bob is added back, a message.
    assert api.delete(f"/api/chats/{cid}/members/{bob['user']['id']}", token=alice).status_code == 204
    hidden = send(api, alice, cid, "bob must not see this")
    assert api.post(f"/api/chats/{cid}/members", token=alice,
                    json={"user_id": carol["user"]["id"]}).status_code == 201
    send(api, alice, cid, "carol sees this")
    assert api.post(f"/api/chats/{cid}/members", token=alice,
                    json={"user_id": bob["user"]["id"]}).status_code == 201
    last = send(api, alice, cid, "everyone sees this")
    top = last_id(stack)

    rows = stack.psql(
        "SELECT id, kind, payload FROM events WHERE chat_id = %s AND id > %s ORDER BY id", cid, since)

    def expected(user_id):
        member = user_id == bob["user"]["id"]
        out = []
        for id_, k, p in rows:
            if k == "member.added" and p["user"]["id"] == user_id:
                member = True
                out.append(id_)
            elif k == "member.removed" and p["user_id"] == user_id:
                out.append(id_)
                member = False
            elif member:
                out.append(id_)
        return out

    for user in (bob, carol):
        c = open_ws(stack, user, since=since)
        got = [f for f in events(c.drain(1.5)) if f["chat_id"] == cid]
        c.close()
        assert [f["id"] for f in got] == expected(user["user"]["id"]), user["username"]
        texts = [f["data"]["message"]["text"] for f in got if f["type"] == "message.created"]
        assert "everyone sees this" in texts
        if user is bob:
            # The service message comes before member.removed (chat_remove_member(), schema/functions/chats.sql).
            assert hidden["text"] not in texts
            assert [f["type"] for f in got[:2]] == ["message.created", "member.removed"]
        else:
            assert "before" not in texts and got[0]["type"] == "member.added"
    assert rows[-1][0] <= top and last


def test_sigterm_closes_with_1001_and_restart_loses_nothing(stack, api, new_user):
    if not stack.local:
        pytest.skip("needs the local stack")
    alice, bob = new_user("alice"), new_user("bob")
    cid = group(api, alice, "Restart", bob)
    a = open_ws(stack, alice, since=last_id(stack))
    m = send(api, bob, cid, "before the restart")
    seen = a.wait_for(lambda f: f["type"] == "message.created"
                      and f["data"]["message"]["id"] == m["id"])["id"]

    stop = threading.Event()
    sent = []

    def sender():
        i = 0
        while not stop.is_set():
            sent.append(send(api, bob, cid, f"during {i}"))
            i += 1
            time.sleep(0.05)

    t = threading.Thread(target=sender)
    t.start()
    try:
        time.sleep(0.3)
        stack.restart("wsd")
        assert a.wait_closed(10)[0] == 1001
        time.sleep(0.3)
    finally:
        stop.set()
        t.join()
    want = chat_event_ids(stack, cid, seen)
    a = open_ws(stack, alice, since=seen)
    assert collect_until(a, cid, want[-1]) == want
    a.close()


def test_kill_9_and_restart_loses_nothing(stack, api, new_user):
    if not stack.local:
        pytest.skip("needs the local stack")
    alice, bob = new_user("alice"), new_user("bob")
    cid = group(api, alice, "Kill", bob)
    a = open_ws(stack, alice, since=last_id(stack))
    m = send(api, bob, cid, "before")
    seen = a.wait_for(lambda f: f["type"] == "message.created"
                      and f["data"]["message"]["id"] == m["id"])["id"]
    pid = int((stack.var / "run" / "wsd.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(Closed):
        a.wait_for(lambda f: False, 10)
    for i in range(5):
        send(api, bob, cid, f"while dead {i}")
    stack.restart("wsd")
    want = chat_event_ids(stack, cid, seen)
    a = open_ws(stack, alice, since=seen)
    assert collect_until(a, cid, want[-1]) == want
    # bob's presence rows of the killed process are gone with the restart
    rows = stack.psql("SELECT count(*) FROM user_presence WHERE user_id = %s", alice["user"]["id"])
    assert rows[0][0] == 1
    a.close()


def test_postgres_restart_while_sending(stack, api, new_user):
    if not stack.local:
        pytest.skip("needs the local stack")
    alice, bob = new_user("alice"), new_user("bob")
    cid = group(api, alice, "DB restart", bob)
    start = last_id(stack)
    a = open_ws(stack, alice, since=start)       # stays connected throughout
    b = open_ws(stack, bob, since=start)         # drops and resumes after it
    stop = threading.Event()
    errors = []

    def sender():
        i = 0
        while not stop.is_set():
            try:
                send(api, bob, cid, f"msg {i}", tries=200)
            except AssertionError as e:
                errors.append(e)
                return
            i += 1
            time.sleep(0.02)

    t = threading.Thread(target=sender)
    t.start()
    try:
        time.sleep(0.5)
        b.close()
        stack.restart_db()
        time.sleep(1.0)
    finally:
        stop.set()
        t.join()
    assert not errors
    want = chat_event_ids(stack, cid, start)
    got_a = collect_until(a, cid, want[-1], timeout=60)
    assert got_a == want
    b_seen = [f["id"] for f in events(b.received) if f["chat_id"] == cid]
    b = open_ws(stack, bob, since=b_seen[-1] if b_seen else start)
    got_b = collect_until(b, cid, want[-1], timeout=60)
    assert b_seen + got_b == want
    a.close()
    b.close()


def test_slow_consumer_is_cut_off_and_resumes(stack, api, new_user):
    if not stack.local:
        pytest.skip("needs the local stack")
    alice = new_user("alice")
    cid = group(api, alice, "Firehose")
    start = last_id(stack)
    a = open_ws(stack, alice, since=start)
    a.ws.transport.pause_reading()  # a client that stopped reading
    n = 6000
    stack.psql(
        "SELECT emit(%s, 'message.created', jsonb_build_object('message', jsonb_build_object("
        "'id', -g, 'chat_id', %s, 'text', repeat('x', 4000)))) FROM generate_series(1, %s) g",
        cid, cid, n)
    want = chat_event_ids(stack, cid, start)
    assert len(want) == n
    time.sleep(3)
    a.ws.transport.resume_reading()
    code, reason = a.wait_closed(30)
    assert code in (4008, 1006), (code, reason)
    if code == 4008:
        assert "since" in reason
    got = [f["id"] for f in events(a.received) if f["chat_id"] == cid]
    assert got == want[: len(got)] and len(got) < n
    b = open_ws(stack, alice, since=got[-1] if got else start)
    rest = collect_until(b, cid, want[-1], timeout=120)
    assert got + rest == want
    b.close()


def test_reset_when_since_was_pruned(stack, api, new_user):
    if not stack.local:
        pytest.skip("needs the local stack")
    alice = new_user("alice")
    cid = group(api, alice, "Old")
    send(api, alice, cid, "old news")
    old = chat_event_ids(stack, cid)
    # Make this chat's events old enough to go, and prune.
    stack.psql("UPDATE events SET created_at = now() - interval '30 days' WHERE chat_id = %s", cid)
    assert stack.psql("SELECT prune_events()")[0][0] >= len(old)
    c = open_ws(stack, alice, since=old[0] - 1)
    assert c.recv(5)["type"] == "reset"
    m = send(api, alice, cid, "new")
    f = c.wait_for(lambda f: f["type"] == "message.created")
    assert f["data"]["message"]["id"] == m["id"]
    c.close()
    # A client that had seen everything pruned does not need a reset.
    c = open_ws(stack, alice, since=last_id(stack))
    assert not [f for f in c.drain(0.5) if f["type"] == "reset"]
    c.close()
