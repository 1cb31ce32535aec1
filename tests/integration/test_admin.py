"""Administration (API.md "Administration"): the role on /api/users/me, bans
(403 account_banned at login and refresh, every session ended, sockets
closed with 4401), and /api/admin/*: users, their status and role, their
messages, reports, stats and the audit log; a plain user's 403 admin_only.
Through nginx. msgrctl has test_msgrctl.py."""

import time

import pytest

from chatkit import (TIMESTAMP, assert_message, assert_problem, direct, events, history, kinds, last_event_id,
                     send, uid)

ADMIN_USER_KEYS = {"id", "username", "display_name", "about", "avatar_url", "created_at", "online",
                   "last_seen_at", "email", "role", "status", "messages_count", "storage_bytes"}


def make_admin(stack, user):
    """The first administrator is made on the server (msgrctl); here, the
    database directly."""
    stack.psql("UPDATE users SET role = 'admin' WHERE id = %s", uid(user))
    return user


@pytest.fixture
def admin(stack, new_user):
    return make_admin(stack, new_user("admin"))


def login(api, user, password=None):
    return api.post("/api/auth/login", json={"login": user["username"],
                                             "password": password or user["password"]})


def ban(api, admin, user, status="banned"):
    r = api.patch(f"/api/admin/users/{uid(user)}", token=admin, json={"status": status})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == status
    return r.json()


def test_me_has_role(api, stack, new_user):
    alice = new_user("alice")
    assert api.get("/api/users/me", token=alice).json()["role"] == "user"
    assert alice["user"]["role"] == "user"  # registration answers the own view too
    make_admin(stack, alice)
    assert api.get("/api/users/me", token=alice).json()["role"] == "admin"
    # Others do not see it.
    bob = new_user("bob")
    assert "role" not in api.get(f"/api/users/{uid(alice)}", token=bob).json()


ROUTES = [
    ("GET", "/api/admin/users", None),
    ("PATCH", "/api/admin/users/{id}", {"status": "banned"}),
    ("DELETE", "/api/admin/users/{id}/messages", None),
    ("GET", "/api/admin/reports?status=open", None),
    ("PATCH", "/api/admin/reports/1", {"status": "resolved"}),
    ("GET", "/api/admin/stats", None),
    ("GET", "/api/admin/audit", None),
]


def test_plain_user_gets_admin_only(api, stack, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    chat = direct(api, bob, alice)
    send(api, bob, chat["id"], "still here")
    for method, path, body in ROUTES:
        path = path.replace("{id}", str(uid(bob)))
        kw = {"json": body} if body is not None else {}
        assert_problem(api.request(method, path, token=alice, **kw), 403, "admin_only")
        # Unknown ids too: a plain user learns nothing.
        assert_problem(api.request(method, path.replace(str(uid(bob)), "99999999"), token=alice, **kw),
                       403, "admin_only")
        r = api.request(method, path, **kw)
        assert r.status_code == 401, (method, path, r.text)
    # Nothing changed.
    assert stack.psql("SELECT status FROM users WHERE id = %s", uid(bob)) == [("active",)]
    assert len(history(api, bob, chat["id"])["messages"]) >= 1
    assert not [m for m in history(api, bob, chat["id"])["messages"] if m["deleted"]]


def test_ban_ends_sessions_and_refuses_login(api, stack, new_user, admin, ws):
    bob = new_user("bob")
    second = login(api, bob).json()
    sock = ws()
    sock.auth(bob)
    t0 = time.monotonic()
    user = ban(api, admin, bob)
    assert set(user) == ADMIN_USER_KEYS and user["id"] == uid(bob)
    # Every session ended at once: the next request is refused, the socket
    # closed with 4401 within 5 s.
    assert_problem(api.get("/api/users/me", token=bob), 401, "session_revoked")
    assert_problem(api.get("/api/users/me", token=second["access_token"]), 401, "session_revoked")
    code, _ = sock.wait_closed(timeout=5)
    assert code == 4401 and time.monotonic() - t0 < 5
    # The right password: 403 account_banned; a wrong one tells nothing.
    assert_problem(login(api, bob), 403, "account_banned")
    assert_problem(login(api, bob, "wrong-password"), 401, "invalid_credentials")
    r = api.post("/api/auth/login", json={"login": bob["email"], "password": bob["password"]})
    assert_problem(r, 403, "account_banned")
    # The refresh token (JSON and OAuth2 grant) and the password grant.
    assert_problem(api.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]}),
                   403, "account_banned")
    r = api.post("/api/auth/token", json=None, data={"grant_type": "refresh_token",
                                                      "refresh_token": second["refresh_token"]})
    assert_problem(r, 403, "account_banned")
    r = api.post("/api/auth/token", json=None, data={"grant_type": "password", "username": bob["username"],
                                                      "password": bob["password"]})
    assert_problem(r, 403, "account_banned")
    assert stack.psql("SELECT count(*) FROM auth_sessions WHERE user_id = %s AND revoked_at IS NULL",
                      uid(bob)) == [(0,)]
    # A second ban changes nothing; an unban lets them in again.
    ban(api, admin, bob)
    ban(api, admin, bob, "active")
    r = login(api, bob)
    assert r.status_code == 200, r.text
    assert api.get("/api/users/me", token=r.json()["access_token"]).status_code == 200


