"""wsd: late commits. Event ids are drawn in one order and committed in
another; many writers commit (or roll back) with random delays inside
their transactions while clients disconnect and resume at random, on two
wsd processes. Every client must end with exactly the committed events of
its chat, in id order, none twice."""

import random
import threading
import time

import psycopg2
import pytest

from ws_client import Closed, ExtraWsd, WsClient

WRITERS = 8
CLIENTS = 6
SECONDS = 10


def test_out_of_order_commits_lose_nothing(stack, api, new_user):
    if not stack.local:
        pytest.skip("needs the local stack")
    owner = new_user("owner")
    readers = [new_user(f"r{i}") for i in range(CLIENTS)]
    r = api.post("/api/chats", token=owner, json={
        "type": "group", "title": "Late commits",
        "member_ids": [u["user"]["id"] for u in readers]})
    assert r.status_code == 201
    cid = r.json()["id"]
    start = stack.psql("SELECT max(id) FROM events")[0][0]
    rng = random.Random(20261121)
    stop = threading.Event()
    errors = []
    stats = {"committed": 0, "rolled back": 0}

    def writer(seed):
        rnd = random.Random(seed)
        conn = psycopg2.connect(host=str(stack.var / "run"), dbname="messenger",
                                user=stack.db_superuser)
        try:
            while not stop.is_set():
                with conn.cursor() as cur:
                    # Random pauses before, between and after drawing ids:
                    # a later id often commits before an earlier one.
                    time.sleep(rnd.random() * 0.02)
                    for _ in range(rnd.randint(1, 3)):
                        cur.execute(
                            "SELECT emit(%s, 'message.created', jsonb_build_object('message',"
                            " jsonb_build_object('text', %s)))", (cid, f"w{seed}"))
                        time.sleep(rnd.random() * 0.05)
                    time.sleep(rnd.random() * 0.2)
                    if rnd.random() < 0.1:
                        conn.rollback()
                        stats["rolled back"] += 1
                        continue
                    conn.commit()
                    stats["committed"] += 1
                    if rnd.random() < 0.5:  # the hint is optional
                        cur.execute("SELECT pg_notify('msgr_events', (SELECT max(id) FROM events)::text)")
                        conn.commit()
        except Exception as e:
            errors.append(e)
        finally:
            conn.close()

    with ExtraWsd(stack) as wsd2:
        urls = [stack.ws_url, wsd2.url]
        received = {i: [] for i in range(CLIENTS)}
        resumes = {i: 0 for i in range(CLIENTS)}

        def reader(i):
            rnd = random.Random(rng.random())
            user = readers[i]
            got = received[i]
            try:
                while not stop.is_set():
                    since = got[-1] if got else start
                    c = WsClient.open(rnd.choice(urls), origin=stack.origin)
                    c.auth(user, since=since)
                    resumes[i] += 1
                    until = time.monotonic() + rnd.random() * 1.5
                    while time.monotonic() < until:
                        try:
                            f = c.recv(max(0.01, until - time.monotonic()))
                        except (TimeoutError, Closed):
                            break
                        if "id" in f and f["chat_id"] == cid:
                            got.append(f["id"])
                    if rnd.random() < 0.5:
                        c.abort()
                    else:
                        c.close()
            except Exception as e:
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(WRITERS)]
        threads += [threading.Thread(target=reader, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(SECONDS)
        stop.set()
        for t in threads:
            t.join(60)
        assert not errors, errors

        want = [r[0] for r in stack.psql(
            "SELECT id FROM events WHERE chat_id = %s AND id > %s ORDER BY id", cid, start)]
        assert stats["committed"] > 50 and stats["rolled back"] > 0, stats
        # Each client resumes once more and reads to the end.
        for i in range(CLIENTS):
            got = received[i]
            c = WsClient.open(urls[i % 2], origin=stack.origin)
            c.auth(readers[i], since=got[-1] if got else start)
            deadline = time.monotonic() + 60
            while (not got or got[-1] < want[-1]) and time.monotonic() < deadline:
                f = c.recv(max(0.1, deadline - time.monotonic()))
                if "id" in f and f["chat_id"] == cid:
                    got.append(f["id"])
            c.close()
            assert len(got) == len(set(got)), f"client {i}: duplicates"
            assert got == sorted(got), f"client {i}: out of order"
            missing = sorted(set(want) - set(got))
            extra = sorted(set(got) - set(want))
            assert not missing and not extra, (
                f"client {i} ({resumes[i]} resumes): missing {missing[:20]}, extra {extra[:20]}")
            assert got == want


def test_gap_held_by_the_newest_transaction(stack, api, new_user):
    """The case a snapshot's xmax gets wrong: B takes its transaction id after
    A and draws event id k; A draws k+1 and commits first. Then B's id is at
    or past the snapshot's xmax (latestCompletedXid + 1), so B is not listed
    as running, and a later snapshot's xmin reaches that xmax while B still
    runs. k must still arrive, before k+1. (With the snapshot's xmax as the
    horizon of a gap, k is skipped here.)"""
    if not stack.local:
        pytest.skip("needs the local stack")
    alice = new_user("alice")
    r = api.post("/api/chats", token=alice, json={"type": "group", "title": "Gap", "member_ids": []})
    cid = r.json()["id"]
    start = stack.psql("SELECT max(id) FROM events")[0][0]
    c = WsClient.open(stack.ws_url, origin=stack.origin)
    c.auth(alice, since=start)

    def conn():
        x = psycopg2.connect(host=str(stack.var / "run"), dbname="messenger",
                             user=stack.db_superuser)
        return x, x.cursor()

    (ca, a), (cb, b) = conn(), conn()
    emit = ("SELECT emit(%s, 'message.created', jsonb_build_object('message',"
            " jsonb_build_object('text', %s)))")
    try:
        a.execute("SELECT pg_current_xact_id()")
        b.execute("SELECT pg_current_xact_id()")   # B's id is the newer one
        b.execute(emit, (cid, "k"))
        k = b.fetchone()[0]
        a.execute(emit, (cid, "k+1"))
        k1 = a.fetchone()[0]
        assert k1 == k + 1
        ca.commit()
        # No NOTIFY here: a notifying transaction takes a transaction id
        # itself, which would move xmax past B. The periodic poll finds it.
        time.sleep(2.5)  # polls see the gap while B runs
        cb.commit()
        b.execute("SELECT pg_notify('msgr_events', %s)", (str(k1),))
        cb.commit()
        got = []
        deadline = time.monotonic() + 15
        while len(got) < 2 and time.monotonic() < deadline:
            try:
                f = c.recv(max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            if "id" in f and f["chat_id"] == cid:
                got.append(f["id"])
        assert got == [k, k1], f"event {k} was skipped"
    finally:
        ca.close()
        cb.close()
        c.close()
