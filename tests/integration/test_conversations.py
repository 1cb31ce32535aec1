"""Conversations (API.md "Conversations"): replies, forwards, mentions, pins
and a member's chat settings, through nginx, with the events they write
checked in the database. Bad input is answered with a problem document and
changes nothing."""

import pytest

from chatkit import (assert_message, assert_problem, direct, events, get_chat, group, history,
                     kinds, last_event_id, send, uid)


@pytest.fixture
def pair(api, new_user):
    """alice and bob with their direct chat."""
    alice, bob = new_user("alice", display_name="Alice"), new_user("bob", display_name="Bob")
    return alice, bob, direct(api, alice, bob)


def message_count(stack, chat_id):
    return stack.psql("SELECT count(*) FROM messages WHERE chat_id = %s", chat_id)[0][0]


ENDPOINTS = [
    ("POST", "/api/messages/1/forward"),
    ("PUT", "/api/chats/1/pins/1"),
    ("DELETE", "/api/chats/1/pins/1"),
    ("PATCH", "/api/chats/1/settings"),
]


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_endpoints_need_a_token(api, method, path):
    r = api.request(method, path, json={})
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


# ---- replies ------------------------------------------------------------------------------


def test_reply_quotes_the_original_as_it_is_now(api, stack, pair):
    alice, bob, c = pair
    original = send(api, alice, c["id"], "Ж" * 250)
    assert original["reply_to"] is None and original["forwarded_from"] is None
    since = last_event_id(stack)
    reply = send(api, bob, c["id"], "yes", reply_to_id=original["id"])
    assert reply["reply_to"] == {"id": original["id"], "sender_id": uid(alice), "text": "Ж" * 200,
                                 "deleted": False, "attachments_count": 0}
    assert events(stack, c["id"], since) == [("message.created", {"message": reply})]
    # the quote follows edits and deletion of the original, in history
    # (the page kept by the program is rendered again) and in the chat list
    assert history(api, alice, c["id"])["messages"][-1] == reply
    r = api.patch(f"/api/messages/{original['id']}", token=alice, json={"text": "edited"})
    assert r.status_code == 200, r.text
    shown = history(api, alice, c["id"])["messages"][-1]
    assert shown["reply_to"]["text"] == "edited"
    assert get_chat(api, alice, c["id"])["last_message"]["reply_to"]["text"] == "edited"
    assert api.delete(f"/api/messages/{original['id']}", token=alice).status_code == 204
    shown = history(api, bob, c["id"])["messages"][-1]
    assert shown["reply_to"] == {"id": original["id"], "sender_id": uid(alice), "text": "",
                                 "deleted": True, "attachments_count": 0}
    # a reply may answer a deleted message still
    again = send(api, bob, c["id"], "still", reply_to_id=original["id"])
    assert again["reply_to"]["deleted"] is True


def test_reply_counts_attachments_and_goes_through_multipart(api, pair):
    alice, bob, c = pair
    files = api.post("/api/files", token=alice, files=[("file", ("a.txt", b"a\n")),
                                                        ("file", ("b.txt", b"b\n"))]).json()["files"]
    original = send(api, alice, c["id"], "", attachment_ids=[f["id"] for f in files])
    r = api.post(f"/api/chats/{c['id']}/messages", token=bob,
                 data={"text": "nice files", "reply_to_id": str(original["id"])},
                 files=[("file", ("c.txt", b"c\n"))])
    assert r.status_code == 201, r.text
    m = assert_message(r.json())
    assert m["reply_to"]["attachments_count"] == 2 and m["reply_to"]["text"] == ""
    assert len(m["attachments"]) == 1


