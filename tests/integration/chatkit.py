"""Helpers shared by the chats and messages tests (test_chats.py,
test_messages.py, test_search.py, test_chat_plans.py)."""

import json
import re
import urllib.parse

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

USER_KEYS = {"id", "username", "display_name", "about", "avatar_url", "created_at", "online", "last_seen_at"}
MESSAGE_KEYS = {"id", "chat_id", "sender_id", "kind", "text", "created_at", "edited_at", "deleted",
                "attachments", "reactions", "client_id", "reply_to", "forwarded_from", "mentions",
                "pinned"}
QUOTE_KEYS = {"id", "sender_id", "text", "deleted", "attachments_count"}
FORWARD_KEYS = {"sender_id", "sender_name", "created_at"}
CHAT_KEYS = {"id", "type", "title", "created_at", "members", "last_message", "unread_count",
             "unread_mentions", "pinned_message_ids", "muted_until", "notify"}
MEMBER_KEYS = {"user", "role", "last_read_message_id", "last_delivered_message_id"}


def uid(user):
    return user["user"]["id"]


def assert_problem(r, status, code=None):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str)
    assert re.fullmatch(r"[a-z][a-z0-9_]*", body["code"]), body
    if code:
        assert body["code"] == code, body
    if status == 422:
        assert isinstance(body.get("errors"), dict) and body["errors"], body
    return body


SERVICE_TYPES = {"group.created", "group.renamed", "member.added", "member.removed", "member.left",
                 "owner.handed", "owner.inherited", "message.pinned", "welcome"}


def assert_message(m):
    # "service" only on a service message: its data, null for an old row
    # migration 028 could not read.
    assert set(m) == MESSAGE_KEYS | ({"service"} if m.get("kind") == "service" else set()), m
    if m["kind"] == "service" and m["service"] is not None:
        assert m["service"]["type"] in SERVICE_TYPES, m
        for x in m["service"].get("users", []):
            assert isinstance(x, int), m
    assert isinstance(m["id"], int) and m["id"] > 0
    assert m["kind"] in ("text", "service")
    assert TIMESTAMP.match(m["created_at"])
    assert m["edited_at"] is None or TIMESTAMP.match(m["edited_at"])
    assert isinstance(m["deleted"], bool)
    assert isinstance(m["attachments"], list) and isinstance(m["reactions"], list)
    if m["kind"] == "service":
        assert m["sender_id"] is None
    assert isinstance(m["mentions"], list) and all(isinstance(u, int) for u in m["mentions"])
    assert isinstance(m["pinned"], bool)
    if m["reply_to"] is not None:
        q = m["reply_to"]
        assert set(q) == QUOTE_KEYS, q
        assert len(q["text"]) <= 200 and isinstance(q["attachments_count"], int)
        if q["deleted"]:
            assert q["text"] == "" and q["attachments_count"] == 0
    if m["forwarded_from"] is not None:
        assert set(m["forwarded_from"]) == FORWARD_KEYS, m["forwarded_from"]
        assert TIMESTAMP.match(m["forwarded_from"]["created_at"])
    if m["deleted"]:
        assert m["text"] == "" and m["attachments"] == [] and m["reactions"] == []
        assert m["reply_to"] is None and m["forwarded_from"] is None
        assert m["mentions"] == [] and m["pinned"] is False
    for r in m["reactions"]:
        assert set(r) == {"emoji", "count", "me"} and r["count"] >= 1
    return m


def assert_chat(c):
    assert set(c) == CHAT_KEYS, c
    assert c["type"] in ("direct", "group")
    assert (c["title"] is None) == (c["type"] == "direct")
    assert TIMESTAMP.match(c["created_at"])
    assert isinstance(c["unread_count"], int) and c["unread_count"] >= 0
    assert 0 <= c["unread_mentions"] <= c["unread_count"]
    assert isinstance(c["pinned_message_ids"], list)
    assert c["muted_until"] is None or TIMESTAMP.match(c["muted_until"])
    assert c["notify"] in ("all", "mentions", "none")
    for m in c["members"]:
        assert set(m) == MEMBER_KEYS, m
        assert set(m["user"]) == USER_KEYS, m["user"]
        assert m["role"] in ("owner", "member")
    if c["type"] == "group" and c["members"]:
        assert [m["role"] for m in c["members"]].count("owner") == 1
    if c["last_message"] is not None:
        assert_message(c["last_message"])
    return c


def member_ids(chat):
    return [m["user"]["id"] for m in chat["members"]]


def member(chat, user):
    return next(m for m in chat["members"] if m["user"]["id"] == uid(user))


def direct(api, a, b, expect=201):
    r = api.post("/api/chats", token=a, json={"type": "direct", "user_id": uid(b)})
    assert r.status_code == expect, r.text
    return assert_chat(r.json())


def group(api, owner, members=(), title="Group"):
    r = api.post("/api/chats", token=owner,
                 json={"type": "group", "title": title, "member_ids": [uid(m) for m in members]})
    assert r.status_code == 201, r.text
    return assert_chat(r.json())


def send(api, user, chat_id, text="hello", expect=201, **fields):
    r = api.post(f"/api/chats/{chat_id}/messages", token=user, json={"text": text, **fields})
    assert r.status_code == expect, r.text
    return assert_message(r.json())


def get_chat(api, user, chat_id):
    r = api.get(f"/api/chats/{chat_id}", token=user)
    assert r.status_code == 200, r.text
    return assert_chat(r.json())


def history(api, user, chat_id, **query):
    qs = ("?" + urllib.parse.urlencode(query)) if query else ""
    r = api.get(f"/api/chats/{chat_id}/messages{qs}", token=user)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"messages", "has_more"}
    for m in body["messages"]:
        assert_message(m)
    ids = [m["id"] for m in body["messages"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    return body


def emoji_path(emoji):
    return urllib.parse.quote(emoji, safe="")


def last_event_id(stack):
    return stack.psql("SELECT coalesce(max(id), 0) FROM events")[0][0]


def events(stack, chat_id, since=0):
    """[(kind, data)] of a chat's events after id since, in order."""
    rows = stack.psql("SELECT kind, payload::text FROM events WHERE chat_id = %s AND id > %s ORDER BY id",
                      chat_id, since)
    return [(kind, json.loads(payload)) for kind, payload in rows]


def kinds(evs):
    return [k for k, _ in evs]


def companion_pid(stack):
    """The pid of the messages program's companion (its event loop)."""
    found = re.findall(r"messages\[(\d+)\] info: serving sends", stack.log("messages"))
    assert found, "the messages log names no companion"
    return int(found[-1])


def companion_sessions(stack, pid):
    """The pids of the database sessions of companion pid."""
    return stack.psql("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                      f"messages[{pid}]")