def test_role_change_and_self(api, stack, new_user, admin):
    bob = new_user("bob")
    r = api.patch(f"/api/admin/users/{uid(bob)}", token=admin, json={"role": "admin"})
    assert r.status_code == 200 and r.json()["role"] == "admin"
    # bob is an administrator now, and can demote the first one.
    assert api.get("/api/admin/stats", token=bob).status_code == 200
    # Nobody can ban or demote themselves (422 naming the field).
    body = assert_problem(api.patch(f"/api/admin/users/{uid(admin)}", token=admin,
                                    json={"status": "banned"}), 422, "validation_failed")
    assert set(body["errors"]) == {"status"}
    body = assert_problem(api.patch(f"/api/admin/users/{uid(admin)}", token=admin,
                                    json={"role": "user"}), 422, "validation_failed")
    assert set(body["errors"]) == {"role"}
    # The same values are fine.
    r = api.patch(f"/api/admin/users/{uid(admin)}", token=admin, json={"role": "admin", "status": "active"})
    assert r.status_code == 200, r.text
    r = api.patch(f"/api/admin/users/{uid(admin)}", token=bob, json={"role": "user"})
    assert r.status_code == 200 and r.json()["role"] == "user"
    assert_problem(api.get("/api/admin/stats", token=admin), 403, "admin_only")
    # Bad values, unknown users.
    for body in ({"status": "gone"}, {"role": "root"}, {"status": 1}, {"role": None}):
        err = assert_problem(api.patch(f"/api/admin/users/{uid(admin)}", token=bob, json=body), 422)
        assert set(err["errors"]) == set(body)
    assert_problem(api.patch("/api/admin/users/99999999", token=bob, json={"status": "banned"}),
                   404, "user_not_found")
    assert stack.psql("SELECT role, status FROM users WHERE id = %s", uid(admin)) == [("user", "active")]


