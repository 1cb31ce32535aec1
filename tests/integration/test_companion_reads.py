"""History reads served by the messages program's companion
(fcgi/messages/history_loop.c), through nginx: the stamps of kept pages are
checked for many reads with one statement, and each read must still get its
own answer: its chat's page, or 404 when it may not read the chat.

A pile of reads is made deterministic by locking the chats table from the
test: the statements the companion has sent wait on it, and the reads that
come meanwhile are checked together once it is released."""

import concurrent.futures
import re
import time

import pytest

from chatkit import assert_problem, companion_pid, companion_sessions, direct, group, history, send
from helpers import wait_until

READ_LINKS = 4  # the companion's default MSGR_READ_LINKS


def get(api, user, chat_id, **query):
    return api.get(f"/api/chats/{chat_id}/messages", token=user, params=query)


def read_while_locked(stack, api, reads, before_release=lambda: None):
    """Makes each of reads ((user, chat_id) pairs) while the chats table is
    locked, so that they pile up in the companion; returns the responses."""
    # An exclusive lock on the chats table: the reads' statements wait.
    locked = stack.hold_lock("LOCK TABLE chats IN ACCESS EXCLUSIVE MODE")
    try:
        with concurrent.futures.ThreadPoolExecutor(len(reads)) as pool:
            futures = [pool.submit(get, api, u, c) for u, c in reads]
            wait_until(lambda: stack.lock_waiters() >= READ_LINKS,
                       message="every read link to wait on the lock")
            time.sleep(1.0)  # the rest reach the companion meanwhile
            before_release()
            locked.close()  # a transaction left open rolls back
            locked = None
            return [f.result() for f in futures]
    finally:
        if locked:
            locked.close()


@pytest.fixture
def chats(api, new_user):
    """Three chats with different members and messages, each page kept by
    the companion for its members."""
    a, b, c, d = (new_user(n) for n in ("cra", "crb", "crc", "crd"))
    ab, acd, bcd = direct(api, a, b), group(api, a, [c, d], title="acd"), \
        group(api, b, [c, d], title="bcd")
    for chat, sender in ((ab, a), (acd, c), (bcd, d)):
        for i in range(3):
            send(api, sender, chat["id"], f"{chat['id']}-{i}")
    members = {ab["id"]: [a, b], acd["id"]: [a, c, d], bcd["id"]: [b, c, d]}
    pages = {}
    for chat_id, users in members.items():
        for u in users:
            pages[chat_id] = history(api, u, chat_id)  # kept from the first on
    return [a, b, c, d], members, pages


def test_a_pile_of_reads_gets_each_its_own_answer(api, stack, chats):
    users, members, pages = chats
    reads = [(u, chat_id) for _ in range(3) for chat_id in members for u in users]
    answers = read_while_locked(stack, api, reads)
    for (u, chat_id), r in zip(reads, answers):
        if u in members[chat_id]:
            assert r.status_code == 200, r.text
            assert r.json() == pages[chat_id]
        else:
            assert_problem(r, 404, "chat_not_found")


def test_a_pile_of_reads_sees_what_changed_before_it(api, stack, chats):
    users, members, pages = chats
    changed = next(iter(members))
    m = send(api, members[changed][0], changed, "after the pages were kept")
    reads = [(u, chat_id) for chat_id in members for u in members[chat_id]] * 2
    answers = read_while_locked(stack, api, reads)
    for (u, chat_id), r in zip(reads, answers):
        assert r.status_code == 200, r.text
        if chat_id == changed:
            assert r.json()["messages"][-1] == m
        else:
            assert r.json() == pages[chat_id]


def test_reads_whose_connection_is_lost_go_again(api, stack, chats):
    users, members, pages = chats
    pid = companion_pid(stack)
    assert len(companion_sessions(stack, pid)) >= READ_LINKS
    reads = [(u, chat_id) for chat_id in members for u in members[chat_id]]
    log_before = len(stack.log("messages"))

    def terminate_the_companions_sessions():
        stack.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE application_name = %s", f"messages[{pid}]")

    answers = read_while_locked(stack, api, reads, terminate_the_companions_sessions)
    for (u, chat_id), r in zip(reads, answers):
        assert r.status_code == 200, r.text
        assert r.json() == pages[chat_id]
    assert companion_pid(stack) == pid, "the companion went on, with new connections"
    log = stack.log("messages")[log_before:]
    assert re.search(rf"messages\[{pid}\] error: a database connection was lost with \d+ reads",
                     log), log
    # Its idle send connection was lost too: the next batch makes another.
    a, b = members[next(iter(members))][:2]
    m = send(api, a, next(iter(members)), "after the connections were lost")
    assert history(api, b, next(iter(members)))["messages"][-1] == m


def test_reads_are_served_by_the_companion(api, stack, chats):
    users, members, pages = chats
    chat_id = next(iter(members))
    log_before = len(stack.log("messages"))
    history(api, members[chat_id][0], chat_id)
    assert "limit" in assert_problem(get(api, users[-1], chat_id, limit=0), 422)["errors"]
    lines = [l for l in stack.log("messages")[log_before:].splitlines()
             if f"GET /api/chats/{chat_id}/messages" in l]
    pids = {int(re.search(r"messages\[(\d+)\]", l).group(1)) for l in lines}
    assert len(lines) == 2 and pids == {companion_pid(stack)}, lines


def test_reads_without_the_companion(api, stack, chats):
    users, members, pages = chats
    chat_id = next(iter(members))
    stranger = next(u for u in users if u not in members[chat_id])
    with stack.restarted("messages", MSGR_SEND_BATCH=0):
        assert history(api, members[chat_id][0], chat_id) == pages[chat_id]
        assert_problem(get(api, stranger, chat_id), 404, "chat_not_found")
