"""Sessions take effect at once (API.md): access tokens carry sid; a logged
out or revoked session's access token is refused (401 session_revoked) on
the next call to every program, its WebSockets close with 4401 within 5 s;
the sessions list and revoke; password change. Through nginx."""

import base64
import json
import threading
import time

import pytest

from chatkit import assert_problem, direct, history, send, uid


def claims(token):
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def login(api, user, agent="pytest"):
    r = api.post("/api/auth/login", json={"login": user["username"], "password": user["password"]},
                 headers={"User-Agent": agent})
    assert r.status_code == 200, r.text
    return dict(user, access_token=r.json()["access_token"], refresh_token=r.json()["refresh_token"])


def logout(api, user):
    r = api.post("/api/auth/logout", json={"refresh_token": user["refresh_token"]})
    assert r.status_code == 204, r.text


def assert_revoked(r):
    assert_problem(r, 401, "session_revoked")
    assert r.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_tokens_carry_sid(new_user, api):
    alice = new_user("alice")
    sid = claims(alice["access_token"])["sid"]
    assert isinstance(sid, int) and sid > 0
    again = login(api, alice)
    assert claims(again["access_token"])["sid"] != sid
    r = api.post("/api/auth/refresh", json={"refresh_token": again["refresh_token"]})
    assert r.status_code == 200, r.text
    assert claims(r.json()["access_token"])["sid"] == claims(again["access_token"])["sid"]


def test_logged_out_token_refused_by_every_program(new_user, api):
    alice, bob = new_user("alice"), new_user("bob")
    chat = direct(api, bob, alice)
    send(api, bob, chat["id"], "before")
    r = api.post("/api/files", token=alice, files=[("file", ("a.txt", b"hello", "text/plain"))])
    assert r.status_code == 201, r.text
    file_id = r.json()["files"][0]["id"]
    # Every path of the token first works, and the history page is kept
    # by the companion (read twice).
    for _ in range(2):
        history(api, alice, chat["id"])
    assert api.get("/api/users/me", token=alice).status_code == 200
    assert api.get(f"/api/files/{file_id}", token=alice).status_code == 200
    logout(api, alice)
    assert_revoked(api.get("/api/users/me", token=alice))                      # auth
    assert_revoked(api.get(f"/api/users/{uid(bob)}", token=alice))
    assert_revoked(api.get("/api/users?q=bob", token=alice))
    assert_revoked(api.patch("/api/users/me", token=alice, json={"about": "x"}))
    assert_revoked(api.get("/api/users/me/blocks", token=alice))
    assert_revoked(api.get("/api/auth/sessions", token=alice))
    assert_revoked(api.get("/api/chats", token=alice))                         # chats
    assert_revoked(api.get(f"/api/chats/{chat['id']}", token=alice))
    assert_revoked(api.get(f"/api/chats/{chat['id']}/messages", token=alice))  # kept history
    assert_revoked(api.post(f"/api/chats/{chat['id']}/messages", token=alice,  # companion send
                            json={"text": "after logout"}))
    assert_revoked(api.post(f"/api/chats/{chat['id']}/messages", token=alice,  # worker send
                            files=[("text", (None, b"multipart")), ("file", ("b.txt", b"x", "text/plain"))]))
    assert_revoked(api.get("/api/search/messages?q=before", token=alice))
    assert_revoked(api.post("/api/files", token=alice,                         # files
                            files=[("file", ("c.txt", b"x", "text/plain"))]))
    assert_revoked(api.get(f"/api/files/{file_id}", token=alice))
    # Nothing was written with it; bob's session is untouched.
    page = history(api, bob, chat["id"])
    assert [m["text"] for m in page["messages"] if m["kind"] == "text"] == ["before"]
    assert api.get("/api/users/me", token=bob).status_code == 200


