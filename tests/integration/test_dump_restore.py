"""A plain pg_dump of a live database restores and serves: the stack's
database, populated through nginx, is dumped (custom and plain format),
restored into a fresh cluster with every error fatal, and a second stack
started on it (with the first one's server secret and stored files, as a
restore of a deployment has them) answers history, search and the file as
the first one did (schema/README.md, "Names: any search_path")."""

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from helpers import Api, Stack, without_url_stamp

PGBIN = "/usr/lib/postgresql/15/bin"


def run_user():
    """Who runs the stack's processes (scripts/stack.sh): messenger as root."""
    return "messenger" if os.getuid() == 0 else pwd.getpwuid(os.getuid()).pw_name


def as_run_user(*cmd):
    if os.getuid() == 0:
        cmd = ("/usr/bin/setpriv", "--reuid=messenger", "--regid=messenger", "--init-groups", "--", *cmd)
    subprocess.run(cmd, check=True, cwd="/", stdin=subprocess.DEVNULL,
                   capture_output=True, timeout=120)


def chown_tree(path):
    if os.getuid() != 0:
        return
    user = pwd.getpwnam("messenger")
    for root, dirs, files in os.walk(path):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.chown(name, user.pw_uid, user.pw_gid)


@pytest.fixture(scope="module")
def written(stack, api):
    """Users, a group, messages with searchable text, a reaction, a read
    marker and a file attached to a message, all through nginx; with what
    the stack answered to read them."""
    if not stack.local:
        pytest.skip("needs the local stack")
    alice, bob = api.new_user("dumpa"), api.new_user("dumpb")
    word = "restore" + uuid.uuid4().hex[:10]
    r = api.post("/api/chats", token=alice,
                 json={"type": "group", "title": "Dumped", "member_ids": [bob["user"]["id"]]})
    assert r.status_code == 201, r.text
    chat = r.json()["id"]
    data = ("bytes of a file to restore\n" * 50).encode()
    r = api.post("/api/files", token=alice, files=[("file", ("notes.txt", data, "text/plain"))])
    assert r.status_code == 201, r.text
    file_id = r.json()["files"][0]["id"]
    sent = []
    for user, body in ((alice, {"text": f"the {word} plan 🎉"}),
                       (bob, {"text": "Приветствую, and some other words"}),
                       (alice, {"text": f"{word} notes attached", "attachment_ids": [file_id]})):
        r = api.post(f"/api/chats/{chat}/messages", token=user, json=body)
        assert r.status_code == 201, r.text
        sent.append(r.json())
    r = api.put(f"/api/messages/{sent[0]['id']}/reactions/%F0%9F%91%8D", token=bob)
    assert r.status_code == 204, r.text
    r = api.post(f"/api/chats/{chat}/read", token=bob, json={"message_id": sent[2]["id"]})
    assert r.status_code == 204, r.text
    return {"alice": alice, "bob": bob, "chat": chat, "word": word, "file_id": file_id,
            "data": data, "sent": sent, "read": read_back(api, alice, bob, chat, word, file_id)}


def read_back(api, alice, bob, chat, word, file_id):
    history = api.get(f"/api/chats/{chat}/messages?limit=50", token=bob)
    found = api.get(f"/api/search/messages?q={word}", token=bob)
    symbol = api.get(f"/api/search/messages?q=%F0%9F%8E%89&chat_id={chat}", token=alice)
    one_chat = api.get(f"/api/chats/{chat}", token=bob)
    file = api.get(f"/api/files/{file_id}", token=bob)
    for r in (history, found, symbol, one_chat, file):
        assert r.status_code == 200, (r.url, r.status_code, r.text[:500])
    members = {m["user"]["id"]: (m["role"], m["last_read_message_id"])
               for m in one_chat.json()["members"]}
    return {
        "history": without_url_stamp(history.json()),
        "search": without_url_stamp(found.json()),
        "symbol": [m["id"] for m in symbol.json()["messages"]],
        "members": members,
        "title": one_chat.json()["title"],
        "file": file.content,
        "file_type": file.headers.get("Content-Type"),
    }


