"""GET /api/search/messages: full-text search over the caller's chats
(the messages program) through nginx."""

import urllib.parse
import uuid

import pytest

from chatkit import assert_message, assert_problem, direct, emoji_path, group, send, uid


def search(api, user, q, expect=200, **params):
    qs = urllib.parse.urlencode({"q": q, **params})
    r = api.get(f"/api/search/messages?{qs}", token=user)
    assert r.status_code == expect, r.text
    if expect != 200:
        return r
    body = r.json()
    assert set(body) == {"messages"}
    for m in body["messages"]:
        assert_message(m)
    ids = [m["id"] for m in body["messages"]]
    assert ids == sorted(ids, reverse=True), "newest first"
    return body["messages"]


def texts(found):
    return [m["text"] for m in found]


@pytest.fixture
def world(api, new_user):
    """alice and bob in a direct chat and a group with carol; a private
    chat of bob and carol; every text tagged with a unique word so that the
    tests see only their own messages."""
    tag = "t" + uuid.uuid4().hex[:10]
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    ab = direct(api, alice, bob)
    g = group(api, alice, [bob, carol], title="Search group")
    bc = direct(api, bob, carol)
    return {"tag": tag, "alice": alice, "bob": bob, "carol": carol, "ab": ab, "g": g, "bc": bc}


def test_cyrillic_words_in_any_case(api, world):
    w, tag = world, world["tag"]
    m = send(api, w["bob"], w["ab"]["id"], f"Привет, МИР! Как дела? {tag}")
    for q in ("привет", "ПРИВЕТ", "Привет", "мир", "дела", "мир привет", f"{tag} мир"):
        assert [x["id"] for x in search(api, w["alice"], f"{q} {tag}")] == [m["id"]], q
    assert search(api, w["alice"], f"пока {tag}") == []


def test_other_scripts_and_accents(api, world):
    w, tag = world, world["tag"]
    m1 = send(api, w["alice"], w["ab"]["id"], f"Grüße aus Köln, CAFÉ au lait {tag}")
    m2 = send(api, w["alice"], w["ab"]["id"], f"Γειά σου κόσμε {tag}")
    m3 = send(api, w["alice"], w["ab"]["id"], f"שלום עולם {tag}")
    assert [x["id"] for x in search(api, w["bob"], f"café {tag}")] == [m1["id"]]
    assert [x["id"] for x in search(api, w["bob"], f"köln grüße {tag}")] == [m1["id"]]
    assert [x["id"] for x in search(api, w["bob"], f"ΚΌΣΜΕ {tag}")] == [m2["id"]]
    assert [x["id"] for x in search(api, w["bob"], f"עולם {tag}")] == [m3["id"]]


def test_emoji(api, world):
    w, tag = world, world["tag"]
    party = send(api, w["bob"], w["g"]["id"], f"Party 🎉 tonight {tag}")
    glued = send(api, w["bob"], w["g"]["id"], f"done🎉{tag}")
    heart = send(api, w["carol"], w["g"]["id"], f"I ❤️ it {tag}")
    thumbs = send(api, w["carol"], w["g"]["id"], f"👍🏽 {tag}")
    assert [x["id"] for x in search(api, w["alice"], f"🎉 {tag}")] == [glued["id"], party["id"]]
    assert [x["id"] for x in search(api, w["alice"], f"tonight 🎉 {tag}")] == [party["id"]]
    assert [x["id"] for x in search(api, w["alice"], "🎉", chat_id=w["g"]["id"])] == [glued["id"], party["id"]]
    assert [x["id"] for x in search(api, w["alice"], f"❤️ {tag}")] == [heart["id"]]
    assert [x["id"] for x in search(api, w["alice"], f"❤ {tag}")] == [heart["id"]]
    assert [x["id"] for x in search(api, w["alice"], f"👍 {tag}")] == [thumbs["id"]]


def test_all_words_must_occur(api, world):
    w, tag = world, world["tag"]
    fox = send(api, w["alice"], w["ab"]["id"], f"the quick brown fox {tag}")
    send(api, w["alice"], w["ab"]["id"], f"a quick dog {tag}")
    assert [x["id"] for x in search(api, w["bob"], f"Quick FOX {tag}")] == [fox["id"]]
    assert len(search(api, w["bob"], f"quick {tag}")) == 2
    # punctuation alone has no word to look for
    assert search(api, w["bob"], "?!.,") == []
    # LIKE and tsquery syntax are just text
    assert search(api, w["bob"], f"% _ ' & | ! :* ( {tag}") != []


