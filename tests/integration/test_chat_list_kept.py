"""The kept chat list (GET /api/chats, fcgi/chats/chats.c): a worker keeps
the list it rendered and answers it again only while chat_list_stamp()
says it is current. After each kind of change the answer must be the one
chat_list() renders now, byte for byte, whichever worker answers and
whatever it kept."""

import json

from chatkit import direct, group, send, uid

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
       b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00"
       b"\x00\x00IEND\xaeB`\x82")

# Enough reads for every chats worker of a test stack to have kept the list.
READS = 8


def fresh(stack, user):
    """chat_list()'s answer now, with the programs' secret for signed URLs."""
    return stack.psql("SELECT set_config('msgr.secret', %s, false), (chat_list(%s)).body::text",
                      (stack.var / "secret").read_bytes().rstrip(b"\r\n").hex(), uid(user))[0][1]


def lists(api, user):
    out = []
    for _ in range(READS):
        r = api.get("/api/chats", token=user)
        assert r.status_code == 200, r.text
        out.append(r.text)
    return out


def assert_current(api, stack, user, what):
    want = fresh(stack, user)
    for got in lists(api, user):
        assert got == want, f"a stale list after {what}"


def test_kept_list_follows_every_change(api, stack, new_user):
    alice = new_user("alice", display_name="Alice")
    bob, carol = new_user("bob", display_name="Bob"), new_user("carol", display_name="Carol")
    g = group(api, alice, [bob], title="Kept")
    d = direct(api, alice, bob)
    m = send(api, bob, g["id"], "hello @" + alice["username"])
    send(api, bob, d["id"], "direct")
    lists(api, alice)  # kept by every worker
    assert_current(api, stack, alice, "nothing")

    def change(what, fn):
        before = fresh(stack, alice)
        lists(api, alice)  # every worker keeps the list before the change
        fn()
        after = fresh(stack, alice)
        assert after != before, f"{what} changed nothing the list shows"
        assert_current(api, stack, alice, what)

    def ok(r, status=(200, 201, 204)):
        assert r.status_code in status, r.text

    change("a send", lambda: send(api, bob, g["id"], "second"))
    m2 = send(api, bob, g["id"], "to edit")
    change("an edit", lambda: ok(api.patch(f"/api/messages/{m2['id']}", token=bob, json={"text": "edited"})))
    change("a reaction", lambda: ok(api.put(f"/api/messages/{m2['id']}/reactions/%F0%9F%91%8D", token=bob)))
    change("a delete", lambda: ok(api.delete(f"/api/messages/{m2['id']}", token=bob)))
    change("a read marker", lambda: ok(api.post(f"/api/chats/{g['id']}/read", token=alice,
                                                json={"message_id": m["id"]})))
    change("another member's read marker", lambda: ok(api.post(f"/api/chats/{d['id']}/read", token=bob,
                                                               json={"message_id": m["id"] + 1})))
    change("a delivered marker", lambda: stack.psql(
        "UPDATE chat_members SET last_delivered_message_id = last_delivered_message_id + 1 "
        "WHERE chat_id = %s AND user_id = %s", g["id"], uid(bob)))
    change("a rename", lambda: ok(api.patch(f"/api/chats/{g['id']}", token=alice, json={"title": "Renamed"})))
    change("an avatar", lambda: ok(api.put("/api/users/me/avatar", token=bob,
                                           files=[("file", ("a.png", PNG, "image/png"))])))
    change("a member added", lambda: ok(api.post(f"/api/chats/{g['id']}/members", token=alice,
                                                 json={"user_id": uid(carol)})))
    change("a profile change", lambda: ok(api.patch("/api/users/me", token=carol, json={"about": "new"})))
    change("a member removed", lambda: ok(api.delete(f"/api/chats/{g['id']}/members/{uid(carol)}",
                                                     token=alice)))
    change("a mute", lambda: ok(api.patch(f"/api/chats/{g['id']}/settings", token=alice,
                                          json={"muted_until": "2999-01-01T00:00:00Z"})))
    change("notify", lambda: ok(api.patch(f"/api/chats/{g['id']}/settings", token=alice,
                                          json={"notify": "mentions"})))
    change("a pin", lambda: ok(api.put(f"/api/chats/{g['id']}/pins/{m['id']}", token=alice)))
    change("presence", lambda: stack.psql(
        "INSERT INTO user_presence (user_id, wsd_id) VALUES (%s, 'test-kept-list')", uid(bob)))
    change("a deleted chat", lambda: ok(api.delete(f"/api/chats/{d['id']}", token=alice)))

    def new_chat():
        c = direct(api, carol, alice)
        send(api, carol, c["id"], "a new chat")

    change("a new chat", new_chat)
    assert [c["title"] for c in json.loads(fresh(stack, alice))["chats"] if c["type"] == "group"] == \
        ["Renamed", "Welcome"]


def test_each_user_gets_their_own_list(api, stack, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    c = direct(api, alice, bob)
    send(api, alice, c["id"], "hi")
    a, b = lists(api, alice), lists(api, bob)
    assert set(a) == {fresh(stack, alice)} and set(b) == {fresh(stack, bob)}
    assert a[0] != b[0]
