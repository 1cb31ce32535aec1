"""Conversations (API.md "Conversations"): deleting and clearing chats,
handing a group over, direct chats that show once they hold a message, and
user.updated, through nginx, with the events checked in the database."""

import json

import pytest

from chatkit import (assert_chat, assert_problem, direct, events, get_chat, group, history, kinds,
                     last_event_id, member, send, uid)


def chat_ids(api, user):
    r = api.get("/api/chats", token=user)
    assert r.status_code == 200, r.text
    return [assert_chat(c)["id"] for c in r.json()["chats"]]


def search_ids(api, user, q, **query):
    r = api.get("/api/search/messages", token=user, params={"q": q, **query})
    assert r.status_code == 200, r.text
    return [m["id"] for m in r.json()["messages"]]


ENDPOINTS = [("DELETE", "/api/chats/1"), ("PUT", "/api/chats/1/owner")]


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_endpoints_need_a_token(api, method, path):
    r = api.request(method, path, json={})
    assert_problem(r, 401)


# ---- direct chats appear with their first message -----------------------------------------


def test_a_direct_chat_shows_in_the_others_list_once_it_holds_a_message(api, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    c = direct(api, alice, bob)
    assert c["id"] in chat_ids(api, alice)
    assert c["id"] not in chat_ids(api, bob)
    # still a member: GET works, and opening it from bob's side lists it
    assert get_chat(api, bob, c["id"])["id"] == c["id"]
    send(api, alice, c["id"], "hi")
    assert c["id"] in chat_ids(api, bob)


def test_opening_the_direct_chat_again_lists_it(api, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    c = direct(api, alice, bob)
    direct(api, bob, alice, expect=200)
    assert c["id"] in chat_ids(api, bob)


# ---- clearing a direct chat ---------------------------------------------------------------


def test_deleting_a_direct_chat_clears_it_for_the_caller_only(api, stack, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    c = direct(api, alice, bob)
    old = [send(api, alice, c["id"], f"fogword {i}") for i in range(3)]
    history(api, alice, c["id"])  # keeps a shared page in the program
    since = last_event_id(stack)
    assert api.delete(f"/api/chats/{c['id']}", token=bob).status_code == 204
    assert last_event_id(stack) == since
    assert c["id"] not in chat_ids(api, bob) and c["id"] in chat_ids(api, alice)
    mine = get_chat(api, bob, c["id"])
    assert mine["last_message"] is None and mine["unread_count"] == 0
    assert history(api, bob, c["id"])["messages"] == []
    assert [m["id"] for m in history(api, alice, c["id"])["messages"]] == [m["id"] for m in old]
    assert search_ids(api, bob, "fogword") == []
    assert len(search_ids(api, alice, "fogword")) == 3
    # a later message brings it back, with only what came after
    new = send(api, alice, c["id"], "fogword again")
    assert c["id"] in chat_ids(api, bob)
    assert [m["id"] for m in history(api, bob, c["id"])["messages"]] == [new["id"]]
    assert [m["id"] for m in history(api, bob, c["id"], after=0)["messages"]] == [new["id"]]
    assert get_chat(api, bob, c["id"])["unread_count"] == 1
    assert search_ids(api, bob, "fogword") == [new["id"]]
    # clearing twice, and strangers
    assert api.delete(f"/api/chats/{c['id']}", token=bob).status_code == 204
    assert api.delete(f"/api/chats/{c['id']}", token=bob).status_code == 204
    assert_problem(api.delete(f"/api/chats/{c['id']}", token=new_user("eve")), 404, "chat_not_found")
    assert_problem(api.delete("/api/chats/999999999", token=bob), 404, "chat_not_found")


# ---- deleting a group ---------------------------------------------------------------------


def test_the_owner_deletes_a_group_for_everyone(api, stack, new_user):
    alice, bob, eve = new_user("alice"), new_user("bob"), new_user("eve")
    g = group(api, alice, [bob])
    f = api.post("/api/files", token=bob, files=[("file", ("a.txt", b"group file\n"))]).json()["files"][0]
    m = send(api, bob, g["id"], "in the group", attachment_ids=[f["id"]])
    before = last_event_id(stack)
    assert_problem(api.delete(f"/api/chats/{g['id']}", token=bob), 403, "not_owner")
    assert_problem(api.delete(f"/api/chats/{g['id']}", token=eve), 404, "chat_not_found")
    assert last_event_id(stack) == before and g["id"] in chat_ids(api, bob)
    assert api.delete(f"/api/chats/{g['id']}", token=alice).status_code == 204
    assert events(stack, g["id"], before) == [
        ("chat.deleted", {"chat_id": g["id"], "user_ids": [uid(alice), uid(bob)]})]
    for u in (alice, bob):
        assert g["id"] not in chat_ids(api, u)
        assert_problem(api.get(f"/api/chats/{g['id']}", token=u), 404, "chat_not_found")
        assert_problem(api.get(f"/api/chats/{g['id']}/messages", token=u), 404, "chat_not_found")
    assert stack.psql("SELECT count(*) FROM messages WHERE chat_id = %s", g["id"])[0][0] == 0
    assert api.get(m["attachments"][0]["url"]).status_code == 404
    # the stored event reads as wsd reads membership events
    assert stack.psql("SELECT wsd_event_users(kind, payload) FROM events WHERE id > %s", before)[0][0] == \
        [uid(alice), uid(bob)]


# ---- handing a group over -----------------------------------------------------------------


def test_the_owner_hands_the_group_over(api, stack, new_user):
    alice, bob, carol = (new_user(n, display_name=n.title()) for n in ("alice", "bob", "carol"))
    g = group(api, alice, [bob, carol])
    since = last_event_id(stack)
    r = api.put(f"/api/chats/{g['id']}/owner", token=alice, json={"user_id": uid(bob)})
    assert r.status_code == 200, r.text
    chat = assert_chat(r.json())
    assert member(chat, bob)["role"] == "owner" and member(chat, alice)["role"] == "member"
    evs = events(stack, g["id"], since)
    assert kinds(evs) == ["chat.updated", "message.created"]
    assert evs[1][1]["message"]["text"] == "Alice made Bob the owner"
    assert chat["last_message"]["text"] == "Alice made Bob the owner"
    # the former owner has no rights left
    x, eve = new_user("x"), new_user("eve")
    d = direct(api, alice, bob)
    since = last_event_id(stack)
    assert_problem(api.put(f"/api/chats/{g['id']}/owner", token=alice, json={"user_id": uid(alice)}),
                   403, "not_owner")
    assert_problem(api.put(f"/api/chats/{g['id']}/owner", token=bob, json={"user_id": uid(x)}),
                   404, "member_not_found")
    assert_problem(api.put(f"/api/chats/{g['id']}/owner", token=eve, json={"user_id": uid(bob)}),
                   404, "chat_not_found")
    for body in ({}, {"user_id": "2"}, {"user_id": 0}, {"user_id": None}):
        r = api.put(f"/api/chats/{g['id']}/owner", token=bob, json=body)
        assert set(assert_problem(r, 422)["errors"]) == {"user_id"}
    assert_problem(api.put(f"/api/chats/{d['id']}/owner", token=alice, json={"user_id": uid(bob)}),
                   403, "not_a_group")
    # to oneself: nothing changes
    r = api.put(f"/api/chats/{g['id']}/owner", token=bob, json={"user_id": uid(bob)})
    assert r.status_code == 200
    assert last_event_id(stack) == since


def test_an_owner_leaving_hands_over_with_a_service_message(api, stack, new_user):
    alice, bob = new_user("alice", display_name="Alice"), new_user("bob", display_name="Bob")
    g = group(api, alice, [bob])
    since = last_event_id(stack)
    assert api.delete(f"/api/chats/{g['id']}/members/{uid(alice)}", token=alice).status_code == 204
    evs = events(stack, g["id"], since)
    assert kinds(evs) == ["message.created", "member.removed", "chat.updated", "message.created"]
    assert evs[-1][1]["message"]["text"] == "Bob is now the owner"
    assert evs[-1][1]["message"]["sender_id"] is None


# ---- user.updated -------------------------------------------------------------------------


def test_profile_changes_emit_user_updated(api, stack, new_user):
    alice, bob, eve = new_user("alice"), new_user("bob"), new_user("eve")
    group(api, alice, [bob])
    since = last_event_id(stack)
    r = api.patch("/api/users/me", token=alice, json={"display_name": "Alice Liddell"})
    assert r.status_code == 200, r.text
    rows = stack.psql("SELECT chat_id, kind, payload::text, audience FROM events WHERE id > %s ORDER BY id",
                      since)
    assert len(rows) == 1
    chat_id, kind, payload, audience = rows[0]
    assert chat_id is None and kind == "user.updated"
    user = json.loads(payload)["user"]
    assert user["id"] == uid(alice) and user["display_name"] == "Alice Liddell" and "email" not in user
    assert uid(alice) in audience and uid(bob) in audience and uid(eve) not in audience
    # the same name again, and other changes of the row, emit nothing
    since = last_event_id(stack)
    api.patch("/api/users/me", token=alice, json={"display_name": "Alice Liddell"})
    assert last_event_id(stack) == since
    # about, and the avatar (set by the files program)
    api.patch("/api/users/me", token=alice, json={"about": "down the rabbit hole"})
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
           b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00"
           b"\x00\x00IEND\xaeB`\x82")
    r = api.put("/api/users/me/avatar", token=alice, files=[("file", ("a.png", png, "image/png"))])
    assert r.status_code == 200, r.text
    assert api.delete("/api/users/me/avatar", token=alice).status_code == 200
    rows = stack.psql("SELECT kind, payload::text FROM events WHERE id > %s ORDER BY id", since)
    assert [k for k, _ in rows] == ["user.updated"] * 3
    users = [json.loads(p)["user"] for _, p in rows]
    assert users[0]["about"] == "down the rabbit hole"
    assert users[1]["avatar_url"] is not None and users[2]["avatar_url"] is None
