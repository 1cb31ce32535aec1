"""Helpers for the integration tests: the stack under test and an API client.

The tests run with Debian's /usr/bin/python3 (python3-pytest, -requests,
-websockets, -psycopg2, -yaml): see tests/conftest.py for the fixtures.
"""

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
STACK_SH = REPO / "scripts" / "stack.sh"

# Settings (MSGR_*) for the stack under test where the production defaults
# would get in the way of the suite; tests read them back from stack.env.
# The caller's environment wins over these; a test that needs another value
# restarts one program with it (Stack.restarted).
TEST_ENV = {
    # Real limits, small enough to reach in a test. The per-address test
    # sends from its own loopback address (127.0.0.x), and the rest of the
    # suite stays far below 30 failed logins from 127.0.0.1.
    "MSGR_LOGIN_MAX_PER_USER": "5",
    "MSGR_LOGIN_MAX_PER_ADDR": "30",
    # The digest job hourly: the session's stack gathers hundreds of users
    # with messages unread for longer than the delay, and their digests
    # queued ahead of a test's mail held it up past its wait in a full run.
    # test_mail_digest.py runs the job every second on a stack of its own.
    "MSGR_MAIL_DIGEST_SECONDS": "3600",
    # The suite registers hundreds of users from 127.0.0.1; the limit's own
    # test restarts auth with a small one (test_limits_auth.py).
    "MSGR_REGISTER_MAX_PER_ADDR": "1000000",
}

# Generous: the programs under test are ASan builds.
HTTP_TIMEOUT = 30


def _group_exists(name):
    import grp

    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def bin_dir_under_test():
    """The programs the tests run: build-asan/bin, or MSGR_TEST_BIN."""
    return os.path.abspath(os.environ.get("MSGR_TEST_BIN", REPO / "build-asan" / "bin"))


