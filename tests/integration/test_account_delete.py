"""Account deletion (API.md "Your data and your language", README "Deleting
an account"): DELETE /api/users/me {password}, DELETE /api/admin/users/{id}
and `msgrctl user delete`. The account is gone at once for everyone: its
sessions and sockets end, the others see it as "Deleted account" over REST
and the WebSocket, its messages stay, its avatar and unattached uploads
leave the disk, its groups pass to the next member, and its username and
e-mail are free again once the grace has passed."""

import time

import pytest

from chatkit import assert_problem, direct, group, history, send, uid
from test_admin import make_admin
from test_files import png
from test_msgrctl import run as msgrctl


def delete_me(api, user, password=None):
    return api.delete("/api/users/me", token=user, json={"password": password or user["password"]})


def login(api, user):
    return api.post("/api/auth/login", json={"login": user["username"], "password": user["password"]})


def register(api, username, email, password="pw-long-enough-1"):
    return api.post("/api/auth/register", json={"username": username, "email": email,
                                                  "password": password})


def test_wrong_password_and_bad_bodies(api, stack, new_user):
    alice = new_user("alice")
    assert_problem(delete_me(api, alice, "not-the-password"), 403, "invalid_credentials")
    assert_problem(api.delete("/api/users/me", token=alice, json={}), 422)
    assert_problem(api.delete("/api/users/me", token=alice, json={"password": 5}), 422)
    assert api.delete("/api/users/me", json={"password": alice["password"]}).status_code == 401
    # Nothing happened.
    assert api.get("/api/users/me", token=alice).status_code == 200
    assert stack.psql("SELECT status FROM users WHERE id = %s", uid(alice)) == [("active",)]


