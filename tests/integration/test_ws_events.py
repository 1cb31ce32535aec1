"""wsd: every stored event kind as REST changes make them, membership,
typing, presence and ack (API.md "Realtime" 3 and the client frames)."""

import time

import pytest

from helpers import wait_until
from ws_client import WsClient, events


@pytest.fixture
def connect(stack):
    clients = []

    def open_(user, since=None):
        c = WsClient.open(stack.ws_url, origin=stack.origin)
        c.ready = c.auth(user, since=since)
        clients.append(c)
        return c

    yield open_
    for c in clients:
        c.close()


def kind(c, k, timeout=10, **data):
    """The next frame of type k whose data has the given values."""
    return c.wait_for(
        lambda f: f["type"] == k and all(f.get("data", {}).get(n) == v for n, v in data.items()),
        timeout,
    )


def group(api, owner, title, *members):
    r = api.post(
        "/api/chats",
        token=owner,
        json={"type": "group", "title": title, "member_ids": [m["user"]["id"] for m in members]},
    )
    assert r.status_code == 201, r.text
    return r.json()


def send(api, user, chat_id, text):
    r = api.post(f"/api/chats/{chat_id}/messages", token=user, json={"text": text})
    assert r.status_code == 201, r.text
    return r.json()


def assert_envelope(f, chat_id):
    assert set(f) == {"type", "id", "chat_id", "data"}
    assert f["chat_id"] == chat_id and isinstance(f["id"], int)


def test_every_event_kind(api, new_user, connect):
    alice, bob = new_user("alice"), new_user("bob")
    a, b = connect(alice), connect(bob)

    chat = group(api, alice, "Plans", bob)
    cid = chat["id"]
    # (Events of the users' own Welcome chats may come first: they were
    # committed before the connections, but wsd may not have read them yet
    # when it answered "ready". Hence each wait names its chat or message.)
    for c in (a, b):
        f = c.wait_for(lambda f: f["type"] == "chat.created" and f["data"]["chat"]["id"] == cid)
        assert_envelope(f, cid)
        assert f["data"]["chat"]["id"] == cid
        assert {m["user"]["id"] for m in f["data"]["chat"]["members"]} == {
            alice["user"]["id"],
            bob["user"]["id"],
        }

    msg = send(api, alice, cid, "hello")
    for c in (a, b):
        f = c.wait_for(lambda f: f["type"] == "message.created"
                       and f["data"]["message"]["id"] == msg["id"])
        assert_envelope(f, cid)
        assert f["data"]["message"]["text"] == "hello"

    r = api.patch(f"/api/messages/{msg['id']}", token=alice, json={"text": "hello!"})
    assert r.status_code == 200
    for c in (a, b):
        f = kind(c, "message.updated")
        assert f["data"]["message"]["text"] == "hello!"
        assert f["data"]["message"]["edited_at"]

    r = api.put(f"/api/messages/{msg['id']}/reactions/%F0%9F%91%8D", token=bob)
    assert r.status_code == 204
    for c in (a, b):
        f = kind(c, "reaction.updated")
        assert f["data"]["message_id"] == msg["id"]
        assert f["data"]["reactions"][0]["emoji"] == "👍"

    r = api.post(f"/api/chats/{cid}/read", token=bob, json={"message_id": msg["id"]})
    assert r.status_code == 204
    for c in (a, b):
        kind(c, "read", user_id=bob["user"]["id"], message_id=msg["id"])

    msg2 = send(api, alice, cid, "are you there?")
    b.send({"type": "ack", "chat_id": cid, "message_id": msg2["id"]})
    for c in (a, b):
        kind(c, "delivered", user_id=bob["user"]["id"], message_id=msg2["id"])
    members = api.get(f"/api/chats/{cid}", token=alice).json()["members"]
    bob_member = next(m for m in members if m["user"]["id"] == bob["user"]["id"])
    assert bob_member["last_delivered_message_id"] == msg2["id"]
    # An ack never moves the marker back, and says nothing then.
    b.send({"type": "ack", "chat_id": cid, "message_id": msg["id"]})

    r = api.patch(f"/api/chats/{cid}", token=alice, json={"title": "Plans 2"})
    assert r.status_code == 200
    for c in (a, b):
        assert kind(c, "chat.updated")["data"]["chat"]["title"] == "Plans 2"

    r = api.delete(f"/api/messages/{msg['id']}", token=alice)
    assert r.status_code == 204
    for c in (a, b):
        assert kind(c, "message.deleted")["data"]["message_id"] == msg["id"]

    # Every client saw strictly increasing ids, no duplicates.
    for c in (a, b):
        ids = [f["id"] for f in events(c.received)]
        assert ids == sorted(set(ids))
        assert not any(f["type"] == "delivered" and f["data"]["message_id"] == msg["id"]
                       for f in c.received)


