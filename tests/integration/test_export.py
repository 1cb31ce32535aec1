"""The export of a user's data (API.md "Your data and your language",
README "Exporting your data"): POST/GET/DELETE /api/users/me/export, the
builder (the files master's periodic job, fcgi/files/export.c) and the
archive it stores, checked against what the API shows; a crashed builder,
a stranger, expiry, and a 1 GB account built with flat memory."""

import io
import json
import os
import re
import signal
import time
import zipfile
from pathlib import Path

import pytest

from chatkit import assert_problem, direct, group, send, uid
from helpers import wait_until, without_url_stamp

READY_TIMEOUT = 60
MiB = 1024 * 1024


@pytest.fixture(scope="module", autouse=True)
def builder_every_second(stack):
    """The builder runs every second here, not every 10 (the default the
    other suites keep: a periodic child that comes and goes each second
    would be one more process among the files master's children)."""
    if not stack.local:
        yield
        return
    with stack.restarted("files", MSGR_EXPORT_INTERVAL=1):
        yield


def request(api, user, expect=202):
    r = api.post("/api/users/me/export", token=user)
    assert r.status_code == expect, r.text
    return r.json()


def status(api, user):
    r = api.get("/api/users/me/export", token=user)
    assert r.status_code == 200, r.text
    return r.json()


def wait_ready(api, user, timeout=READY_TIMEOUT):
    def ready():
        e = status(api, user)
        assert e["status"] != "failed", e
        return e if e["status"] == "ready" else None

    return wait_until(ready, timeout=timeout, interval=0.2, message="export ready")


