"""Who reacted, blocking users and reporting messages (API.md
"Conversations"), through nginx. Refusals change nothing."""

import pytest

from chatkit import USER_KEYS, assert_problem, direct, emoji_path, group, last_event_id, send, uid

ENDPOINTS = [
    ("GET", "/api/messages/1/reactions"),
    ("POST", "/api/messages/1/report"),
    ("PUT", "/api/users/1/block"),
    ("DELETE", "/api/users/1/block"),
    ("GET", "/api/users/me/blocks"),
]


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_endpoints_need_a_token(api, method, path):
    assert_problem(api.request(method, path, json={}), 401)


# ---- who reacted --------------------------------------------------------------------------


def test_who_reacted(api, new_user):
    alice, bob, carol, eve = (new_user(n) for n in ("alice", "bob", "carol", "eve"))
    g = group(api, alice, [bob, carol])
    m = send(api, alice, g["id"], "react")
    for user, emoji in ((bob, "👍"), (carol, "👍"), (alice, "🎉"), (carol, "🎉")):
        assert api.put(f"/api/messages/{m['id']}/reactions/{emoji_path(emoji)}", token=user).status_code == 204
    r = api.get(f"/api/messages/{m['id']}/reactions", token=carol)
    assert r.status_code == 200, r.text
    assert r.json() == {"reactions": [
        {"emoji": "👍", "count": 2, "me": True, "user_ids": [uid(bob), uid(carol)]},
        {"emoji": "🎉", "count": 2, "me": True, "user_ids": [uid(alice), uid(carol)]}]}
    assert [x["me"] for x in api.get(f"/api/messages/{m['id']}/reactions", token=bob).json()["reactions"]] == \
        [True, False]
    assert_problem(api.get(f"/api/messages/{m['id']}/reactions", token=eve), 404, "message_not_found")
    assert_problem(api.get("/api/messages/999999999/reactions", token=eve), 404, "message_not_found")
    none = send(api, alice, g["id"], "quiet")
    assert api.get(f"/api/messages/{none['id']}/reactions", token=alice).json() == {"reactions": []}


def test_who_reacted_lists_the_first_hundred(api, stack, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    c = direct(api, alice, bob)
    m = send(api, alice, c["id"], "popular")
    stack.psql("INSERT INTO message_reactions (message_id, user_id, emoji, created_at) "
               "SELECT %s, 1000000 + i, '🔥', now() + i * interval '1 ms' FROM generate_series(1, 150) i",
               m["id"])
    (r,) = api.get(f"/api/messages/{m['id']}/reactions", token=alice).json()["reactions"]
    assert r["count"] == 150 and r["user_ids"] == list(range(1000001, 1000101))


# ---- blocks -------------------------------------------------------------------------------


def test_block_list_and_unblock(api, new_user):
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    for u in (bob, carol, bob):
        assert api.put(f"/api/users/{uid(u)}/block", token=alice).status_code == 204
    r = api.get("/api/users/me/blocks", token=alice)
    assert r.status_code == 200
    users = r.json()["users"]
    assert [u["id"] for u in users] == [uid(carol), uid(bob)] and set(users[0]) == USER_KEYS
    assert api.get("/api/users/me/blocks", token=bob).json() == {"users": []}
    assert api.delete(f"/api/users/{uid(bob)}/block", token=alice).status_code == 204
    assert api.delete(f"/api/users/{uid(bob)}/block", token=alice).status_code == 204
    assert [u["id"] for u in api.get("/api/users/me/blocks", token=alice).json()["users"]] == [uid(carol)]
    assert_problem(api.put("/api/users/999999999/block", token=alice), 404, "user_not_found")
    r = api.put(f"/api/users/{uid(alice)}/block", token=alice)
    assert set(assert_problem(r, 422)["errors"]) == {"user_id"}


def test_a_blocked_user_cannot_reach_the_blocker(api, stack, new_user):
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    c = direct(api, alice, bob)
    old = send(api, bob, c["id"], "before the block")
    bobs_group = group(api, bob, [carol])
    assert api.put(f"/api/users/{uid(bob)}/block", token=alice).status_code == 204
    since = last_event_id(stack)
    count = stack.psql("SELECT count(*) FROM messages")[0][0]
    path = f"/api/chats/{c['id']}/messages"
    assert_problem(api.post(path, token=bob, json={"text": "hello?"}), 403, "blocked")
    assert_problem(api.post(path, token=bob, json={"text": "hello?", "client_id": "b-1"}), 403, "blocked")
    assert_problem(api.post(path, token=bob, json={"text": "re", "reply_to_id": old["id"]}), 403, "blocked")
    assert_problem(api.post(path, token=bob, data={"text": "file"}, files=[("file", ("x.txt", b"x\n"))]),
                   403, "blocked")
    assert_problem(api.post(f"/api/messages/{old['id']}/forward", token=bob, json={"chat_ids": [c["id"]]}),
                   403, "blocked")
    assert_problem(api.post("/api/chats", token=bob, json={"type": "direct", "user_id": uid(alice)}),
                   403, "blocked")
    assert_problem(api.post(f"/api/chats/{bobs_group['id']}/members", token=bob, json={"user_id": uid(alice)}),
                   403, "blocked")
    assert_problem(api.post("/api/chats", token=bob,
                            json={"type": "group", "title": "T", "member_ids": [uid(carol), uid(alice)]}),
                   403, "blocked")
    assert stack.psql("SELECT count(*) FROM messages")[0][0] == count and last_event_id(stack) == since
    # the blocker still writes, and groups with both go on
    send(api, alice, c["id"], "I can still write")
    g = group(api, alice, [bob])
    send(api, bob, g["id"], "groups are not direct chats")
    # unblocked, all is as before
    assert api.delete(f"/api/users/{uid(bob)}/block", token=alice).status_code == 204
    send(api, bob, c["id"], "hello again")


# ---- reports ------------------------------------------------------------------------------


def test_report_a_message(api, stack, new_user):
    alice, bob, eve = new_user("alice"), new_user("bob"), new_user("eve")
    c = direct(api, alice, bob)
    m = send(api, bob, c["id"], "spam spam spam")
    r = api.post(f"/api/messages/{m['id']}/report", token=alice, json={"reason": "  spam\nand more  "})
    assert r.status_code == 202, r.text
    report = r.json()
    assert report["status"] == "open" and isinstance(report["id"], int)
    rows = stack.psql("SELECT message_id, reporter_id, reason, status FROM message_reports WHERE id = %s",
                      report["id"])
    assert rows == [(m["id"], uid(alice), "spam\nand more", "open")]
    # a repeat changes nothing
    r = api.post(f"/api/messages/{m['id']}/report", token=alice, json={"reason": "again"})
    assert r.status_code == 202 and r.json() == report
    assert stack.psql("SELECT reason FROM message_reports WHERE id = %s", report["id"]) == [("spam\nand more",)]
    # strangers, bad reasons
    count = stack.psql("SELECT count(*) FROM message_reports")[0][0]
    assert_problem(api.post(f"/api/messages/{m['id']}/report", token=eve, json={"reason": "x"}),
                   404, "message_not_found")
    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}, {"reason": 5},
                 {"reason": "bell\u0007"}):
        r = api.post(f"/api/messages/{m['id']}/report", token=bob, json=body)
        assert set(assert_problem(r, 422)["errors"]) == {"reason"}, body
    assert stack.psql("SELECT count(*) FROM message_reports")[0][0] == count
