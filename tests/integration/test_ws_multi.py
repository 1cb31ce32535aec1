"""wsd: several processes side by side against one database. A client on
each sees the other's messages, typing and presence; a crashed process's
users go offline once the others take it for dead."""

import signal
import time

import pytest

from helpers import wait_until
from ws_client import ExtraWsd, WsClient, events


@pytest.fixture
def wsd2(stack):
    if not stack.local:
        pytest.skip("needs the local stack")
    with ExtraWsd(stack) as w:
        yield w


def connect(url, origin, user, since=None):
    c = WsClient.open(url, origin=origin)
    c.ready = c.auth(user, since=since)
    return c


def group(api, owner, title, *members):
    r = api.post(
        "/api/chats",
        token=owner,
        json={"type": "group", "title": title, "member_ids": [m["user"]["id"] for m in members]},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def presence_of(c, user, online, timeout=10):
    return c.wait_for(
        lambda f: f["type"] == "presence" and f["data"]["user_id"] == user["user"]["id"]
        and f["data"]["online"] is online,
        timeout,
    )


def test_messages_typing_and_presence_across_processes(stack, api, new_user, wsd2):
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    a = connect(stack.ws_url, stack.origin, alice)          # through nginx
    b = connect(wsd2.url, stack.origin, bob)                # the other process
    cid = group(api, alice, "Across", bob, carol)
    for c in (a, b):
        assert c.wait_for(lambda f: f["type"] == "chat.created")["chat_id"] == cid

    r = api.post(f"/api/chats/{cid}/messages", token=alice, json={"text": "hi from 1"})
    assert r.status_code == 201
    f = b.wait_for(lambda f: f["type"] == "message.created" and f["data"]["message"]["text"] == "hi from 1")
    assert f["chat_id"] == cid
    r = api.post(f"/api/chats/{cid}/messages", token=bob, json={"text": "hi from 2"})
    assert r.status_code == 201
    a.wait_for(lambda f: f["type"] == "message.created" and f["data"]["message"]["text"] == "hi from 2")

    a.send({"type": "typing", "chat_id": cid})
    f = b.wait_for(lambda f: f["type"] == "typing")
    assert f["data"]["user_id"] == alice["user"]["id"] and f["chat_id"] == cid
    b.send({"type": "typing", "chat_id": cid})
    f = a.wait_for(lambda f: f["type"] == "typing")
    assert f["data"]["user_id"] == bob["user"]["id"]
    # Each typing frame arrives once, not once per process.
    assert not [f for f in b.drain(0.8) if f["type"] == "typing"]

    # Presence: carol comes on the other process, then also through nginx;
    # she is offline only when her last connection anywhere closes.
    c2 = connect(wsd2.url, stack.origin, carol)
    presence_of(a, carol, True)
    presence_of(b, carol, True)
    c1 = connect(stack.ws_url, stack.origin, carol)
    c2.close()
    assert not [f for f in a.drain(1.0) if f["type"] == "presence"
                and f["data"]["user_id"] == carol["user"]["id"]]
    assert api.get(f"/api/users/{carol['user']['id']}", token=alice).json()["online"] is True
    c1.close()
    presence_of(a, carol, False)
    presence_of(b, carol, False)
    assert api.get(f"/api/users/{carol['user']['id']}", token=alice).json()["online"] is False

    # ack on one process, delivered on both.
    msg = r.json()
    a.send({"type": "ack", "chat_id": cid, "message_id": msg["id"]})
    for c in (a, b):
        c.wait_for(lambda f: f["type"] == "delivered" and f["data"]["user_id"] == alice["user"]["id"])
    a.close()
    b.close()


def test_clean_stop_of_one_process_takes_its_users_offline(stack, api, new_user):
    if not stack.local:
        pytest.skip("needs the local stack")
    alice, bob = new_user("alice"), new_user("bob")
    group(api, alice, "Stop", bob)
    a = connect(stack.ws_url, stack.origin, alice)
    with ExtraWsd(stack) as w:
        b = connect(w.url, stack.origin, bob)
        presence_of(a, bob, True)
        w.stop()
        assert b.wait_closed()[0] == 1001
    presence_of(a, bob, False)
    a.close()


def test_crashed_process_users_go_offline(stack, api, new_user):
    if not stack.local:
        pytest.skip("needs the local stack")
    alice, bob = new_user("alice"), new_user("bob")
    group(api, alice, "Crash", bob)
    fast = {"MSGR_WSD_HEARTBEAT_SECS": 1, "MSGR_WSD_DEAD_SECS": 3}
    with ExtraWsd(stack, **fast) as reaper, ExtraWsd(stack, **fast) as doomed:
        a = connect(reaper.url, stack.origin, alice)
        b = connect(doomed.url, stack.origin, bob)
        presence_of(a, bob, True)
        doomed.stop(signal.SIGKILL)
        b.wait_closed()
        presence_of(a, bob, False, timeout=20)
        rows = stack.psql("SELECT count(*) FROM wsd_instances WHERE wsd_id = %s",
                          doomed.env["MSGR_WSD_ID"])
        assert rows[0][0] == 0
        a.close()


def test_same_stream_on_both_processes(stack, api, new_user, wsd2):
    """Two connections of one user, one on each process, get the same events
    in the same order; a client may resume on the other process."""
    alice, bob = new_user("alice"), new_user("bob")
    cid = group(api, alice, "Same", bob)
    start = stack.psql("SELECT max(id) FROM events")[0][0]
    x = connect(stack.ws_url, stack.origin, bob, since=start)
    y = connect(wsd2.url, stack.origin, bob, since=start)
    for i in range(10):
        assert api.post(f"/api/chats/{cid}/messages", token=alice, json={"text": str(i)}).status_code == 201
    want = [r[0] for r in stack.psql("SELECT id FROM events WHERE chat_id = %s AND id > %s ORDER BY id", cid, start)]

    def ids(c):
        wait_until(lambda: [f["id"] for f in events(c.received) if f.get("chat_id") == cid][-1:] == want[-1:],
                   timeout=15)
        return [f["id"] for f in events(c.received) if f.get("chat_id") == cid]

    assert ids(x) == want and ids(y) == want
    # Resume on the other process from the middle.
    x.close()
    z = connect(wsd2.url, stack.origin, bob, since=want[4])
    assert ids(z) == want[5:]
    y.close()
    z.close()
