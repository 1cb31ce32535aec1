"""The messages program's event loop (fcgi/messages/loop.c) while its
database cannot be reached, through nginx: its links (shared/pglink.h)
connect without waiting, so every send and read is still answered, at
once, 503 as a worker answers without a database; they try again on a
timer, so once the database takes connections again sends and reads work,
in the same companion, without a restart.

The database is made unreachable for the companion alone: it stops taking
connections (ALLOW_CONNECTIONS false) and the companion's sessions are
ended, so each connect the companion tries fails at its start-up."""

import re
import time

from chatkit import (assert_message, assert_problem, companion_pid, companion_sessions, direct,
                     history, send)
from helpers import wait_until


def post(api, user, chat_id, text):
    return api.post(f"/api/chats/{chat_id}/messages", token=user, json={"text": text})


def read(api, user, chat_id):
    return api.get(f"/api/chats/{chat_id}/messages", token=user)


def allow_connections(stack, allow):
    """Whether the messenger database takes new sessions (said from
    another database: a session cannot refuse its own)."""
    import psycopg2

    conn = psycopg2.connect(host=str(stack.var / "run"), dbname="postgres",
                            user=stack.db_superuser)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"ALTER DATABASE messenger ALLOW_CONNECTIONS {'true' if allow else 'false'}")
    finally:
        conn.close()


def timed(call):
    start = time.monotonic()
    r = call()
    return r, time.monotonic() - start


def test_the_loop_answers_while_its_database_is_away_and_serves_again_after(
        api, stack, new_user):
    a, b = new_user(), new_user()
    chat_id = direct(api, a, b)["id"]
    before = send(api, a, chat_id, "before")
    assert history(api, b, chat_id)["messages"][-1] == before
    pid = companion_pid(stack)
    assert companion_sessions(stack, pid)
    log_before = len(stack.log("messages"))

    allow_connections(stack, False)
    try:
        stack.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE application_name = %s", f"messages[{pid}]")
        wait_until(lambda: not companion_sessions(stack, pid),
                   message="the companion's sessions to end")
        # A session leaves pg_stat_activity a little before its socket
        # closes: the first send may go on a link whose end the companion
        # has not seen yet, and be lost with it (503 too).
        assert post(api, a, chat_id, "away").status_code == 503
        # Each send and read is answered, and soon: no connect is waited
        # for, nor a request left waiting for a link that is down.
        for i in range(3):
            r, took = timed(lambda: post(api, a, chat_id, f"away {i}"))
            assert_problem(r, 503, "database_unavailable")
            assert took < 2.0, took
            r, took = timed(lambda: read(api, b, chat_id))
            assert_problem(r, 503, "database_unavailable")
            assert took < 2.0, took
        log = stack.log("messages")[log_before:]
        assert re.search(rf"messages\[{pid}\] error: could not connect to the database: .*"
                         r"trying again in \d+ ms", log), log
    finally:
        allow_connections(stack, True)

    # Back: the links' next tries (2 s apart at most) find it.
    def sent():
        r = post(api, a, chat_id, "after")
        assert r.status_code in (201, 503), r.text
        return r.json() if r.status_code == 201 else None

    after = wait_until(sent, timeout=15, message="a send to be written again")
    assert_message(after)
    wait_until(lambda: read(api, b, chat_id).status_code == 200, timeout=15,
               message="a read to be served again")
    messages = history(api, b, chat_id)["messages"]
    assert [m["text"] for m in messages] == ["before", "after"]
    assert companion_pid(stack) == pid, "the same companion served throughout"
