"""Service messages as data (issue 21; migrations/028_service_data.sql,
schema/functions/messages.sql service_text()): every kind of service message
carries "service" {type, actor, users, ...} with user ids, beside its English
text; a rename changes no stored data; rows older than the column are read
back from their English text where the pattern is certain."""

import pathlib

from chatkit import assert_message, events, group, history, send, uid

MIGRATION = pathlib.Path(__file__).resolve().parents[2] / "schema/migrations/028_service_data.sql"


def services(api, user, chat_id):
    return [(m["service"], m["text"]) for m in history(api, user, chat_id)["messages"]
            if m["kind"] == "service"]


def test_each_kind_carries_its_data_and_english_text(api, stack, new_user):
    alice, bob, carol, dan = (new_user(n, display_name=n.title()) for n in ("alice", "bob", "carol", "dan"))
    a, b, c, d = (uid(u) for u in (alice, bob, carol, dan))
    g = group(api, alice, [bob, carol], title="Team")
    assert api.patch(f"/api/chats/{g['id']}", token=alice, json={"title": "Crew"}).status_code == 200
    assert api.post(f"/api/chats/{g['id']}/members", token=alice, json={"user_id": d}).status_code == 201
    assert api.delete(f"/api/chats/{g['id']}/members/{c}", token=alice).status_code == 204
    assert api.delete(f"/api/chats/{g['id']}/members/{d}", token=dan).status_code == 204
    long = send(api, bob, g["id"], "y" * 60)
    assert api.put(f"/api/chats/{g['id']}/pins/{long['id']}", token=alice).status_code == 204
    assert api.put(f"/api/chats/{g['id']}/owner", token=alice, json={"user_id": b}).status_code == 200
    assert api.post(f"/api/chats/{g['id']}/members", token=bob, json={"user_id": c}).status_code == 201
    assert api.put(f"/api/chats/{g['id']}/owner", token=bob, json={"user_id": a}).status_code == 200
    assert api.delete(f"/api/chats/{g['id']}/members/{a}", token=alice).status_code == 204
    got = services(api, bob, g["id"])
    assert got == [
        ({"type": "group.created", "actor": a, "title": "Team"}, "Alice created the group “Team”"),
        ({"type": "group.renamed", "actor": a, "title": "Crew"}, "Alice renamed the group to “Crew”"),
        ({"type": "member.added", "actor": a, "users": [d]}, "Alice added Dan"),
        ({"type": "member.removed", "actor": a, "users": [c]}, "Alice removed Carol"),
        ({"type": "member.left", "actor": d}, "Dan left"),
        ({"type": "message.pinned", "actor": a, "message_id": long["id"], "text": "y" * 50 + "…"},
         f"Alice pinned “{'y' * 50}…”"),
        ({"type": "owner.handed", "actor": a, "users": [b]}, "Alice made Bob the owner"),
        ({"type": "member.added", "actor": b, "users": [c]}, "Bob added Carol"),
        ({"type": "owner.handed", "actor": b, "users": [a]}, "Bob made Alice the owner"),
        ({"type": "member.left", "actor": a}, "Alice left"),
        ({"type": "owner.inherited", "users": [b]}, "Bob is now the owner"),
    ]
    # The same in the events wsd sends, and in the chat list's last message.
    created = [p["message"] for k, p in events(stack, g["id"]) if k == "message.created"
               and p["message"]["kind"] == "service"]
    assert [assert_message(m)["service"] for m in created] == [s for s, _ in got]
    last = api.get(f"/api/chats/{g['id']}", token=bob).json()["last_message"]
    assert last["service"] == {"type": "owner.inherited", "users": [b]}
    # A message without text is pinned with "" (the app says "a message").
    empty = stack.psql("INSERT INTO messages (chat_id, sender_id, kind, text) VALUES (%s, %s, 'text', '') "
                       "RETURNING id", g["id"], b)[0][0]
    assert api.put(f"/api/chats/{g['id']}/pins/{empty}", token=bob).status_code == 204
    assert services(api, bob, g["id"])[-1] == (
        {"type": "message.pinned", "actor": b, "message_id": empty, "text": ""}, "Bob pinned “a message”")
    # Text messages have no "service".
    assert "service" not in long


def test_the_welcome_message_names_the_new_account(api, new_user):
    eve = new_user("eve", display_name="Eve")
    chats = api.get("/api/chats", token=eve).json()["chats"]
    welcome = next(c for c in chats if c["title"] == "Welcome")
    m = welcome["last_message"]
    assert m["service"] == {"type": "welcome", "users": [uid(eve)]}
    assert m["text"].startswith("Welcome to Messenger, Eve! ")