@contextlib.contextmanager
def own_stack(**start):
    """A stack of one test module's own (start: Stack.start_local's
    arguments), for settings or parts the session's stack lacks; stopped at
    the end, failing on what it left behind."""
    s = Stack.start_local(bin_dir_under_test(), **start)
    try:
        yield s
    finally:
        s.shutdown_or_fail()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def processes_using(path):
    """Live processes whose command line, working directory or open files
    are under path: what a stopped stack must not leave behind."""
    path = str(path).rstrip("/")
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        proc = f"/proc/{entry}"
        try:
            with open(f"{proc}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                continue
            with open(f"{proc}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            links = []
            with contextlib.suppress(OSError):
                links.append(os.readlink(f"{proc}/cwd"))
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"{proc}/fd"):
                    with contextlib.suppress(OSError):
                        links.append(os.readlink(f"{proc}/fd/{fd}"))
        except (OSError, IndexError):
            continue
        if path + "/" in cmd + " " or any(l == path or l.startswith(path + "/") for l in links):
            found.append((int(entry), cmd))
    return found


def stop_process(proc):
    """Ends a helper process this run started (a Popen, or None): SIGTERM,
    then SIGKILL after 10 s."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class S3Server:
    """The S3-compatible server a test stack keeps its files in when it runs
    on object storage: tools/s3/serve.js (s3rver, pinned; scripts/deps.sh
    test installs it) on a free port of 127.0.0.1, its objects under
    directory, one private bucket, SigV4 checked with the key pair below.
    Like tests/smtpsink.py it exits with this process, so a run killed with
    SIGKILL leaves no server behind."""

    BUCKET = "msgr-files"
    REGION = "us-east-1"
    ACCESS_KEY = "MSGRTESTACCESSKEY"
    SECRET_KEY = "msgr-test-secret-key"

    def __init__(self, directory):
        self.directory = Path(directory)
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.directory.mkdir(parents=True, exist_ok=True)
        serve = REPO / "tools" / "s3" / "serve.js"
        if not (REPO / "tools" / "s3" / "node_modules" / "s3rver").is_dir():
            raise RuntimeError("tools/s3/node_modules/s3rver is missing: run scripts/deps.sh test")
        self.log_path = self.directory.parent / "s3server.log"
        self._proc = subprocess.Popen(
            ["node", str(serve), str(self.port), str(self.directory), self.BUCKET, self.ACCESS_KEY,
             self.SECRET_KEY, str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=open(self.log_path, "w"),
            cwd=str(REPO / "tools" / "s3"),
        )
        if self._proc.stdout.readline().strip() != b"ready":
            self.stop()
            raise RuntimeError(f"tools/s3/serve.js did not start:\n{tail(self.log_path)}")

    @property
    def storage_url(self):
        """MSGR_STORAGE_URL for this server."""
        return f"s3://{self.BUCKET}?endpoint={self.endpoint}&region={self.REGION}&path_style=1"

    def request(self, method, path, data=None, secret=None, signed=True, query=""):
        """(status, body) of one request to /BUCKET/path, signed with SigV4
        by curl (the libcurl the programs use), unless signed=False. A query
        goes as given: percent-encode its values ("/" too), as S3 signs them."""
        url = f"{self.endpoint}/{self.BUCKET}/{path}" + (f"?{query}" if query else "")
        cmd = ["curl", "-s", "-X", method, "-o", "-", "-w", "\n%{http_code}", url]
        if signed:
            cmd += ["--aws-sigv4", f"aws:amz:{self.REGION}:s3", "-u",
                    f"{self.ACCESS_KEY}:{secret or self.SECRET_KEY}",
                    "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
        if data is not None:
            cmd += ["--data-binary", "@-"]
        out = subprocess.run(cmd, input=data, capture_output=True, timeout=HTTP_TIMEOUT, check=True).stdout
        body, _, status = out.rpartition(b"\n")
        return int(status), body

    def keys(self, prefix=""):
        """The keys in the bucket (from a ListObjectsV2 of up to 1000)."""
        import re
        from urllib.parse import quote

        status, body = self.request("GET", "", query=f"list-type=2&prefix={quote(prefix, safe='')}")
        if status != 200:
            raise RuntimeError(f"listing the bucket: {status} {body[:300]!r}")
        return sorted(re.findall(r"<Key>([^<]*)</Key>", body.decode()))

    def stop(self):
        stop_process(getattr(self, "_proc", None))
        self._proc = None


class Stack:
    """The messenger under test.

    A local stack (started by start_local) has var (its state directory),
    port and the helpers that need it: psql, restart, restart_db, log.
    With MSGR_TEST_URL only base_url is known and those helpers skip.
    """

    def __init__(self, base_url, var=None, port=None, env=None):
        self.base_url = base_url.rstrip("/")
        self.var = Path(var) if var else None
        self.port = port
        self.env = env
        self._db = None

    # ---- where things are ----------------------------------------------

    @property
    def ws_url(self):
        return "ws" + self.base_url[len("http"):] + "/ws"

    @property
    def origin(self):
        """An Origin the stack allows (for WebSocket handshakes)."""
        return self.base_url

    @property
    def local(self):
        return self.var is not None

    def _need_local(self):
        if not self.local:
            import pytest

            pytest.skip("needs the local stack (MSGR_TEST_URL is set)")

    def log(self, name):
        """The log of a program ("auth", "postgres", "nginx-error", ...),
        since the stack started: with what a rotation moved to NAME.log.1
        (test_operations runs logrotate on this stack; delaycompress keeps
        the first rotation plain)."""
        self._need_local()
        log = self.var / "log" / f"{name}.log"
        rotated = log.with_name(log.name + ".1")
        older = tail(rotated, 10**9) if rotated.exists() else ""
        return older + tail(log, 10**9)

    # ---- starting and stopping -------------------------------------------

    @classmethod
    def start_local(cls, bin_dir, extra_env=None, var=None, command="start", listen_addr="127.0.0.1",
                    replica=False):
        """Starts a stack in var (default: a new temporary directory).
        command "start-db" starts only what app hosts share (the database,
        secret and files); a stack started with SHARED_VAR (that one's var)
        in extra_env is an app host beside it, served on listen_addr
        (tests/integration/test_two_hosts.py). With replica (only for the
        stack that owns the database), a streaming replica of its PostgreSQL
        too (start_replica)."""
        tmp = Path(var) if var else Path(tempfile.mkdtemp(prefix="msgr-test-"))
        port = free_port()
        env = dict(os.environ)
        for k, v in TEST_ENV.items():
            env.setdefault(k, v)
        env.update(
            VAR=str(tmp),
            PORT=str(port),
            LISTEN_ADDR=listen_addr,
            BIN=str(bin_dir),
            PG_FAST="1",
            MSGR_WORKERS=env.get("MSGR_WORKERS", "2"),
            START_TIMEOUT=env.get("START_TIMEOUT", "60"),
        )
        # The sockets and stored files belong to www-data's group, as they
        # would to a system nginx's (stack.sh, NGINX_GROUP): the second
        # nginx of test_nginx_prefix.py runs as www-data.
        if os.getuid() == 0 and _group_exists("www-data"):
            env.setdefault("NGINX_GROUP", "www-data")
        env.update(extra_env or {})
        stack = cls(f"http://{listen_addr}:{port}", var=tmp, port=port, env=env)
        stack._start_guardian()
        stack.s3 = None
        try:
            stack._start_smtp()
            stack._start_s3()
            stack.stack_sh(command)
        except subprocess.CalledProcessError as e:
            output = e.output or ""
            stack.shutdown()
            raise RuntimeError(f"scripts/stack.sh start failed:\n{output}") from None
        if replica:
            try:
                stack.start_replica()
            except (subprocess.CalledProcessError, RuntimeError) as e:
                output = getattr(e, "output", None) or str(e)
                stack.shutdown()
                raise RuntimeError(f"the replica did not start:\n{output}") from None
        return stack

    # ---- the read replica ----------------------------------------------------

    # The replica's PostgreSQL listens in the stack's socket directory, on
    # another port (a unix socket's name carries it).
    REPLICA_PORT = 5433

    @property
    def replica_dir(self):
        return self.var / "pg-replica"

    def _as_db_user(self, *cmd, timeout=120):
        """Runs a PostgreSQL program as the user that owns the cluster."""
        full = list(cmd)
        if os.getuid() == 0:
            full = ["runuser", "-u", self.db_superuser, "--", *full]
        return subprocess.run(full, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout, check=True)

    def _pg_bin(self, name):
        return os.path.join(self.env.get("PGBIN", "/usr/lib/postgresql/15/bin"), name)

    def start_replica(self):
        """Makes a streaming replica of the stack's database with
        `pg_basebackup -R` (a hot standby replaying the primary's WAL as it
        streams), starts it, and restarts the programs that read there with
        MSGR_DATABASE_REPLICA_URL. Its function calls are counted
        (track_functions), so a test can tell which reads it served."""
        self._need_local()
        run = self.var / "run"
        self._as_db_user(self._pg_bin("pg_basebackup"), "-h", str(run), "-U", self.db_superuser,
                         "-D", str(self.replica_dir), "-R", "-X", "stream", "-c", "fast")
        # postgresql.auto.conf is read last: it wins over the primary's
        # settings that came with the copy (messenger.conf included).
        with open(self.replica_dir / "postgresql.auto.conf", "a") as f:
            f.write(f"port = {self.REPLICA_PORT}\n"
                    "shared_buffers = '32MB'\n"
                    "track_functions = 'all'\n")
        self.start_replica_db()
        self.env["MSGR_DATABASE_REPLICA_URL"] = (
            f"host={run} port={self.REPLICA_PORT} dbname=messenger user=msgr_app")
        for name in ("auth", "messages"):
            self.restart(name)

    def start_replica_db(self):
        self._as_db_user(self._pg_bin("pg_ctl"), "-D", str(self.replica_dir), "-l",
                         str(self.var / "log" / "postgres-replica.log"), "-w", "-t", "60", "start")

    def stop_replica_db(self, mode="fast"):
        """Stops the replica's PostgreSQL (mode: fast cuts its sessions,
        immediate is a crash)."""
        self.close_replica()
        self._as_db_user(self._pg_bin("pg_ctl"), "-D", str(self.replica_dir), "-m", mode, "-w",
                         "-t", "60", "stop")

    def replica_db(self):
        """A psycopg2 connection (autocommit) to the replica, as the
        superuser."""
        import psycopg2

        if getattr(self, "_replica", None) is None or self._replica.closed:
            self._replica = psycopg2.connect(host=str(self.var / "run"), port=self.REPLICA_PORT,
                                             dbname="messenger", user=self.db_superuser)
            self._replica.autocommit = True
        return self._replica

    def replica_psql(self, sql, *params):
        """Runs one statement on the replica; returns its rows."""
        with self.replica_db().cursor() as cur:
            cur.execute(sql, params or None)
            return cur.fetchall()

    def close_replica(self):
        conn = getattr(self, "_replica", None)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        self._replica = None

    def replica_caught_up(self):
        """Waits until the replica has replayed everything the primary
        wrote so far."""
        lsn = self.psql("SELECT pg_current_wal_insert_lsn()::text")[0][0]
        wait_until(lambda: self.replica_psql(
            "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", lsn)[0][0],
            timeout=30, message="the replica to catch up")

    def _start_guardian(self):
        """A watcher in its own session that stops the stack and removes its
        state if this process dies without its teardown (SIGKILL, a CI
        timeout): no stack outlives its test run."""
        # The replica (start_replica), if any, is stopped as the stack is.
        script = (
            'while kill -0 "$1" 2>/dev/null; do sleep 1; done; '
            'if [ -f "$3/pg-replica/postmaster.pid" ]; then as=; '
            '[ "$(id -u)" != 0 ] || as="runuser -u $(stat -c %U "$3/pg-replica") --"; '
            '$as "${PGBIN:-/usr/lib/postgresql/15/bin}/pg_ctl" -D "$3/pg-replica" -m immediate '
            '-w stop >/dev/null 2>&1; fi; '
            '"$2" stop >/dev/null 2>&1; rm -rf "$3"'
        )
        self._guardian = subprocess.Popen(
            ["setsid", "/bin/bash", "-c", script, "guardian", str(os.getpid()), str(STACK_SH), str(self.var)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
        )

    def _start_smtp(self):
        """The SMTP server the stack's mail goes to (tests/smtpsink.py),
        started before the stack as PostgreSQL is, unless the caller set
        MSGR_SMTP_URL: what arrives is in var/mail, a Maildir (mails())."""
        self._smtp = None
        if "MSGR_SMTP_URL" in self.env:
            return
        port = free_port()
        self.maildir = self.var / "mail"
        self._smtp = subprocess.Popen(
            ["/usr/bin/python3", str(REPO / "tests" / "smtpsink.py"), str(port), str(self.maildir),
             str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=open(self.var / "smtpsink.log", "w"),
            cwd="/",
        )
        if self._smtp.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"tests/smtpsink.py did not start:\n{tail(self.var / 'smtpsink.log')}")
        self.smtp_port = port
        self.env["MSGR_SMTP_URL"] = f"smtp://127.0.0.1:{port}"

    def _start_s3(self):
        """With MSGR_TEST_STORAGE=s3 the stack keeps its files in an object
        store: an S3Server in var/s3, named by MSGR_STORAGE_URL (`make test`
        runs the files suites both ways)."""
        self.s3 = None
        if self.env.get("MSGR_TEST_STORAGE", "disk") != "s3":
            return
        self.s3 = S3Server(self.var / "s3")
        self.env["MSGR_STORAGE_URL"] = self.s3.storage_url
        self.env["MSGR_S3_ACCESS_KEY"] = S3Server.ACCESS_KEY
        self.env["MSGR_S3_SECRET_KEY"] = S3Server.SECRET_KEY

    def _stop_smtp(self):
        stop_process(getattr(self, "_smtp", None))
        self._smtp = None

    # ---- the mail that arrived ----------------------------------------------

    def mails(self, to=None):
        """The messages the test SMTP server took, oldest first, as
        email.message.EmailMessage (policy.default: headers decoded, RFC 2047
        included), each with .raw (the bytes that arrived); to= keeps those
        whose envelope went to that address."""
        import email
        import email.policy
        self._need_local()
        if getattr(self, "_smtp", None) is None:
            import pytest

            pytest.skip("needs the test SMTP server (MSGR_SMTP_URL is set)")
        found = []
        # Maildir: a message is renamed into new/ whole; a reader that moved
        # it would have put it in cur/ (none does here, both are read).
        for path in sorted(self.maildir.glob("new/*")) + sorted(self.maildir.glob("cur/*")):
            raw = path.read_bytes()
            # As it went over the wire, CRLF; parsed with the local line ends,
            # so that a body reads as the text that was sent.
            msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
            msg.raw = raw
            msg.mtime = path.stat().st_mtime_ns
            if to is None or f"<{to}>" in (msg.get_all("X-Envelope-To") or []):
                found.append(msg)
        found.sort(key=lambda m: m.mtime)
        return found

    def wait_mails(self, to, count=1, timeout=20.0):
        """Waits for count messages to to; returns them."""
        return wait_until(lambda: (lambda m: m if len(m) >= count else None)(self.mails(to)),
                          timeout=timeout, message=f"{count} mail(s) to {to}")

    def kill_host(self):
        """Ends every process of this stack at once with SIGKILL, as a lost
        host would end (no clean stop, nothing told): all are stopped first
        so that no supervisor starts a program again in between."""
        self._need_local()
        self.close()
        self._stop_guardian()
        for _ in range(20):
            left = processes_using(self.var)
            if not left:
                return
            for sig in (signal.SIGSTOP, signal.SIGKILL):
                for pid, _cmd in left:
                    with contextlib.suppress(OSError):
                        os.kill(pid, sig)
            time.sleep(0.2)
        raise AssertionError(f"processes of {self.var} outlived SIGKILL: {processes_using(self.var)}")

    def _stop_guardian(self):
        guardian = getattr(self, "_guardian", None)
        if guardian is not None and guardian.poll() is None:
            guardian.kill()
            guardian.wait()
        self._guardian = None

    def stack_sh(self, *args, env=None, check=True, timeout=180):
        """Runs scripts/stack.sh for this stack; returns its output."""
        self._need_local()
        full_env = dict(self.env)
        full_env.update(env or {})
        # Output through a file, not a pipe: a daemon that kept a pipe open
        # would make this wait forever.
        with tempfile.TemporaryFile(mode="w+") as out:
            proc = subprocess.run(
                [str(STACK_SH), *args],
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
            out.seek(0)
            output = out.read()
        if check and proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, ["stack.sh", *args], output)
        return output

    def shutdown(self, keep=False):
        """Stops the stack; returns a list of problems: processes left
        behind and sanitizer reports (their text). Removes the state
        directory unless keep or MSGR_TEST_KEEP=1."""
        problems = []
        if not self.local:
            return problems
        self.close()
        self._stop_guardian()
        if (self.replica_dir / "postmaster.pid").exists():
            try:
                self.stop_replica_db("immediate")
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
                problems.append(f"the replica did not stop:\n{getattr(e, 'output', '')}")
        try:
            self.stack_sh("stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            problems.append(f"scripts/stack.sh stop failed:\n{getattr(e, 'output', '')}")
        self._stop_smtp()
        if getattr(self, "s3", None) is not None:
            self.s3.stop()
        left = processes_using(self.var)
        if left:
            problems.append(
                "processes left behind by the stack (killed now):\n"
                + "\n".join(f"  {pid} {cmd}" for pid, cmd in left)
            )
            for pid, _ in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        for report in sorted(
            glob.glob(str(self.var / "log" / "asan*")) + glob.glob(str(self.var / "log" / "ubsan*"))
        ):
            problems.append(f"sanitizer report {report}:\n{tail(report, 200)}")
        if keep or os.environ.get("MSGR_TEST_KEEP") == "1":
            if problems:
                problems.append(f"(the state directory is kept: {self.var})")
        else:
            shutil.rmtree(self.var, ignore_errors=True)
        return problems

    def shutdown_or_fail(self):
        """shutdown(), failing the test with the problems it found."""
        problems = self.shutdown()
        if problems:
            import pytest

            pytest.fail("\n\n".join(problems), pytrace=False)

    # ---- changing the running stack ----------------------------------------

    def restart(self, name, **env):
        """Restarts one program (auth, chats, messages, files, wsd), with
        extra MSGR_* settings for this run of it."""
        self.stack_sh("restart", name, env={k: str(v) for k, v in env.items()})

    @contextlib.contextmanager
    def restarted(self, name, **env):
        """Runs the block with one program restarted with other settings,
        and restarts it with the usual ones afterwards."""
        self.restart(name, **env)
        try:
            yield self
        finally:
            self.restart(name)

    def restart_db(self):
        """Restarts PostgreSQL (fast shutdown: sessions are cut)."""
        self.close()
        self.stack_sh("restart-db")

    # ---- the database ------------------------------------------------------

    @property
    def db_superuser(self):
        self._need_local()
        return pwd.getpwuid(os.stat(self.var / "pg").st_uid).pw_name

    def db(self):
        """A psycopg2 connection (autocommit) to the messenger database as
        the superuser, over the stack's unix socket."""
        self._need_local()
        import psycopg2

        if self._db is None or self._db.closed:
            self._db = psycopg2.connect(
                host=str(self.var / "run"), dbname="messenger", user=self.db_superuser
            )
            self._db.autocommit = True
        return self._db

    def psql(self, sql, *params):
        """Runs one statement; returns its rows (a list of tuples), or the
        number of rows it changed when it returns none."""
        import psycopg2

        for attempt in (1, 2):
            try:
                with self.db().cursor() as cur:
                    cur.execute(sql, params or None)
                    if cur.description is not None:
                        return cur.fetchall()
                    return cur.rowcount
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                # The server restarted under a kept connection: once more.
                self.close()
                if attempt == 2:
                    raise

    def hold_lock(self, sql, *params):
        """Runs sql (one that takes a lock) in a transaction of its own and
        keeps it open: returns the transaction's connection, whose close()
        ends it and releases the lock."""
        import psycopg2

        conn = psycopg2.connect(host=str(self.var / "run"), dbname="messenger",
                                user=self.db_superuser)
        conn.cursor().execute(sql, params or None)
        return conn

    def lock_waiters(self):
        """Sessions waiting for a lock."""
        return self.psql("SELECT count(*) FROM pg_stat_activity "
                         "WHERE wait_event_type = 'Lock'")[0][0]

    def close(self):
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()
            self._db = None


_NO_BODY = object()
_counter = itertools.count(1)


class Api:
    """A thin requests wrapper: paths relative to the stack, an optional
    token (a string, or a user from new_user()), JSON bodies.

        r = api.post("/api/chats", token=alice, json={"type": "direct", "user_id": bob["user"]["id"]})
    """

    def __init__(self, base_url, timeout=HTTP_TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def url(self, path):
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def request(self, method, path, token=None, json=_NO_BODY, headers=None, **kw):
        headers = dict(headers or {})
        if isinstance(token, dict):
            token = token["access_token"]
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if json is not _NO_BODY:
            kw["json"] = json
        kw.setdefault("timeout", self.timeout)
        return self.session.request(method, self.url(path), headers=headers, **kw)

    def get(self, path, token=None, **kw):
        return self.request("GET", path, token, **kw)

    def post(self, path, token=None, **kw):
        return self.request("POST", path, token, **kw)

    def patch(self, path, token=None, **kw):
        return self.request("PATCH", path, token, **kw)

    def put(self, path, token=None, **kw):
        return self.request("PUT", path, token, **kw)

    def delete(self, path, token=None, **kw):
        return self.request("DELETE", path, token, **kw)

    def new_user(self, prefix="u", password=None, display_name=None, **fields):
        """Registers a user with a unique name through POST
        /api/auth/register; returns {"user", "access_token",
        "refresh_token", "password", "username", "email"}."""
        prefix = "".join(c for c in prefix.lower() if c.isalnum() or c in "_.")[:12] or "u"
        username = f"{prefix}{next(_counter)}_{uuid.uuid4().hex[:8]}"[:32]
        password = password or "pw-" + uuid.uuid4().hex[:16]
        body = {"username": username, "email": f"{username}@example.test", "password": password}
        if display_name is not None:
            body["display_name"] = display_name
        body.update(fields)
        r = self.post("/api/auth/register", json=body)
        assert r.status_code == 201, f"register {username}: {r.status_code} {r.text}"
        data = r.json()
        return {
            "user": data["user"],
            "access_token": data["access_token"],
            "refresh_token": data["refresh_token"],
            "password": password,
            "username": username,
            "email": body["email"],
        }


def wait_until(predicate, timeout=10.0, interval=0.05, message="condition"):
    """Polls predicate until it returns something true; returns that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def without_url_stamp(value):
    """Signed URLs change with the hour: their path is compared."""
    if isinstance(value, dict):
        return {k: without_url_stamp(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_url_stamp(v) for v in value]
    if isinstance(value, str) and value.startswith("/api/files/"):
        return value.split("?", 1)[0]
    return value
