"""wsd and the events of API.md "Conversations": user.updated (of no chat,
to the user and everyone sharing a chat), chat.deleted (ends the chat's
memberships), pins in message.updated; live and replayed with since."""

from chatkit import last_event_id
from test_ws_events import connect, send  # noqa: F401 (connect is a fixture)
from test_ws_events import group as titled_group
from ws_client import events


def make_group(api, owner, *members):
    return titled_group(api, owner, "G", *members)


def user_updated(c, user_id, name, timeout=10):
    return c.wait_for(lambda f: f["type"] == "user.updated" and f["data"]["user"]["id"] == user_id
                      and f["data"]["user"]["display_name"] == name, timeout)


def test_user_updated_reaches_the_user_and_who_shares_a_chat(api, stack, new_user, connect):
    alice, bob, eve = new_user("alice"), new_user("bob"), new_user("eve")
    make_group(api, alice, bob)
    a, b, e = connect(alice), connect(bob), connect(eve)
    r = api.patch("/api/users/me", token=alice, json={"display_name": "Alice Two"})
    assert r.status_code == 200, r.text
    for c in (a, b):
        f = user_updated(c, alice["user"]["id"], "Alice Two")
        assert set(f) == {"type", "id", "chat_id", "data"} and f["chat_id"] is None
    assert not [f for f in e.drain(1.0) if f["type"] == "user.updated"]
    # once only, though bob shares two chats with alice
    make_group(api, bob, alice)
    b.drain(0.5)
    api.patch("/api/users/me", token=alice, json={"display_name": "Alice Three"})
    user_updated(b, alice["user"]["id"], "Alice Three")
    assert not [f for f in b.drain(1.0) if f["type"] == "user.updated"]


def test_user_updated_is_replayed(api, stack, new_user, connect):
    alice, bob, eve = new_user("alice"), new_user("bob"), new_user("eve")
    make_group(api, alice, bob)
    since = last_event_id(stack)
    api.patch("/api/users/me", token=alice, json={"display_name": "Alice Later"})
    b = connect(bob, since=since)
    f = user_updated(b, alice["user"]["id"], "Alice Later")
    assert f["id"] > since
    e = connect(eve, since=since)
    assert not [f for f in e.drain(1.0) if f["type"] == "user.updated"]
    # a user in no chat at all still hears of their own change
    for c in api.get("/api/chats", token=eve).json()["chats"]:
        assert api.delete(f"/api/chats/{c['id']}/members/{eve['user']['id']}", token=eve).status_code == 204
    since = last_event_id(stack)
    api.patch("/api/users/me", token=eve, json={"display_name": "Eve Alone"})
    user_updated(connect(eve, since=since), eve["user"]["id"], "Eve Alone")


def test_a_role_changed_reaches_that_user_alone_with_their_own_view(api, stack, new_user, connect):
    boss, wendy, pal = new_user("boss"), new_user("wendy"), new_user("pal")
    stack.psql("UPDATE users SET role = 'admin' WHERE id = %s", boss["user"]["id"])
    make_group(api, wendy, pal, boss)
    w, p, b = connect(wendy), connect(pal), connect(boss)
    since = last_event_id(stack)

    def role_of(c, timeout=10):
        f = c.wait_for(lambda f: f["type"] == "user.updated" and f["data"]["user"]["id"] == wendy["user"]["id"],
                       timeout)
        assert f["chat_id"] is None
        return f["data"]["user"]

    for role in ("admin", "user"):
        r = api.patch(f"/api/admin/users/{wendy['user']['id']}", token=boss, json={"role": role})
        assert r.status_code == 200, r.text
        user = role_of(w)
        assert user["role"] == role and user["email"] == wendy["email"], user
        assert user == api.get("/api/users/me", token=wendy).json() | {"online": user["online"]}
    # Nobody else hears of it (the role is not part of what others see),
    # nor of the same role again, nor of a ban.
    api.patch(f"/api/admin/users/{wendy['user']['id']}", token=boss, json={"role": "user"})
    troll = new_user("troll")
    make_group(api, troll, wendy, pal)
    api.patch(f"/api/admin/users/{troll['user']['id']}", token=boss, json={"status": "banned"})
    for c in (p, b):
        assert not [f for f in c.drain(1.0) if f["type"] == "user.updated"]
    assert not [f for f in w.drain(0.5) if f["type"] == "user.updated"]
    # Replayed after a reconnection, to her alone.
    assert role_of(connect(wendy, since=since))["role"] == "admin"
    assert not [f for f in connect(boss, since=since).drain(1.0) if f["type"] == "user.updated"]


def test_chat_deleted_ends_the_chat_for_its_members(api, stack, new_user, connect):
    alice, bob = new_user("alice"), new_user("bob")
    g = make_group(api, alice, bob)
    since = last_event_id(stack)
    a, b = connect(alice), connect(bob)
    assert api.delete(f"/api/chats/{g['id']}", token=alice).status_code == 204
    for c in (a, b):
        f = c.wait_for(lambda f: f["type"] == "chat.deleted" and f["chat_id"] == g["id"])
        assert f["data"]["chat_id"] == g["id"]
    # replayed too, then nothing more of that chat
    r = connect(bob, since=since)
    got = [f for f in events(r.drain(1.0)) if f["chat_id"] == g["id"]]
    assert [f["type"] for f in got][-1] == "chat.deleted"


def test_pins_arrive_as_message_updated(api, stack, new_user, connect):
    alice, bob = new_user("alice"), new_user("bob")
    g = make_group(api, alice, bob)
    m = send(api, bob, g["id"], "pin me")
    b = connect(bob)
    assert api.put(f"/api/chats/{g['id']}/pins/{m['id']}", token=alice).status_code == 204
    f = b.wait_for(lambda f: f["type"] == "message.updated" and f["data"]["message"]["id"] == m["id"])
    assert f["data"]["message"]["pinned"] is True
    b.wait_for(lambda f: f["type"] == "message.created" and f["data"]["message"]["kind"] == "service"
               and "pinned" in f["data"]["message"]["text"])
