"""Messages: sending, history, editing, deleting, reactions, read markers and
the send rate limit (API.md "Chats and messages", the messages program)
through nginx, with the events they write checked in the database."""

import concurrent.futures
import json
import threading
import time

import pytest

from chatkit import (assert_message, assert_problem, direct, emoji_path, events, get_chat, group,
                     history, kinds, last_event_id, member, send, uid)


@pytest.fixture
def pair(api, new_user):
    """alice and bob with their direct chat."""
    alice, bob = new_user("alice", display_name="Alice"), new_user("bob", display_name="Bob")
    return alice, bob, direct(api, alice, bob)


MESSAGE_ENDPOINTS = [
    ("GET", "/api/chats/1/messages"),
    ("POST", "/api/chats/1/messages"),
    ("POST", "/api/chats/1/read"),
    ("PATCH", "/api/messages/1"),
    ("DELETE", "/api/messages/1"),
    ("PUT", "/api/messages/1/reactions/x"),
    ("DELETE", "/api/messages/1/reactions/x"),
    ("GET", "/api/search/messages?q=x"),
]


@pytest.mark.parametrize("method,path", MESSAGE_ENDPOINTS)
def test_endpoints_need_a_token(api, method, path):
    r = api.request(method, path, json={})
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


# ---- sending ------------------------------------------------------------------------------


def test_send_message(api, stack, pair):
    alice, bob, c = pair
    since = last_event_id(stack)
    r = api.post(f"/api/chats/{c['id']}/messages", token=alice, json={"text": "Hello, Bob!\nHow are you?"})
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"] == "application/json"
    m = assert_message(r.json())
    assert m["chat_id"] == c["id"] and m["sender_id"] == uid(alice)
    assert m["kind"] == "text" and m["text"] == "Hello, Bob!\nHow are you?"
    assert m["edited_at"] is None and m["deleted"] is False and m["client_id"] is None
    assert m["attachments"] == [] and m["reactions"] == []
    assert events(stack, c["id"], since) == [("message.created", {"message": m})]
    assert history(api, bob, c["id"])["messages"] == [m]
    b = get_chat(api, bob, c["id"])
    assert b["last_message"] == m and b["unread_count"] == 1


def test_text_is_kept_as_sent(api, pair):
    alice, _, c = pair
    assert send(api, alice, c["id"], "  spaced\t\r\n ")["text"] == "  spaced\t\r\n "
    assert send(api, alice, c["id"], "🎉" * 4000)["text"] == "🎉" * 4000
    assert send(api, alice, c["id"], "Ж" * 4000)["text"] == "Ж" * 4000


@pytest.mark.parametrize("body,field", [
    ({}, "text"),
    ({"text": ""}, "text"),
    ({"text": " \n\t\u00a0\u3000"}, "text"),
    ({"text": None}, "text"),
    ({"text": "x" * 4001}, "text"),
    ({"text": "🎉" * 4001}, "text"),
    ({"text": 42}, "text"),
    ({"text": ["a"]}, "text"),
    ({"text": "bell\u0007"}, "text"),
    ({"text": "nul\u0000"}, "text"),
    ({"text": "c1\u0085"}, "text"),
    ({"text": "ok", "client_id": ""}, "client_id"),
    ({"text": "ok", "client_id": "x" * 65}, "client_id"),
    ({"text": "ok", "client_id": 7}, "client_id"),
    ({"text": "ok", "attachment_ids": "1"}, "attachment_ids"),
    ({"text": "ok", "attachment_ids": [999999999]}, None),
    ({"text": "ok", "attachment_ids": list(range(1, 12))}, "attachment_ids"),
])
def test_send_validation(api, stack, pair, body, field):
    alice, _, c = pair
    since = last_event_id(stack)
    r = api.post(f"/api/chats/{c['id']}/messages", token=alice, json=body)
    problem = assert_problem(r, 422)
    if field:
        assert field in problem["errors"], problem
    assert events(stack, c["id"], since) == []


