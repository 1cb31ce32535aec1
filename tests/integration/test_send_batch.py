"""Sends served by the messages program's event loop and written in batches
(fcgi/messages/send_loop.c, message_send_batch() of
schema/functions/messages.sql), through nginx; the others written alone, on a
database link of their own.

A batch is made deterministic by holding a chat's row lock from the test:
the batcher's first batch waits on it, the sends that come meanwhile pile up
and are written together in the next one (one transaction: their events
share an xid). Each send must still be answered exactly as alone."""

import concurrent.futures
import os
import re
import signal
import time

import pytest

from chatkit import assert_message, assert_problem, direct, group, history, send, uid
from helpers import wait_until


def post(api, user, chat_id, text, **fields):
    return api.post(f"/api/chats/{chat_id}/messages", token=user, json={"text": text, **fields})


class HeldChat:
    """Holds a chat's row lock (as chat_lock() takes it) until released."""

    def __init__(self, stack, chat_id):
        self.conn = stack.hold_lock("SELECT 1 FROM chats WHERE id = %s FOR NO KEY UPDATE",
                                    chat_id)

    def release(self):
        self.conn.rollback()
        self.conn.close()


def event_xids(stack, message_ids):
    rows = stack.psql("SELECT DISTINCT xid::text FROM events WHERE kind = 'message.created' "
                      "AND (payload->'message'->>'id')::bigint = ANY(%s)", list(message_ids))
    return {r[0] for r in rows}


def run_behind_held_chat(stack, api, held_chat_id, first, others):
    """Sends first (a (user, chat, text, fields) tuple) into the held chat,
    waits until the batcher waits on the lock, sends the others meanwhile,
    releases the lock; returns the responses, first's and then the others'."""
    held = HeldChat(stack, held_chat_id)
    try:
        with concurrent.futures.ThreadPoolExecutor(len(others) + 1) as pool:
            u, c, text, fields = first
            head = pool.submit(post, api, u, c, text, **fields)
            wait_until(lambda: stack.lock_waiters() >= 1, message="the batch to wait on the chat")
            rest = [pool.submit(post, api, u, c, text, **fields) for u, c, text, fields in others]
            # They reach the batcher in milliseconds; it cannot take them
            # before the held batch is written.
            time.sleep(1.5)
            held.release()
            held = None
            return head.result(), [f.result() for f in rest]
    finally:
        if held:
            held.release()


def test_waiting_sends_are_written_together_and_answered_each(api, stack, new_user):
    a, b, c, stranger = (new_user(n) for n in ("ba", "bb", "bc", "bs"))
    held_chat = direct(api, a, b)
    ab, ac = group(api, a, [b, c], title="batch"), direct(api, a, c)
    before = send(api, c, ac["id"], "sent before", client_id="c-0")
    quoted = 'quotes " and \\ backslashes {,} NULL'
    others = [
        (b, ab["id"], "from b", {"client_id": "b-1"}),
        (c, ab["id"], "from c", {}),
        (c, ac["id"], quoted, {}),
        (a, ac["id"], "from a", {"client_id": "a-1"}),
        (a, ac["id"], "from a", {"client_id": "a-1"}),
        (stranger, ab["id"], "not a member", {}),
        (b, ac["id"], "b is not in this chat", {}),
        (c, ac["id"], "sent before, again", {"client_id": "c-0"}),
    ]
    first, rest = run_behind_held_chat(stack, api, held_chat["id"],
                                       (a, held_chat["id"], "first", {}), others)
    assert first.status_code == 201, first.text
    for (_, chat_id, text, _), r in zip(others[:3], rest[:3]):
        assert r.status_code == 201, r.text
        m = assert_message(r.json())
        assert (m["chat_id"], m["text"]) == (chat_id, text)
    # the same client_id twice in one batch: one message, answered to both
    twice = sorted(rest[3:5], key=lambda r: r.status_code)
    assert [r.status_code for r in twice] == [200, 201], [r.text for r in twice]
    assert twice[0].json() == twice[1].json()
    assert_problem(rest[5], 404, "chat_not_found")
    assert_problem(rest[6], 404, "chat_not_found")
    # a client_id used before: the message stored then, as alone
    assert rest[7].status_code == 200, rest[7].text
    assert rest[7].json() == before

    written = [r.json() for r in rest[:3]] + [twice[1].json()]
    # one transaction for all of them, and not the held one's
    assert len(event_xids(stack, [m["id"] for m in written])) == 1
    assert event_xids(stack, [first.json()["id"]]).isdisjoint(event_xids(stack, [m["id"] for m in written]))
    # what each was answered is what is stored, and nothing more
    for chat in (ab, ac):
        stored = {m["id"]: m for m in history(api, a, chat["id"])["messages"] if m["kind"] == "text"}
        stored.pop(before["id"], None)
        for m in written:
            if m["chat_id"] == chat["id"]:
                assert stored.pop(m["id"]) == m
        assert stored == {}, "a message was written that nobody was answered for"
    assert stack.psql("SELECT count(*) FROM events WHERE kind = 'message.created' "
                      "AND (payload->'message'->>'id')::bigint = ANY(%s)",
                      [m["id"] for m in written])[0][0] == len(written)
    assert stack.psql("SELECT last_message_id FROM chats WHERE id = %s", ac["id"])[0][0] == max(
        m["id"] for m in written if m["chat_id"] == ac["id"])


