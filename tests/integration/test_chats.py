"""Chats and membership (API.md "Chats and messages", the chats program)
through nginx, with the events they write checked in the database."""

import concurrent.futures
import threading
import uuid

import pytest

from chatkit import (assert_chat, assert_message, assert_problem, direct, events, get_chat, group,
                     history, kinds, last_event_id, member, member_ids, send, uid)


# ---- the welcome chat -------------------------------------------------------------


def test_registration_brings_a_welcome_chat(api, stack, new_user):
    alice = new_user("alice", display_name="Alice Liddell")
    r = api.get("/api/chats", token=alice)
    assert r.status_code == 200
    chats = r.json()["chats"]
    assert len(chats) == 1
    c = assert_chat(chats[0])
    assert c["type"] == "group" and c["title"] == "Welcome"
    assert member_ids(c) == [uid(alice)]
    assert c["members"][0]["role"] == "owner"
    m = c["last_message"]
    assert m["kind"] == "service" and m["sender_id"] is None
    assert "Alice Liddell" in m["text"] and "Welcome" in m["text"]
    assert c["unread_count"] == 1
    assert kinds(events(stack, c["id"])) == ["chat.created", "message.created"]
    assert events(stack, c["id"])[1][1] == {"message": m}


# ---- authentication ------------------------------------------------------------------

CHAT_ENDPOINTS = [
    ("GET", "/api/chats"),
    ("POST", "/api/chats"),
    ("GET", "/api/chats/1"),
    ("PATCH", "/api/chats/1"),
    ("POST", "/api/chats/1/members"),
    ("DELETE", "/api/chats/1/members/1"),
]


@pytest.mark.parametrize("method,path", CHAT_ENDPOINTS)
def test_endpoints_need_a_token(api, method, path):
    r = api.request(method, path, json={})
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = api.request(method, path, token="not.a.token", json={})
    assert_problem(r, 401)


# ---- direct chats -------------------------------------------------------------------