def test_send_bad_bodies(api, pair):
    alice, _, c = pair
    path = f"/api/chats/{c['id']}/messages"
    json_ct = {"Content-Type": "application/json"}
    r = api.post(path, token=alice, data=b'{"text": "\xff\xfe"}', headers=json_ct)
    assert r.status_code in (400, 422), r.text
    assert_problem(r, r.status_code)
    assert_problem(api.post(path, token=alice, data=b'{"text": "a"', headers=json_ct), 400)
    assert_problem(api.post(path, token=alice, data=b"[1]", headers=json_ct), 400)
    # Half a surrogate pair is no character: refused, not stored as U+FFFD.
    for raw in (b'{"text": "a\\ud800"}', b'{"text": "\\udc00b"}', b'{"text": "\\ud83d\\u0041"}'):
        assert_problem(api.post(path, token=alice, data=raw, headers=json_ct), 400, "malformed_json")
    pair_ = api.post(path, token=alice, data=b'{"text": "\\ud83d\\ude00"}', headers=json_ct)
    assert pair_.status_code == 201 and pair_.json()["text"] == "\U0001F600"
    # Pairs json-c 0.16 alone made U+FFFD of (SignWriting, CJK Extension F),
    # escaped as json.dumps writes them.
    rare = "\U0001DAAF \U0002D800 \U0002DFFF"
    sent = api.post(path, token=alice, data=json.dumps({"text": rare}).encode(), headers=json_ct)
    assert sent.status_code == 201 and sent.json()["text"] == rare, sent.text
    assert_problem(api.post(path, token=alice, data=b"text=hi", headers={"Content-Type": "text/plain"}), 415)
    big = ('{"text": "' + "x" * 70000 + '"}').encode()
    assert_problem(api.post(path, token=alice, data=big, headers=json_ct), 413)
    assert_problem(api.post("/api/chats/999999999/messages", token=alice, json={"text": "x"}), 404, "chat_not_found")


def test_client_id_makes_sending_idempotent(api, stack, pair, new_user):
    alice, bob, c = pair
    first = send(api, alice, c["id"], "once", client_id="abc-1")
    assert first["client_id"] == "abc-1"
    again = send(api, alice, c["id"], "once, retried", expect=200, client_id="abc-1")
    assert again == first
    # another sender, or another chat, is another message
    assert send(api, bob, c["id"], "bob's", client_id="abc-1")["id"] != first["id"]
    g = group(api, alice, [bob])
    assert send(api, alice, g["id"], "elsewhere", client_id="abc-1")["id"] != first["id"]
    assert stack.psql("SELECT count(*) FROM messages WHERE chat_id = %s AND client_id = 'abc-1'",
                      c["id"])[0][0] == 2


def test_concurrent_sends_with_one_client_id_make_one_message(api, stack, pair):
    alice, _, c = pair
    since = last_event_id(stack)
    n = 12
    barrier = threading.Barrier(n)

    def post(_):
        barrier.wait()
        r = api.post(f"/api/chats/{c['id']}/messages", token=alice, json={"text": "race", "client_id": "same"})
        return r.status_code, r.json()["id"]

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        results = list(pool.map(post, range(n)))
    assert sorted(s for s, _ in results) == [200] * (n - 1) + [201]
    assert len({i for _, i in results}) == 1
    assert stack.psql("SELECT count(*) FROM messages WHERE chat_id = %s AND client_id = 'same'", c["id"])[0][0] == 1
    assert kinds(events(stack, c["id"], since)) == ["message.created"]