def test_users_list(api, stack, new_user, admin):
    tag = f"zq{int(time.time() * 1000) % 10**8}"
    users = [new_user(f"{tag}a", display_name=f"Person {tag}") for _ in range(3)]
    chat = direct(api, users[0], users[1])
    for i in range(2):
        send(api, users[0], chat["id"], f"m{i}")
    r = api.post("/api/files", token=users[0], files=[("file", ("a.txt", b"x" * 1000, "text/plain"))])
    assert r.status_code == 201, r.text
    ban(api, admin, users[2])

    r = api.get(f"/api/admin/users?q={tag}", token=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"users", "has_more"} and body["has_more"] is False
    assert [u["id"] for u in body["users"]] == [uid(u) for u in reversed(users)]
    for u in body["users"]:
        assert set(u) == ADMIN_USER_KEYS
        assert TIMESTAMP.match(u["created_at"]) and u["role"] == "user"
    first = body["users"][2]
    assert first["messages_count"] == 2 and first["storage_bytes"] == 1000
    assert first["email"] == users[0]["email"] and first["status"] == "active"
    assert body["users"][1]["messages_count"] == 0 and body["users"][1]["storage_bytes"] == 0
    # Keyset pages, newest first.
    r = api.get(f"/api/admin/users?q={tag.upper()}&limit=2", token=admin).json()
    assert [u["id"] for u in r["users"]] == [uid(users[2]), uid(users[1])] and r["has_more"] is True
    r = api.get(f"/api/admin/users?q={tag}&limit=2&before={uid(users[1])}", token=admin).json()
    assert [u["id"] for u in r["users"]] == [uid(users[0])] and r["has_more"] is False
    # Filters: status, e-mail, LIKE metacharacters taken literally.
    r = api.get(f"/api/admin/users?q={tag}&status=banned", token=admin).json()
    assert [u["id"] for u in r["users"]] == [uid(users[2])]
    r = api.get(f"/api/admin/users?q={users[1]['email']}", token=admin).json()
    assert [u["id"] for u in r["users"]] == [uid(users[1])]
    assert api.get("/api/admin/users?q=%25%25_", token=admin).json()["users"] == []
    # Without q, everybody (the admin too).
    r = api.get("/api/admin/users?limit=100", token=admin).json()
    assert uid(admin) in [u["id"] for u in r["users"]]
    for q in ("status=gone", "limit=0", "limit=101", "before=x", "before=0", "q="):
        assert_problem(api.get(f"/api/admin/users?{q}", token=admin), 422)