def test_reply_to_another_chat_is_refused(api, stack, pair, new_user):
    alice, bob, c = pair
    carol = new_user("carol")
    other = direct(api, alice, carol)
    elsewhere = send(api, carol, other["id"], "elsewhere")
    stranger_chat = direct(api, bob, carol)
    hidden = send(api, carol, stranger_chat["id"], "not for alice")
    before = message_count(stack, c["id"])
    since = last_event_id(stack)
    path = f"/api/chats/{c['id']}/messages"
    for bad in (elsewhere["id"], hidden["id"], 999999999):
        r = api.post(path, token=alice, json={"text": "re", "reply_to_id": bad})
        assert set(assert_problem(r, 422)["errors"]) == {"reply_to_id"}
        r = api.post(path, token=alice, data={"text": "re", "reply_to_id": str(bad)},
                     files=[("file", ("x.txt", b"x\n"))])
        assert set(assert_problem(r, 422)["errors"]) == {"reply_to_id"}
    for bad in ("1", 0, -3, 1.5, [1]):
        r = api.post(path, token=alice, json={"text": "re", "reply_to_id": bad})
        assert set(assert_problem(r, 422)["errors"]) == {"reply_to_id"}
    r = api.post(path, token=alice, data={"text": "re", "reply_to_id": "x1"})
    assert set(assert_problem(r, 422)["errors"]) == {"reply_to_id"}
    assert message_count(stack, c["id"]) == before and last_event_id(stack) == since


# ---- mentions -----------------------------------------------------------------------------


def test_mentions_name_members_at_send_and_edit(api, stack, new_user):
    alice, bob, carol, dave = (new_user(n) for n in ("alice", "bob", "carol", "dave"))
    g = group(api, alice, [bob, carol])
    text = (f"hi @{carol['username']} and @{bob['username'].upper()}, not @{dave['username']} "
            f"nor me@{bob['username']}.org; again @{carol['username']}.")
    m = send(api, alice, g["id"], text)
    assert m["mentions"] == [uid(carol), uid(bob)]
    assert send(api, alice, g["id"], "no one @nobody_at_all")["mentions"] == []
    # the batch path (plain text, no reply) computes them too
    stored = stack.psql("SELECT mentions FROM messages WHERE id = %s", m["id"])[0][0]
    assert stored == [uid(carol), uid(bob)]
    since = last_event_id(stack)
    r = api.patch(f"/api/messages/{m['id']}", token=alice, json={"text": f"only @{bob['username']}"})
    assert r.status_code == 200 and r.json()["mentions"] == [uid(bob)]
    (kind, data), = events(stack, g["id"], since)
    assert kind == "message.updated" and data["message"]["mentions"] == [uid(bob)]
    assert history(api, carol, g["id"])["messages"][-2]["mentions"] == [uid(bob)]
    # a mention in a reply, which the program sends alone
    r = send(api, bob, g["id"], f"@{alice['username']} ok", reply_to_id=m["id"])
    assert r["mentions"] == [uid(alice)]
    # the chat counts the caller's unread mentions, until read
    assert get_chat(api, bob, g["id"])["unread_mentions"] == 1  # the edit left one
    assert get_chat(api, carol, g["id"])["unread_mentions"] == 0
    assert get_chat(api, alice, g["id"])["unread_mentions"] == 1
    listed = next(x for x in api.get("/api/chats", token=bob).json()["chats"] if x["id"] == g["id"])
    assert listed["unread_mentions"] == 1 and listed["unread_count"] >= 2
    assert api.post(f"/api/chats/{g['id']}/read", token=bob, json={"message_id": r["id"]}).status_code == 204
    assert get_chat(api, bob, g["id"])["unread_mentions"] == 0


# ---- forwards -----------------------------------------------------------------------------


