"""History pages kept by the messages workers (shared/pagecache.h,
fcgi/messages/history.c): whatever changes a page is seen by the very next
read through any worker, a page with reactions is never served to another
viewer with the first one's "me", and a kept page is never served to
someone who may not read the chat.

Each read is repeated in parallel bursts so that every worker of the
messages program has the page kept before the change, and serves a read
after it."""

import concurrent.futures

import pytest

from chatkit import assert_problem, emoji_path, group, history, send, uid

BURST = 12  # reads at once: more than the test stack's workers, several times


def burst(fn):
    with concurrent.futures.ThreadPoolExecutor(BURST) as pool:
        return list(pool.map(lambda _: fn(), range(BURST)))


def pages(api, user, chat_id, **query):
    """Every answer of a burst of reads of one page; all must be equal."""
    got = burst(lambda: history(api, user, chat_id, **query))
    for body in got[1:]:
        assert body == got[0]
    return got[0]


@pytest.fixture
def trio(api, new_user):
    owner, ann, ben = new_user("cacheown"), new_user("cacheann"), new_user("cacheben")
    return owner, ann, ben, group(api, owner, [ann, ben], title="Cache")


def texts(body):
    return [m["text"] for m in body["messages"]]


def test_every_change_is_seen_by_the_next_read(api, trio):
    owner, ann, ben, c = trio
    first = send(api, ann, c["id"], "one")
    assert texts(pages(api, ben, c["id"]))[-1] == "one"
    send(api, owner, c["id"], "two")
    assert texts(pages(api, ben, c["id"]))[-2:] == ["one", "two"]
    r = api.patch(f"/api/messages/{first['id']}", token=ann, json={"text": "one, edited"})
    assert r.status_code == 200, r.text
    body = pages(api, ben, c["id"])
    assert texts(body)[-2:] == ["one, edited", "two"]
    assert body["messages"][-2]["edited_at"] is not None
    r = api.delete(f"/api/messages/{first['id']}", token=ann)
    assert r.status_code == 204, r.text
    gone = pages(api, ben, c["id"])["messages"][-2]
    assert gone["deleted"] is True and gone["text"] == ""


def test_the_same_page_with_other_limits_and_cursors(api, trio):
    owner, ann, ben, c = trio
    sent = [send(api, ann, c["id"], f"m{i}") for i in range(5)]
    assert texts(pages(api, ben, c["id"], limit=2)) == ["m3", "m4"]
    assert texts(pages(api, ben, c["id"], limit=3)) == ["m2", "m3", "m4"]
    assert texts(pages(api, ben, c["id"], before=sent[2]["id"], limit=2)) == ["m0", "m1"]
    assert texts(pages(api, ben, c["id"], after=sent[2]["id"])) == ["m3", "m4"]
    send(api, owner, c["id"], "m5")
    assert texts(pages(api, ben, c["id"], limit=2)) == ["m4", "m5"]
    assert texts(pages(api, ben, c["id"], after=sent[2]["id"])) == ["m3", "m4", "m5"]
    before = pages(api, ben, c["id"], before=sent[2]["id"], limit=2)
    assert texts(before) == ["m0", "m1"] and before["has_more"] is True


def test_reactions_change_the_page_and_me_is_each_viewers(api, trio):
    owner, ann, ben, c = trio
    m = send(api, ann, c["id"], "react to me")
    assert pages(api, ben, c["id"])["messages"][-1]["reactions"] == []
    assert pages(api, owner, c["id"])["messages"][-1]["reactions"] == []
    path = f"/api/messages/{m['id']}/reactions/{emoji_path('👍')}"
    assert api.put(path, token=ben).status_code == 204
    for _ in range(2):  # the second round is served from what the first kept
        assert pages(api, ben, c["id"])["messages"][-1]["reactions"] == [
            {"emoji": "👍", "count": 1, "me": True}]
        assert pages(api, owner, c["id"])["messages"][-1]["reactions"] == [
            {"emoji": "👍", "count": 1, "me": False}]
        assert pages(api, ann, c["id"])["messages"][-1]["reactions"] == [
            {"emoji": "👍", "count": 1, "me": False}]
    assert api.delete(path, token=ben).status_code == 204
    assert pages(api, ben, c["id"])["messages"][-1]["reactions"] == []
    assert pages(api, owner, c["id"])["messages"][-1]["reactions"] == []


def test_attachments_appear_and_go_with_their_message(api, trio):
    owner, ann, ben, c = trio
    pages(api, ben, c["id"])
    r = api.post("/api/files", token=ann, files=[("file", ("kept.txt", b"kept page\n"))])
    assert r.status_code == 201, r.text
    fid = r.json()["files"][0]["id"]
    m = send(api, ann, c["id"], "", attachment_ids=[fid])
    got = pages(api, ben, c["id"])["messages"][-1]
    assert got["id"] == m["id"] and [a["id"] for a in got["attachments"]] == [fid]
    assert api.get(got["attachments"][0]["url"]).content == b"kept page\n"
    assert api.delete(f"/api/messages/{m['id']}", token=ann).status_code == 204
    assert pages(api, ben, c["id"])["messages"][-1]["attachments"] == []


def test_a_kept_page_is_not_served_to_who_may_not_read(api, trio, new_user):
    owner, ann, ben, c = trio
    send(api, ann, c["id"], "members only")
    pages(api, ben, c["id"])
    pages(api, ben, c["id"], limit=1)
    stranger = new_user("cachestranger")
    for query in ("", "?limit=1"):
        for r in burst(lambda: api.get(f"/api/chats/{c['id']}/messages{query}", token=stranger)):
            assert_problem(r, 404, "chat_not_found")
    r = api.delete(f"/api/chats/{c['id']}/members/{uid(ben)}", token=owner)
    assert r.status_code == 204, r.text
    for r in burst(lambda: api.get(f"/api/chats/{c['id']}/messages", token=ben)):
        assert_problem(r, 404, "chat_not_found")
    # and back in: the page is the current one, with the service messages
    r = api.post(f"/api/chats/{c['id']}/members", token=owner, json={"user_id": uid(ben)})
    assert r.status_code in (200, 201), r.text
    assert pages(api, ben, c["id"]) == history(api, ann, c["id"])


def test_pages_stay_correct_while_sends_go_on(api, trio):
    """Reads racing with sends: every page read is a prefix-closed run of
    what was sent, and a read after a send's answer contains it."""
    owner, ann, ben, c = trio
    sent = []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for i in range(20):
            reads = [pool.submit(history, api, ben, c["id"], limit=100) for _ in range(3)]
            sent.append(send(api, ann, c["id"], f"race {i}")["id"])
            after = history(api, ben, c["id"], limit=100)
            ids = [m["id"] for m in after["messages"]]
            assert ids[-len(sent):] == sent
            for f in reads:
                got = [m["id"] for m in f.result()["messages"] if m["id"] >= sent[0]]
                assert got in (sent[:-1], sent)