def test_direct_chat_created_reaches_both(api, new_user, connect):
    alice, bob = new_user("alice"), new_user("bob")
    a, b = connect(alice), connect(bob)
    r = api.post("/api/chats", token=alice, json={"type": "direct", "user_id": bob["user"]["id"]})
    assert r.status_code == 201
    for c in (a, b):
        f = kind(c, "chat.created")
        assert f["data"]["chat"]["type"] == "direct"


def test_membership_changes(api, new_user, connect):
    alice, bob, carol, dave = (new_user(n) for n in ("alice", "bob", "carol", "dave"))
    a, b, c, d = connect(alice), connect(bob), connect(carol), connect(dave)
    cid = group(api, alice, "Team", bob)["id"]
    kind(b, "chat.created")

    # A new member starts receiving at once: its member.added first.
    r = api.post(f"/api/chats/{cid}/members", token=alice, json={"user_id": carol["user"]["id"]})
    assert r.status_code == 201
    f = kind(c, "member.added")
    assert f["chat_id"] == cid and f["data"]["user"]["id"] == carol["user"]["id"]
    assert "added" in kind(c, "message.created")["data"]["message"]["text"]
    kind(a, "member.added")
    kind(b, "member.added")

    # A removed member gets its own member.removed, then nothing of the chat.
    r = api.delete(f"/api/chats/{cid}/members/{bob['user']['id']}", token=alice)
    assert r.status_code == 204
    f = kind(b, "member.removed")
    assert f["data"]["user_id"] == bob["user"]["id"]
    kind(a, "member.removed")
    kind(c, "member.removed")
    send(api, alice, cid, "bob is gone")
    kind(a, "message.created", timeout=10)
    kind(c, "message.created")
    later = b.drain(1.0)
    assert not [f for f in later if f.get("chat_id") == cid], later
    # Typing into a chat one has left is refused.
    b.send({"type": "typing", "chat_id": cid})
    assert b.wait_for(lambda f: f["type"] == "error")["code"] == "chat_not_found"

    # Leaving by oneself works the same; the others see it.
    r = api.delete(f"/api/chats/{cid}/members/{carol['user']['id']}", token=carol)
    assert r.status_code == 204
    kind(c, "member.removed")
    send(api, alice, cid, "alone")
    kind(a, "message.created")
    assert not [f for f in c.drain(0.8) if f.get("chat_id") == cid]

    # Nobody outside the chat heard anything of it.
    assert not [f for f in d.drain(0.3) if f.get("chat_id") == cid]


def test_typing(api, new_user, connect):
    alice, bob, carol, eve = (new_user(n) for n in ("alice", "bob", "carol", "eve"))
    a, b, c, e = connect(alice), connect(bob), connect(carol), connect(eve)
    cid = group(api, alice, "Typing", bob, carol)["id"]
    for x in (a, b, c):
        kind(x, "chat.created")
    a.send({"type": "typing", "chat_id": cid})
    for x in (b, c):
        f = x.wait_for(lambda f: f["type"] == "typing")
        assert f == {"type": "typing", "chat_id": cid, "data": {"user_id": alice["user"]["id"]}}
    assert not [f for f in a.drain(0.5) if f["type"] == "typing"]
    assert not [f for f in e.drain(0.1) if f["type"] == "typing"]
    # Members only.
    e.send({"type": "typing", "chat_id": cid})
    assert e.wait_for(lambda f: f["type"] == "error")["code"] == "chat_not_found"
    # Rate-limited per connection: a burst gets through, a flood does not.
    for _ in range(30):
        a.send({"type": "typing", "chat_id": cid})
    got = [f for f in b.drain(1.0) if f["type"] == "typing"]
    assert 1 <= len(got) <= 10