def test_forward_copies_text_and_files(api, stack, pair, new_user):
    alice, bob, c = pair
    carol = new_user("carol", display_name="Carol")
    g = group(api, bob, [carol], title="Friends")
    files = api.post("/api/files", token=alice, files=[("file", ("a.txt", b"forwarded bytes\n"))]).json()["files"]
    original = send(api, alice, c["id"], f"look @{carol['username']}", attachment_ids=[files[0]["id"]])
    since = last_event_id(stack)
    r = api.post(f"/api/messages/{original['id']}/forward", token=bob,
                 json={"chat_ids": [g["id"], c["id"], g["id"]]})
    assert r.status_code == 201, r.text
    copies = r.json()["messages"]
    assert len(copies) == 2
    for copy, chat in zip(copies, (g, c)):
        assert_message(copy)
        assert copy["chat_id"] == chat["id"] and copy["sender_id"] == uid(bob)
        assert copy["text"] == original["text"] and copy["kind"] == "text"
        assert copy["forwarded_from"] == {"sender_id": uid(alice), "sender_name": "Alice",
                                          "created_at": original["created_at"]}
        assert [a["name"] for a in copy["attachments"]] == ["a.txt"]
        assert copy["attachments"][0]["id"] != files[0]["id"]
    # mentions are of the target chat's members
    assert copies[0]["mentions"] == [uid(carol)] and copies[1]["mentions"] == []
    assert [(k, d["message"]["id"]) for k, d in events(stack, g["id"], since)] == \
        [("message.created", copies[0]["id"])]
    assert [(k, d["message"]["id"]) for k, d in events(stack, c["id"], since)] == \
        [("message.created", copies[1]["id"])]
    # forwarding a copy names the first original
    r = api.post(f"/api/messages/{copies[0]['id']}/forward", token=carol, json={"chat_ids": [g["id"]]})
    assert r.status_code == 201 and r.json()["messages"][0]["forwarded_from"] == copies[0]["forwarded_from"]
    # deleting the original leaves the copies whole, bytes included
    key = stack.psql("SELECT storage_key FROM files WHERE id = %s", files[0]["id"])[0][0]
    assert stack.psql("SELECT count(*) FROM files WHERE storage_key = %s", key)[0][0] == 4
    assert api.delete(f"/api/messages/{original['id']}", token=alice).status_code == 204
    assert api.get(original["attachments"][0]["url"]).status_code == 404
    copy = history(api, carol, g["id"])["messages"][-2]
    assert copy["text"] == original["text"]
    got = api.get(copy["attachments"][0]["url"])
    assert got.status_code == 200 and got.content == b"forwarded bytes\n"
    # and once the copies go too, so do the bytes
    for m in history(api, bob, g["id"])["messages"]:
        if m["forwarded_from"]:
            assert api.delete(f"/api/messages/{m['id']}", token=bob).status_code == 204
    assert stack.is_stored(key)
    assert api.delete(f"/api/messages/{copies[1]['id']}", token=bob).status_code == 204
    assert stack.psql("SELECT count(*) FROM files WHERE storage_key = %s", key)[0][0] == 0
    assert not stack.is_stored(key)


def test_forward_rules(api, stack, pair, new_user):
    alice, bob, c = pair
    eve = new_user("eve")
    eves = direct(api, eve, new_user("frank"))
    m = send(api, alice, c["id"], "secret")
    service = history(api, alice, group(api, alice, [bob])["id"])["messages"][0]
    before = stack.psql("SELECT count(*) FROM messages")[0][0]
    since = last_event_id(stack)
    path = f"/api/messages/{m['id']}/forward"
    # a stranger does not see the message; nobody forwards into a chat of others
    assert_problem(api.post(path, token=eve, json={"chat_ids": [eves["id"]]}), 404, "message_not_found")
    assert_problem(api.post(path, token=alice, json={"chat_ids": [c["id"], eves["id"]]}), 404, "chat_not_found")
    assert_problem(api.post(path, token=alice, json={"chat_ids": [999999999]}), 404, "chat_not_found")
    assert_problem(api.post("/api/messages/999999999/forward", token=alice, json={"chat_ids": [c["id"]]}),
                   404, "message_not_found")
    assert_problem(api.post(f"/api/messages/{service['id']}/forward", token=alice,
                            json={"chat_ids": [c["id"]]}), 409, "not_forwardable")
    for body in ({}, {"chat_ids": []}, {"chat_ids": list(range(1, 12))}, {"chat_ids": "1"},
                 {"chat_ids": [0]}, {"chat_ids": [c["id"], "x"]}):
        r = api.post(path, token=alice, json=body)
        assert set(assert_problem(r, 422)["errors"]) == {"chat_ids"}, body
    assert stack.psql("SELECT count(*) FROM messages")[0][0] == before and last_event_id(stack) == since
    dead = send(api, alice, c["id"], "gone")
    api.delete(f"/api/messages/{dead['id']}", token=alice)
    assert_problem(api.post(f"/api/messages/{dead['id']}/forward", token=alice,
                            json={"chat_ids": [c["id"]]}), 409, "message_deleted")