def test_other_requests_are_answered_while_a_batch_waits(api, stack, new_user):
    """The companion is one process: while a batch waits on a lock, it goes
    on answering what needs no batch."""
    a, b = new_user("wa"), new_user("wb")
    held_chat, other = direct(api, a, b), group(api, a, [b], title="other")
    held = HeldChat(stack, held_chat["id"])
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(post, api, a, held_chat["id"], "waits for the lock")
            wait_until(lambda: stack.lock_waiters() >= 1, message="the batch to wait on the chat")
            assert_problem(post(api, a, other["id"], "   "), 422, "validation_failed")
            assert_problem(api.post(f"/api/chats/{other['id']}/messages", json={"text": "x"}),
                           401, "unauthenticated")
            r = api.post(f"/api/chats/{other['id']}/messages", token=a, data=b"{not json",
                         headers={"Content-Type": "application/json"})
            assert_problem(r, 400)
            assert not waiting.done()
            held.release()
            held = None
            assert waiting.result().status_code == 201
    finally:
        if held:
            held.release()


def test_a_send_alone_that_waits_holds_up_nothing_else(api, stack, new_user):
    """A send the batch cannot write (blank text: refused in SQL, after the
    chat's lock) is written alone, on a link of its own: while it waits on
    the lock, the loop still answers reads and batched sends."""
    a, b = new_user("aa"), new_user("ab")
    held_chat, other = direct(api, a, b), group(api, a, [b], title="meanwhile")
    send(api, a, other["id"], "before")
    page = history(api, b, other["id"])
    held = HeldChat(stack, held_chat["id"])
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            alone = pool.submit(post, api, a, held_chat["id"], "   ")
            wait_until(lambda: stack.lock_waiters() >= 1, message="the send alone to wait on the chat")
            # Answered at once, not when the lock goes (or the send alone's
            # statement_timeout, 5 s, ends it): a loop blocked on the send
            # alone would answer neither.
            r = api.get(f"/api/chats/{other['id']}/messages", token=b, timeout=2)
            assert r.status_code == 200 and r.json() == page, r.text
            r = api.post(f"/api/chats/{other['id']}/messages", token=a,
                         json={"text": "batched meanwhile"}, timeout=2)
            assert r.status_code == 201, r.text
            m = assert_message(r.json())
            assert history(api, b, other["id"])["messages"][-1] == m
            assert not alone.done()
            held.release()
            held = None
            assert_problem(alone.result(), 422, "validation_failed")
    finally:
        if held:
            held.release()


def test_a_send_alone_notifies_its_event_at_its_commit(api, stack, new_user):
    """A send with files is written alone; the NOTIFY that wakes wsd is sent
    by its own transaction (no second round trip), with its event's id."""
    import psycopg2

    a, b = new_user("na"), new_user("nb")
    chat = direct(api, a, b)
    r = api.post("/api/files", token=a, files=[("file", ("a.txt", b"attached", "text/plain"))])
    assert r.status_code == 201, r.text
    file_id = r.json()["files"][0]["id"]
    listener = psycopg2.connect(host=str(stack.var / "run"), dbname="messenger",
                                user=stack.db_superuser)
    try:
        listener.autocommit = True
        listener.cursor().execute("LISTEN msgr_events")
        r = post(api, a, chat["id"], "with a file", attachment_ids=[file_id])
        assert r.status_code == 201, r.text
        m = assert_message(r.json())
        event_id = stack.psql("SELECT id FROM events WHERE kind = 'message.created' "
                              "AND (payload->'message'->>'id')::bigint = %s", m["id"])[0][0]

        def notified():
            listener.poll()
            return any(n.payload == str(event_id) for n in listener.notifies)

        wait_until(notified, message="the NOTIFY of the send's event")
        assert [x["id"] for x in m["attachments"]] == [file_id]
    finally:
        listener.close()


def test_json_sends_go_to_the_companion_and_multipart_to_the_workers(api, stack, new_user):
    a, b = new_user("ra"), new_user("rb")
    c = direct(api, a, b)
    companion = batcher_pid(stack)
    log_before = len(stack.log("messages"))
    m = send(api, a, c["id"], "json")
    r = api.post(f"/api/chats/{c['id']}/messages", token=a, data={"text": "multipart"},
                 files={"file": ("a.txt", b"attached", "text/plain")})
    assert r.status_code == 201, r.text
    lines = [l for l in stack.log("messages")[log_before:].splitlines()
             if f"POST /api/chats/{c['id']}/messages 201" in l]
    pids = [int(re.search(r"messages\[(\d+)\]", l).group(1)) for l in lines]
    assert len(pids) == 2, lines
    assert pids[0] == companion
    assert pids[1] != companion
    assert [x["text"] for x in history(api, b, c["id"])["messages"][-2:]] == ["json", "multipart"]
    assert history(api, b, c["id"])["messages"][-2] == m