def dump(stack, fmt, path):
    env = dict(os.environ, PGHOST=str(stack.var / "run"), PGUSER=stack.db_superuser)
    subprocess.run([f"{PGBIN}/pg_dump", "-d", "messenger", f"--format={fmt}", "-f", str(path)],
                   env=env, check=True, timeout=300, capture_output=True)


def restore_into_fresh_cluster(var, fmt, path):
    """initdb as the stack does, the application role and an empty database,
    then the dump, stopping at the first error."""
    (var / "run").mkdir(mode=0o700)
    (var / "pg").mkdir(mode=0o700)
    chown_tree(var)
    as_run_user(f"{PGBIN}/initdb", "-D", str(var / "pg"), "-U", run_user(), "--auth=trust",
                "--encoding=UTF8", "--locale=C.UTF-8")
    as_run_user(f"{PGBIN}/pg_ctl", "-D", str(var / "pg"), "-l", str(var / "restore-pg.log"), "-w",
                "-o", f"-c listen_addresses='' -c unix_socket_directories={var / 'run'} -c fsync=off",
                "start")
    env = dict(os.environ, PGHOST=str(var / "run"), PGUSER=run_user(), PGDATABASE="messenger")
    try:
        psql = [f"{PGBIN}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        subprocess.run(psql + ["-d", "postgres", "-c", "CREATE ROLE msgr_app LOGIN",
                               "-c", "CREATE DATABASE messenger TEMPLATE template0 ENCODING 'UTF8' "
                                     "LOCALE 'C.UTF-8'"],
                       env=env, check=True, capture_output=True, timeout=60)
        if fmt == "custom":
            cmd = [f"{PGBIN}/pg_restore", "--exit-on-error", "-d", "messenger", str(path)]
        else:
            cmd = psql + ["-o", "/dev/null", "-d", "messenger", "-f", str(path)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"the {fmt} dump does not restore:\n{proc.stderr[-4000:]}"
    finally:
        as_run_user(f"{PGBIN}/pg_ctl", "-D", str(var / "pg"), "-m", "fast", "-w", "stop")


@pytest.mark.parametrize("fmt", ["custom", "plain"])
def test_a_dump_restores_into_a_fresh_cluster_and_serves(stack, written, fmt, tmp_path):
    path = tmp_path / f"messenger.{fmt}"
    dump(stack, fmt, path)
    var = Path(tempfile.mkdtemp(prefix="msgr-restore-"))
    restored = None
    try:
        restore_into_fresh_cluster(var, fmt, path)
        # The deployment's server secret and stored files come back with it
        # (on an object store the bucket is the files: the restored stack
        # names the same one).
        shutil.copy2(stack.var / "secret", var / "secret")
        shutil.copytree(stack.var / "files", var / "files")
        chown_tree(var)
        restored = Stack.start_local(stack.env["BIN"], var=var, store=stack.store)
        api = Api(restored.base_url)
        w = written
        now = read_back(api, w["alice"], w["bob"], w["chat"], w["word"], w["file_id"])
        assert now == w["read"]
        texts = [m["text"] for m in now["history"]["messages"]]
        assert texts[-3:] == [m["text"] for m in w["sent"]]
        assert [m["id"] for m in now["search"]["messages"]] == [w["sent"][2]["id"], w["sent"][0]["id"]]
        assert now["symbol"] == [w["sent"][0]["id"]]
        assert now["members"][w["bob"]["user"]["id"]] == ("member", w["sent"][2]["id"])
        assert now["file"] == w["data"]
        reactions = now["history"]["messages"][-3]["reactions"]
        assert reactions == [{"emoji": "👍", "count": 1, "me": True}]
        assert now["history"]["messages"][-1]["attachments"][0]["name"] == "notes.txt"

        # And it goes on: a new message gets a new id and is found.
        r = api.post(f"/api/chats/{w['chat']}/messages", token=w["bob"],
                     json={"text": f"after the {w['word']} restore"})
        assert r.status_code == 201, r.text
        assert r.json()["id"] > w["sent"][2]["id"]
        found = api.get(f"/api/search/messages?q={w['word']}", token=w["alice"]).json()["messages"]
        assert [m["id"] for m in found][0] == r.json()["id"]
    finally:
        if restored is not None:
            problems = restored.shutdown()
            assert not problems, "\n\n".join(problems)
        else:
            shutil.rmtree(var, ignore_errors=True)