# ---- pins ---------------------------------------------------------------------------------


def test_pins_in_a_direct_chat(api, stack, pair):
    alice, bob, c = pair
    m1, m2 = send(api, alice, c["id"], "first"), send(api, alice, c["id"], "second " + "x" * 60)
    assert history(api, bob, c["id"])["messages"][-1]["pinned"] is False  # keeps a page
    since = last_event_id(stack)
    assert api.put(f"/api/chats/{c['id']}/pins/{m1['id']}", token=bob).status_code == 204
    evs = events(stack, c["id"], since)
    assert kinds(evs) == ["message.updated", "message.created"]
    assert evs[0][1]["message"]["id"] == m1["id"] and evs[0][1]["message"]["pinned"] is True
    assert evs[1][1]["message"]["kind"] == "service" and evs[1][1]["message"]["text"] == "Bob pinned “first”"
    assert api.put(f"/api/chats/{c['id']}/pins/{m2['id']}", token=alice).status_code == 204
    assert events(stack, c["id"])[-1][1]["message"]["text"] == f"Alice pinned “second {'x' * 43}…”"
    # idempotent
    since = last_event_id(stack)
    assert api.put(f"/api/chats/{c['id']}/pins/{m2['id']}", token=alice).status_code == 204
    assert last_event_id(stack) == since
    assert get_chat(api, alice, c["id"])["pinned_message_ids"] == [m2["id"], m1["id"]]
    shown = {m["id"]: m["pinned"] for m in history(api, bob, c["id"])["messages"]}
    assert shown[m1["id"]] and shown[m2["id"]]
    listed = next(x for x in api.get("/api/chats", token=bob).json()["chats"] if x["id"] == c["id"])
    assert listed["pinned_message_ids"] == [m2["id"], m1["id"]]
    # unpinning: message.updated only
    since = last_event_id(stack)
    assert api.delete(f"/api/chats/{c['id']}/pins/{m1['id']}", token=alice).status_code == 204
    evs = events(stack, c["id"], since)
    assert kinds(evs) == ["message.updated"] and evs[0][1]["message"]["pinned"] is False
    assert api.delete(f"/api/chats/{c['id']}/pins/{m1['id']}", token=alice).status_code == 204
    assert get_chat(api, bob, c["id"])["pinned_message_ids"] == [m2["id"]]
    # a deleted message is not pinned any more, and cannot be pinned
    assert api.delete(f"/api/messages/{m2['id']}", token=alice).status_code == 204
    assert get_chat(api, bob, c["id"])["pinned_message_ids"] == []
    assert_problem(api.put(f"/api/chats/{c['id']}/pins/{m2['id']}", token=alice), 409, "message_deleted")


