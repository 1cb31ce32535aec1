"""Reads on a streaming replica (MSGR_DATABASE_REPLICA_URL): history renders,
message search and user search go to a real hot standby made by
`pg_basebackup -R` (tests/helpers.py Stack.start_replica), and a client
never sees a page older than its own last write: with the replica's replay
paused (pg_wal_replay_pause()) the primary answers; with the replica gone,
the primary answers, without an error.

Which server answered is told by the replica's own counts of the functions
each read calls (track_functions on the replica: pg_stat_user_functions),
and by the programs' msgr_replica_reads_total.
Both ways a history read is served are covered: the messages program's
event loop (the default) and its workers (MSGR_SEND_BATCH=0)."""

import os
import urllib.parse
import uuid

import pytest

from chatkit import group, history, send
from helpers import Api, own_stack, wait_until
from test_operations import metrics, value


@pytest.fixture(scope="module")
def rstack():
    """A stack of its own with a replica: only these tests pay for it."""
    if os.environ.get("MSGR_TEST_URL"):
        pytest.skip("needs a local stack")
    with own_stack(replica=True) as s:
        yield s


@pytest.fixture(scope="module")
def rapi(rstack):
    return Api(rstack.base_url)


@pytest.fixture(params=["loop", "workers"])
def mode(request, rstack):
    """History served by the event loop, or by the workers."""
    if request.param == "workers":
        rstack.restart("messages", MSGR_SEND_BATCH=0)
    yield request.param
    if request.param == "workers":
        rstack.restart("messages")


def replica_calls(stack, function):
    """How often the replica ran function (0 before its first call)."""
    rows = stack.replica_psql("SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions "
                              "WHERE funcname = %s", function)
    return int(rows[0][0])


def served_by_replica(stack, function, before, read):
    """Repeats read until the replica's count of function passes before
    (a backend reports its counts when idle, within a second); returns the
    read's last answer."""
    answers = []

    def check():
        answers.append(read())
        return replica_calls(stack, function) > before

    wait_until(check, timeout=20, interval=0.3, message=f"the replica to run {function}")
    return answers[-1]


def search(api, user, q):
    r = api.get("/api/search/messages?" + urllib.parse.urlencode({"q": q}), token=user)
    assert r.status_code == 200, r.text
    return [m["text"] for m in r.json()["messages"]]


def find_users(api, user, q):
    r = api.get("/api/users?" + urllib.parse.urlencode({"q": q}), token=user)
    assert r.status_code == 200, r.text
    return [u["username"] for u in r.json()["users"]]


def replica_reads(api, program, server):
    return value(metrics(api), "msgr_replica_reads_total", program=program, server=server)


def word():
    return "w" + uuid.uuid4().hex[:10]


@pytest.fixture
def pair(rapi):
    ann, ben = rapi.new_user("repann"), rapi.new_user("repben")
    return ann, ben, group(rapi, ann, [ben], title="Replica")


@pytest.fixture
def paused(rstack):
    """The replica's replay paused for the test: it still answers, with
    what it had."""
    rstack.replica_caught_up()
    rstack.replica_psql("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        rstack.replica_psql("SELECT pg_wal_replay_resume()")


def test_reads_are_served_by_the_replica(rstack, rapi, pair, mode):
    ann, ben, c = pair
    counted = {p: replica_reads(rapi, p, "replica") for p in ("messages", "auth")}
    w = word()
    send(rapi, ann, c["id"], f"hello {w}")
    rstack.replica_caught_up()
    before = replica_calls(rstack, "chat_page")
    # A new page each time (limit): the render is what the replica serves;
    # a kept page only needs its stamp, which is the primary's.
    limits = iter(range(1, 100))
    body = served_by_replica(rstack, "chat_page", before,
                             lambda: history(rapi, ben, c["id"], limit=next(limits)))
    assert body["messages"][-1]["text"] == f"hello {w}"

    before = replica_calls(rstack, "search_messages")
    assert served_by_replica(rstack, "search_messages", before,
                             lambda: search(rapi, ben, w)) == [f"hello {w}"]

    before = replica_calls(rstack, "user_json")
    assert served_by_replica(rstack, "user_json", before,
                             lambda: find_users(rapi, ann, ben["username"])) == [ben["username"]]
    for program, before in counted.items():
        assert replica_reads(rapi, program, "replica") > before, program


def test_own_writes_are_seen_with_the_replica_paused(rstack, rapi, pair, mode, paused):
    ann, ben, c = pair
    # A page the replica rendered and a worker or the loop keeps.
    first = history(rapi, ann, c["id"])
    counted = {p: replica_reads(rapi, p, "primary") for p in ("messages", "auth")}
    w = word()
    m = send(rapi, ann, c["id"], f"after the pause {w}")
    # The replica really is behind: it has not the message.
    assert rstack.replica_psql("SELECT count(*) FROM messages WHERE id = %s", m["id"])[0][0] == 0
    for _ in range(5):  # every process that serves reads, whichever answers
        body = history(rapi, ann, c["id"])
        assert body["messages"][-1]["id"] == m["id"]
        assert len(body["messages"]) == len(first["messages"]) + 1
        assert search(rapi, ann, w) == [f"after the pause {w}"]
    r = rapi.patch(f"/api/messages/{m['id']}", token=ann, json={"text": f"edited {w}"})
    assert r.status_code == 200, r.text
    for _ in range(5):
        assert history(rapi, ann, c["id"])["messages"][-1]["text"] == f"edited {w}"
        assert search(rapi, ann, w) == [f"edited {w}"]
    # A user who registered after the pause is found.
    cat = rapi.new_user("repcat")
    for _ in range(5):
        assert find_users(rapi, ann, cat["username"]) == [cat["username"]]
    # Answered by the primary, and counted so.
    for program, before in counted.items():
        assert replica_reads(rapi, program, "primary") >= before + 5, program


def test_a_replica_that_goes_away_falls_back_to_the_primary(rstack, rapi, pair, mode):
    ann, ben, c = pair
    rstack.stop_replica_db("immediate")
    try:
        for i in range(6):
            w = word()
            m = send(rapi, ann, c["id"], f"no replica {w}")
            body = history(rapi, ben, c["id"], limit=i + 1)
            assert body["messages"][-1]["id"] == m["id"]
            assert search(rapi, ben, w) == [f"no replica {w}"]
            assert find_users(rapi, ben, ann["username"]) == [ann["username"]]
    finally:
        rstack.start_replica_db()
    # Back: the replica serves again, on connections made anew.
    rstack.replica_caught_up()
    limits = iter(range(20, 100))
    before = replica_calls(rstack, "chat_page")
    served_by_replica(rstack, "chat_page", before,
                      lambda: history(rapi, ben, c["id"], limit=next(limits)))
