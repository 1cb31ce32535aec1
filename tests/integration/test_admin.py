"""Administration (API.md "Administration"): the role on /api/users/me, bans
(403 account_banned at login and refresh, every session ended, sockets
closed with 4401), and /api/admin/*: users, their status and role, their
messages, reports, stats and the audit log; a plain user's 403 admin_only.
Through nginx."""

import time

import pytest

from chatkit import assert_problem, uid

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
    assert_problem(api.patch(f"/api/admin/users/{uid(bob)}", token=admin, json={}), 403, "admin_only")
    # Bad values, unknown users.
    for body in ({"status": "gone"}, {"role": "root"}, {"status": 1}, {"role": None}):
        err = assert_problem(api.patch(f"/api/admin/users/{uid(admin)}", token=bob, json=body), 422)
        assert set(err["errors"]) == set(body)
    assert_problem(api.patch("/api/admin/users/99999999", token=bob, json={"status": "banned"}),
                   404, "user_not_found")
    assert stack.psql("SELECT role, status FROM users WHERE id = %s", uid(admin)) == [("user", "active")]
