"""Installing as a service (README "Installing as a service"): `make install
DESTDIR=... PREFIX=/usr/local` lays out the programs, the web app, the
schema with its migration script, the nginx templates, the systemd units of
deploy/systemd and the example environment file; the installed units pass
`systemd-analyze verify` (and a broken one does not); the installed
migrate.sh finds its schema and brings the stack's database up to date.

There is no running systemd here: `verify --root=DIR` reads the units and
checks their ExecStart= binaries inside DIR, which is the DESTDIR tree plus
a copy of the system's own units (sysinit.target and the rest that every
service depends on)."""

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from helpers import REPO

PREFIX = "/usr/local"
PROGRAMS = ["auth", "chats", "messages", "files", "wsd", "mailer"]
UNITS = ["messenger@.service", "messenger-migrate.service", "messenger.target"]
# What `systemctl enable --now messenger.target` starts, and the mailer that
# a sysadmin with a relay adds to it (README "Mail"): every unit to verify.
INSTANCES = ["messenger.target", "messenger-migrate.service"] + [f"messenger@{p}.service" for p in PROGRAMS]
SYSTEM_UNITS = Path("/usr/lib/systemd/system")


def make_install(destdir, *args):
    return subprocess.run(
        ["make", "-s", "install", f"DESTDIR={destdir}", f"PREFIX={PREFIX}", *args],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def dest(tmp_path_factory):
    d = tmp_path_factory.mktemp("install")
    r = make_install(d)
    assert r.returncode == 0, r.stdout + r.stderr
    return d


def verify_root(tree, where):
    """A root for `systemd-analyze verify --root`: a copy of an installed
    tree with the system's units beside ours."""
    root = where / "root"
    shutil.copytree(tree, root, symlinks=True)
    (root / "usr/lib/systemd").mkdir(parents=True, exist_ok=True)
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    if not (root / "lib").exists():
        os.symlink("usr/lib", root / "lib")
    return root


def verify(root, units=INSTANCES):
    """(exit status, everything it said): a unit passes only when verify
    exits 0 and says nothing (an unknown or misplaced key is only a warning
    on stderr)."""
    r = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", *units],
        cwd=root, capture_output=True, text=True, timeout=60,
    )
    return r.returncode, (r.stdout + r.stderr).strip()


def test_make_install_lays_out_every_part(dest):
    lib = dest / "usr/local/lib/messenger"
    share = dest / "usr/local/share/messenger"
    for p in PROGRAMS:
        exe = lib / p
        assert exe.is_file() and os.access(exe, os.X_OK), exe
        # the plain build, the same file
        assert exe.read_bytes() == (REPO / "build/bin" / p).read_bytes()
    for s in ["migrate.sh", "render-nginx.sh"]:
        assert os.access(share / "scripts" / s, os.X_OK)
    for t in ["messenger-upstreams.conf", "messenger-locations.conf", "messenger-fastcgi.conf"]:
        assert (share / "nginx" / t).read_text() == (REPO / "nginx" / t).read_text()
    assert (share / "www/index.html").read_text() == (REPO / "www/index.html").read_text()
    assert sorted(p.name for p in (share / "schema/migrations").iterdir()) == sorted(
        p.name for p in (REPO / "schema/migrations").iterdir())
    # nginx (another user) reads the web app
    for f in (share / "www").rglob("*"):
        mode = f.stat().st_mode
        assert mode & stat.S_IROTH and (not f.is_dir() or mode & stat.S_IXOTH), f
    env = dest / "etc/messenger/messenger.env.example"
    assert env.read_text() == (REPO / "deploy/messenger.env.example").read_text()
    assert not (dest / "etc/messenger/messenger.env").exists()  # the sysadmin's own copy

    units = dest / "usr/local/lib/systemd/system"
    assert sorted(p.name for p in units.iterdir()) == sorted(UNITS)
    text = (units / "messenger@.service").read_text()
    assert "@" + "BIN@" not in text and "@GROUP@" not in text
    assert "ExecStart=/usr/local/lib/messenger/%i --socket /run/messenger/%i.sock" in text
    assert "Group=www-data" in text
    assert "EnvironmentFile=/etc/messenger/messenger.env" in text
    assert "ExecStart=/usr/local/share/messenger/scripts/migrate.sh" in (
        units / "messenger-migrate.service").read_text()


def test_install_again_replaces_the_web_app_whole(dest):
    stale = dest / "usr/local/share/messenger/www/removed-from-the-source.js"
    stale.write_text("old")
    r = make_install(dest)
    assert r.returncode == 0, r.stderr
    assert not stale.exists()
    assert (dest / "usr/local/share/messenger/www/index.html").exists()


