"""Two app hosts, one database (docs/SCALING.md).

A stack started with `stack.sh start-db` holds what the hosts share: the
database, the server secret and where the files live: with
MSGR_TEST_STORAGE=s3 (`make test` runs this file so too, S3_SUITES) one
object store (an S3Server) that both hosts name in MSGR_STORAGE_URL, the
deployment docs/SCALING.md describes; else a shared files directory (a
volume every host mounts). Two app hosts, each its programs, wsd, mailer
and nginx with its own run directory, sockets and port, run beside it on
127.0.0.2 and 127.0.0.3 (stack.sh with SHARED_VAR). Through them: live
events, typing and presence cross hosts, a file and an avatar uploaded
through one download through the other and a delete through one removes
the bytes for both, a host killed outright loses its clients nothing once
they resume on the other, and every periodic job runs once however many
hosts run it.

The tests run in file order: the last one kills host A.
"""

import os
import threading
import time

import pytest

from helpers import Api, Stack, bin_dir_under_test, processes_using, wait_until
from test_files import GIF, upload_one
from test_ws_multi import group, presence_of
from ws_client import WsClient, events

# The periodic jobs' advisory lock class (shared/server.c,
# SRV_PERIODIC_LOCK_CLASS; wsd_reap and mail_prune in schema/functions).
LOCK_CLASS = 1919

HOST_ENV = {
    "MSGR_WORKERS": "1",
    # A dead wsd is taken for dead after 3 s, not a minute.
    "MSGR_WSD_HEARTBEAT_SECS": "1",
    "MSGR_WSD_DEAD_SECS": "3",
    # The periodic jobs every second on both hosts: two of them at once is
    # the rule here, not luck.
    "MSGR_SWEEP_INTERVAL": "1",
    "MSGR_PRUNE_INTERVAL": "1",
    "MSGR_EVENT_RETENTION_DAYS": "1",
}


@pytest.fixture(scope="module")
def hosts():
    if os.environ.get("MSGR_TEST_URL"):
        pytest.skip("starts stacks of its own")
    bin_dir = bin_dir_under_test()
    started, problems = [], []
    try:
        db = Stack.start_local(bin_dir, command="start-db")
        started.append(db)
        env = dict(HOST_ENV, SHARED_VAR=str(db.var), MSGR_SMTP_URL=db.env["MSGR_SMTP_URL"])
        a = Stack.start_local(bin_dir, extra_env=env, listen_addr="127.0.0.2", store=db.store)
        started.append(a)
        b = Stack.start_local(bin_dir, extra_env=env, listen_addr="127.0.0.3", store=db.store)
        started.append(b)
        yield db, a, b
    finally:
        for s in reversed(started):
            problems += s.shutdown()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def connect(host, user, since=None, origin=None):
    c = WsClient.open(host.ws_url, origin=origin or host.origin)
    c.ready = c.auth(user, since=since)
    return c


def test_hosts_share_the_database_not_their_sockets(hosts):
    db, a, b = hosts
    assert a.base_url.startswith("http://127.0.0.2:") and b.base_url.startswith("http://127.0.0.3:")
    for h in (a, b):
        assert Api(h.base_url).get("/api/health").status_code == 200
        assert (h.var / "run" / "wsd.sock").exists() and not (h.var / "pg").exists()
        status = h.stack_sh("status")
        assert "postgres  running  (shared," in status and "wsd       running" in status, status
    # Each host's wsd is an instance of its own in the database.
    ids = {r[0] for r in db.psql("SELECT wsd_id FROM wsd_instances")}
    assert any(i.endswith(f"{a.var}/run/wsd.sock") for i in ids), ids
    assert any(i.endswith(f"{b.var}/run/wsd.sock") for i in ids), ids