def download(api, export):
    r = api.get(export["url"])
    assert r.status_code == 200, r.text[:500]
    assert r.headers["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(r.content))


def upload(api, user, name, data):
    r = api.post("/api/files", token=user, files=[("file", (name, data, "application/octet-stream"))])
    assert r.status_code == 201, r.text
    return r.json()["files"][0]


def all_messages(api, user, chat_id):
    out, after = [], 0
    while True:
        r = api.get(f"/api/chats/{chat_id}/messages?after={after}&limit=100", token=user)
        assert r.status_code == 200, r.text
        page = r.json()
        out += page["messages"]
        if not page["has_more"]:
            return out
        after = out[-1]["id"]


def stored(stack, key):
    """Whether the storage (directory or object store) holds key."""
    if getattr(stack, "s3", None):
        return key in stack.s3.keys()
    return (stack.var / "files" / key).exists()


def export_files(stack, user_id):
    return stack.psql("SELECT id, storage_key, deleted_at IS NOT NULL FROM files "
                      "WHERE uploader_id = %s AND kind = 'export' ORDER BY id", user_id)


def discard(api, stack, user):
    r = api.delete("/api/users/me/export", token=user)
    assert r.status_code == 204, r.text


# ---- the requests --------------------------------------------------------------


def test_request_status_and_one_at_a_time(api, stack, new_user):
    alice = new_user("exp")
    assert_problem(api.get("/api/users/me/export", token=alice), 404, "export_not_found")
    assert api.post("/api/users/me/export").status_code == 401
    assert api.get("/api/users/me/export").status_code == 401
    first = request(api, alice)
    assert first["status"] == "pending" and re.match(r"^\d{4}-.*Z$", first["requested_at"])
    # One at a time: a second request while it is pending or running.
    assert_problem(api.post("/api/users/me/export", token=alice), 409, "export_running")
    assert status(api, alice)["status"] in ("pending", "running")
    assert_problem(api.delete("/api/users/me/export", token=alice), 409, "export_running")
    e = wait_ready(api, alice)
    assert set(e) == {"status", "requested_at", "ready_at", "expires_at", "size", "url"}
    assert e["requested_at"] == first["requested_at"]
    assert e["size"] > 0 and e["url"].startswith("/api/files/")
    exp = int(re.search(r"[?&]exp=(\d+)", e["url"]).group(1))
    # The URL is valid as long as the archive is kept: 7 days.
    assert abs(exp - (time.time() + 7 * 86400)) < 120
    # Another may be asked for now; the first stays until it is ready.
    request(api, alice)
    e2 = wait_ready(api, alice)
    assert e2["url"] != e["url"]
    old_id = int(e["url"].split("/")[3].split("?")[0])
    assert api.get(e["url"]).status_code == 404  # the older archive went
    assert stack.psql("SELECT count(*) FROM files WHERE id = %s AND deleted_at IS NULL", old_id) == [(0,)]
    # The archive does not count against the storage quota.
    assert stack.psql("SELECT user_storage_bytes(%s)", uid(alice)) == [(0,)]
    # Discarded: gone, and its bytes too.
    [(fid, key, _)] = [r for r in export_files(stack, uid(alice)) if not r[2]]
    discard(api, stack, alice)
    assert_problem(api.get("/api/users/me/export", token=alice), 404, "export_not_found")
    assert_problem(api.delete("/api/users/me/export", token=alice), 404, "export_not_found")
    wait_until(lambda: not stored(stack, key), message="archive removed")
    assert api.get(e2["url"]).status_code == 404


def test_ready_event_and_mail(api, stack, new_user, ws):
    alice = new_user("expmail")
    sock = ws()
    sock.auth(alice)
    request(api, alice)
    frame = sock.wait_for(lambda f: f["type"] == "export.ready", timeout=READY_TIMEOUT)
    e = status(api, alice)
    assert frame["data"]["export"] == e
    assert frame.get("chat_id") is None
    [mail] = stack.wait_mails(alice["email"])
    assert mail["Subject"] == "Your Messenger data is ready to download"
    text = mail.get_body(("plain",)).get_content()
    assert e["url"] in text
    link = re.search(r"(https?://\S+/api/files/\S+)", text).group(1)
    assert link.endswith(e["url"])
    discard(api, stack, alice)


# ---- the archive ------------------------------------------------------------


def test_archive_holds_what_the_api_shows(api, stack, new_user):
    alice = new_user("expa", display_name="Alice <b>&</b>")
    bob, carol = new_user("expb"), new_user("expc")
    pic = upload(api, alice, "photo 1 (ü).bin", os.urandom(70000))
    doc = upload(api, bob, "notes.txt", b"bob's notes\n")
    dm = direct(api, alice, bob)
    send(api, alice, dm["id"], "hi <script>alert(1)</script> & bye", attachment_ids=[pic["id"]])
    send(api, bob, dm["id"], "two\nlines", attachment_ids=[doc["id"]])
    edited = send(api, alice, dm["id"], "to edit")
    assert api.patch(f"/api/messages/{edited['id']}", token=alice, json={"text": "edited"}).status_code == 200
    gone = send(api, alice, dm["id"], "to delete")
    assert api.delete(f"/api/messages/{gone['id']}", token=alice).status_code in (200, 204)
    g = group(api, carol, [alice], title="Group & co")
    for i in range(3):
        send(api, carol, g["id"], f"group message {i}")
    # A chat alice is not in: nothing of it in her archive.
    other = group(api, bob, [carol], title="Not alice's")
    secret = upload(api, bob, "secret.txt", b"not for alice")
    send(api, bob, other["id"], "secret", attachment_ids=[secret["id"]])

    request(api, alice)
    zf = download(api, wait_ready(api, alice))
    assert zf.testzip() is None
    names = set(zf.namelist())

    profile = json.loads(zf.read("profile.json"))
    me = api.get("/api/users/me", token=alice).json()
    settings = api.get("/api/users/me/settings", token=alice).json()
    assert profile.pop("settings") == settings
    volatile = ("online", "last_seen_at")
    assert {k: v for k, v in without_url_stamp(profile).items() if k not in volatile} == \
        {k: v for k, v in without_url_stamp(me).items() if k not in volatile}

    chats = json.loads(zf.read("chats.json"))
    listed = api.get("/api/chats", token=alice).json()

    def chat_view(c):
        c = without_url_stamp(c)
        for m in c["members"]:
            m["user"].pop("online")
            m["user"].pop("last_seen_at")
        return c

    assert [chat_view(c) for c in chats["chats"]] == [chat_view(c) for c in listed["chats"]]
    chat_ids = {c["id"] for c in listed["chats"]}
    assert other["id"] not in chat_ids
    assert {n for n in names if n.startswith("messages/")} == {f"messages/{i}.json" for i in chat_ids}
    files = {}
    for cid in chat_ids:
        got = json.loads(zf.read(f"messages/{cid}.json"))
        assert without_url_stamp(got) == without_url_stamp(all_messages(api, alice, cid))
        for m in got:
            for a in m["attachments"]:
                files[a["id"]] = a
    assert {pic["id"], doc["id"]} <= set(files)
    # Every file of those messages, byte for byte as the API serves it.
    assert {n for n in names if n.startswith("files/")} == {f"files/{i}-{a['name']}" for i, a in files.items()}
    for i, a in files.items():
        body = api.get(a["url"], token=alice).content
        assert zf.read(f"files/{i}-{a['name']}") == body
    assert not any("secret" in n for n in names)

    html = zf.read("index.html").decode()
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    assert "hi &lt;script&gt;alert(1)&lt;/script&gt; &amp; bye" in html
    assert "Alice &lt;b&gt;&amp;&lt;/b&gt;" in html and "Group &amp; co" in html
    assert "two<br>lines" in html and "edited" in html
    # Links to the files inside the archive, percent-encoded.
    for href in re.findall(r'href="(files/[^"]+)"', html):
        from urllib.parse import unquote
        assert unquote(href.replace("&amp;", "&")) in names
    assert 'href="files/%d-photo%%201%%20%%28%%C3%%BC%%29.bin"' % pic["id"] in html
    for cid in chat_ids:
        assert f'id="c{cid}"' in html
    discard(api, stack, alice)


def test_stranger_cannot_download(api, stack, new_user):
    alice, bob = new_user("expo"), new_user("exps")
    request(api, alice)
    e = wait_ready(api, alice)
    file_id = int(e["url"].split("/")[3].split("?")[0])
    # Bob has no export of his own, and alice's is not his.
    assert_problem(api.get("/api/users/me/export", token=bob), 404, "export_not_found")
    assert_problem(api.get(f"/api/files/{file_id}", token=bob), 404, "file_not_found")
    # The URL is the credential: without its signature, or with another's.
    assert api.get(f"/api/files/{file_id}").status_code in (401, 403, 404)
    forged = re.sub(r"sig=[0-9a-f]{4}", "sig=0000", e["url"])
    assert forged != e["url"]
    assert api.get(forged).status_code in (403, 404)
    other_exp = re.sub(r"exp=(\d+)", lambda m: f"exp={int(m.group(1)) + 1}", e["url"])
    assert api.get(other_exp).status_code in (403, 404)
    # The owner may, with the URL or her token.
    assert api.get(f"/api/files/{file_id}", token=alice).status_code == 200
    discard(api, stack, alice)


# ---- the builder ------------------------------------------------------------


def files_master(stack):
    return int(open(stack.var / "run" / "files.pid").read().split()[0])


def builder_pid(stack):
    """The files master's child that has the archive open: the periodic
    job's, while it builds (the workers never open the storage's temporary
    files outside a request)."""
    master = files_master(stack)
    with open(f"/proc/{master}/task/{master}/children") as f:
        children = [int(p) for p in f.read().split()]
    storage = str((stack.var / "files").resolve())
    for pid in children:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith(storage + "/") and "(deleted)" in target or \
                        target.startswith(storage + "/.upload-"):
                    return pid
        except OSError:
            continue
    return None


def big_account(stack, api, user, sizes):
    """Gives user a message with files of the given sizes whose bytes are
    sparse files made straight in the storage directory (fast, and no
    disk): what uploads would have made, without the hours."""
    if getattr(stack, "s3", None):
        pytest.skip("sparse files are made in the storage directory (disk only)")
    chat = group(api, user, [], title="Big files")
    msg = send(api, user, chat["id"], "big ones")
    ids, paths = [], []
    for i, size in enumerate(sizes):
        key = os.urandom(16).hex()
        path = stack.var / "files" / key
        with open(path, "wb") as f:
            f.truncate(size)
        paths.append(path)
        [(fid,)] = stack.psql(
            "INSERT INTO files (uploader_id, kind, name, size, mime, storage_key, message_id, attach_order) "
            "VALUES (%s, 'upload', %s, %s, 'application/octet-stream', %s, %s, %s) RETURNING id",
            uid(user), f"big{i}.bin", size, key, msg["id"], i)
        ids.append(fid)
    return ids, paths


def drop_files(stack, ids, paths):
    stack.psql("SELECT files_drop(%s::bigint[])", ids)
    for p in paths:
        Path(p).unlink(missing_ok=True)


def peak_memory_of(stack, export_id):
    line = wait_until(lambda: re.search(rf"export {export_id} of user \d+ ready: .* peak memory (\d+) kB",
                                        stack.log("files")), message="the builder's log line")
    return int(line.group(1))


def export_id_of(stack, user):
    return stack.psql("SELECT max(id) FROM exports WHERE user_id = %s", uid(user))[0][0]


def test_builder_killed_mid_way_completes_on_its_next_run(api, stack, new_user):
    alice = new_user("expk")
    ids, paths = big_account(stack, api, alice, [300 * MiB, 300 * MiB])
    try:
        request(api, alice)
        pid = wait_until(lambda: builder_pid(stack), timeout=READY_TIMEOUT, interval=0.05,
                         message="the builder at work")
        assert status(api, alice)["status"] == "running"
        os.kill(pid, signal.SIGKILL)
        # The master starts the next run; it finds the dead run's row and
        # makes the archive again.
        e = wait_ready(api, alice, timeout=120)
        assert stack.psql("SELECT attempts FROM exports WHERE user_id = %s", uid(alice)) == [(2,)]
        # One archive, the whole one: nothing of the dead run is named.
        live = [r for r in export_files(stack, uid(alice)) if not r[2]]
        assert len(live) == 1 and e["size"] > 600 * MiB
        r = api.get(e["url"], stream=True)
        assert r.status_code == 200
        with open(stack.var / "export-check.zip", "wb") as f:
            for chunk in r.iter_content(4 * MiB):
                f.write(chunk)
        with zipfile.ZipFile(stack.var / "export-check.zip") as zf:
            info = {i.filename: i for i in zf.infolist()}
            assert info[f"files/{ids[0]}-big0.bin"].file_size == 300 * MiB
            assert {"profile.json", "chats.json", "index.html"} <= set(info)
        (stack.var / "export-check.zip").unlink()
        discard(api, stack, alice)
    finally:
        drop_files(stack, ids, paths)


def test_one_gigabyte_with_flat_memory(api, stack, new_user):
    small, large = new_user("expsm"), new_user("expl")
    request(api, small)
    wait_ready(api, small)
    small_peak = peak_memory_of(stack, export_id_of(stack, small))
    ids, paths = big_account(stack, api, large, [100 * MiB] * 10 + [24 * MiB])
    try:
        request(api, large)
        e = wait_ready(api, large, timeout=300)
        assert e["size"] > 1024 * MiB
        large_peak = peak_memory_of(stack, export_id_of(stack, large))
        print(f"builder's peak memory: {small_peak} kB for a small account, {large_peak} kB for 1 GiB")
        assert large_peak - small_peak < 2 * 1024, (small_peak, large_peak)
        discard(api, stack, large)
    finally:
        drop_files(stack, ids, paths)
    discard(api, stack, small)


def test_expired_exports_are_removed(api, stack, new_user):
    alice = new_user("expx")
    request(api, alice)
    e = wait_ready(api, alice)
    [(fid, key, _)] = export_files(stack, uid(alice))
    assert stored(stack, key)
    stack.psql("UPDATE exports SET expires_at = now() - interval '1 second' WHERE user_id = %s", uid(alice))
    wait_until(lambda: stack.psql("SELECT count(*) FROM exports WHERE user_id = %s", uid(alice)) == [(0,)],
               timeout=30, message="the export expired")
    wait_until(lambda: not stored(stack, key), timeout=30, message="its archive removed")
    assert api.get(e["url"]).status_code == 404
    assert_problem(api.get("/api/users/me/export", token=alice), 404, "export_not_found")


def test_account_deletion_removes_the_export(api, stack, new_user):
    alice = new_user("expd")
    request(api, alice)
    e = wait_ready(api, alice)
    [(fid, key, _)] = export_files(stack, uid(alice))
    r = api.delete("/api/users/me", token=alice, json={"password": alice["password"]})
    assert r.status_code == 204, r.text
    assert stack.psql("SELECT count(*) FROM exports WHERE user_id = %s", uid(alice)) == [(0,)]
    assert api.get(e["url"]).status_code == 404
    wait_until(lambda: not stored(stack, key) or stack.psql(
        "SELECT deleted_at IS NOT NULL FROM files WHERE id = %s", fid) in ([(True,)], []),
        message="the archive marked deleted")