@pytest.mark.parametrize("arg", ["PREFIX=usr/local", "PREFIX=/opt/my app", "NGINX_GROUP=www|data"])
def test_install_refuses_what_the_units_cannot_hold(tmp_path, arg):
    r = subprocess.run(["make", "-s", "install", f"DESTDIR={tmp_path}", arg],
                       cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode != 0
    assert "install:" in r.stderr
    assert not any(tmp_path.iterdir())


def test_installed_units_verify(dest, tmp_path):
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing: scripts/deps.sh test installs systemd"
    rc, said = verify(verify_root(dest, tmp_path))
    assert rc == 0 and said == "", said


# Each way a unit can be wrong that verify must catch; a test that passes
# whatever the units say would prove nothing.
BREAKS = {
    "misspelled key": ("messenger@.service", "Restart=always", "Restrat=always"),
    "key in the wrong section": ("messenger@.service", "Type=exec", "Type=exec\n[Unit]\nRestart=always"),
    "bad value": ("messenger@.service", "ProtectSystem=strict", "ProtectSystem=sometimes"),
    "relative ExecStart": ("messenger-migrate.service", "ExecStart=/usr/local/share", "ExecStart=usr/local/share"),
}


@pytest.mark.parametrize("name", list(BREAKS))
def test_a_broken_unit_fails_verify(dest, tmp_path, name):
    unit, old, new = BREAKS[name]
    root = verify_root(dest, tmp_path)
    path = root / "usr/local/lib/systemd/system" / unit
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    rc, said = verify(root)
    assert rc != 0 or said != ""


def test_a_missing_program_fails_verify(dest, tmp_path):
    root = verify_root(dest, tmp_path)
    (root / "usr/local/lib/messenger/wsd").unlink()
    rc, said = verify(root)
    assert rc != 0 and "wsd" in said
    rc, said = verify(root, ["messenger@auth.service"])
    assert rc == 0 and said == "", said


def test_installed_migrate_finds_its_schema(dest, stack):
    """The installed script, run the way messenger-migrate.service runs it
    (another directory, libpq's environment), finds the installed schema
    and has nothing left to apply on the stack's database."""
    if stack.var is None:
        pytest.skip("needs the local stack's database (MSGR_TEST_URL is set)")
    env = {
        "PATH": "/usr/bin:/bin",
        "PGHOST": str(stack.var / "run"),
        "PGUSER": stack.db_superuser,
        "PGDATABASE": "messenger",
    }
    r = subprocess.run([str(dest / "usr/local/share/messenger/scripts/migrate.sh")],
                       cwd="/", env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "applying" not in r.stderr
    applied = {row[0] for row in stack.psql("SELECT version FROM schema_migrations")}
    assert applied == {p.stem for p in (REPO / "schema/migrations").glob("*.sql")}


def _connect_as(user, group, path):
    """Whether user can connect to the unix socket path (as nginx would)."""
    code = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
            "try:\n s.connect(sys.argv[1])\nexcept PermissionError:\n sys.exit(3)\n")
    r = subprocess.run(["/usr/bin/setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups", "--",
                        "/usr/bin/python3", "-c", code, path], capture_output=True, text=True, timeout=30)
    assert r.returncode in (0, 3), r.stderr
    return r.returncode == 0


@pytest.mark.parametrize("program", ["auth", "wsd"])
def test_sockets_as_the_units_make_them_let_nginx_in(dest, stack, program):
    """The installed program run the way messenger@.service runs it (user
    messenger, group www-data, UMask=0007, /run/messenger messenger:www-data
    0750) makes a socket nginx's user can connect to, and others cannot."""
    if os.getuid() != 0 or stack.var is None:
        pytest.skip("needs root (another user and group) and the local stack's database")
    import grp
    import signal
    import tempfile
    import time

    try:
        grp.getgrnam("www-data")
        pwd_ok = subprocess.run(["id", "messenger"], capture_output=True).returncode == 0
    except KeyError:
        pwd_ok = False
    if not pwd_ok:
        pytest.skip("needs the users www-data and messenger")
    top = Path(tempfile.mkdtemp(prefix="msgr-units-"))
    try:
        os.chmod(top, 0o711)
        run = top / "run"
        run.mkdir(mode=0o750)
        shutil.chown(run, "messenger", "www-data")
        os.chmod(run, 0o750)  # what RuntimeDirectoryMode= makes it
        files = top / "files"
        files.mkdir()
        shutil.chown(files, "messenger", "www-data")
        sock = run / f"{program}.sock"
        # User=, Group= and UMask= as the installed unit says.
        unit = dict(line.split("=", 1) for line in
                    (dest / "usr/local/lib/systemd/system/messenger@.service").read_text().splitlines()
                    if re.match(r"(User|Group|UMask)=", line))
        assert unit == {"User": "messenger", "Group": "www-data", "UMask": "0007"}
        # pytest's own temporary directories are root's 0700: the installed
        # program is copied where messenger can reach it.
        exe = top / program
        shutil.copy2(dest / "usr/local/lib/messenger" / program, exe)
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "MSGR_WORKERS": "1",
            "MSGR_SECRET_FILE": str(stack.var / "secret"),
            "MSGR_STORAGE_DIR": str(files),
            "MSGR_DATABASE_URL": f"host={stack.var}/run dbname=messenger user=msgr_app",
        }
        proc = subprocess.Popen(
            ["/usr/bin/setpriv", f"--reuid={unit['User']}", f"--regid={unit['Group']}", "--init-groups", "--",
             "/bin/sh", "-c", f'umask {unit["UMask"]} && exec "$@"', "sh",
             str(exe), "--socket", str(sock)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 20
            while not sock.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if not sock.exists():
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                pytest.fail(f"{program} made no socket: {proc.communicate(timeout=15)[0].decode(errors='replace')}")
            st = sock.stat()
            assert grp.getgrgid(st.st_gid).gr_name == "www-data"
            assert st.st_mode & 0o060 == 0o060 and st.st_mode & 0o007 == 0, oct(st.st_mode)
            assert _connect_as("www-data", "www-data", str(sock))
            assert not _connect_as("nobody", "nogroup", str(sock))
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    finally:
        shutil.rmtree(top, ignore_errors=True)