def test_message_typing_and_presence_cross_hosts(hosts):
    db, a, b = hosts
    api_a, api_b = Api(a.base_url), Api(b.base_url)
    alice, bob, carol = api_a.new_user("alice"), api_b.new_user("bob"), api_a.new_user("carol")
    x = connect(a, alice)
    y = connect(b, bob)
    cid = group(api_a, alice, "Two hosts", bob, carol)
    y.wait_for(lambda f: f["type"] == "chat.created" and f["chat_id"] == cid)

    r = api_a.post(f"/api/chats/{cid}/messages", token=alice, json={"text": "through A"})
    assert r.status_code == 201, r.text
    f = y.wait_for(lambda f: f["type"] == "message.created" and f["data"]["message"]["text"] == "through A")
    assert f["chat_id"] == cid
    r = api_b.post(f"/api/chats/{cid}/messages", token=bob, json={"text": "through B"})
    assert r.status_code == 201, r.text
    x.wait_for(lambda f: f["type"] == "message.created" and f["data"]["message"]["text"] == "through B")

    x.send({"type": "typing", "chat_id": cid})
    f = y.wait_for(lambda f: f["type"] == "typing")
    assert f["data"]["user_id"] == alice["user"]["id"] and f["chat_id"] == cid
    y.send({"type": "typing", "chat_id": cid})
    assert x.wait_for(lambda f: f["type"] == "typing")["data"]["user_id"] == bob["user"]["id"]

    # carol comes online on A: bob on B sees it, and B's API says so.
    z = connect(a, carol)
    presence_of(y, carol, True, timeout=15)
    assert api_b.get(f"/api/users/{carol['user']['id']}", token=bob).json()["online"] is True
    z.close()
    presence_of(y, carol, False, timeout=15)
    for c in (x, y):
        c.close()


def storage_key(db, file_id):
    return db.psql("SELECT storage_key FROM files WHERE id = %s", file_id)[0][0]


def test_files_live_in_the_shared_storage(hosts):
    db, a, b = hosts
    for h in (a, b):
        assert h.store is db.store
        if db.store is not None:
            assert h.env["MSGR_STORAGE_URL"] == db.store.storage_url
        # (on a store, the directory keeps only uploads being received)
        assert h.files_dir == db.files_dir


def test_file_uploaded_through_a_downloads_through_b(hosts):
    db, a, b = hosts
    api_a, api_b = Api(a.base_url), Api(b.base_url)
    alice, bob = api_a.new_user("alice"), api_b.new_user("bob")
    data = os.urandom(200_000)
    f = upload_one(api_a, alice, "blob.bin", data)
    key = storage_key(db, f["id"])
    assert db.stored_bytes(key) == data
    got = api_b.get(f["url"])
    assert got.status_code == 200 and got.content == data
    # And by id with the uploader's token, through B.
    got = api_b.get(f"/api/files/{f['id']}", token=alice)
    assert got.status_code == 200 and got.content == data

    # Sent to bob through A, deleted through A: gone for B too, bytes and all.
    cid = api_a.post("/api/chats", token=alice, json={"type": "direct", "user_id": bob["user"]["id"]}).json()["id"]
    r = api_a.post(f"/api/chats/{cid}/messages", token=alice, json={"text": "f", "attachment_ids": [f["id"]]})
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    got = api_b.get(f"/api/chats/{cid}/messages", token=bob).json()["messages"]
    att = next(m for m in got if m["id"] == mid)["attachments"][0]
    assert api_b.get(att["url"]).content == data
    assert api_a.delete(f"/api/messages/{mid}", token=alice).status_code == 204
    assert not db.is_stored(key) and key not in db.stored_keys()
    assert api_b.get(att["url"]).status_code == 404


def test_avatar_uploaded_through_a_shows_through_b(hosts):
    db, a, b = hosts
    api_a, api_b = Api(a.base_url), Api(b.base_url)
    alice, bob = api_a.new_user("alice"), api_b.new_user("bob")
    r = api_a.put("/api/users/me/avatar", token=alice, files=[("file", ("me.gif", GIF, "image/gif"))])
    assert r.status_code == 200, r.text
    key = db.psql("SELECT f.storage_key FROM users u JOIN files f ON f.id = u.avatar_file_id "
                  "WHERE u.id = %s", alice["user"]["id"])[0][0]
    assert key in db.stored_keys()
    url = api_b.get(f"/api/users/{alice['user']['id']}", token=bob).json()["avatar_url"]
    got = api_b.get(url)
    assert got.status_code == 200 and got.content == GIF
    assert api_b.delete("/api/users/me/avatar", token=alice).status_code == 200
    assert key not in db.stored_keys()
    assert api_a.get(url).status_code == 404