def test_only_the_callers_chats(api, world, new_user):
    w, tag = world, world["tag"]
    secret = send(api, w["bob"], w["bc"]["id"], f"secret between bob and carol {tag}")
    assert search(api, w["alice"], f"secret {tag}") == []
    assert [x["id"] for x in search(api, w["carol"], f"secret {tag}")] == [secret["id"]]
    r = search(api, w["alice"], "secret", expect=404, chat_id=w["bc"]["id"])
    assert_problem(r, 404, "chat_not_found")
    assert search(api, new_user("eve"), tag) == []
    # a member who leaves stops finding the group's messages
    g = send(api, w["alice"], w["g"]["id"], f"group news {tag}")
    assert [x["id"] for x in search(api, w["carol"], f"news {tag}")] == [g["id"]]
    assert api.delete(f"/api/chats/{w['g']['id']}/members/{uid(w['carol'])}", token=w["carol"]).status_code == 204
    assert search(api, w["carol"], f"news {tag}") == []


def test_filter_order_limit_and_paging(api, world):
    w, tag = world, world["tag"]
    in_ab = [send(api, w["alice"], w["ab"]["id"], f"note {i} {tag}") for i in range(5)]
    in_g = [send(api, w["bob"], w["g"]["id"], f"note {i} {tag}") for i in range(4)]
    everything = sorted([m["id"] for m in in_ab + in_g], reverse=True)
    assert [x["id"] for x in search(api, w["alice"], f"note {tag}")] == everything
    assert [x["id"] for x in search(api, w["alice"], f"note {tag}", chat_id=w["g"]["id"])] == \
        [m["id"] for m in reversed(in_g)]
    assert [x["id"] for x in search(api, w["alice"], f"note {tag}", limit=3)] == everything[:3]
    assert [x["id"] for x in search(api, w["alice"], f"note {tag}", limit=3, before=everything[2])] == \
        everything[3:6]
    found = search(api, w["alice"], f"note {tag}", limit=1)
    assert found[0]["chat_id"] == w["g"]["id"] and found[0]["sender_id"] == uid(w["bob"])


def test_edits_deletes_and_reactions_show(api, world):
    w, tag = world, world["tag"]
    m = send(api, w["alice"], w["ab"]["id"], f"original wording {tag}")
    assert api.patch(f"/api/messages/{m['id']}", token=w["alice"], json={"text": f"better phrasing {tag}"}).status_code == 200
    assert search(api, w["bob"], f"original {tag}") == []
    [hit] = search(api, w["bob"], f"phrasing {tag}")
    assert hit["edited_at"] is not None
    api.put(f"/api/messages/{m['id']}/reactions/{emoji_path('🔥')}", token=w["bob"])
    assert search(api, w["bob"], f"phrasing {tag}")[0]["reactions"] == [{"emoji": "🔥", "count": 1, "me": True}]
    assert search(api, w["alice"], f"phrasing {tag}")[0]["reactions"] == [{"emoji": "🔥", "count": 1, "me": False}]
    assert api.delete(f"/api/messages/{m['id']}", token=w["alice"]).status_code == 204
    assert search(api, w["bob"], f"phrasing {tag}") == []


def test_found_messages_are_as_history_shows_them(api, world):
    """A search renders its Messages as a history page does (both build
    them with message_text()): a reply, a mention, files and reactions,
    seen by the one who searches."""
    w, tag = world, world["tag"]
    c = w["g"]["id"]
    r = api.post("/api/files", token=w["alice"],
                 files=[("file", ("notes.txt", b"some notes", "text/plain")),
                        ("file", ("more.txt", b"more notes", "text/plain"))])
    assert r.status_code == 201, r.text
    files = [f["id"] for f in r.json()["files"]]
    first = send(api, w["alice"], c, f"minutes attached {tag}", attachment_ids=files)
    me = api.get("/api/users/me", token=w["carol"]).json()["username"]
    reply = send(api, w["bob"], c, f"minutes read, @{me} {tag}", reply_to_id=first["id"])
    for user, emoji in ((w["bob"], "👍"), (w["carol"], "👍"), (w["carol"], "🔥")):
        assert api.put(f"/api/messages/{first['id']}/reactions/{emoji_path(emoji)}",
                       token=user).status_code in (200, 204)
    for viewer in (w["alice"], w["bob"], w["carol"]):
        found = search(api, viewer, f"minutes {tag}")
        assert [m["id"] for m in found] == [reply["id"], first["id"]]
        page = api.get(f"/api/chats/{c}/messages?limit=2", token=viewer).json()["messages"]
        assert found == sorted(page, key=lambda m: m["id"], reverse=True)
    assert found[1]["attachments"] and found[0]["reply_to"]["id"] == first["id"]


