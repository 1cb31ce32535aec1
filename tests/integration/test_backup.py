"""scripts/backup.sh and scripts/restore.sh: a backup of a populated, running
stack restores into a fresh state directory, and a stack started on it lets
every user log in with the same password, reads the same history and serves
every file and avatar byte-identical. A message deleted (its file unlinked)
and a file sent while the backup runs, after its snapshot, leave the backup
consistent: the dump still holds the first with its bytes, and not the
second."""

import json
import os
import pwd
import re
import shutil
import struct
import subprocess
import tarfile
import tempfile
import threading
import time
import zlib
from pathlib import Path

import pytest

from helpers import REPO, Api, Stack, own_stack, wait_until, without_url_stamp

BACKUP_SH = REPO / "scripts" / "backup.sh"
RESTORE_SH = REPO / "scripts" / "restore.sh"


def png(width=2, height=2):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\0" + b"\x10\x80\x20\xff" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def script_env(stack, var, **extra):
    env = {k: v for k, v in stack.env.items() if k not in ("BACKUP_DIR", "FROM", "FORCE")}
    env.update(VAR=str(var), **extra)
    return env


def run_script(script, env, *args, timeout=300):
    proc = subprocess.run([str(script), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    return proc


def send_file(api, user, chat, name, data, text):
    r = api.post("/api/files", token=user, files=[("file", (name, data, "text/plain"))])
    assert r.status_code == 201, r.text
    file_id = r.json()["files"][0]["id"]
    r = api.post(f"/api/chats/{chat}/messages", token=user, json={"text": text, "attachment_ids": [file_id]})
    assert r.status_code == 201, r.text
    return file_id, r.json()


def read_back(api, users, chat, files):
    history = api.get(f"/api/chats/{chat}/messages?limit=50", token=users[1])
    assert history.status_code == 200, history.text
    got = {}
    for fid in files:
        r = api.get(f"/api/files/{fid}", token=users[1])
        got[fid] = (r.status_code, r.content)
    return without_url_stamp(history.json()), got


@pytest.fixture(scope="module")
def populated(stack, api):
    if not stack.local:
        pytest.skip("needs the local stack")
    alice = api.new_user("bka", password="alice's long password")
    bob = api.new_user("bkb", password="bob's other password")
    r = api.post("/api/chats", token=alice,
                 json={"type": "group", "title": "Backed up", "member_ids": [bob["user"]["id"]]})
    assert r.status_code == 201, r.text
    chat = r.json()["id"]
    data = os.urandom(3000) + b"the end\n"
    kept_id, kept_msg = send_file(api, alice, chat, "kept.bin", data, "a file to keep")
    doomed_data = b"deleted while the backup runs\n" * 40
    doomed_id, doomed_msg = send_file(api, bob, chat, "doomed.txt", doomed_data, "deleted after the snapshot")
    for user, text in ((alice, "Привет 🎉"), (bob, "plain words")):
        r = api.post(f"/api/chats/{chat}/messages", token=user, json={"text": text})
        assert r.status_code == 201, r.text
    avatar = png()
    r = api.put("/api/users/me/avatar", token=alice, files=[("file", ("me.png", avatar, "image/png"))])
    assert r.status_code == 200, r.text
    return {"alice": alice, "bob": bob, "chat": chat, "kept": (kept_id, data),
            "doomed": (doomed_id, doomed_data, doomed_msg), "avatar": avatar,
            "read": read_back(api, (alice, bob), chat, [kept_id, doomed_id])}


def directory_only(stack):
    """The tests of the files' staging: a stack on an object store copies
    none (test_a_backup_on_an_object_store_is_the_dump_and_the_keys)."""
    if stack.store is not None:
        pytest.skip("the files are in the object store: the backup copies none")


def backup_paused_at(stack, tmp_path, step):
    """Starts backup.sh with a hook that, at step, touches hook.sh.reached
    and waits for hook.sh.go; returns (process, hook path, backup dir)."""
    hook = tmp_path / "hook.sh"
    hook.write_text(f'#!/bin/bash\n[ "$1" = {step} ] || exit 0\ntouch "$0.reached"\n'
                    'for i in $(seq 600); do [ -e "$0.go" ] && exit 0; sleep 0.1; done\nexit 1\n')
    hook.chmod(0o755)
    backup = tmp_path / "backup"
    proc = subprocess.Popen([str(BACKUP_SH)], env=script_env(stack, stack.var, BACKUP_DIR=str(backup),
                                                             BACKUP_TEST_HOOK=str(hook)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, hook, backup


def test_backup_during_changes_restores_into_a_fresh_stack(stack, api, populated, tmp_path):
    directory_only(stack)
    w = populated
    alice, bob, chat = w["alice"], w["bob"], w["chat"]
    doomed_id, doomed_data, doomed_msg = w["doomed"]
    doomed_key = stack.psql("SELECT storage_key FROM files WHERE id = %s", doomed_id)[0][0]

    # The backup stops once its snapshot is taken and its lock released:
    # the hook tells, then waits for the go.
    sync = tmp_path / "sync"
    sync.mkdir()
    proc, hook, backup = backup_paused_at(stack, tmp_path, "unlocked")
    try:
        wait_until(lambda: Path(f"{hook}.reached").exists() or proc.poll() is not None, timeout=60,
                   message="the backup's snapshot")
        assert proc.poll() is None, proc.communicate()
        # After the snapshot: a message deleted (its bytes go at once) and a
        # new file sent.
        r = api.delete(f"/api/messages/{doomed_msg['id']}", token=bob)
        assert r.status_code == 204, r.text
        assert not (stack.var / "files" / doomed_key).exists(), "the delete did not unlink the bytes"
        late_id, late_msg = send_file(api, alice, chat, "late.txt", b"sent after the snapshot\n", "late")
    finally:
        Path(f"{hook}.go").touch()
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert out.strip() == str(backup)
    assert not Path(f"{backup}.partial").exists()

    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["format"] == 1
    assert manifest["migrations"] == [r[0] for r in stack.psql(
        "SELECT version FROM schema_migrations ORDER BY 1")]
    assert manifest["missing_files"] == []
    assert set(manifest["counts"]) == {"users", "chats", "messages", "files", "file_bytes"}
    assert (backup / "files" / doomed_key).read_bytes() == doomed_data
    assert (backup / "secret").read_bytes() == (stack.var / "secret").read_bytes()
    assert not list((stack.var / "files").glob(".backup-stage*")), "the staging directory is left"

    var = Path(tempfile.mkdtemp(prefix="msgr-restored-"))
    restored = None
    try:
        r = run_script(RESTORE_SH, script_env(stack, var), str(backup))
        assert r.returncode == 0, r.stderr
        assert (var / "files").stat().st_mode & 0o777 == 0o750
        if os.getuid() == 0:
            messenger = pwd.getpwnam("messenger").pw_uid
            for p in [var / "secret", var / "files", *(var / "files").iterdir()]:
                assert p.stat().st_uid == messenger, p
        restored = Stack.start_local(stack.env["BIN"], var=var)
        new = Api(restored.base_url)

        # The same passwords log in, and the tokens of before still work
        # (the same secret).
        for user in (alice, bob):
            r = new.post("/api/auth/login", json={"login": user["username"], "password": user["password"]})
            assert r.status_code == 200, r.text
            r = new.get("/api/users/me", token=r.json()["access_token"])
            assert r.status_code == 200 and r.json()["id"] == user["user"]["id"], r.text
        r = new.get("/api/users/me", token=alice)
        assert r.status_code == 200, r.text

        # The history and the files of the snapshot, byte-identical: the
        # message deleted after it is there with its file; the late one is not.
        history, files = read_back(new, (alice, bob), chat, [w["kept"][0], doomed_id])
        assert history == w["read"][0]
        assert files == {w["kept"][0]: (200, w["kept"][1]), doomed_id: (200, doomed_data)}
        assert late_msg["id"] not in [m["id"] for m in history["messages"]]
        assert new.get(f"/api/files/{late_id}", token=alice).status_code == 404

        url = new.get(f"/api/users/{alice['user']['id']}", token=bob).json()["avatar_url"]
        assert new.get(url).content == w["avatar"]

        # And it goes on.
        r = new.post(f"/api/chats/{chat}/messages", token=bob, json={"text": "after the restore"})
        assert r.status_code == 201, r.text
        assert r.json()["id"] > max(m["id"] for m in history["messages"])
    finally:
        if restored is not None:
            problems = restored.shutdown()
            assert not problems, "\n\n".join(problems)
        else:
            shutil.rmtree(var, ignore_errors=True)


def test_the_files_table_is_locked_from_the_snapshot_to_the_links(stack, api, populated, tmp_path):
    """A delete between the snapshot and the hard links waits for the lock:
    without it the bytes of a file the dump names would be gone."""
    directory_only(stack)
    alice, chat = populated["alice"], populated["chat"]
    data = b"deleted while the files are being linked\n" * 30
    file_id, msg = send_file(api, alice, chat, "racing.txt", data, "deleted during the link pass")
    key = stack.psql("SELECT storage_key FROM files WHERE id = %s", file_id)[0][0]
    proc, hook, backup = backup_paused_at(stack, tmp_path, "snapshot")
    answer = {}
    deleter = threading.Thread(
        target=lambda: answer.update(r=api.delete(f"/api/messages/{msg['id']}", token=alice)))
    try:
        wait_until(lambda: Path(f"{hook}.reached").exists() or proc.poll() is not None, timeout=60,
                   message="the backup's snapshot")
        assert proc.poll() is None, proc.communicate()
        deleter.start()
        time.sleep(1.5)
        assert deleter.is_alive(), f"the delete did not wait for the backup's lock: {answer}"
        assert (stack.var / "files" / key).exists()
    finally:
        Path(f"{hook}.go").touch()
        out, err = proc.communicate(timeout=300)
        if deleter.ident is not None:
            deleter.join(timeout=60)
    assert proc.returncode == 0, err
    assert answer["r"].status_code == 204, answer["r"].text
    assert not (stack.var / "files" / key).exists()
    assert (backup / "files" / key).read_bytes() == data


def test_a_tar_backup_and_a_target_that_is_not_empty(stack, populated, tmp_path):
    directory_only(stack)
    archive = tmp_path / "b.tar"
    r = run_script(BACKUP_SH, script_env(stack, stack.var), str(archive))
    assert r.returncode == 0, r.stderr
    with tarfile.open(archive) as t:
        names = set(t.getnames())
    assert {"./manifest.json", "./messenger.dump", "./secret", "./files"} <= names
    assert archive.stat().st_mode & 0o077 == 0, "the archive holds the secret"
    # A backup never overwrites another.
    r = run_script(BACKUP_SH, script_env(stack, stack.var), str(archive))
    assert r.returncode != 0 and "exists already" in r.stderr

    # A backup whose dump is damaged is refused before the target changes.
    broken = tmp_path / "broken"
    broken.mkdir()
    with tarfile.open(archive) as t:
        t.extractall(broken)
    (broken / "messenger.dump").write_bytes(b"PGDMP" + b"\0" * 20)
    empty = tmp_path / "empty"
    r = run_script(RESTORE_SH, script_env(stack, empty), str(broken))
    assert r.returncode != 0 and "not a readable pg_dump archive" in r.stderr, r.stderr
    assert not empty.exists()

    var = tmp_path / "var"
    var.mkdir()
    (var / "secret").write_text("something else\n")
    r = run_script(RESTORE_SH, script_env(stack, var), str(archive))
    assert r.returncode != 0 and "already holds secret" in r.stderr, r.stderr
    assert (var / "secret").read_text() == "something else\n"
    assert not (var / "pg").exists()

    started = time.monotonic()
    r = run_script(RESTORE_SH, script_env(stack, var, FORCE="1"), str(archive))
    assert r.returncode == 0, r.stderr
    assert (var / "secret").read_bytes() == (stack.var / "secret").read_bytes()
    aside = list(var.glob("replaced-*"))
    assert len(aside) == 1 and (aside[0] / "secret").read_text() == "something else\n"
    kept_id, data = populated["kept"]
    key = stack.psql("SELECT storage_key FROM files WHERE id = %s", kept_id)[0][0]
    assert (var / "files" / key).read_bytes() == data
    assert "restored" in r.stderr, r.stderr
    assert time.monotonic() - started < 120
    # The stack of a running target is never restored over.
    r = run_script(RESTORE_SH, script_env(stack, stack.var, FORCE="1"), str(archive))
    assert r.returncode != 0 and "is running" in r.stderr, r.stderr



def test_a_backup_of_an_older_schema_upgrades(stack, populated, tmp_path):
    """restore.sh runs migrate.sh after the dump: a backup whose database
    lacks the last migration gets it. (The schemas from before migrations/
    and functions/ were split do not survive any pg_dump: schema/README.md.)"""
    backup = tmp_path / "backup"
    r = run_script(BACKUP_SH, script_env(stack, stack.var), str(backup))
    assert r.returncode == 0, r.stderr
    last = sorted(p.stem for p in (REPO / "schema" / "migrations").glob("*.sql"))[-1]
    db = f"msgr_bk_old_{os.getpid()}"
    env = dict(os.environ, PGHOST=str(stack.var / "run"), PGUSER=stack.db_superuser, PGDATABASE=db)
    env.pop("VAR", None)
    stack.psql(f'CREATE DATABASE "{db}" TEMPLATE template0')
    try:
        for cmd in (["pg_restore", "--exit-on-error", "-d", db, str(backup / "messenger.dump")],
                    ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                     f"DELETE FROM schema_migrations WHERE version = '{last}'"],
                    ["pg_dump", "-Fc", "-f", str(backup / "messenger.dump")]):
            subprocess.run([f"/usr/lib/postgresql/15/bin/{cmd[0]}", *cmd[1:]], env=env, check=True,
                           capture_output=True, timeout=300)
    finally:
        stack.psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    var = tmp_path / "var"
    r = run_script(RESTORE_SH, script_env(stack, var), str(backup))
    assert r.returncode == 0, r.stderr
    assert f"applying {last}" in r.stderr, r.stderr
    m = re.search(r"(\d+) of (\d+) migrations were in the backup", r.stderr)
    assert m, r.stderr
    current = len(list((REPO / "schema" / "migrations").glob("*.sql")))
    assert (int(m.group(1)), int(m.group(2))) == (current - 1, current), m.group(0)


def test_a_backup_on_an_object_store_is_the_dump_and_the_keys(stack, api, populated, tmp_path):
    """On an object store a backup is the database's dump, the secret and
    the keys of the files the dump names (store-keys): the bucket is the
    store's to keep (README "Backups"). It copies no file, so it takes no
    lock: writers of the files table never wait for it. Restored, a stack
    naming the same bucket serves the same history and bytes."""
    if stack.store is None:
        pytest.skip("the stack keeps its files in the directory (MSGR_TEST_STORAGE=s3 for the store)")
    w = populated
    alice, bob, chat = w["alice"], w["bob"], w["chat"]
    backup = tmp_path / "backup"
    # A transaction writing the files table stays open throughout: a
    # backup that locked the table would give up after its retries.
    writer = stack.hold_lock("LOCK TABLE files IN ROW EXCLUSIVE MODE")
    try:
        r = run_script(BACKUP_SH, script_env(stack, stack.var, BACKUP_LOCK_TIMEOUT="1s"), str(backup))
    finally:
        writer.close()
    assert r.returncode == 0, r.stderr
    assert "in the object store" in r.stderr, r.stderr
    assert sorted(p.name for p in backup.iterdir()) == ["manifest.json", "messenger.dump", "secret",
                                                         "store-keys"]
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["storage"] == stack.store.storage_url
    assert manifest["missing_files"] == []
    live = sorted(k for (k,) in stack.psql("SELECT storage_key FROM files WHERE deleted_at IS NULL"))
    keys = (backup / "store-keys").read_text().split()
    assert keys == live
    # (others of the session's tests take objects away behind their rows:
    # this one's files are in the store)
    mine = [k for (k,) in stack.psql(
        "SELECT storage_key FROM files WHERE uploader_id IN (%s, %s) AND deleted_at IS NULL",
        alice["user"]["id"], bob["user"]["id"])]
    assert len(mine) == 3 and set(mine) <= set(keys)
    assert all(stack.is_stored(k) for k in mine)

    var = Path(tempfile.mkdtemp(prefix="msgr-restored-"))
    try:
        r = run_script(RESTORE_SH, script_env(stack, var), str(backup))
        assert r.returncode == 0, r.stderr
        assert f"the files are in the object store {stack.store.storage_url}" in r.stderr, r.stderr
        assert list((var / "files").iterdir()) == []
    except BaseException:
        shutil.rmtree(var, ignore_errors=True)
        raise
    with own_stack(var=var, store=stack.store) as restored:
        new = Api(restored.base_url)
        assert read_back(new, (alice, bob), chat, [w["kept"][0], w["doomed"][0]]) == w["read"]
        url = new.get(f"/api/users/{alice['user']['id']}", token=bob).json()["avatar_url"]
        assert new.get(url).content == w["avatar"]