def test_pin_rights_in_a_group(api, stack, new_user):
    alice, bob, eve = new_user("alice"), new_user("bob"), new_user("eve")
    g = group(api, alice, [bob])
    m = send(api, bob, g["id"], "pin me")
    other = send(api, eve, direct(api, eve, alice)["id"], "elsewhere")
    since = last_event_id(stack)
    for method in ("put", "delete"):
        call = getattr(api, method)
        assert_problem(call(f"/api/chats/{g['id']}/pins/{m['id']}", token=bob), 403, "not_owner")
        assert_problem(call(f"/api/chats/{g['id']}/pins/{m['id']}", token=eve), 404, "chat_not_found")
        assert_problem(call(f"/api/chats/{g['id']}/pins/{other['id']}", token=alice), 404, "message_not_found")
        assert_problem(call(f"/api/chats/{g['id']}/pins/999999999", token=alice), 404, "message_not_found")
        assert_problem(call(f"/api/chats/999999999/pins/{m['id']}", token=alice), 404, "chat_not_found")
    assert last_event_id(stack) == since
    assert get_chat(api, alice, g["id"])["pinned_message_ids"] == []
    assert api.put(f"/api/chats/{g['id']}/pins/{m['id']}", token=alice).status_code == 204
    assert get_chat(api, bob, g["id"])["pinned_message_ids"] == [m["id"]]


# ---- settings -----------------------------------------------------------------------------


def test_chat_settings_are_the_callers_own(api, stack, pair):
    alice, bob, c = pair
    assert get_chat(api, alice, c["id"])["notify"] == "all"
    since = last_event_id(stack)
    r = api.patch(f"/api/chats/{c['id']}/settings", token=alice,
                  json={"muted_until": "2030-01-02T03:04:05+02:00", "notify": "mentions"})
    assert r.status_code == 200, r.text
    mine = r.json()
    assert mine["muted_until"] == "2030-01-02T01:04:05.000Z" and mine["notify"] == "mentions"
    assert last_event_id(stack) == since
    theirs = get_chat(api, bob, c["id"])
    assert theirs["muted_until"] is None and theirs["notify"] == "all"
    listed = next(x for x in api.get("/api/chats", token=alice).json()["chats"] if x["id"] == c["id"])
    assert listed["muted_until"] == mine["muted_until"] and listed["notify"] == "mentions"
    # absent fields stay; null unmutes
    r = api.patch(f"/api/chats/{c['id']}/settings", token=alice, json={"notify": "none"})
    assert r.json()["muted_until"] == mine["muted_until"] and r.json()["notify"] == "none"
    r = api.patch(f"/api/chats/{c['id']}/settings", token=alice, json={"muted_until": None})
    assert r.json()["muted_until"] is None and r.json()["notify"] == "none"


@pytest.mark.parametrize("body,field", [
    ({"notify": "some"}, "notify"),
    ({"notify": None}, "notify"),
    ({"notify": 1}, "notify"),
    ({"muted_until": "tomorrow"}, "muted_until"),
    ({"muted_until": "2030-02-30T00:00:00Z"}, "muted_until"),
    ({"muted_until": "2030-01-01 00:00:00Z"}, "muted_until"),
    ({"muted_until": "2030-01-01T00:00:00"}, "muted_until"),
    ({"muted_until": "2030-13-01T00:00:00Z"}, "muted_until"),
    ({"muted_until": 1700000000}, "muted_until"),
])
def test_chat_settings_validation(api, stack, pair, body, field):
    alice, _, c = pair
    api.patch(f"/api/chats/{c['id']}/settings", token=alice, json={"notify": "mentions"})
    r = api.patch(f"/api/chats/{c['id']}/settings", token=alice, json=body)
    assert set(assert_problem(r, 422)["errors"]) == {field}
    chat = get_chat(api, alice, c["id"])
    assert chat["notify"] == "mentions" and chat["muted_until"] is None


def test_chat_settings_of_a_strangers_chat(api, pair, new_user):
    _, _, c = pair
    eve = new_user("eve")
    assert_problem(api.patch(f"/api/chats/{c['id']}/settings", token=eve, json={"notify": "none"}),
                   404, "chat_not_found")