@pytest.mark.parametrize("query,field", [
    ("", "q"), ("q=", "q"), ("q=%20%20", "q"), ("q=" + "x" * 257, "q"), ("q=a&limit=0", "limit"),
    ("q=a&limit=101", "limit"), ("q=a&chat_id=abc", "chat_id"), ("q=a&chat_id=0", "chat_id"),
    ("q=a&before=-1", "before"), ("q=%FF", "q"),
])
def test_bad_queries(api, new_user, query, field):
    r = api.get(f"/api/search/messages?{query}", token=new_user("alice"))
    assert field in assert_problem(r, 422)["errors"]


# ---- word forms (API.md "Conversations") ---------------------------------------------------


def test_word_forms_in_english_and_russian(api, world):
    w, tag = world, world["tag"]
    fog = send(api, w["alice"], w["ab"]["id"], f"Мы гуляли в тумане у реки {tag}")
    msgs = send(api, w["alice"], w["ab"]["id"], f"Two new MESSAGES arrived {tag}")
    tree = send(api, w["alice"], w["ab"]["id"], f"Зелёная ёлка {tag}")
    # (snowball's stems: "туман" gives "тума", "тумане" and "туманом" give
    # "туман"; a word matches through any of its forms)
    for q, m in (("туман", fog), ("ТУМАНЕ", fog), ("туманом", fog), ("message", msgs), ("messages", msgs),
                 ("arrive", msgs), ("зеленая елка", tree), ("ЁЛКИ", tree), ("зелёный", tree)):
        assert [x["id"] for x in search(api, w["bob"], f"{q} {tag}")] == [m["id"]], q
    # every word must still occur, in some form
    assert search(api, w["bob"], f"туман messages {tag}") == []
    # stop words are words too (the 'simple' form): "в" finds the fog
    assert [x["id"] for x in search(api, w["bob"], f"в {tag}")] == [fog["id"]]


def test_a_search_is_one_index_scan(stack, api, world):
    """The forms of each word are an OR within one tsquery, which the RUM
    index of message_search answers in one ordered scan, not one scan per
    form (migrations/032_search_index.sql)."""
    q = "туман messages зелёная"
    # The test's table is small enough for a scan of it all otherwise.
    stack.psql("SET enable_seqscan = off")
    try:
        (plan,), = stack.psql("EXPLAIN (FORMAT JSON) SELECT id FROM message_search "
                              "WHERE search @@ message_tsquery(%s) ORDER BY id <=| 4503599627370496 LIMIT 20", q)
    finally:
        stack.psql("RESET enable_seqscan")

    def nodes(n):
        yield n
        for c in n.get("Plans", []):
            yield from nodes(c)

    scans = [n for n in nodes(plan[0]["Plan"]) if "Index" in n["Node Type"]]
    assert [(n["Node Type"], n.get("Index Name")) for n in scans] == [("Index Scan", "message_search_rum")]
    tsq = stack.psql("SELECT message_tsquery(%s)::text", q)[0][0]
    assert "'тума'" in tsq and "'messag'" in tsq and "'зелен'" in tsq and "ё" not in tsq


def index_held(stack):
    """A session that holds message_search against writers (its readers, the
    searches, go on): every drain waits, its queue rows still queued, until
    the session ends."""
    import psycopg2

    stack._need_local()
    conn = psycopg2.connect(host=str(stack.var / "run"), dbname="messenger", user=stack.db_superuser)
    conn.cursor().execute("LOCK TABLE message_search IN EXCLUSIVE MODE")
    return conn


def indexed(stack, ids):
    """{id: queued rows, in the index} of messages ids."""
    return {i: (stack.psql("SELECT count(*) FROM message_search_queue WHERE id = %s", i)[0][0],
                stack.psql("SELECT count(*) FROM message_search WHERE id = %s", i)[0][0] == 1) for i in ids}


def wait_indexed(stack, ids, timeout=15):
    import time

    deadline = time.monotonic() + timeout
    while any(queued for queued, _ in indexed(stack, ids).values()):
        assert time.monotonic() < deadline, f"the companion left {indexed(stack, ids)} queued"
        time.sleep(0.1)