def test_send_rate_limit(api, stack, pair):
    alice, bob, c = pair
    with stack.restarted("messages", MSGR_SEND_RATE=1, MSGR_SEND_BURST=3):
        codes = []
        for i in range(4):
            r = api.post(f"/api/chats/{c['id']}/messages", token=alice, json={"text": f"m{i}"})
            codes.append(r.status_code)
        assert codes == [201, 201, 201, 429]
        retry = int(r.headers["Retry-After"])
        assert 1 <= retry <= 2
        assert_problem(r, 429, "rate_limited")
        # a repeat of a sent client_id is no new message and is not limited
        r = api.post(f"/api/chats/{c['id']}/messages", token=alice, json={"text": "x", "client_id": "k"})
        assert r.status_code == 429
        # others are not affected
        send(api, bob, c["id"], "bob is fine")
        time.sleep(retry)
        first = send(api, alice, c["id"], "after the wait", client_id="k")
        assert send(api, alice, c["id"], "again", client_id="k", expect=200) == first
    assert stack.psql("SELECT count(*) FROM messages WHERE chat_id = %s AND sender_id = %s",
                      c["id"], uid(alice))[0][0] == 4


def test_edits_and_reactions_take_from_the_send_bucket(api, stack, pair):
    """Issue 18: 100 edits in 0.2 s were all accepted and broadcast. Each
    edit and each reaction (added or taken back) costs a send token."""
    alice, bob, c = pair
    m = send(api, alice, c["id"], "edit me")
    since = last_event_id(stack)

    def burst(request):
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            return list(pool.map(request, range(100)))

    edits = burst(lambda i: api.patch(f"/api/messages/{m['id']}", token=alice, json={"text": f"v{i}"}))
    codes = [r.status_code for r in edits]
    assert set(codes) == {200, 429} and codes.count(200) < 100
    refused = next(r for r in edits if r.status_code == 429)
    assert_problem(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1
    # a refused edit is not broadcast
    assert kinds(events(stack, c["id"], since)).count("message.updated") == codes.count(200)

    path = f"/api/messages/{m['id']}/reactions/{emoji_path('👍')}"
    reactions = burst(lambda i: (api.put if i % 2 == 0 else api.delete)(path, token=bob))
    codes = [r.status_code for r in reactions]
    assert set(codes) == {204, 429} and codes.count(204) < 100
    assert_problem(next(r for r in reactions if r.status_code == 429), 429, "rate_limited")
    # the bucket is the sender's one of sends (send_buckets, one row a user)
    assert stack.psql("SELECT count(*) FROM send_buckets WHERE user_id IN (%s, %s)",
                      uid(alice), uid(bob))[0][0] == 2


# ---- history ----------------------------------------------------------------------------


def seed_messages(stack, chat_id, sender_id, n):
    """n messages through message_send() (no rate limit), texts "m1".."mN"."""
    stack.psql(
        "SELECT count(message_send(%s, %s, 'm' || g, false, NULL, '{}', 10, 0, 0)) "
        "FROM generate_series(1, %s) g", sender_id, chat_id, n)
    return [r[0] for r in stack.psql(
        "SELECT id FROM messages WHERE chat_id = %s AND kind = 'text' ORDER BY id", chat_id)]


def test_history_pages_across_a_thousand_messages(api, stack, pair):
    alice, bob, c = pair
    ids = seed_messages(stack, c["id"], uid(bob), 1000)
    assert len(ids) == 1000
    # the newest page by default: 50
    page = history(api, alice, c["id"])
    assert [m["id"] for m in page["messages"]] == ids[-50:] and page["has_more"] is True
    assert page["messages"][-1]["text"] == "m1000"
    # backwards to the start
    seen, before = [], None
    while True:
        q = {"limit": 100} | ({"before": before} if before else {})
        page = history(api, alice, c["id"], **q)
        got = [m["id"] for m in page["messages"]]
        seen = got + seen
        if not page["has_more"]:
            break
        assert len(got) == 100
        before = got[0]
    assert seen == ids
    # forwards from the start
    seen, after = [], 0
    for _ in range(20):
        page = history(api, alice, c["id"], after=after, limit=77)
        got = [m["id"] for m in page["messages"]]
        seen += got
        if not page["has_more"]:
            break
        after = got[-1]
    assert seen == ids
    # edges
    assert history(api, alice, c["id"], before=ids[0])["messages"] == []
    assert history(api, alice, c["id"], before=ids[0])["has_more"] is False
    assert history(api, alice, c["id"], after=ids[-1]) == {"messages": [], "has_more": False}
    page = history(api, alice, c["id"], after=ids[-3], limit=2)
    assert [m["id"] for m in page["messages"]] == ids[-2:] and page["has_more"] is False
    page = history(api, alice, c["id"], before=ids[3], limit=3)
    assert [m["id"] for m in page["messages"]] == ids[:3] and page["has_more"] is False
    page = history(api, alice, c["id"], limit=1)
    assert [m["id"] for m in page["messages"]] == ids[-1:] and page["has_more"] is True
    assert get_chat(api, alice, c["id"])["unread_count"] == 1000


@pytest.mark.parametrize("query,field", [
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"), ("limit=-1", "limit"),
    ("before=0", "before"), ("before=abc", "before"), ("after=-5", "after"), ("after=x", "after"),
    ("before=5&after=3", "after"),
])
def test_history_bad_query(api, pair, query, field):
    alice, _, c = pair
    r = api.get(f"/api/chats/{c['id']}/messages?{query}", token=alice)
    assert field in assert_problem(r, 422)["errors"]


def test_history_shows_service_and_deleted_messages(api, pair, new_user):
    alice, bob, _ = pair
    g = group(api, alice, [bob], title="G")
    m = send(api, bob, g["id"], "to be removed")
    assert api.delete(f"/api/messages/{m['id']}", token=bob).status_code == 204
    msgs = history(api, alice, g["id"])["messages"]
    assert [x["kind"] for x in msgs] == ["service", "text"]
    d = msgs[1]
    assert d["id"] == m["id"] and d["deleted"] is True and d["text"] == ""
    assert d["created_at"] == m["created_at"]


# ---- editing -----------------------------------------------------------------------------


def test_edit_message(api, stack, pair, new_user):
    alice, bob, c = pair
    m = send(api, alice, c["id"], "typo hre")
    since = last_event_id(stack)
    r = api.patch(f"/api/messages/{m['id']}", token=alice, json={"text": "typo here"})
    assert r.status_code == 200, r.text
    e = assert_message(r.json())
    assert e["text"] == "typo here" and e["edited_at"] is not None
    assert e["created_at"] == m["created_at"] and e["id"] == m["id"]
    assert events(stack, c["id"], since) == [("message.updated", {"message": e})]
    assert history(api, bob, c["id"])["messages"][-1] == e
    assert_problem(api.patch(f"/api/messages/{m['id']}", token=bob, json={"text": "mine"}), 403, "not_sender")
    assert_problem(api.patch(f"/api/messages/{m['id']}", token=new_user("eve"), json={"text": "x"}), 404,
                   "message_not_found")
    assert_problem(api.patch("/api/messages/999999999", token=alice, json={"text": "x"}), 404, "message_not_found")
    for body in ({}, {"text": ""}, {"text": "  "}, {"text": "x" * 4001}, {"text": 1}, {"text": None}):
        assert "text" in assert_problem(api.patch(f"/api/messages/{m['id']}", token=alice, json=body), 422)["errors"]
    assert api.delete(f"/api/messages/{m['id']}", token=alice).status_code == 204
    assert_problem(api.patch(f"/api/messages/{m['id']}", token=alice, json={"text": "back"}), 409, "message_deleted")


def test_service_messages_cannot_be_edited(api, new_user):
    alice, bob = new_user("alice"), new_user("bob")
    g = group(api, alice, [bob])
    sm = g["last_message"]
    assert_problem(api.patch(f"/api/messages/{sm['id']}", token=alice, json={"text": "x"}), 403)


# ---- deleting ----------------------------------------------------------------------------


def test_delete_message(api, stack, pair):
    alice, bob, c = pair
    m = send(api, alice, c["id"], "oops")
    api.put(f"/api/messages/{m['id']}/reactions/{emoji_path('😮')}", token=bob)
    assert_problem(api.delete(f"/api/messages/{m['id']}", token=bob), 403, "not_allowed")
    since = last_event_id(stack)
    r = api.delete(f"/api/messages/{m['id']}", token=alice)
    assert r.status_code == 204 and r.content == b""
    assert events(stack, c["id"], since) == [("message.deleted", {"message_id": m["id"]})]
    d = history(api, bob, c["id"])["messages"][-1]
    assert d == {**m, "text": "", "deleted": True, "reactions": [], "attachments": []}
    assert stack.psql("SELECT text FROM messages WHERE id = %s", m["id"])[0][0] == ""
    # again: nothing more happens
    assert api.delete(f"/api/messages/{m['id']}", token=alice).status_code == 204
    assert events(stack, c["id"], since) == [("message.deleted", {"message_id": m["id"]})]
    assert get_chat(api, bob, c["id"])["last_message"]["deleted"] is True


def test_group_owner_may_delete_any_message(api, new_user):
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    g = group(api, alice, [bob, carol])
    m = send(api, bob, g["id"], "spam")
    assert_problem(api.delete(f"/api/messages/{m['id']}", token=carol), 403)
    assert api.delete(f"/api/messages/{m['id']}", token=alice).status_code == 204
    assert api.delete(f"/api/messages/{g['last_message']['id']}", token=alice).status_code == 204
    mine = send(api, alice, g["id"], "mine")
    assert_problem(api.delete(f"/api/messages/{mine['id']}", token=bob), 403)


# ---- reactions ----------------------------------------------------------------------------


def test_reactions(api, stack, pair, new_user):
    alice, bob, c = pair
    m = send(api, alice, c["id"], "react to me")
    base = f"/api/messages/{m['id']}/reactions/"
    since = last_event_id(stack)
    for _ in range(2):  # idempotent
        r = api.put(base + emoji_path("👍"), token=bob)
        assert r.status_code == 204 and r.content == b""
    assert api.put(base + emoji_path("👍"), token=alice).status_code == 204
    assert api.put(base + emoji_path("❤️"), token=alice).status_code == 204
    assert api.put(base + emoji_path("👍🏽"), token=bob).status_code == 204
    assert api.put(base + "%2B1", token=bob).status_code == 204  # "+1"

    def reactions(user):
        return history(api, user, c["id"])["messages"][-1]["reactions"]

    assert reactions(alice) == [{"emoji": "👍", "count": 2, "me": True}, {"emoji": "❤️", "count": 1, "me": True},
                                {"emoji": "👍🏽", "count": 1, "me": False}, {"emoji": "+1", "count": 1, "me": False}]
    assert [r["me"] for r in reactions(bob)] == [True, False, True, True]
    evs = events(stack, c["id"], since)
    assert kinds(evs) == ["reaction.updated"] * 5
    assert evs[0][1] == {"message_id": m["id"], "reactions": [{"emoji": "👍", "count": 1, "me": False}],
                         "user_id": uid(bob), "emoji": "👍", "added": True}
    since = last_event_id(stack)
    assert api.delete(base + emoji_path("👍"), token=bob).status_code == 204
    assert api.delete(base + emoji_path("👍"), token=bob).status_code == 204  # already gone
    assert api.delete(base + emoji_path("🙃"), token=bob).status_code == 204  # never there
    evs = events(stack, c["id"], since)
    assert len(evs) == 1 and evs[0][1]["added"] is False
    assert reactions(alice)[0] == {"emoji": "👍", "count": 1, "me": True}
    assert get_chat(api, alice, c["id"])["last_message"]["reactions"][0]["me"] is True


@pytest.mark.parametrize("raw", [
    "%20", "a%20b", "%F0%9F%91%8D%20", "%E3%80%80", "%C2%A0", "%07", "%0A", "%7F", "%C2%85",
    "%FF", "%C0%AF", "%ED%A0%80", "x" * 33, "%F0%9F%8E%89" * 9,
])
def test_reaction_emoji_validation(api, pair, raw):
    alice, _, c = pair
    m = send(api, alice, c["id"], "x")
    r = api.put(f"/api/messages/{m['id']}/reactions/{raw}", token=alice)
    assert "emoji" in assert_problem(r, 422)["errors"]


def test_reaction_limits_and_deleted_messages(api, pair):
    alice, bob, c = pair
    m = send(api, alice, c["id"], "x")
    assert api.put(f"/api/messages/{m['id']}/reactions/{'x' * 32}", token=alice).status_code == 204
    assert api.put(f"/api/messages/{m['id']}/reactions/{'%F0%9F%8E%89' * 8}", token=alice).status_code == 204
    assert api.delete(f"/api/messages/{m['id']}", token=alice).status_code == 204
    assert_problem(api.put(f"/api/messages/{m['id']}/reactions/{emoji_path('👍')}", token=bob), 409,
                   "message_deleted")
    assert api.delete(f"/api/messages/{m['id']}/reactions/{'x' * 32}", token=alice).status_code == 204
    assert_problem(api.put("/api/messages/999999999/reactions/x", token=bob), 404, "message_not_found")


# ---- read markers -------------------------------------------------------------------------


def test_read_marker(api, stack, pair, new_user):
    alice, bob, c = pair
    m1, m2 = send(api, bob, c["id"], "1"), send(api, bob, c["id"], "2")
    since = last_event_id(stack)
    assert api.post(f"/api/chats/{c['id']}/read", token=alice, json={"message_id": m2["id"]}).status_code == 204
    assert api.post(f"/api/chats/{c['id']}/read", token=alice, json={"message_id": m1["id"]}).status_code == 204
    assert api.post(f"/api/chats/{c['id']}/read", token=alice, json={"message_id": m2["id"]}).status_code == 204
    assert events(stack, c["id"], since) == [("read", {"user_id": uid(alice), "message_id": m2["id"]})]
    assert member(get_chat(api, bob, c["id"]), alice)["last_read_message_id"] == m2["id"]
    other = group(api, alice, [bob])
    path = f"/api/chats/{c['id']}/read"
    assert_problem(api.post(path, token=alice, json={"message_id": other["last_message"]["id"]}), 404,
                   "message_not_found")
    assert_problem(api.post(path, token=alice, json={"message_id": 999999999}), 404, "message_not_found")
    assert "message_id" in assert_problem(api.post(path, token=alice, json={}), 422)["errors"]
    assert "message_id" in assert_problem(api.post(path, token=alice, json={"message_id": "1"}), 422)["errors"]
    assert_problem(api.post(path, token=new_user("eve"), json={"message_id": m1["id"]}), 404, "chat_not_found")


def test_mark_delivered_for_wsd(api, stack, pair):
    alice, bob, c = pair
    m1, m2 = send(api, bob, c["id"], "1"), send(api, bob, c["id"], "2")
    since = last_event_id(stack)
    ev = stack.psql("SELECT mark_delivered(%s, %s, %s)", uid(alice), c["id"], m2["id"])[0][0]
    assert ev is not None
    assert stack.psql("SELECT mark_delivered(%s, %s, %s)", uid(alice), c["id"], m1["id"])[0][0] is None
    assert stack.psql("SELECT mark_delivered(%s, %s, %s)", uid(alice), c["id"], 999999999)[0][0] is None
    assert events(stack, c["id"], since) == [("delivered", {"user_id": uid(alice), "message_id": m2["id"]})]
    a = member(get_chat(api, bob, c["id"]), alice)
    assert a["last_delivered_message_id"] == m2["id"] and a["last_read_message_id"] is None


# ---- attachments ---------------------------------------------------------------------------


def test_send_with_uploaded_attachments(api, stack, pair, new_user):
    alice, bob, c = pair
    r = api.post("/api/files", token=alice, files=[("file", ("a.txt", b"first file\n")),
                                                    ("file", ("b.txt", b"second file\n"))])
    assert r.status_code == 201, r.text
    files = r.json()["files"]
    ids = [f["id"] for f in reversed(files)]
    m = send(api, alice, c["id"], "", attachment_ids=ids + ids[:1])
    assert [a["id"] for a in m["attachments"]] == ids  # in the order given
    assert m["attachments"][0]["name"] == "b.txt"
    # each upload once, and only the uploader's
    r = api.post(f"/api/chats/{c['id']}/messages", token=alice, json={"text": "x", "attachment_ids": ids[:1]})
    assert_problem(r, 422)
    mine = api.post("/api/files", token=bob, files=[("file", ("c.txt", b"bob's\n"))]).json()["files"][0]
    r = api.post(f"/api/chats/{c['id']}/messages", token=alice, json={"text": "x", "attachment_ids": [mine["id"]]})
    assert_problem(r, 422)
    got = api.get(m["attachments"][0]["url"])
    assert got.status_code == 200 and got.content == b"second file\n"
    # editing to empty text keeps a message with files
    r = api.patch(f"/api/messages/{m['id']}", token=alice, json={"text": ""})
    assert r.status_code == 200, r.text


def test_send_multipart_with_files(api, stack, pair):
    alice, bob, c = pair
    path = f"/api/chats/{c['id']}/messages"
    r = api.post(path, token=alice, data={"text": "look 📎", "client_id": "mp-1"},
                 files=[("file", ("notes.txt", b"some notes\n", "application/octet-stream"))])
    assert r.status_code == 201, r.text
    m = assert_message(r.json())
    assert m["text"] == "look 📎" and m["client_id"] == "mp-1"
    assert len(m["attachments"]) == 1
    f = m["attachments"][0]
    assert f["name"] == "notes.txt" and f["mime"] == "text/plain" and f["size"] == 11
    assert api.get(f["url"]).content == b"some notes\n"
    # a repeated client_id stores nothing more
    before = stack.psql("SELECT count(*) FROM files")[0][0]
    r = api.post(path, token=alice, data={"text": "look 📎", "client_id": "mp-1"},
                 files=[("file", ("notes.txt", b"some notes\n"))])
    assert r.status_code == 200 and r.json() == m
    assert stack.psql("SELECT count(*) FROM files")[0][0] == before
    # text only, and nothing at all
    r = api.post(path, token=alice, files={"text": (None, "just text")})
    assert r.status_code == 201 and r.json()["text"] == "just text"
    r = api.post(path, token=alice, files={"client_id": (None, "nothing")})
    assert "text" in assert_problem(r, 422)["errors"]
    r = api.post(path, token=alice, files={"text": (None, "x" * 4001)})
    assert_problem(r, 422)
    # deleting the message removes its files
    assert api.delete(f"/api/messages/{m['id']}", token=alice).status_code == 204
    assert api.get(f["url"]).status_code == 404
    assert stack.psql("SELECT count(*) FROM files WHERE id = %s AND deleted_at IS NULL", f["id"])[0][0] == 0


def test_multipart_send_by_a_stranger_stores_nothing(api, stack, pair, new_user):
    alice, bob, c = pair
    eve = new_user("eve")
    before = stack.psql("SELECT count(*) FROM files")[0][0]
    r = api.post(f"/api/chats/{c['id']}/messages", token=eve, data={"text": "hi"},
                 files=[("file", ("x.txt", b"x\n"))])
    assert_problem(r, 404, "chat_not_found")
    assert stack.psql("SELECT count(*) FROM files")[0][0] == before