def test_deletion_seen_by_everyone(api, stack, new_user, ws):
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    second = login(api, alice).json()
    # Alice's avatar, an upload attached to nothing, and one in a message.
    r = api.put("/api/users/me/avatar", token=alice, files=[("file", ("me.png", png(2, 2), "image/png"))])
    assert r.status_code == 200, r.text
    loose = api.post("/api/files", token=alice, files=[("file", ("loose.txt", b"loose", "text/plain"))])
    kept = api.post("/api/files", token=alice, files=[("file", ("kept.txt", b"kept", "text/plain"))])
    assert loose.status_code == 201 and kept.status_code == 201
    kept_id = kept.json()["files"][0]["id"]
    chat = direct(api, bob, alice)
    said = send(api, alice, chat["id"], "goodbye, bob", attachment_ids=[kept_id])
    owned = group(api, alice, [bob, carol], title="Alice's group")
    send(api, carol, owned["id"], "hello group")
    keys = {k: stack.psql("SELECT storage_key FROM files WHERE id = %s", i)[0][0] for k, i in (
        ("avatar", stack.psql("SELECT avatar_file_id FROM users WHERE id = %s", uid(alice))[0][0]),
        ("loose", loose.json()["files"][0]["id"]), ("kept", kept_id))}
    for key in keys.values():
        assert stack.is_stored(key)
    welcome = [c["id"] for c in api.get("/api/chats", token=alice).json()["chats"] if c["title"] == "Welcome"]
    assert len(welcome) == 1
    mine = ws()
    mine.auth(alice)
    theirs = ws()
    theirs.auth(bob)
    t0 = time.monotonic()

    r = delete_me(api, alice)
    assert r.status_code == 204, r.text

    # Every session ended at once: the old tokens 401, the socket 4401.
    assert_problem(api.get("/api/users/me", token=alice), 401, "session_revoked")
    assert_problem(api.get("/api/users/me", token=second["access_token"]), 401, "session_revoked")
    code, _ = mine.wait_closed(timeout=5)
    assert code == 4401 and time.monotonic() - t0 < 5
    assert api.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code in (400, 401)
    # Login refused, by username and by e-mail, as for an unknown account.
    assert_problem(login(api, alice), 401, "invalid_credentials")
    assert_problem(api.post("/api/auth/login", json={"login": alice["email"], "password": alice["password"]}),
                   401, "invalid_credentials")

    # Bob hears it live: user.updated with the deleted look, and in the
    # group Alice owned, member.removed and the new owner.
    f = theirs.wait_for(lambda fr: fr["type"] == "user.updated" and fr["data"]["user"]["id"] == uid(alice),
                        timeout=5)
    gone = f["data"]["user"]
    assert gone["display_name"] == "Deleted account" and gone["username"] == f"deleted-{uid(alice)}"
    assert gone["avatar_url"] is None and gone["about"] == ""
    theirs.wait_for(lambda fr: fr["type"] == "member.removed" and fr["data"]["user_id"] == uid(alice), timeout=5)
    # Over REST: the profile, the direct chat (kept, with the message and
    # its file) and the group, now Bob's (the longest-standing member).
    assert not gone["online"]
    # (last_seen_at: the socket's close, after the event)
    profile = api.get(f"/api/users/{uid(alice)}", token=bob).json()
    assert profile.pop("last_seen_at") >= gone.pop("last_seen_at") and profile == gone
    c = api.get(f"/api/chats/{chat['id']}", token=bob).json()
    assert {m["user"]["display_name"] for m in c["members"]} == {"Deleted account", bob["user"]["display_name"]}
    msgs = history(api, bob, chat["id"])["messages"]
    m = next(m for m in msgs if m["id"] == said["id"])
    assert m["sender_id"] == uid(alice) and m["text"] == "goodbye, bob" and not m["deleted"]
    assert len(m["attachments"]) == 1
    assert api.get(m["attachments"][0]["url"]).content == b"kept"
    g = api.get(f"/api/chats/{owned['id']}", token=bob).json()
    assert {(x["user"]["id"], x["role"]) for x in g["members"]} == {(uid(bob), "owner"), (uid(carol), "member")}
    texts = [m["text"] for m in history(api, carol, owned["id"])["messages"]]
    assert texts[-2:] == ["Deleted account left", f"{bob['user']['display_name']} is now the owner"]
    # Nobody writes to it, finds it or starts anything with it.
    assert_problem(api.post(f"/api/chats/{chat['id']}/messages", token=bob, json={"text": "are you there?"}),
                   403, "user_deleted")
    assert_problem(api.post(f"/api/messages/{m['id']}/forward", token=bob, json={"chat_ids": [chat["id"]]}),
                   403, "user_deleted")
    assert api.get(f"/api/users/me/blocks", token=bob).json() == {"users": []}
    found = api.get(f"/api/users?q={alice['username'][:8]}", token=bob).json()["users"]
    assert uid(alice) not in [u["id"] for u in found]
    assert not [u for u in api.get("/api/users?q=deleted", token=bob).json()["users"] if u["id"] == uid(alice)]
    assert_problem(api.post("/api/chats", token=carol, json={"type": "direct", "user_id": uid(alice)}),
                   404, "user_not_found")
    assert_problem(api.post(f"/api/chats/{g['id']}/members", token=bob, json={"user_id": uid(alice)}),
                   404, "user_not_found")
    # The avatar and the loose upload left the disk; the message's file stayed.
    assert not stack.is_stored(keys["avatar"])
    assert not stack.is_stored(keys["loose"])
    assert stack.is_stored(keys["kept"])
    assert stack.psql("SELECT count(*) FROM files WHERE uploader_id = %s", uid(alice)) == [(1,)]
    # Its welcome group, where it was alone, is gone.
    assert stack.psql("SELECT count(*) FROM chats WHERE id = %s", welcome[0]) == [(0,)]