def test_batched_sends_refuse_only_the_revoked(new_user, api):
    alice, bob = new_user("alice"), new_user("bob")
    chat = direct(api, alice, bob)
    doomed = login(api, alice)
    send(api, doomed, chat["id"], "while live")
    r = api.delete(f"/api/auth/sessions/{claims(doomed['access_token'])['sid']}", token=alice)
    assert r.status_code == 204, r.text
    answers = {}

    def go(name, user, i):
        answers[(name, i)] = api.post(f"/api/chats/{chat['id']}/messages", token=user,
                                      json={"text": f"{name} {i}", "client_id": f"{name}-{i}"})

    threads = [threading.Thread(target=go, args=(n, u, i))
               for i in range(6) for n, u in (("live", alice), ("bob", bob), ("dead", doomed))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (name, _), r in answers.items():
        if name == "dead":
            assert_revoked(r)
        else:
            assert r.status_code == 201, r.text
    texts = [m["text"] for m in history(api, bob, chat["id"], limit=100)["messages"]]
    assert not any(t.startswith("dead") for t in texts)
    assert sum(t.startswith(("live", "bob")) for t in texts) == 12


def test_kept_history_read_refused_for_the_revoked_only(new_user, api):
    alice, bob = new_user("alice"), new_user("bob")
    chat = direct(api, alice, bob)
    send(api, alice, chat["id"], "one")
    second = login(api, bob)
    for u in (alice, bob, second, alice, bob, second):  # kept, then from the kept page
        history(api, u, chat["id"])
    r = api.delete(f"/api/auth/sessions/{claims(second['access_token'])['sid']}", token=bob)
    assert r.status_code == 204
    answers = {}

    def read(name, u):
        answers[name] = api.get(f"/api/chats/{chat['id']}/messages", token=u)

    threads = [threading.Thread(target=read, args=(f"{n}{i}", u))
               for i in range(4) for n, u in (("a", alice), ("b", bob), ("x", second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, r in answers.items():
        if name.startswith("x"):
            assert_revoked(r)
        else:
            assert r.status_code == 200, r.text


def test_sessions_list_and_revoke(new_user, api):
    alice, bob = new_user("alice"), new_user("bob")
    phone = login(api, alice, agent="Phone/1.0")
    r = api.get("/api/auth/sessions", token=phone)
    assert r.status_code == 200, r.text
    sessions = r.json()["sessions"]
    assert len(sessions) == 2
    assert set(sessions[0]) == {"id", "created_at", "last_used_at", "user_agent", "ip", "current"}
    # Newest first: the phone's, which is the caller's.
    assert sessions[0]["id"] == claims(phone["access_token"])["sid"]
    assert sessions[0]["current"] is True and sessions[1]["current"] is False
    assert sessions[0]["user_agent"] == "Phone/1.0"
    assert sessions[0]["ip"]
    # Another user's session: 404, and it stays.
    assert_problem(api.delete(f"/api/auth/sessions/{sessions[1]['id']}", token=bob), 404,
                   "session_not_found")
    assert api.get("/api/users/me", token=alice).status_code == 200
    assert_problem(api.delete("/api/auth/sessions/999999999", token=alice), 404)
    assert_problem(api.delete("/api/auth/sessions/abc", token=alice), 404)
    # Revoking the other one: its tokens stop at once, refresh included.
    r = api.delete(f"/api/auth/sessions/{sessions[1]['id']}", token=phone)
    assert r.status_code == 204, r.text
    assert_revoked(api.get("/api/chats", token=alice))
    assert api.post("/api/auth/refresh", json={"refresh_token": alice["refresh_token"]}).status_code == 401
    assert [s["id"] for s in api.get("/api/auth/sessions", token=phone).json()["sessions"]] == [
        sessions[0]["id"]]
    # Twice: already ended, 404.
    assert_problem(api.delete(f"/api/auth/sessions/{sessions[1]['id']}", token=phone), 404)
    assert_problem(api.get("/api/auth/sessions"), 401)


def test_password_change_revokes_the_others(new_user, api):
    alice = new_user("alice")
    other = login(api, alice)
    r = api.post("/api/users/me/password", token=alice,
                 json={"current_password": "wrong password", "new_password": "a-new-password"})
    assert_problem(r, 403, "invalid_credentials")
    assert_problem(api.post("/api/users/me/password", token=alice,
                            json={"current_password": alice["password"], "new_password": "short"}),
                   422)
    assert_problem(api.post("/api/users/me/password", token=alice, json={}), 422)
    r = api.post("/api/users/me/password", token=alice,
                 json={"current_password": alice["password"], "new_password": "a-new-password"})
    assert r.status_code == 204, r.text
    # The caller's session goes on; the other is ended.
    assert api.get("/api/users/me", token=alice).status_code == 200
    assert api.post("/api/auth/refresh", json={"refresh_token": alice["refresh_token"]}).status_code == 200
    assert_revoked(api.get("/api/users/me", token=other))
    # The new password logs in, the old one does not.
    assert api.post("/api/auth/login", json={"login": alice["username"],
                                             "password": alice["password"]}).status_code == 401
    login(api, dict(alice, password="a-new-password"))


def test_tokens_without_sid_still_work(new_user, api, stack):
    if not stack.local:
        pytest.skip("needs the server secret")
    import jwt

    alice = new_user("alice")
    logout(api, alice)  # her only session ends; a token of before sids knows none
    secret = (stack.var / "secret").read_bytes().strip()
    now = int(time.time())
    old = jwt.encode({"sub": str(uid(alice)), "iat": now, "exp": now + 300, "typ": "access"},
                     secret, algorithm="HS256")
    assert api.get("/api/users/me", token=old).status_code == 200
    assert api.get("/api/chats", token=old).status_code == 200
    bad = jwt.encode({"sub": str(uid(alice)), "sid": "7", "iat": now, "exp": now + 300,
                      "typ": "access"}, secret, algorithm="HS256")
    assert_problem(api.get("/api/users/me", token=bad), 401, "invalid_token")


def test_revoked_session_socket_closes_4401(new_user, api, ws):
    alice = new_user("alice")
    other = login(api, alice)
    doomed, kept = ws(), ws()
    doomed.auth(other)
    kept.auth(alice)
    t0 = time.monotonic()
    r = api.delete(f"/api/auth/sessions/{claims(other['access_token'])['sid']}", token=alice)
    assert r.status_code == 204
    code, _ = doomed.wait_closed(timeout=5)
    assert code == 4401 and time.monotonic() - t0 < 5
    kept.send({"type": "ping"})
    assert kept.wait_for(lambda f: f["type"] == "pong")
    # Connecting again (a resume) with the revoked token: closed at once.
    again = ws()
    again.send({"type": "auth", "token": other["access_token"], "since": 0})
    assert again.wait_closed(timeout=5)[0] == 4401
    # Logout closes the socket of that session too.
    logout(api, alice)
    assert kept.wait_closed(timeout=5)[0] == 4401


def test_password_change_closes_the_other_sockets(new_user, api, ws):
    alice = new_user("alice")
    other = login(api, alice)
    mine, theirs = ws(), ws()
    mine.auth(alice)
    theirs.auth(other)
    r = api.post("/api/users/me/password", token=alice,
                 json={"current_password": alice["password"], "new_password": "another-password"})
    assert r.status_code == 204, r.text
    assert theirs.wait_closed(timeout=5)[0] == 4401
    mine.send({"type": "ping"})
    assert mine.wait_for(lambda f: f["type"] == "pong")


def test_revocation_while_wsd_was_not_listening(new_user, api, ws, stack):
    """The NOTIFY of a revocation made while wsd's connections were lost
    is lost with them: wsd asks again once it listens again."""
    alice = new_user("alice")
    other = login(api, alice)
    doomed, kept = ws(), ws()
    doomed.auth(other)
    kept.auth(alice)
    stack.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'wsd[%'")
    r = api.delete(f"/api/auth/sessions/{claims(other['access_token'])['sid']}", token=alice)
    assert r.status_code == 204
    assert doomed.wait_closed(timeout=8)[0] == 4401
    kept.send({"type": "ping"})
    assert kept.wait_for(lambda f: f["type"] == "pong")
    if stack.local:
        log = stack.var / "log" / "wsd.log"
        assert "asked again whether the login sessions of" in log.read_text()