def test_rate_limit_within_a_batch(api, stack, new_user):
    a, b = new_user("rla"), new_user("rlb")
    held_chat, chat = direct(api, a, b), group(api, a, [b], title="limited")
    with stack.restarted("messages", MSGR_SEND_RATE=1, MSGR_SEND_BURST=2):
        # The held send takes one of a's 2 tokens; the bucket is full again
        # (refilled at 1 a second, at most 2) when the 3 others are written.
        first, rest = run_behind_held_chat(
            stack, api, held_chat["id"], (a, held_chat["id"], "first", {}),
            [(a, chat["id"], f"m{i}", {}) for i in range(3)] + [(b, chat["id"], "b", {})])
    assert first.status_code == 201
    codes = sorted(r.status_code for r in rest[:3])
    assert codes == [201, 201, 429], [r.text for r in rest]
    refused = next(r for r in rest[:3] if r.status_code == 429)
    assert_problem(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1
    assert rest[3].status_code == 201, "another user's tokens are their own"
    assert stack.psql("SELECT count(*) FROM messages WHERE chat_id = %s AND sender_id = %s "
                      "AND kind = 'text'", chat["id"], uid(a))[0][0] == 2


def batcher_pid(stack):
    found = re.findall(r"messages\[(\d+)\] info: serving sends", stack.log("messages"))
    assert found, "the messages log names no companion"
    return int(found[-1])


def test_batcher_killed_during_a_batch(api, stack, new_user):
    """The companion dies while its batch waits. nginx loses the connection
    and answers 502 service_failed (the program failed this request, with
    an unknown outcome); the batch may still commit (its statement was sent
    whole). A client that sends again with its client_id gets the message,
    stored once."""
    a, b = new_user("ka"), new_user("kb")
    held_chat = direct(api, a, b)
    pid = batcher_pid(stack)
    held = HeldChat(stack, held_chat["id"])
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            with_id = pool.submit(post, api, a, held_chat["id"], "with an id", client_id="kill-1")
            wait_until(lambda: stack.lock_waiters() >= 1, message="the batch to wait on the chat")
            os.kill(pid, signal.SIGKILL)
            r1 = with_id.result()
            held.release()
            held = None
    finally:
        if held:
            held.release()
    assert_problem(r1, 502, "service_failed")
    assert "messages service" in r1.json()["detail"]
    # The master starts another companion, and the client sends again.
    wait_until(lambda: batcher_pid(stack) != pid, message="a new companion")
    again = wait_until(lambda: (lambda r: r if r.status_code in (200, 201) else None)(
        post(api, a, held_chat["id"], "with an id", client_id="kill-1")),
        message="the send to go through again")
    assert assert_message(again.json())["client_id"] == "kill-1"
    assert stack.psql("SELECT count(*) FROM messages WHERE client_id = 'kill-1'")[0][0] == 1
    m = send(api, a, held_chat["id"], "after the restart")
    assert history(api, b, held_chat["id"])["messages"][-1] == m


def test_sends_without_the_batcher(api, stack, new_user):
    a, b = new_user("na"), new_user("nb")
    c = direct(api, a, b)
    log_before = len(stack.log("messages"))
    with stack.restarted("messages", MSGR_SEND_BATCH=0, MSGR_SEND_RATE=1000, MSGR_SEND_BURST=1000):
        # workers serve the companion's socket, where nginx passes sends
        log = stack.log("messages")[log_before:]
        assert re.search(r"messages\.sock\.loop with \d+", log), log
        assert "serving sends" not in log
        m = send(api, a, c["id"], "one transaction each", client_id="nb-1")
        assert send(api, a, c["id"], "again", client_id="nb-1", expect=200) == m
        assert_problem(post(api, new_user("nx"), c["id"], "stranger"), 404, "chat_not_found")
        # nginx keeps its connections to that socket: a worker that closed
        # each after its answer had nginx send the next request into the
        # closed one now and then (a 502). Sends and reads one after another:
        for i in range(150):
            sent = send(api, b, c["id"], f"in a row {i}")
            assert history(api, a, c["id"], limit=1)["messages"][-1] == sent
    batcher_pid(stack)
    assert history(api, b, c["id"])["messages"][-1] == sent


def test_deleting_a_chat_by_hand_takes_its_messages(api, stack, new_user):
    """messages has no foreign key to chats (schema/migrations/011_send_batch.sql); a
    trigger keeps the cascade of a delete done outside the application."""
    a, b = new_user("da"), new_user("db")
    c = direct(api, a, b)
    m = send(api, a, c["id"], "to be deleted with its chat")
    r = api.put(f"/api/messages/{m['id']}/reactions/%F0%9F%91%8D", token=b)
    assert r.status_code in (200, 204), r.text
    stack.psql("DELETE FROM chats WHERE id = %s", c["id"])
    assert stack.psql("SELECT count(*) FROM messages WHERE chat_id = %s", c["id"])[0][0] == 0
    assert stack.psql("SELECT count(*) FROM message_reactions WHERE message_id = %s", m["id"])[0][0] == 0
    assert_problem(post(api, a, c["id"], "into a chat that is gone"), 404, "chat_not_found")