def test_exact_before_and_after_the_index_has_a_message(stack, api, world):
    """Sends, edits and deletes are queued for the index and drained by the
    companion after their commit: a search finds what a message says now,
    whether the index has it, has an older text of it, or not yet."""
    w, tag = world, world["tag"]
    held = index_held(stack)
    try:
        m1 = send(api, w["alice"], w["ab"]["id"], f"first draft {tag}")
        m2 = send(api, w["alice"], w["g"]["id"], f"first draft {tag}")
        assert api.patch(f"/api/messages/{m1['id']}", token=w["alice"],
                         json={"text": f"second draft {tag}"}).status_code == 200
        assert api.delete(f"/api/messages/{m2['id']}", token=w["alice"]).status_code == 204
        # Not in the index yet: found in messages, as they are now.
        assert indexed(stack, [m1["id"], m2["id"]]) == {m1["id"]: (2, False), m2["id"]: (2, False)}
        assert texts(search(api, w["bob"], f"draft {tag}")) == [f"second draft {tag}"]
        assert search(api, w["bob"], f"first {tag}") == []
        assert search(api, w["carol"], f"draft {tag}") == []
    finally:
        held.close()
    wait_indexed(stack, [m1["id"], m2["id"]])
    assert indexed(stack, [m1["id"], m2["id"]]) == {m1["id"]: (0, True), m2["id"]: (0, False)}
    assert texts(search(api, w["bob"], f"draft {tag}")) == [f"second draft {tag}"]
    assert search(api, w["bob"], f"first {tag}") == []

    # The index has an older text while the change is queued: the queued
    # message is read from messages, never the index's stale document.
    held = index_held(stack)
    try:
        assert api.patch(f"/api/messages/{m1['id']}", token=w["alice"],
                         json={"text": f"third take {tag}"}).status_code == 200
        assert indexed(stack, [m1["id"]]) == {m1["id"]: (1, True)}
        assert search(api, w["bob"], f"draft {tag}") == []
        assert texts(search(api, w["bob"], f"take {tag}")) == [f"third take {tag}"]
        assert [x["id"] for x in search(api, w["bob"], f"take {tag}", chat_id=w["ab"]["id"])] == [m1["id"]]
    finally:
        held.close()
    wait_indexed(stack, [m1["id"]])
    assert search(api, w["bob"], f"draft {tag}") == []
    assert texts(search(api, w["bob"], f"take {tag}")) == [f"third take {tag}"]


def test_one_drain_at_a_time(stack, api, world):
    """Drains take turns, whatever the hosts: while the companion's drain
    waits on the held index, holding the turn, another returns 0 at once
    (two at once could both insert one message, the later failing)."""
    import time

    w, tag = world, world["tag"]
    turn = "SELECT pg_try_advisory_xact_lock(1919, hashtext('search_index_drain'))"
    held = index_held(stack)
    try:
        m = send(api, w["alice"], w["ab"]["id"], f"queued {tag}")
        deadline = time.monotonic() + 10
        while stack.psql(turn)[0][0]:
            assert time.monotonic() < deadline, "the companion's drain never took its turn"
            time.sleep(0.05)
        assert stack.psql("SET LOCAL statement_timeout = '5s'; SELECT search_index_drain(100)")[0][0] == 0
        assert indexed(stack, [m["id"]]) == {m["id"]: (1, False)}
        assert texts(search(api, w["bob"], f"queued {tag}")) == [f"queued {tag}"]
    finally:
        held.close()
    wait_indexed(stack, [m["id"]])
    assert indexed(stack, [m["id"]]) == {m["id"]: (0, True)}


def test_common_words_walk_each_chat(stack, api, world):
    """A word the planner expects in more than 20,000 messages is searched by
    walking each chat backwards (search_messages()), not the index: the
    same answers, newest first, paged with before."""
    w, tag = world, world["tag"]
    ab, g = w["ab"]["id"], w["g"]["id"]
    # The word in 40,000 messages of a chat of their own (not queued for
    # the index: this path reads messages), so that the statistics make it
    # common; ours are the newest of the word.
    filler = group(api, w["carol"], title="filler")["id"]
    (first, last), = stack.psql(
        "WITH m AS (INSERT INTO messages (chat_id, sender_id, text) "
        "SELECT %s, %s, 'common' || %s || ' filler ' || g FROM generate_series(1, 40000) g "
        "RETURNING id) SELECT min(id), max(id) FROM m", filler, uid(w["carol"]), tag)
    stack.psql("DELETE FROM message_search_queue WHERE id BETWEEN %s AND %s", first, last)
    stack.psql("ANALYZE messages")
    word = f"common{tag}"
    assert stack.psql("SELECT search_estimate(message_tsquery(%s))", word)[0][0] > 20000
    mine = [send(api, w["alice"], c, f"{word} {i}") for i, c in enumerate([ab, g, ab, g, g])]
    ids = sorted([m["id"] for m in mine], reverse=True)
    assert [x["id"] for x in search(api, w["bob"], word)] == ids
    assert [x["id"] for x in search(api, w["bob"], word, limit=2, before=ids[1])] == ids[2:4]
    assert [x["id"] for x in search(api, w["bob"], word, chat_id=g)] == [m["id"] for m in reversed(mine) if m["chat_id"] == g]
    assert len(search(api, w["carol"], word, limit=30)) == 30