def test_presence(api, new_user, connect):
    alice, bob, stranger = new_user("alice"), new_user("bob"), new_user("stranger")
    a, s = connect(alice), connect(stranger)
    cid = group(api, alice, "Presence", bob)["id"]
    kind(a, "chat.created")
    assert api.get(f"/api/users/{bob['user']['id']}", token=alice).json()["online"] is False

    b = connect(bob)
    f = a.wait_for(lambda f: f["type"] == "presence" and f["data"]["user_id"] == bob["user"]["id"])
    assert f["data"]["online"] is True
    assert set(f) == {"type", "data"} and f["data"]["last_seen_at"]
    user = api.get(f"/api/users/{bob['user']['id']}", token=alice).json()
    assert user["online"] is True

    # A second connection of bob is not news; closing one of two is not either.
    b2 = connect(bob)
    b2.close()
    assert not [f for f in a.drain(0.8) if f["type"] == "presence"]

    before = time.time()
    b.close()
    f = a.wait_for(lambda f: f["type"] == "presence" and f["data"]["user_id"] == bob["user"]["id"])
    assert f["data"]["online"] is False and f["data"]["last_seen_at"]
    user = wait_until(
        lambda: (u := api.get(f"/api/users/{bob['user']['id']}", token=alice).json())["online"]
        is False and u,
        message="bob offline over REST",
    )
    assert user["last_seen_at"]
    assert time.mktime(time.strptime(user["last_seen_at"][:19], "%Y-%m-%dT%H:%M:%S")) >= before - 120

    # Nobody who shares no chat with bob heard of it.
    assert not [f for f in s.drain(0.2) if f["type"] == "presence"
                and f["data"]["user_id"] == bob["user"]["id"]]


def test_ack_needs_membership(api, new_user, connect):
    alice, bob = new_user("alice"), new_user("bob")
    a, b = connect(alice), connect(bob)
    cid = group(api, alice, "Acks")["id"]
    msg = send(api, alice, cid, "mine")
    b.send({"type": "ack", "chat_id": cid, "message_id": msg["id"]})
    assert b.wait_for(lambda f: f["type"] == "error")["code"] == "chat_not_found"
    b.send({"type": "ack", "chat_id": cid})
    assert b.wait_for(lambda f: f["type"] == "error")["code"] == "bad_frame"
    # An ack of a message of another chat moves nothing.
    other = group(api, alice, "Other", bob)["id"]
    b.send({"type": "ack", "chat_id": other, "message_id": msg["id"]})
    assert not [f for f in a.drain(1.0) if f["type"] == "delivered"]


def test_presence_of_a_user_in_very_many_chats(stack, api, new_user, connect):
    """The chat list does not fit a notification (8000 bytes): the receiving
    processes look the chats up."""
    if not stack.local:
        pytest.skip("needs the local stack")
    busy, friend = new_user("busy"), new_user("friend")
    bid, fid = busy["user"]["id"], friend["user"]["id"]
    stack.psql(
        "WITH c AS (INSERT INTO chats (type, title) SELECT 'group', 'many ' || g"
        " FROM generate_series(1, 2000) g RETURNING id)"
        " INSERT INTO chat_members (chat_id, user_id, role) SELECT id, %s, 'owner' FROM c", bid)
    last = stack.psql("SELECT max(chat_id) FROM chat_members WHERE user_id = %s", bid)[0][0]
    stack.psql("INSERT INTO chat_members (chat_id, user_id) VALUES (%s, %s)", last, fid)
    f = connect(friend)
    b = connect(busy)
    p = f.wait_for(lambda x: x["type"] == "presence" and x["data"]["user_id"] == bid)
    assert p["data"]["online"] is True
    b.close()
    p = f.wait_for(lambda x: x["type"] == "presence" and x["data"]["user_id"] == bid)
    assert p["data"]["online"] is False


