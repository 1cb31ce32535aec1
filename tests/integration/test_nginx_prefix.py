"""The messenger behind a sysadmin's own nginx, as the README's "Behind your
own nginx" says to set it up: a second nginx, whose workers run as
www-data (the stock Debian `user www-data;`), with a server of its own (its
own `location /` and a server-level Strict-Transport-Security header) that
includes the snippets rendered with URL_PREFIX=/chat for the running test
stack's sockets and stored files. The test stack gives those to www-data's
group (NGINX_GROUP, tests/helpers.py), which is all that lets this nginx
in. Everything goes through this nginx: the app and its files, the API, the
WebSocket, uploads and downloads; the server's header is on every kind of
answer; a stored file nginx cannot read is a problem document."""

import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import uuid
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from helpers import STACK_SH, processes_using
from nginx2 import HSTS, PREFIX, SITE_PAGE, USER, second_nginx
from ws_client import WsClient


@pytest.fixture(scope="module")
def nginx2(stack):
    with second_nginx(stack) as n:
        yield n


def has_hsts(r):
    assert r.headers.get("Strict-Transport-Security") == HSTS, \
        f"{r.request.method} {r.url} {r.status_code}: no server header in {dict(r.headers)}"


class Refs(HTMLParser):
    """The URLs a page names in href and src."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v:
                self.urls.append(v)


def test_nginx_workers_run_as_another_user(nginx2, stack):
    master = nginx2.master_pid()
    workers = [pid for pid, _ in processes_using(nginx2.tmp) if pid != master]
    assert workers
    uid = pwd.getpwnam(USER).pw_uid
    for pid in workers:
        assert os.stat(f"/proc/{pid}").st_uid == uid
    # which reach the stack only through the group NGINX_GROUP gave it
    for p in [stack.var / "run" / "auth.sock", stack.var / "run" / "wsd.sock", stack.var / "files"]:
        st = p.stat()
        assert st.st_uid != uid and st.st_gid == grp.getgrnam("www-data").gr_gid, p
        assert st.st_mode & 0o007 == 0, f"{p} is open to others: {oct(st.st_mode)}"


def test_the_servers_own_location_stays_its_own(nginx2):
    r = requests.get(nginx2.base + "/", timeout=10)
    assert r.status_code == 200 and r.content == SITE_PAGE
    has_hsts(r)
    # and the app's paths without the prefix are the server's, not the app's
    assert requests.get(nginx2.base + "/api/health", timeout=10).status_code == 404
    assert requests.get(nginx2.base + "/js/main.js", timeout=10).status_code == 404


def test_the_app_and_everything_it_names_under_the_prefix(nginx2):
    r = requests.get(nginx2.app, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "Content-Security-Policy" in r.headers
    has_hsts(r)
    parser = Refs()
    parser.feed(r.text)
    assert {"css/app.css", "js/main.js"} <= set(parser.urls), parser.urls
    for ref in parser.urls:
        url = urljoin(r.url, ref)
        assert urlsplit(url).path.startswith(PREFIX + "/"), f"{ref} resolves outside the prefix"
        got = requests.get(url, timeout=10)
        assert got.status_code == 200, url
        assert not got.headers["Content-Type"].startswith("text/html"), url
        has_hsts(got)
    # the prefix without its slash is the app; another path under it too
    r = requests.get(nginx2.base + PREFIX, allow_redirects=False, timeout=10)
    assert r.status_code == 301 and urlsplit(r.headers["Location"]).path == PREFIX + "/"
    r = requests.get(nginx2.app + "no/such/page", allow_redirects=False, timeout=10)
    assert r.status_code == 302 and urlsplit(r.headers["Location"]).path == PREFIX + "/"


def test_the_api_under_the_prefix(nginx2):
    api = nginx2.api
    r = api.get("/api/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    has_hsts(r)
    alice = api.new_user("pfx")
    r = api.post("/api/auth/login", json={"login": alice["username"], "password": alice["password"]})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    r = api.get("/api/users/me", token=token)
    assert r.status_code == 200 and r.json()["id"] == alice["user"]["id"]
    has_hsts(r)
    # problem documents: the program's, and nginx's own
    for path, status in (("/api/users/me", 401), ("/api/nothing/here", 404)):
        r = api.get(path)
        assert r.status_code == status
        assert r.headers["Content-Type"].startswith("application/problem+json")
        has_hsts(r)


def test_websocket_under_the_prefix(nginx2):
    api = nginx2.api
    alice, bob = api.new_user("pfxa"), api.new_user("pfxb")
    c = WsClient.open(f"ws://127.0.0.1:{nginx2.port}{PREFIX}/ws", origin=nginx2.base)
    try:
        c.auth(alice)
        r = api.post("/api/chats", token=bob, json={"type": "direct", "user_id": alice["user"]["id"]})
        assert r.status_code in (200, 201), r.text
        cid = r.json()["id"]
        r = api.post(f"/api/chats/{cid}/messages", token=bob, json={"text": "under a prefix"})
        assert r.status_code == 201, r.text
        f = c.wait_for(lambda f: f["type"] == "message.created"
                       and f["data"]["message"]["chat_id"] == cid)
        assert f["data"]["message"]["text"] == "under a prefix"
    finally:
        c.close()


def upload(nginx2, user, name, data):
    r = nginx2.api.post("/api/files", token=user, files=[("file", (name, data, "text/plain"))])
    assert r.status_code == 201, r.text
    has_hsts(r)
    return r.json()["files"][0]


def test_upload_and_download_under_the_prefix(nginx2):
    api = nginx2.api
    alice = api.new_user("pfxf")
    data = b"stored through the second nginx " + uuid.uuid4().hex.encode()
    f = upload(nginx2, alice, "notes.txt", data)
    # the API's url is a path from the API's root, which the app resolves
    # against its own directory (www/js/api.js, apiHref)
    assert f["url"].startswith("/api/files/")
    for r in (api.get(f"/api/files/{f['id']}", token=alice),
              requests.get(urljoin(nginx2.app, f["url"][1:]), timeout=10)):
        assert r.status_code == 200, r.text
        assert r.content == data
        assert "attachment" in r.headers["Content-Disposition"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Cache-Control"].startswith("private")
        assert not [h for h in r.headers if h.lower().startswith("x-messenger-")]
        has_hsts(r)


def directory_only(stack):
    if stack.store is not None:
        pytest.skip("the files are in the object store: nginx reads no file of the directory")


def test_an_unreadable_file_is_a_problem_document(nginx2, stack):
    directory_only(stack)
    api = nginx2.api
    alice = api.new_user("pfxu")
    f = upload(nginx2, alice, "secret-plans.txt", b"nginx may not read this")
    key = stack.psql("SELECT storage_key FROM files WHERE id = %s", f["id"])[0][0]
    path = stack.var / "files" / key
    mode = path.stat().st_mode & 0o7777
    path.chmod(0)
    try:
        for r in (api.get(f"/api/files/{f['id']}", token=alice),
                  requests.get(urljoin(nginx2.app, f["url"][1:]), timeout=10)):
            assert r.status_code == 500
            assert r.headers["Content-Type"].startswith("application/problem+json")
            assert "Content-Disposition" not in r.headers, "a problem saved under the file's name"
            assert "Cache-Control" not in r.headers, "an error kept as long as the file's URL"
            doc = r.json()
            assert doc["status"] == 500 and doc["code"] == "file_unreadable", doc
            assert "NGINX_GROUP" in doc["detail"]
            has_hsts(r)
    finally:
        path.chmod(mode)
    r = api.get(f"/api/files/{f['id']}", token=alice)
    assert r.status_code == 200 and r.content == b"nginx may not read this"
    assert "Permission denied" in nginx2.error_log()


# ---- NGINX_GROUP of the local stack (scripts/stack.sh) ---------------------------


def test_start_gives_stored_files_back_to_nginx_group(stack, api, new_user):
    """Files of another group (a restore, an older stack) are nginx's again
    after a start."""
    stack._need_local()
    directory_only(stack)
    alice = new_user("grp")
    r = api.post("/api/files", token=alice, files=[("file", ("a.txt", b"regrouped", "text/plain"))])
    assert r.status_code == 201, r.text
    key = stack.psql("SELECT storage_key FROM files WHERE id = %s", r.json()["files"][0]["id"])[0][0]
    path = stack.var / "files" / key
    want = path.stat().st_gid
    assert grp.getgrgid(want).gr_name == stack.env.get("NGINX_GROUP", grp.getgrgid(want).gr_name)
    other = os.getgid() if os.getgid() != want else os.getuid()
    os.chown(path, -1, other)
    stack.stack_sh("start")  # already running: only the state directory is seen to
    assert path.stat().st_gid == want
    assert (stack.var / "files").stat().st_mode & 0o2000, "files/ is setgid"
    assert (stack.var / "run").stat().st_mode & 0o2000, "run/ is setgid"


def _init(var, **env):
    full = {k: v for k, v in os.environ.items() if k != "NGINX_GROUP"}
    full.update(VAR=str(var), **env)
    return subprocess.run([str(STACK_SH), "init"], env=full, capture_output=True, text=True,
                          timeout=180)


def test_an_unknown_nginx_group_is_refused_before_anything_is_made():
    tmp = Path(tempfile.mkdtemp(prefix="msgr-grp-"))
    try:
        r = _init(tmp / "var", NGINX_GROUP="no-such-group-here")
        assert r.returncode != 0
        assert "NGINX_GROUP 'no-such-group-here': there is no such group" in r.stderr
        assert not (tmp / "var").exists()
        r = _init(tmp / "var", NGINX_GROUP="bad group;")
        assert r.returncode != 0 and "is not a group name" in r.stderr
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_the_default_group_is_the_system_nginx_s():
    try:
        conf = Path("/etc/nginx/nginx.conf").read_text()
    except OSError:
        pytest.skip("no /etc/nginx/nginx.conf")
    m = re.search(r"^\s*user\s+([^;\s]+)\s*;", conf, re.M)
    if os.getuid() != 0 or not m:
        pytest.skip("needs root and a `user NAME;` in /etc/nginx/nginx.conf")
    want = grp.getgrgid(pwd.getpwnam(m.group(1)).pw_gid).gr_name
    tmp = Path(tempfile.mkdtemp(prefix="msgr-grp-"))
    tmp.chmod(0o755)
    try:
        r = _init(tmp / "var")
        assert r.returncode == 0, r.stderr
        for d in ("run", "files"):
            assert grp.getgrgid((tmp / "var" / d).stat().st_gid).gr_name == want, d
        assert not processes_using(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