def test_delete_messages(api, stack, new_user, admin, ws):
    alice, bob = new_user("alice"), new_user("bob")
    chat = direct(api, alice, bob)
    r = api.post("/api/files", token=bob, files=[("file", ("a.txt", b"secret bytes", "text/plain"))])
    assert r.status_code == 201, r.text
    f = r.json()["files"][0]
    old = send(api, bob, chat["id"], "old one")
    stack.psql("UPDATE messages SET created_at = now() - interval '2 days' WHERE id = %s", old["id"])
    m1 = send(api, bob, chat["id"], "spam 1", attachment_ids=[f["id"]])
    m2 = send(api, bob, chat["id"], "spam 2")
    mine = send(api, alice, chat["id"], "mine")
    assert api.get(m1["attachments"][0]["url"]).status_code == 200
    key = stack.psql("SELECT storage_key FROM files WHERE id = %s", f["id"])[0][0]
    assert stack.is_stored(key)
    sock = ws()
    sock.auth(alice)

    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    r = api.delete(f"/api/admin/users/{uid(bob)}/messages?since={since}", token=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {"deleted": 2, "has_more": False}
    # Clients hear it live, as for a delete by the sender.
    seen = set()
    while seen != {m1["id"], m2["id"]}:
        f_ = sock.wait_for(lambda fr: fr["type"] == "message.deleted", timeout=5)
        seen.add(f_["data"]["message_id"])
    page = {m["id"]: m for m in history(api, alice, chat["id"])["messages"]}
    assert page[m1["id"]]["deleted"] and page[m2["id"]]["deleted"]
    assert not page[old["id"]]["deleted"] and not page[mine["id"]]["deleted"]
    # The files went with them (the row, the bytes).
    assert api.get(m1["attachments"][0]["url"]).status_code == 404
    assert not stack.is_stored(key)
    # Without since: the rest; again: nothing left.
    r = api.delete(f"/api/admin/users/{uid(bob)}/messages", token=admin)
    assert r.json() == {"deleted": 1, "has_more": False}
    assert api.delete(f"/api/admin/users/{uid(bob)}/messages", token=admin).json() == {"deleted": 0,
                                                                                      "has_more": False}
    assert not history(api, alice, chat["id"])["messages"][-1]["deleted"]  # alice's stays
    for bad in ("yesterday", "now", "2026-13-01T00:00:00Z", "2026-01-01", "x" * 65):
        body = assert_problem(api.delete(f"/api/admin/users/{uid(bob)}/messages?since={bad}",
                                         token=admin), 422)
        assert set(body["errors"]) == {"since"}, bad
    assert_problem(api.delete("/api/admin/users/99999999/messages", token=admin), 404, "user_not_found")


def test_delete_many_messages_in_batches(api, stack, new_user, admin, ws):
    """More than a call deletes (admin.sql, 500 a transaction): all go in
    one request, each with its event; each call is in the audit log."""
    alice, bob = new_user("alice"), new_user("bob")
    chat = direct(api, alice, bob)
    stack.psql("SELECT message_append(%s, %s, 'text', 'spam ' || g) FROM generate_series(1, 1100) g",
               chat["id"], uid(bob))
    since = last_event_id(stack)
    r = api.delete(f"/api/admin/users/{uid(bob)}/messages", token=admin)
    assert r.status_code == 200 and r.json() == {"deleted": 1100, "has_more": False}, r.text
    assert kinds(events(stack, chat["id"], since)) == ["message.deleted"] * 1100
    entries = api.get("/api/admin/audit?limit=4", token=admin).json()["entries"]
    assert [(e["action"], e["target"].get("user_id"), e["target"].get("deleted")) for e in entries[:3]] == [
        ("user.messages_delete", uid(bob), n) for n in (100, 500, 500)]
    assert entries[3]["target"].get("user_id") != uid(bob)
    assert stack.psql("SELECT count(*) FROM messages WHERE sender_id = %s AND deleted_at IS NULL",
                      uid(bob)) == [(0,)]


def test_delete_stops_in_time_and_goes_on_when_asked_again(api, stack, new_user, admin):
    """No call starts after MSGR_ADMIN_DELETE_SECS (20 s: else some 40,000
    messages outlasted nginx's minute, a 504): the answer says has_more and
    the same request again goes on. With 0 each request makes one call."""
    alice, bob = new_user("alice"), new_user("bob")
    chat = direct(api, alice, bob)
    stack.psql("SELECT message_append(%s, %s, 'text', 'spam ' || g) FROM generate_series(1, 700) g",
               chat["id"], uid(bob))
    since = last_event_id(stack)
    with stack.restarted("auth", MSGR_ADMIN_DELETE_SECS=0):
        answers = []
        while not answers or answers[-1]["has_more"]:
            r = api.delete(f"/api/admin/users/{uid(bob)}/messages", token=admin)
            assert r.status_code == 200, r.text
            answers.append(r.json())
            assert len(answers) <= 3, answers
    assert answers == [{"deleted": 500, "has_more": True}, {"deleted": 200, "has_more": True},
                       {"deleted": 0, "has_more": False}]
    assert kinds(events(stack, chat["id"], since)) == ["message.deleted"] * 700


def test_reports(api, stack, new_user, admin):
    alice, bob = new_user("alice"), new_user("bob")
    chat = direct(api, alice, bob)
    m = send(api, bob, chat["id"], "rude words")
    r = api.post(f"/api/messages/{m['id']}/report", token=alice, json={"reason": "rude"})
    assert r.status_code == 202, r.text
    rid = r.json()["id"]
    r = api.get("/api/admin/reports?status=open", token=admin)
    assert r.status_code == 200, r.text
    reports = {x["id"]: x for x in r.json()["reports"]}
    rep = reports[rid]
    assert set(rep) == {"id", "message", "reporter_id", "reason", "created_at", "status"}
    assert rep["reporter_id"] == uid(alice) and rep["reason"] == "rude" and rep["status"] == "open"
    assert assert_message(rep["message"])["text"] == "rude words"
    assert TIMESTAMP.match(rep["created_at"])
    r = api.patch(f"/api/admin/reports/{rid}", token=admin, json={"status": "resolved"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "resolved" and r.json()["id"] == rid
    assert rid not in [x["id"] for x in api.get("/api/admin/reports?status=open", token=admin).json()["reports"]]
    assert rid in [x["id"] for x in api.get("/api/admin/reports?status=resolved", token=admin).json()["reports"]]
    assert rid in [x["id"] for x in api.get("/api/admin/reports", token=admin).json()["reports"]]
    for body in ({}, {"status": "open"}, {"status": "gone"}):
        assert set(assert_problem(api.patch(f"/api/admin/reports/{rid}", token=admin, json=body),
                                  422)["errors"]) == {"status"}
    assert_problem(api.get("/api/admin/reports?status=gone", token=admin), 422)
    assert_problem(api.patch("/api/admin/reports/99999999", token=admin, json={"status": "dismissed"}),
                   404, "report_not_found")


def test_stats(api, stack, new_user, admin, ws):
    alice = new_user("alice")
    sock = ws()
    sock.auth(alice)
    stats = api.get("/api/admin/stats", token=admin).json()
    assert set(stats) == {"users", "users_active_24h", "messages_24h", "storage_bytes", "websockets"}
    assert all(isinstance(v, int) and v >= 0 for v in stats.values())
    assert stats["users"] == stack.psql("SELECT count(*) FROM users")[0][0]
    assert stats["users_active_24h"] >= 2
    assert stats["websockets"] >= 1
    before = stats
    chat = direct(api, alice, admin)
    send(api, alice, chat["id"], "one more")
    api.post("/api/files", token=alice, files=[("file", ("a.txt", b"y" * 777, "text/plain"))])
    # Another user's socket (wsd records a user per process, not each of
    # their sockets: admin.sql).
    sock2 = ws()
    sock2.auth(new_user("carol"))
    after = api.get("/api/admin/stats", token=admin).json()
    assert after["messages_24h"] >= before["messages_24h"] + 1
    assert after["storage_bytes"] >= before["storage_bytes"] + 777
    assert after["websockets"] >= before["websockets"] + 1


def test_audit_log(api, stack, new_user, admin):
    bob = new_user("bob")
    chat = direct(api, bob, admin)
    m = send(api, bob, chat["id"], "x")
    rid = api.post(f"/api/messages/{m['id']}/report", token=admin, json={"reason": "r"}).json()["id"]
    ban(api, admin, bob)
    ban(api, admin, bob, "active")
    api.patch(f"/api/admin/users/{uid(bob)}", token=admin, json={"role": "admin"})
    api.patch(f"/api/admin/users/{uid(bob)}", token=admin, json={"role": "admin"})  # no change
    api.delete(f"/api/admin/users/{uid(bob)}/messages", token=admin)
    api.patch(f"/api/admin/reports/{rid}", token=admin, json={"status": "dismissed"})
    r = api.get("/api/admin/audit?limit=5", token=admin)
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    assert [e["action"] for e in entries] == ["report.dismissed", "user.messages_delete", "admin.grant",
                                             "user.unban", "user.ban"]
    for e in entries:
        assert set(e) == {"id", "admin_id", "actor", "action", "target", "created_at"}
        assert e["admin_id"] == uid(admin) and e["actor"] == admin["username"]
        assert TIMESTAMP.match(e["created_at"])
    assert entries[0]["target"] == {"report_id": rid, "message_id": m["id"]}
    assert entries[1]["target"]["deleted"] == 1 and entries[1]["target"]["since"] is None
    assert entries[4]["target"] == {"user_id": uid(bob), "username": bob["username"]}
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids, reverse=True)
    r = api.get(f"/api/admin/audit?limit=2&before={ids[1]}", token=admin).json()
    assert [e["id"] for e in r["entries"]] == ids[2:4] and r["has_more"] is True
    for q in ("limit=0", "limit=101", "before=-1"):
        assert_problem(api.get(f"/api/admin/audit?{q}", token=admin), 422)
