"""The stack itself: nginx routing and headers, the database set-up,
restarting parts (scripts/stack.sh, nginx/*.conf, scripts/migrate.sh)."""

import os
import re
import signal
import stat

import pytest

from helpers import REPO, wait_until

CSP = (
    "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; "
    "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def test_health(api):
    r = api.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/api", "/api/", "/api/nothing", "/api/chatsx", "/api/v2/chats"])
def test_unknown_api_path_is_a_json_404(api, path):
    r = api.get(path)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 404 and body["code"] == "not_found"


def test_web_app_and_its_headers(api):
    r = api.get("/")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.headers["Content-Security-Policy"] == CSP
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"


def test_web_app_routes_fall_back_to_index(api):
    """Its routes are in the fragment; another path is sent to its page,
    whose relative URLs would not resolve from a deeper one."""
    index = api.get("/").text
    r = api.get("/chats/12")
    assert [h.status_code for h in r.history] == [302]
    assert r.status_code == 200 and r.url == api.url("/")
    assert r.text == index


def test_stored_files_are_internal_only(stack, api):
    assert api.get("/_files/anything").status_code == 404
    if stack.local:
        secret = (stack.var / "secret").read_text()
        for path in ("/_files/../secret", "/_files/%2e%2e/secret", "/_files..%2fsecret"):
            assert secret not in api.get(path).text


def test_json_endpoints_refuse_big_bodies_with_a_problem(api):
    body = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    r = api.post("/api/auth/login", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["status"] == 413


def test_migrations_are_recorded(stack):
    if not stack.local:
        pytest.skip("needs the local stack")
    files = sorted(p.stem for p in (REPO / "schema" / "migrations").glob("[0-9][0-9][0-9]_*.sql"))
    rows = stack.psql("SELECT version FROM schema_migrations ORDER BY version")
    assert [r[0] for r in rows] == files


def test_application_role(stack):
    if not stack.local:
        pytest.skip("needs the local stack")
    rows = stack.psql(
        "SELECT rolsuper, rolcanlogin, rolconfig FROM pg_roles WHERE rolname = 'msgr_app'"
    )
    assert len(rows) == 1
    superuser, login, config = rows[0]
    assert login and not superuser
    assert "statement_timeout=5s" in config
    assert "idle_in_transaction_session_timeout=10s" in config
    # It can use every table but the migrations' bookkeeping.
    missing = stack.psql(
        """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
             AND c.relname <> 'schema_migrations'
             AND NOT has_table_privilege('msgr_app', c.oid, 'SELECT, INSERT, UPDATE, DELETE')"""
    )
    assert missing == []
    assert stack.psql("SELECT has_table_privilege('msgr_app', 'schema_migrations', 'INSERT')") == [
        (False,)
    ]


def test_secret(stack):
    if not stack.local:
        pytest.skip("needs the local stack")
    path = stack.var / "secret"
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert re.fullmatch(r"[0-9a-f]{64}", path.read_text())


def test_start_again_changes_nothing(stack):
    if not stack.local:
        pytest.skip("needs the local stack")
    pids = {p.name: p.read_text() for p in (stack.var / "run").glob("*.pid")}
    stack.stack_sh("start")
    assert {p.name: p.read_text() for p in (stack.var / "run").glob("*.pid")} == pids


def test_restart_a_program(stack, api):
    if not stack.local:
        pytest.skip("needs the local stack")
    before = (stack.var / "run" / "auth.pid").read_text()
    stack.restart("auth")
    assert (stack.var / "run" / "auth.pid").read_text() != before
    wait_until(lambda: api.get("/api/health").status_code == 200, message="health after restart")


def test_restart_the_database(stack, api):
    if not stack.local:
        pytest.skip("needs the local stack")
    stack.restart_db()
    # The workers reconnect on their next statement.
    wait_until(lambda: api.get("/api/health").status_code == 200, message="health after restart")
    assert stack.psql("SELECT 1") == [(1,)]


def _children(pid):
    """The live (not zombie) processes whose parent is pid."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                kids.append(int(entry))
    return kids


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_children_end_with_their_master(stack, api):
    """A FastCGI master killed outright takes its workers and its companion
    with it (shared/server.c end_with_master): none is left serving beside
    the master started in its place."""
    if not stack.local:
        pytest.skip("needs the local stack")
    master = int((stack.var / "run" / "messages.pid").read_text().split()[0])
    kids = _children(master)
    assert len(kids) >= 2, kids  # the workers and the companion
    try:
        os.kill(master, signal.SIGKILL)
        wait_until(lambda: not any(_alive(k) for k in kids), timeout=15,
                   message="the children of a killed master to end")
    finally:
        stack.restart("messages")
    wait_until(lambda: api.get("/api/search/messages?q=x", token=None).status_code == 401,
               message="messages serving again")
