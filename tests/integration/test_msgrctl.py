"""msgrctl, the sysadmin's command line (README "Administration"), and `make
admin USERNAME=name`: every subcommand against the stack's database, its
errors and exit statuses, the audit log's record of it, and its place in
`make install`."""

import os
import pwd
import re
import subprocess
import time

from chatkit import assert_problem, uid
from helpers import REPO

MSGRCTL = REPO / "build-asan" / "bin" / "msgrctl"


def run(stack, *args, **env):
    full = dict(os.environ, MSGR_DATABASE_URL=f"host={stack.var / 'run'} dbname=messenger user=msgr_app",
                MSGR_PUBLIC_URL=stack.base_url + "/", ASAN_OPTIONS="detect_leaks=1")
    full.pop("SUDO_USER", None)
    full.update(env)
    return subprocess.run([str(MSGRCTL), *args], capture_output=True, text=True, timeout=60, env=full)


def last_audit(stack):
    return stack.psql("SELECT admin_id, actor, action, target->>'user_id' FROM admin_audit "
                      "ORDER BY id DESC LIMIT 1")[0]


def test_help_and_usage(stack):
    r = run(stack, "--help")
    assert r.returncode == 0 and r.stderr == ""
    for words in ("admin grant USERNAME", "admin revoke USERNAME", "user ban USERNAME",
                  "user unban USERNAME", "user delete USERNAME", "user reset-password USERNAME", "stats", "MSGR_DATABASE_URL"):
        assert words in r.stdout, words
    for args in ((), ("admin",), ("admin", "grant"), ("admin", "frob", "x"), ("user", "ban", "a", "b"),
                 ("stats", "x"), ("--bogus",)):
        r = run(stack, *args)
        assert r.returncode == 2 and r.stdout == "" and "usage: msgrctl" in r.stderr, args


def test_admin_grant_and_revoke(stack, api, new_user, ws):
    alice = new_user("alice")
    sock = ws()
    sock.auth(alice)
    r = run(stack, "admin", "grant", alice["username"].upper())
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{alice['username'].upper()} is an administrator\n"
    assert api.get("/api/users/me", token=alice).json()["role"] == "admin"
    # Her open app hears of it at once (the event announced at the commit).
    f = sock.wait_for(lambda f: f["type"] == "user.updated", timeout=5)
    assert f["data"]["user"]["id"] == uid(alice) and f["data"]["user"]["role"] == "admin"
    assert api.get("/api/admin/stats", token=alice).status_code == 200
    me = pwd.getpwuid(os.getuid()).pw_name
    assert last_audit(stack) == (None, f"msgrctl:{me}", "admin.grant", str(uid(alice)))
    # SUDO_USER names the person behind sudo.
    r = run(stack, "admin", "revoke", alice["username"], SUDO_USER="carol")
    assert r.returncode == 0 and r.stdout == f"{alice['username']} is a plain user\n"
    assert last_audit(stack) == (None, "msgrctl:carol", "admin.revoke", str(uid(alice)))
    assert_problem(api.get("/api/admin/stats", token=alice), 403, "admin_only")
    # The audit log shows it to administrators.
    admin = new_user("admin")
    run(stack, "admin", "grant", admin["username"])
    entries = api.get("/api/admin/audit?limit=3", token=admin).json()["entries"]
    assert entries[1]["action"] == "admin.revoke" and entries[1]["admin_id"] is None
    assert entries[1]["actor"] == "msgrctl:carol"


def test_unknown_user_and_unreachable_database(stack):
    count = stack.psql("SELECT count(*) FROM admin_audit")[0][0]
    for args in (("admin", "grant", "nobody_here"), ("user", "ban", "nobody_here"),
                 ("user", "reset-password", "nobody_here"), ("admin", "grant", "x'; drop table users; --")):
        r = run(stack, *args)
        assert r.returncode == 1 and r.stdout == "", args
        assert r.stderr == f'msgrctl: no user named "{args[2]}"\n', r.stderr
    assert stack.psql("SELECT count(*) FROM admin_audit")[0][0] == count
    r = run(stack, "stats", MSGR_DATABASE_URL="host=/nonexistent dbname=messenger")
    assert r.returncode == 3 and "cannot reach the database" in r.stderr