def test_markers_of_a_large_group_go_to_the_senders(stack, api, new_user, connect):
    """In a group of more than 100 members a read or delivered marker goes to
    its owner and to the members whose messages it passed, live and replayed
    (emit_marker()); in a group of 100 it still goes to every member."""
    if not stack.local:
        pytest.skip("needs the local stack")
    alice, bob, carol, dave = (new_user(n) for n in ("alice", "bob", "carol", "dave"))
    tag = str(int(time.time() * 1000))[-9:]
    extra = [row[0] for row in stack.psql(
        "INSERT INTO users (username, email, password_hash, display_name) "
        "SELECT 'big' || %s || g, 'big' || %s || g || '@example.test', '!', 'Big ' || g "
        "FROM generate_series(1, 97) g RETURNING id", tag, tag)]
    people = [u["user"]["id"] for u in (bob, carol, dave)]
    r = api.post("/api/chats", token=alice,
                 json={"type": "group", "title": "Big", "member_ids": people + extra[:96]})
    assert r.status_code == 201, r.text[:300]
    cid = r.json()["id"]
    assert len(r.json()["members"]) == 100
    a, b, c, d = connect(alice), connect(bob), connect(carol), connect(dave)
    since = c.ready["last_event_id"]

    # 100 members: bob's ack reaches everyone.
    first = send(api, alice, cid, "hello all")
    b.send({"type": "ack", "chat_id": cid, "message_id": first["id"]})
    for x in (a, b, c, d):
        kind(x, "delivered", user_id=bob["user"]["id"], message_id=first["id"])

    # 101 members: bob's ack goes to bob and alice (whose message it passed);
    # dave's read passes messages of alice and bob, and not of carol.
    r = api.post(f"/api/chats/{cid}/members", token=alice, json={"user_id": extra[96]})
    assert r.status_code == 201, r.text[:300]
    second = send(api, alice, cid, "one more")
    b.send({"type": "ack", "chat_id": cid, "message_id": second["id"]})
    delivered = kind(b, "delivered", user_id=bob["user"]["id"], message_id=second["id"])
    assert kind(a, "delivered", user_id=bob["user"]["id"], message_id=second["id"])["id"] == delivered["id"]
    third = send(api, bob, cid, "me too")
    r = api.post(f"/api/chats/{cid}/read", token=dave, json={"message_id": third["id"]})
    assert r.status_code == 204
    for x in (a, b, d):
        kind(x, "read", user_id=dave["user"]["id"], message_id=third["id"])
    # Frames come in id order: by a later message carol has had the markers.
    fourth = send(api, alice, cid, "bye")
    seen = []
    c.wait_for(lambda f: seen.append(f) or f["type"] == "message.created"
               and f["data"]["message"]["id"] == fourth["id"])
    assert not [f for f in seen if f["type"] in ("read", "delivered")
                and f["data"]["message_id"] in (second["id"], third["id"])], seen

    # Everyone still reads every marker over REST.
    members = {m["user"]["id"]: m for m in api.get(f"/api/chats/{cid}", token=carol).json()["members"]}
    assert members[bob["user"]["id"]]["last_delivered_message_id"] >= second["id"]
    assert members[dave["user"]["id"]]["last_read_message_id"] == third["id"]

    # A replay with since gives each the same as live.
    def replayed(user):
        x = connect(user, since=since)
        got = [f for f in x.drain(1.5) if f["type"] in ("read", "delivered")]
        return [(f["type"], f["data"]["user_id"], f["data"]["message_id"]) for f in got]
    bob_second = ("delivered", bob["user"]["id"], second["id"])
    dave_third = ("read", dave["user"]["id"], third["id"])
    assert bob_second in replayed(alice) and dave_third in replayed(alice)
    assert dave_third in replayed(bob)
    carol_sees = replayed(carol)
    assert ("delivered", bob["user"]["id"], first["id"]) in carol_sees
    assert bob_second not in carol_sees and dave_third not in carol_sees