def test_a_rename_and_a_deleted_account_change_no_stored_data(api, stack, new_user):
    alice, bob = new_user("alice", display_name="Alice"), new_user("bob", display_name="Bob")
    g = group(api, alice, [bob])
    assert api.patch("/api/users/me", token=bob, json={"display_name": "Robert"}).status_code == 200
    first = services(api, alice, g["id"])[0]
    assert first == ({"type": "group.created", "actor": uid(alice), "title": "Group"},
                     "Alice created the group “Group”")
    r = api.delete("/api/users/me", token=alice, json={"password": alice["password"]})
    assert r.status_code == 204, r.text
    got = services(api, bob, g["id"])
    # the ids stay; the app names a deleted account "Deleted account"
    assert got[0][0] == {"type": "group.created", "actor": uid(alice), "title": "Group"}
    assert got[-2:] == [({"type": "member.left", "actor": uid(alice)}, "Deleted account left"),
                        ({"type": "owner.inherited", "users": [uid(bob)]}, "Robert is now the owner")]


def old_row(stack, chat_id, sender, text):
    return stack.psql("INSERT INTO messages (chat_id, sender_id, kind, text) VALUES (%s, %s, 'service', %s) "
                      "RETURNING id", chat_id, sender, text)[0][0]


def run_migration(stack):
    with stack.db().cursor() as cur:
        cur.execute(MIGRATION.read_text())


def test_the_migration_reads_old_rows_back_where_certain(api, stack, new_user):
    alice, bob = new_user("alice", display_name="Alice"), new_user("bob", display_name="Bob")
    carol = new_user("carol", display_name="Carol")
    twin1, twin2 = new_user("twina", display_name="Twin"), new_user("twinb", display_name="Twin")
    a, b = uid(alice), uid(bob)
    g = group(api, alice, [bob, twin1, twin2], title="Old")
    version = stack.psql("SELECT version FROM chats WHERE id = %s", g["id"])[0][0]
    rows = {
        "created": (old_row(stack, g["id"], a, "Alice created the group “Old “one” added x”"),
                    {"type": "group.created", "actor": a, "title": "Old “one” added x"}),
        "renamed": (old_row(stack, g["id"], a, "Alice renamed the group to “New”"),
                    {"type": "group.renamed", "actor": a, "title": "New"}),
        "added": (old_row(stack, g["id"], a, "Alice added Bob"),
                  {"type": "member.added", "actor": a, "users": [b]}),
        "handed": (old_row(stack, g["id"], a, "Alice made Bob the owner"),
                   {"type": "owner.handed", "actor": a, "users": [b]}),
        "inherited": (old_row(stack, g["id"], None, "Bob is now the owner"),
                      {"type": "owner.inherited", "users": [b]}),
        "left": (old_row(stack, g["id"], b, "Bob left"), {"type": "member.left", "actor": b}),
        "pinned": (old_row(stack, g["id"], a, "Alice pinned “hello”"),
                   {"type": "message.pinned", "actor": a, "text": "hello"}),
        "pinned empty": (old_row(stack, g["id"], a, "Alice pinned “a message”"),
                         {"type": "message.pinned", "actor": a, "text": ""}),
        "welcome": (old_row(stack, g["id"], None, "Welcome to Messenger, Bob! Find people with the search box "
                            "to start a conversation, or create a group and invite friends."),
                    {"type": "welcome", "users": [b]}),
        # Not certain: two members are called Twin; Carol is not in the
        # chat (nor wrote in it); a text of no known pattern.
        "two named so": (old_row(stack, g["id"], a, "Alice added Twin"), None),
        "stranger": (old_row(stack, g["id"], a, "Alice removed Carol"), None),
        "unknown": (old_row(stack, g["id"], None, "Something happened"), None),
    }
    assert uid(carol)
    run_migration(stack)
    got = dict(stack.psql("SELECT id, service FROM messages WHERE id = ANY(%s)", [i for i, _ in rows.values()]))
    assert {k: got[i] for k, (i, _) in rows.items()} == {k: want for k, (_, want) in rows.items()}
    # The kept history pages are rendered again: the chat's version moved.
    assert stack.psql("SELECT version FROM chats WHERE id = %s", g["id"])[0][0] > version
    byid = {m["id"]: m for m in history(api, alice, g["id"])["messages"]}
    assert byid[rows["added"][0]]["service"] == rows["added"][1]
    assert byid[rows["unknown"][0]]["service"] is None
    assert byid[rows["unknown"][0]]["text"] == "Something happened"
    # A second run changes nothing.
    run_migration(stack)
    again = dict(stack.psql("SELECT id, service FROM messages WHERE id = ANY(%s)", [i for i, _ in rows.values()]))
    assert again == got