def connection_bounds(env):
    """The most database sessions each program of a host opens (docs/
    SCALING.md, "Connections per host"): one per FastCGI worker; the
    messages companion MSGR_READ_LINKS + 3; wsd MSGR_WSD_DB_CONNECTIONS + 1
    (the feed); the mailer 1; and a child of the auth, files and messages
    masters while their periodic job runs, 1 each."""
    workers = int(env["MSGR_WORKERS"])
    read_links = int(env.get("MSGR_READ_LINKS", 4))
    wsd = int(env.get("MSGR_WSD_DB_CONNECTIONS", 2))
    return {"auth": workers + 1, "chats": workers, "files": workers + 1,
            "messages": workers + read_links + 3 + 1, "wsd": wsd + 1, "mailer": 1}


def sessions_per_host(db, hosts):
    """{host index: Counter(program: sessions)} of the application role's
    sessions, each given to the host whose process opened it: its
    application_name is "program[pid]" (shared/db.c, wsd/pg.c), the pid one
    of the host's processes. A session of a process that ended meanwhile is
    left out; one of a live process of no host fails."""
    import collections
    import re

    rows = db.psql("SELECT application_name FROM pg_stat_activity WHERE usename = 'msgr_app'")
    owner = {pid: i for i, h in enumerate(hosts) for pid, _ in processes_using(h.var)}
    found = collections.defaultdict(collections.Counter)
    for (name,) in rows:
        m = re.fullmatch(r"(\w+)\[(\d+)\]", name or "")
        assert m, f"a session not named program[pid]: {name!r}"
        pid = int(m.group(2))
        if pid in owner:
            found[owner[pid]][m.group(1)] += 1
        else:
            assert not os.path.exists(f"/proc/{pid}"), f"{name}: a live process of no host"
    return found


def test_connections_per_host_stay_bounded_under_load(hosts):
    """Each host opens at most the sessions its settings allow, counted per
    host and program from pg_stat_activity while both hosts take load (the
    periodic jobs run every second here): load queues in nginx and the
    workers, it opens none. Idle, each host holds exactly the steady ones
    (all but the periodic jobs' children)."""
    db, a, b = hosts
    bounds = connection_bounds(a.env)
    most = sum(bounds.values())
    steady = most - 3
    apis = [Api(a.base_url), Api(b.base_url)]
    users = [apis[0].new_user("load"), apis[1].new_user("load")]
    cid = group(apis[0], users[0], "Load", users[1])

    peaks, stop, errors = [{}, {}], threading.Event(), []

    def watch():
        while not stop.is_set():
            for i, programs in sessions_per_host(db, [a, b]).items():
                for name, n in programs.items():
                    peaks[i][name] = max(peaks[i].get(name, 0), n)
                peaks[i]["(host)"] = max(peaks[i].get("(host)", 0), sum(programs.values()))
            time.sleep(0.02)

    def load(i):
        api, user = apis[i % 2], users[i % 2]
        for j in range(15):
            for r in (api.post(f"/api/chats/{cid}/messages", token=user, json={"text": f"{i}.{j}"}),
                      api.get(f"/api/chats/{cid}/messages", token=user),
                      api.get("/api/chats", token=user)):
                # (429: the per-user send limit answered, which is load too)
                if r.status_code not in (200, 201, 429):
                    errors.append((r.status_code, r.text))

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=load, args=(i,)) for i in range(16)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop.set()
        watcher.join()
    assert not errors, errors[:3]
    for i in (0, 1):
        assert set(peaks[i]) - {"(host)"} == set(bounds), peaks[i]
        over = {k: (n, bounds[k]) for k, n in peaks[i].items() if k != "(host)" and n > bounds[k]}
        assert not over, f"host {'ab'[i]} opened more than its settings allow: {over}"
        assert 0 < peaks[i]["(host)"] <= most, (peaks[i], most)

    def idle_counts():
        got = sessions_per_host(db, [a, b])
        return [sum(got[i].values()) for i in (0, 1)] == [steady, steady]

    wait_until(idle_counts, timeout=15, message=f"{steady} sessions per idle host")