def test_names_reserved_until_the_grace_ends(api, stack, new_user):
    alice = new_user("alice")
    assert delete_me(api, alice).status_code == 204
    assert_problem(register(api, alice["username"], "someone.else@example.test"), 409, "username_taken")
    assert_problem(register(api, "someone_else_" + alice["username"][-6:], alice["email"].upper()),
                   409, "email_taken")
    # A second deletion: the account is no longer there.
    assert delete_me(api, alice).status_code == 401
    # The grace passes; the periodic job releases the names.
    stack.psql("UPDATE account_reservations SET until = now() - interval '1 second' WHERE user_id = %s",
               uid(alice))
    stack.restart("auth")  # its periodic job's first run comes 5 s after a start
    for _ in range(150):
        if stack.psql("SELECT count(*) FROM account_reservations WHERE user_id = %s", uid(alice)) == [(0,)]:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the periodic job did not release the names")
    r = register(api, alice["username"], alice["email"])
    assert r.status_code == 201, r.text
    assert r.json()["user"]["id"] != uid(alice)


def test_admin_and_msgrctl_delete(api, stack, new_user, ws):
    admin = make_admin(stack, new_user("admin"))
    bob, carol, dave = new_user("bob"), new_user("carol"), new_user("dave")
    chat = direct(api, carol, bob)
    theirs = ws()
    theirs.auth(carol)
    bobs = ws()
    bobs.auth(bob)
    # A plain user may not; unknown ids 404; not oneself.
    assert_problem(api.delete(f"/api/admin/users/{uid(bob)}", token=carol), 403, "admin_only")
    assert_problem(api.delete("/api/admin/users/99999999", token=admin), 404, "user_not_found")
    assert_problem(api.delete(f"/api/admin/users/{uid(admin)}", token=admin), 409, "cannot_delete_self")
    r = api.delete(f"/api/admin/users/{uid(bob)}", token=admin)
    assert r.status_code == 204, r.text
    assert bobs.wait_closed(timeout=5)[0] == 4401
    theirs.wait_for(lambda fr: fr["type"] == "user.updated" and fr["data"]["user"]["id"] == uid(bob), timeout=5)
    assert_problem(api.get("/api/users/me", token=bob), 401, "session_revoked")
    assert api.get(f"/api/chats/{chat['id']}", token=carol).status_code == 200
    entry = api.get("/api/admin/audit?limit=1", token=admin).json()["entries"][0]
    assert (entry["action"], entry["target"]) == ("user.delete", {"user_id": uid(bob), "username": bob["username"]})
    # Deleted once: again 404, and no status or role brings it back.
    assert_problem(api.delete(f"/api/admin/users/{uid(bob)}", token=admin), 404, "user_not_found")
    assert_problem(api.patch(f"/api/admin/users/{uid(bob)}", token=admin, json={"status": "active"}),
                   404, "user_not_found")
    listed = api.get(f"/api/admin/users?q=deleted-{uid(bob)}", token=admin).json()["users"]
    assert [(u["id"], u["status"], u["email"]) for u in listed] == [(uid(bob), "deleted", None)]
    listed = api.get("/api/admin/users?status=deleted&limit=100", token=admin).json()["users"]
    assert uid(bob) in [u["id"] for u in listed] and {u["status"] for u in listed} == {"deleted"}
    assert_problem(api.patch(f"/api/admin/users/{uid(carol)}", token=admin, json={"status": "deleted"}), 422)

    # msgrctl: by username, with wsd told of the events.
    r = msgrctl(stack, "user", "delete", dave["username"], SUDO_USER="carol")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{dave['username']} is deleted; every session of theirs has ended\n"
    assert_problem(api.get("/api/users/me", token=dave), 401, "session_revoked")
    assert stack.psql("SELECT actor, action FROM admin_audit ORDER BY id DESC LIMIT 1") == [
        ("msgrctl:carol", "user.delete")]
    r = msgrctl(stack, "user", "delete", dave["username"])
    assert r.returncode == 1 and r.stderr == f'msgrctl: no user named "{dave["username"]}"\n'