def test_user_ban_and_unban(stack, api, new_user, ws):
    bob = new_user("bob")
    sock = ws()
    sock.auth(bob)
    t0 = time.monotonic()
    r = run(stack, "user", "ban", bob["username"])
    assert r.returncode == 0, r.stderr
    assert "banned" in r.stdout
    assert sock.wait_closed(timeout=5)[0] == 4401 and time.monotonic() - t0 < 5
    assert_problem(api.get("/api/users/me", token=bob), 401, "session_revoked")
    login = {"login": bob["username"], "password": bob["password"]}
    assert_problem(api.post("/api/auth/login", json=login), 403, "account_banned")
    assert last_audit(stack)[2] == "user.ban"
    r = run(stack, "user", "unban", bob["username"])
    assert r.returncode == 0 and r.stdout == f"{bob['username']} may sign in again\n"
    assert api.post("/api/auth/login", json=login).status_code == 200
    assert last_audit(stack)[2] == "user.unban"


def test_reset_password_link(stack, api, new_user):
    carol = new_user("carol")
    r = run(stack, "user", "reset-password", carol["username"])
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(re.escape(stack.base_url) + r"/#/reset\?token=([A-Za-z0-9_-]{43})\n", r.stdout)
    assert m, r.stdout
    assert last_audit(stack)[2] == "user.password_reset"
    token = m.group(1)
    r = api.post("/api/auth/password-reset/confirm", json={"token": token, "password": "brand-new-password"})
    assert r.status_code == 204, r.text
    assert_problem(api.get("/api/users/me", token=carol), 401, "session_revoked")
    assert api.post("/api/auth/login", json={"login": carol["username"],
                                             "password": "brand-new-password"}).status_code == 200
    # Once only.
    r = api.post("/api/auth/password-reset/confirm", json={"token": token, "password": "another-password"})
    assert_problem(r, 400, "invalid_token")


def test_stats(stack, new_user):
    new_user("dave")
    r = run(stack, "stats")
    assert r.returncode == 0, r.stderr
    lines = dict(line.split() for line in r.stdout.splitlines())
    assert list(lines) == ["users", "users_active_24h", "messages_24h", "storage_bytes", "websockets"]
    assert int(lines["users"]) == stack.psql("SELECT count(*) FROM users")[0][0]


def test_make_admin(stack, api, new_user):
    erin = new_user("erin")
    env = dict(os.environ, VAR=str(stack.var), PORT=str(stack.port), BIN=str(REPO / "build-asan" / "bin"))
    env.pop("SUDO_USER", None)
    r = subprocess.run(["make", "-s", "admin", f"USERNAME={erin['username']}"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{erin['username']} is an administrator" in r.stdout
    assert api.get("/api/users/me", token=erin).json()["role"] == "admin"
    who = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    assert last_audit(stack) == (None, f"msgrctl:{who}", "admin.grant", str(uid(erin)))
    r = subprocess.run(["make", "-s", "admin"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "make admin USERNAME=<name>" in r.stderr
    r = subprocess.run(["make", "-s", "admin", "USERNAME=nobody_here"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and 'no user named "nobody_here"' in r.stderr


def test_make_install_puts_msgrctl_on_the_path(tmp_path):
    r = subprocess.run(["make", "-s", "install", f"DESTDIR={tmp_path}", "PREFIX=/usr/local"], cwd=REPO,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    exe = tmp_path / "usr/local/lib/messenger/msgrctl"
    assert exe.is_file() and os.access(exe, os.X_OK)
    assert exe.read_bytes() == (REPO / "build/bin/msgrctl").read_bytes()
    link = tmp_path / "usr/local/bin/msgrctl"
    assert link.is_symlink() and os.readlink(link) == "/usr/local/lib/messenger/msgrctl"