# ---- the periodic jobs: once, however many hosts ------------------------------------


def lock_key(name):
    return f"SELECT pg_advisory_lock({LOCK_CLASS}, hashtext(%s))", name


def test_file_sweep_runs_under_one_lock(hosts):
    """Both hosts sweep every second; while the sweep's lock is held
    elsewhere neither does, and once it is free one does."""
    db, a, b = hosts
    api_a = Api(a.base_url)
    alice = api_a.new_user("alice")
    fid = upload_one(api_a, alice, "gone.txt", b"bye", "text/plain")["id"]
    key = storage_key(db, fid)
    assert db.is_stored(key)
    holder = db.hold_lock(*lock_key("files"))
    try:
        db.psql("UPDATE files SET deleted_at = now() WHERE id = %s", fid)
        time.sleep(4)  # four runs of each host's sweep
        assert db.psql("SELECT count(*) FROM files WHERE id = %s", fid)[0][0] == 1
        assert db.is_stored(key)
    finally:
        holder.close()
    wait_until(lambda: db.psql("SELECT count(*) FROM files WHERE id = %s", fid)[0][0] == 0,
               timeout=15, message="the sweep to purge the file")
    assert not db.is_stored(key)
    skipped = a.log("files") + b.log("files")
    assert "periodic job skipped: another process" in skipped


def test_event_prune_runs_under_one_lock(hosts):
    db, a, b = hosts
    api_a = Api(a.base_url)
    alice, bob = api_a.new_user("alice"), api_a.new_user("bob")
    cid = group(api_a, alice, "Old", bob)
    assert api_a.post(f"/api/chats/{cid}/messages", token=alice, json={"text": "old"}).status_code == 201
    holder = db.hold_lock(*lock_key("messages"))
    try:
        aged = db.psql("UPDATE events SET created_at = now() - interval '2 days' WHERE chat_id = %s", cid)
        assert aged >= 2
        time.sleep(4)
        assert db.psql("SELECT count(*) FROM events WHERE chat_id = %s", cid)[0][0] == aged
    finally:
        holder.close()
    wait_until(lambda: db.psql("SELECT count(*) FROM events WHERE chat_id = %s", cid)[0][0] == 0,
               timeout=15, message="the prune to remove the old events")


def test_mail_prune_runs_under_one_lock(hosts):
    """mail_prune() (every mailer's, at its start and hourly) passes while
    another holds its lock."""
    db, a, b = hosts
    db.psql("INSERT INTO mail_outbox (to_addr, subject, body_text, body_html, sent_at, created_at) "
            "VALUES ('old@example.test', 'old', 'old', '', now() - interval '40 days', "
            "now() - interval '40 days')")
    conn = db.hold_lock("SELECT pg_advisory_xact_lock(%s, hashtext('mail_prune'))", LOCK_CLASS)
    try:
        assert db.psql("SELECT mail_prune(30, 90, 100)")[0][0] == 0
        assert db.psql("SELECT count(*) FROM mail_outbox WHERE to_addr = 'old@example.test'")[0][0] == 1
    finally:
        # The rollback returns once the server ended the transaction (and
        # its lock); a close alone does not wait for that.
        conn.rollback()
        conn.close()
    assert db.psql("SELECT mail_prune(30, 90, 100)")[0][0] >= 1
    assert db.psql("SELECT count(*) FROM mail_outbox WHERE to_addr = 'old@example.test'")[0][0] == 0


def test_mail_goes_once_with_a_mailer_on_each_host(hosts):
    db, a, b = hosts
    users = [Api(a.base_url).new_user("mail") for _ in range(6)]
    for i, u in enumerate(users):
        api = Api((a if i % 2 else b).base_url)
        assert api.post("/api/auth/password-reset", json={"email": u["email"]}).status_code == 202
    for u in users:
        db.wait_mails(u["email"])
    time.sleep(2)
    for u in users:
        assert len(db.mails(u["email"])) == 1, u["email"]