def test_direct_chat_is_created_once_per_pair(api, stack, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    since = last_event_id(stack)
    c = direct(api, alice, bob, expect=201)
    assert c["type"] == "direct" and c["title"] is None
    assert member_ids(c) == [uid(alice), uid(bob)]
    assert {m["role"] for m in c["members"]} == {"member"}
    assert c["last_message"] is None and c["unread_count"] == 0
    for m in c["members"]:
        assert m["last_read_message_id"] is None and m["last_delivered_message_id"] is None
    assert direct(api, alice, bob, expect=200)["id"] == c["id"]
    assert direct(api, bob, alice, expect=200)["id"] == c["id"]
    evs = events(stack, c["id"], since)
    assert kinds(evs) == ["chat.created"]
    assert evs[0][1]["chat"]["id"] == c["id"] and member_ids(evs[0][1]["chat"]) == member_ids(c)


def test_direct_chat_errors(api, new_user):
    alice = new_user("alice")
    r = api.post("/api/chats", token=alice, json={"type": "direct", "user_id": uid(alice)})
    assert "user_id" in assert_problem(r, 422)["errors"]
    r = api.post("/api/chats", token=alice, json={"type": "direct", "user_id": 999999999})
    assert_problem(r, 404, "user_not_found")
    r = api.post("/api/chats", token=alice, json={"type": "direct"})
    assert "user_id" in assert_problem(r, 422)["errors"]
    r = api.post("/api/chats", token=alice, json={"type": "direct", "user_id": "2"})
    assert "user_id" in assert_problem(r, 422)["errors"]
    r = api.post("/api/chats", token=alice, json={"type": "direct", "user_id": -3})
    assert "user_id" in assert_problem(r, 422)["errors"]


def test_concurrent_direct_creation_makes_one_chat(api, stack, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    barrier = threading.Barrier(12)

    def create(i):
        a, b = (alice, bob) if i % 2 else (bob, alice)
        barrier.wait()
        r = api.post("/api/chats", token=a, json={"type": "direct", "user_id": uid(b)})
        return r.status_code, r.json()["id"]

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        results = list(pool.map(create, range(12)))
    assert sorted(s for s, _ in results) == [200] * 11 + [201]
    assert len({cid for _, cid in results}) == 1
    cid = results[0][1]
    assert stack.psql("SELECT count(*) FROM chat_members WHERE chat_id = %s", cid)[0][0] == 2
    assert kinds(events(stack, cid)) == ["chat.created"]


# ---- bad bodies ------------------------------------------------------------------------


@pytest.mark.parametrize("body,field", [
    ({}, "type"),
    ({"type": "channel"}, "type"),
    ({"type": 1}, "type"),
    ({"type": "group"}, "title"),
    ({"type": "group", "title": "   "}, "title"),
    ({"type": "group", "title": "x" * 129}, "title"),
    ({"type": "group", "title": 5}, "title"),
    ({"type": "group", "title": "a\u0007b"}, "title"),
    ({"type": "group", "title": "ok", "member_ids": "1,2"}, "member_ids"),
    ({"type": "group", "title": "ok", "member_ids": [1, "2"]}, "member_ids"),
    ({"type": "group", "title": "ok", "member_ids": [0]}, "member_ids"),
    ({"type": "group", "title": "ok", "member_ids": list(range(1, 1002))}, "member_ids"),
])
def test_create_chat_validation(api, new_user, body, field):
    alice = new_user("alice")
    r = api.post("/api/chats", token=alice, json=body)
    assert field in assert_problem(r, 422, "validation_failed")["errors"]


def test_create_chat_malformed_bodies(api, new_user):
    alice = new_user("alice")
    for raw in (b"{", b"[]", b'"group"', b'{"type": "group", "title": "x"} trailing', b"\xff\xfe"):
        r = api.post("/api/chats", token=alice, data=raw, headers={"Content-Type": "application/json"})
        assert_problem(r, 400)
    r = api.post("/api/chats", token=alice, data=b"type=group", headers={"Content-Type": "text/plain"})
    assert_problem(r, 415)
    big = b'{"type": "group", "title": "x", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = api.post("/api/chats", token=alice, data=big, headers={"Content-Type": "application/json"})
    assert_problem(r, 413)


# ---- groups -----------------------------------------------------------------------------


def test_group_creation(api, stack, new_user):
    alice, bob, carol = new_user("alice", display_name="Alice"), new_user("bob"), new_user("carol")
    since = last_event_id(stack)
    r = api.post("/api/chats", token=alice, json={
        "type": "group", "title": "  Café ☕ Team  ",
        "member_ids": [uid(carol), uid(bob), uid(carol), uid(alice)]})
    assert r.status_code == 201, r.text
    c = assert_chat(r.json())
    assert c["title"] == "Café ☕ Team"
    # the owner first, then the others in the order given
    assert member_ids(c) == [uid(alice), uid(carol), uid(bob)]
    assert [m["role"] for m in c["members"]] == ["owner", "member", "member"]
    m = c["last_message"]
    assert m["kind"] == "service" and m["sender_id"] is None
    assert m["text"] == "Alice created the group “Café ☕ Team”"
    assert c["unread_count"] == 0  # the creator's own action
    assert get_chat(api, bob, c["id"])["unread_count"] == 1
    evs = events(stack, c["id"], since)
    assert kinds(evs) == ["chat.created", "message.created"]
    assert evs[0][1]["chat"]["title"] == "Café ☕ Team"
    assert evs[0][1]["chat"]["unread_count"] == 0
    assert evs[1][1] == {"message": m}


def test_group_title_limits_count_code_points(api, new_user):
    alice = new_user("alice")
    c = group(api, alice, title="Ж" * 128)
    assert c["title"] == "Ж" * 128
    r = api.post("/api/chats", token=alice, json={"type": "group", "title": "Ж" * 129})
    assert_problem(r, 422)


def test_group_alone_and_unknown_members(api, new_user):
    alice = new_user("alice")
    c = group(api, alice, title="Just me")
    assert member_ids(c) == [uid(alice)]
    r = api.post("/api/chats", token=alice, json={"type": "group", "title": "x", "member_ids": [999999999]})
    assert_problem(r, 404, "user_not_found")


def test_get_chat(api, new_user):
    alice, bob, eve = new_user("alice"), new_user("bob"), new_user("eve")
    c = direct(api, alice, bob)
    assert get_chat(api, bob, c["id"]) == get_chat(api, alice, c["id"])
    assert_problem(api.get(f"/api/chats/{c['id']}", token=eve), 404, "chat_not_found")
    assert_problem(api.get("/api/chats/999999999", token=eve), 404, "chat_not_found")
    assert_problem(api.get("/api/chats/abc", token=eve), 404)
    assert_problem(api.get("/api/chats/0", token=eve), 404)
    assert_problem(api.put(f"/api/chats/{c['id']}", token=alice, json={}), 405)


def test_chat_list_is_ordered_by_activity(api, new_user):
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    ab = direct(api, alice, bob)
    ac = direct(api, alice, carol)
    g = group(api, alice, [bob, carol])
    send(api, bob, ab["id"], "latest")

    def order():
        r = api.get("/api/chats", token=alice)
        assert r.status_code == 200
        return [assert_chat(c)["id"] for c in r.json()["chats"]]

    ids = order()
    assert ids[0] == ab["id"] and ids[1] == g["id"]
    assert set(ids) >= {ab["id"], ac["id"], g["id"]}
    send(api, carol, ac["id"], "now me")
    assert order()[:3] == [ac["id"], ab["id"], g["id"]]
    r = api.get("/api/chats", token=bob)
    assert ac["id"] not in [c["id"] for c in r.json()["chats"]]


def test_unread_count_and_read_markers_in_the_chat(api, stack, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    c = direct(api, alice, bob)
    m1 = send(api, bob, c["id"], "one")
    m2 = send(api, bob, c["id"], "two")
    send(api, alice, c["id"], "mine")
    m4 = send(api, bob, c["id"], "three")
    a = get_chat(api, alice, c["id"])
    assert a["unread_count"] == 3
    assert a["last_message"]["id"] == m4["id"]
    assert get_chat(api, bob, c["id"])["unread_count"] == 1
    since = last_event_id(stack)
    r = api.post(f"/api/chats/{c['id']}/read", token=alice, json={"message_id": m2["id"]})
    assert r.status_code == 204 and r.content == b""
    a = get_chat(api, alice, c["id"])
    assert a["unread_count"] == 1
    assert member(a, alice)["last_read_message_id"] == m2["id"]
    assert member(a, alice)["last_delivered_message_id"] == m2["id"]
    assert member(a, bob)["last_read_message_id"] is None
    # never back
    r = api.post(f"/api/chats/{c['id']}/read", token=alice, json={"message_id": m1["id"]})
    assert r.status_code == 204
    assert member(get_chat(api, alice, c["id"]), alice)["last_read_message_id"] == m2["id"]
    assert events(stack, c["id"], since) == [("read", {"user_id": uid(alice), "message_id": m2["id"]})]
    # deleted messages do not count
    assert api.delete(f"/api/messages/{m4['id']}", token=bob).status_code == 204
    assert get_chat(api, alice, c["id"])["unread_count"] == 0


# ---- rename -----------------------------------------------------------------------------


def test_rename_group(api, stack, new_user):
    alice, bob, eve = new_user("alice", display_name="Alice"), new_user("bob"), new_user("eve")
    c = group(api, alice, [bob], title="Old")
    since = last_event_id(stack)
    r = api.patch(f"/api/chats/{c['id']}", token=alice, json={"title": "  New “name”  "})
    assert r.status_code == 200, r.text
    c2 = assert_chat(r.json())
    assert c2["title"] == "New “name”"
    assert c2["last_message"]["text"] == "Alice renamed the group to “New “name””"
    evs = events(stack, c["id"], since)
    assert kinds(evs) == ["chat.updated", "message.created"]
    assert evs[0][1]["chat"]["title"] == "New “name”"
    # the same title again changes nothing
    r = api.patch(f"/api/chats/{c['id']}", token=alice, json={"title": "New “name”"})
    assert r.status_code == 200
    assert len(events(stack, c["id"], since)) == 2
    assert_problem(api.patch(f"/api/chats/{c['id']}", token=bob, json={"title": "Mine"}), 403, "not_owner")
    assert_problem(api.patch(f"/api/chats/{c['id']}", token=eve, json={"title": "Mine"}), 404, "chat_not_found")
    assert_problem(api.patch(f"/api/chats/{c['id']}", token=alice, json={"title": ""}), 422)
    assert_problem(api.patch(f"/api/chats/{c['id']}", token=alice, json={}), 422)
    assert_problem(api.patch(f"/api/chats/{c['id']}", token=alice, json={"title": None}), 422)
    d = direct(api, alice, bob)
    assert_problem(api.patch(f"/api/chats/{d['id']}", token=alice, json={"title": "x"}), 403)
    assert get_chat(api, bob, c["id"])["title"] == "New “name”"


# ---- members ------------------------------------------------------------------------------


def test_add_member(api, stack, new_user):
    alice = new_user("alice", display_name="Alice")
    bob, carol, dave, eve = (new_user("bob"), new_user("carol", display_name="Carol"), new_user("dave"),
                             new_user("eve"))
    c = group(api, alice, [bob])
    send(api, bob, c["id"], "before carol came")
    since = last_event_id(stack)
    r = api.post(f"/api/chats/{c['id']}/members", token=alice, json={"user_id": uid(carol)})
    assert r.status_code == 201, r.text
    c2 = assert_chat(r.json())
    assert member_ids(c2) == [uid(alice), uid(bob), uid(carol)]
    assert member(c2, carol)["role"] == "member"
    assert c2["last_message"]["text"] == "Alice added Carol"
    evs = events(stack, c["id"], since)
    assert kinds(evs) == ["member.added", "message.created"]
    assert evs[0][1]["user"]["id"] == uid(carol)
    assert "email" not in evs[0][1]["user"]
    # the newcomer sees the chat, with only what happened since as unread
    cc = get_chat(api, carol, c["id"])
    assert cc["unread_count"] == 1
    assert c["id"] in [x["id"] for x in api.get("/api/chats", token=carol).json()["chats"]]
    assert len(history(api, carol, c["id"])["messages"]) == 3
    # errors
    path = f"/api/chats/{c['id']}/members"
    assert_problem(api.post(path, token=alice, json={"user_id": uid(bob)}), 409, "already_member")
    assert_problem(api.post(path, token=alice, json={"user_id": 999999999}), 404, "user_not_found")
    assert_problem(api.post(path, token=bob, json={"user_id": uid(dave)}), 403, "not_owner")
    assert_problem(api.post(path, token=eve, json={"user_id": uid(dave)}), 404, "chat_not_found")
    assert_problem(api.post(path, token=alice, json={}), 422)
    assert_problem(api.post(path, token=alice, json={"user_id": "x"}), 422)
    d = direct(api, alice, bob)
    assert_problem(api.post(f"/api/chats/{d['id']}/members", token=alice, json={"user_id": uid(dave)}), 403)


def test_remove_member_by_owner(api, stack, new_user):
    alice = new_user("alice", display_name="Alice")
    bob, carol = new_user("bob", display_name="Bob"), new_user("carol")
    c = group(api, alice, [bob, carol])
    since = last_event_id(stack)
    r = api.delete(f"/api/chats/{c['id']}/members/{uid(bob)}", token=alice)
    assert r.status_code == 204 and r.content == b""
    evs = events(stack, c["id"], since)
    assert kinds(evs) == ["message.created", "member.removed"]
    assert evs[0][1]["message"]["text"] == "Alice removed Bob"
    assert evs[1][1] == {"user_id": uid(bob)}
    assert_problem(api.get(f"/api/chats/{c['id']}", token=bob), 404, "chat_not_found")
    assert_problem(api.get(f"/api/chats/{c['id']}/messages", token=bob), 404, "chat_not_found")
    assert c["id"] not in [x["id"] for x in api.get("/api/chats", token=bob).json()["chats"]]
    assert member_ids(get_chat(api, alice, c["id"])) == [uid(alice), uid(carol)]
    assert_problem(api.delete(f"/api/chats/{c['id']}/members/{uid(bob)}", token=alice), 404, "member_not_found")


def test_member_may_only_remove_itself(api, stack, new_user):
    alice, bob, carol = new_user("alice"), new_user("bob", display_name="Bob"), new_user("carol")
    eve = new_user("eve")
    c = group(api, alice, [bob, carol])
    assert_problem(api.delete(f"/api/chats/{c['id']}/members/{uid(carol)}", token=bob), 403, "not_owner")
    assert_problem(api.delete(f"/api/chats/{c['id']}/members/{uid(alice)}", token=bob), 403, "not_owner")
    assert_problem(api.delete(f"/api/chats/{c['id']}/members/{uid(bob)}", token=eve), 404, "chat_not_found")
    since = last_event_id(stack)
    assert api.delete(f"/api/chats/{c['id']}/members/{uid(bob)}", token=bob).status_code == 204
    evs = events(stack, c["id"], since)
    assert kinds(evs) == ["message.created", "member.removed"]
    assert evs[0][1]["message"]["text"] == "Bob left"
    assert member_ids(get_chat(api, alice, c["id"])) == [uid(alice), uid(carol)]
    d = direct(api, alice, bob)
    assert_problem(api.delete(f"/api/chats/{d['id']}/members/{uid(bob)}", token=bob), 403)


def test_owner_leaving_hands_the_group_to_the_longest_standing_member(api, stack, new_user):
    # carol has the lower id, but bob joined first
    alice, carol, bob, dave = new_user("alice"), new_user("carol"), new_user("bob"), new_user("dave")
    c = group(api, alice, [bob])
    for u in (carol, dave):
        assert api.post(f"/api/chats/{c['id']}/members", token=alice, json={"user_id": uid(u)}).status_code == 201
    since = last_event_id(stack)
    assert api.delete(f"/api/chats/{c['id']}/members/{uid(alice)}", token=alice).status_code == 204
    evs = events(stack, c["id"], since)
    # (API.md "Conversations": the automatic handover adds a service message)
    assert kinds(evs) == ["message.created", "member.removed", "chat.updated", "message.created"]
    c2 = get_chat(api, carol, c["id"])
    assert [(m["user"]["id"], m["role"]) for m in c2["members"]] == [
        (uid(bob), "owner"), (uid(carol), "member"), (uid(dave), "member")]
    assert evs[2][1]["chat"]["members"] == c2["members"]
    # the new owner may now rename; the last one out leaves an empty group
    assert api.patch(f"/api/chats/{c['id']}", token=bob, json={"title": "Bob's"}).status_code == 200
    assert_problem(api.patch(f"/api/chats/{c['id']}", token=carol, json={"title": "Carol's"}), 403)
    for u in (carol, bob, dave):
        assert api.delete(f"/api/chats/{c['id']}/members/{uid(u)}", token=u).status_code == 204
    assert stack.psql("SELECT count(*) FROM chat_members WHERE chat_id = %s", c["id"])[0][0] == 0


def test_concurrent_group_changes(api, stack, new_user):
    alice = new_user("alice")
    others = [new_user(f"m{i}") for i in range(16)]
    c = group(api, alice, others[:8])
    barrier = threading.Barrier(16)

    def change(i):
        u = others[i]
        barrier.wait()
        if i < 8:  # the first eight leave
            return api.delete(f"/api/chats/{c['id']}/members/{uid(u)}", token=u).status_code
        return api.post(f"/api/chats/{c['id']}/members", token=alice, json={"user_id": uid(u)}).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(change, range(16)))
    assert statuses == [204] * 8 + [201] * 8
    final = get_chat(api, alice, c["id"])
    assert sorted(member_ids(final)) == sorted([uid(alice)] + [uid(u) for u in others[8:]])
    evs = kinds(events(stack, c["id"]))
    assert evs.count("member.removed") == 8 and evs.count("member.added") == 8
    assert evs.count("message.created") == 1 + 16


def test_group_member_limit(api, stack, new_user):
    alice = new_user("alice")
    tag = uuid.uuid4().hex[:8]
    ids = [row[0] for row in stack.psql(
        "INSERT INTO users (username, email, password_hash, display_name) "
        "SELECT 'lim' || %s || g, 'lim' || %s || g || '@example.test', '!', 'Limit ' || g "
        "FROM generate_series(1, 1000) g RETURNING id", tag, tag)]
    r = api.post("/api/chats", token=alice, json={"type": "group", "title": "Big", "member_ids": ids})
    assert "member_ids" in assert_problem(r, 422)["errors"]
    r = api.post("/api/chats", token=alice,
                 json={"type": "group", "title": "Big", "member_ids": ids[:999] + [uid(alice)]})
    assert r.status_code == 201, r.text[:300]
    c = assert_chat(r.json())
    assert len(c["members"]) == 1000
    r = api.post(f"/api/chats/{c['id']}/members", token=alice, json={"user_id": ids[999]})
    assert_problem(r, 409, "chat_full")
    assert api.delete(f"/api/chats/{c['id']}/members/{ids[0]}", token=alice).status_code == 204
    r = api.post(f"/api/chats/{c['id']}/members", token=alice, json={"user_id": ids[999]})
    assert r.status_code == 201


# ---- what a stranger sees --------------------------------------------------------------


def test_stranger_gets_404_for_everything_in_a_chat(api, new_user):
    alice, bob, eve = new_user("alice"), new_user("bob"), new_user("eve")
    c = group(api, alice, [bob])
    m = send(api, bob, c["id"], "secret plans")
    api.put(f"/api/messages/{m['id']}/reactions/%F0%9F%91%8D", token=alice)
    cid, mid = c["id"], m["id"]
    calls = [
        ("GET", f"/api/chats/{cid}", None, "chat_not_found"),
        ("PATCH", f"/api/chats/{cid}", {"title": "mine"}, "chat_not_found"),
        ("POST", f"/api/chats/{cid}/members", {"user_id": uid(eve)}, "chat_not_found"),
        ("DELETE", f"/api/chats/{cid}/members/{uid(bob)}", None, "chat_not_found"),
        ("DELETE", f"/api/chats/{cid}/members/{uid(eve)}", None, "chat_not_found"),
        ("GET", f"/api/chats/{cid}/messages", None, "chat_not_found"),
        ("GET", f"/api/chats/{cid}/messages?before={mid + 1}", None, "chat_not_found"),
        ("POST", f"/api/chats/{cid}/messages", {"text": "hi"}, "chat_not_found"),
        ("POST", f"/api/chats/{cid}/read", {"message_id": mid}, "chat_not_found"),
        ("PATCH", f"/api/messages/{mid}", {"text": "x"}, "message_not_found"),
        ("DELETE", f"/api/messages/{mid}", None, "message_not_found"),
        ("PUT", f"/api/messages/{mid}/reactions/%F0%9F%91%8D", None, "message_not_found"),
        ("DELETE", f"/api/messages/{mid}/reactions/%F0%9F%91%8D", None, "message_not_found"),
        ("GET", f"/api/search/messages?q=secret&chat_id={cid}", None, "chat_not_found"),
    ]
    for method, path, body, code in calls:
        kw = {"json": body} if body is not None else {}
        assert_problem(api.request(method, path, token=eve, **kw), 404, code)
    r = api.get("/api/search/messages?q=secret", token=eve)
    assert r.status_code == 200 and r.json() == {"messages": []}
    # and nothing changed
    c2 = get_chat(api, alice, cid)
    assert c2["title"] == c["title"] and member_ids(c2) == member_ids(c)
    assert history(api, alice, cid)["messages"][-1] == {**m, "reactions": [{"emoji": "👍", "count": 1, "me": True}]}