# ---- host A lost -------------------------------------------------------------------


def test_host_killed_clients_resume_on_the_other(hosts):
    """Host A is SIGKILLed while messages flow through B; A's clients
    reconnect to B with since and miss nothing the events table holds; A's
    wsd is reaped (under its lock) so that its users go offline."""
    db, a, b = hosts
    api_a, api_b = Api(a.base_url), Api(b.base_url)
    alice, bob, dave = api_a.new_user("alice"), api_b.new_user("bob"), api_a.new_user("dave")
    cid = group(api_b, bob, "Lost host", alice, dave)
    start = db.psql("SELECT max(id) FROM events")[0][0]
    y = connect(b, bob, since=start)
    x = connect(a, alice, since=start)      # resumes on B
    d = connect(a, dave, since=start)       # does not come back
    presence_of(y, dave, True, timeout=15)
    a_wsd = [r[0] for r in db.psql("SELECT wsd_id FROM wsd_instances WHERE wsd_id LIKE %s",
                                   f"%{a.var}/run/wsd.sock")]
    assert len(a_wsd) == 1

    stop = threading.Event()
    sent, errors = [], []

    def sender():
        i = 0
        while not stop.is_set():
            r = api_b.post(f"/api/chats/{cid}/messages", token=bob, json={"text": f"m{i}"})
            (sent if r.status_code == 201 else errors).append(r)
            i += 1
            time.sleep(0.05)

    t = threading.Thread(target=sender)
    t.start()
    try:
        wait_until(lambda: len(sent) >= 10, timeout=30, message="messages before the kill")
        reaping = db.hold_lock("SELECT pg_advisory_lock(%s, hashtext('wsd_reap'))", LOCK_CLASS)
        try:
            a.kill_host()
            x.wait_closed(20)
            d.wait_closed(20)
            wait_until(lambda: len(sent) >= 40, timeout=30, message="messages after the kill")
            # Past A's dead_secs (3) and B's next heartbeats (every second):
            # while the reap lock is held nobody reaps, so dave stays online.
            time.sleep(6)
            assert db.psql("SELECT count(*) FROM wsd_instances WHERE wsd_id = %s", a_wsd[0])[0][0] == 1
            assert api_b.get(f"/api/users/{dave['user']['id']}", token=bob).json()["online"] is True
        finally:
            reaping.close()
        presence_of(y, dave, False, timeout=20)
        assert db.psql("SELECT count(*) FROM wsd_instances WHERE wsd_id = %s", a_wsd[0])[0][0] == 0
        assert db.psql("SELECT count(*) FROM user_presence WHERE wsd_id = %s", a_wsd[0])[0][0] == 0
        assert api_b.get(f"/api/users/{dave['user']['id']}", token=bob).json()["online"] is False

        before = [f for f in events(x.received) if f["chat_id"] == cid]
        seen = max((f["id"] for f in events(x.received)), default=start)
        x2 = connect(b, alice, since=seen)
        wait_until(lambda: len(sent) >= 60, timeout=30, message="messages after the resume")
    finally:
        stop.set()
        t.join()
    assert not errors, [(r.status_code, r.text) for r in errors]
    top = db.psql("SELECT max(id) FROM events WHERE chat_id = %s", cid)[0][0]
    x2.wait_for(lambda f: (f.get("id") or 0) >= top, timeout=20)
    after = [f for f in events(x2.received) if f["chat_id"] == cid]
    want = [r[0] for r in db.psql("SELECT id FROM events WHERE chat_id = %s AND id > %s ORDER BY id",
                                  cid, start)]
    assert [f["id"] for f in before + after] == want
    texts = [f["data"]["message"]["text"] for f in before + after if f["type"] == "message.created"]
    assert texts == [r.json()["text"] for r in sent]
    for c in (x2, y):
        c.close()
