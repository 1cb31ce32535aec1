"""Runs what each container of docker-compose.yml would run, here, without a
Docker engine: every service's command and healthcheck from the compose
file, with its environment as compose interpolates it, as the image's user
(messenger), from the image's working directory (this checkout, built by
`make all` as the image is), in depends_on order, waiting on each
condition as compose does. Volumes are directories of a temporary root:
each path of the environment under a volume's mount point is rewritten to
that directory, as the mount would show it; the published port becomes the
address nginx listens on. Then a user registers, sends, receives over the
WebSocket through that nginx, uploads and downloads; each healthcheck fails
once its service is killed; PostgreSQL stops within seconds on the
stop_signal the file names; and every service stops on its stop signal
within its grace period, leaving no process behind. The profile "mail" is
on, with MSGR_SMTP_URL naming a test SMTP server (tests/smtpsink.py): the
mailer service sends what the outbox holds."""

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from composekit import depends_on, duration, load_compose, start_order
from helpers import REPO, Api, free_port, processes_using, tail, wait_until
from ws_client import WsClient

USER = "messenger"  # docker/Dockerfile: USER messenger
# The image's environment (debian:12's PATH, docker/Dockerfile's ENV).
IMAGE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
    "HOME": "/nonexistent",
}
DOCKER_STOP_GRACE = 10.0  # seconds, when a service names no stop_grace_period


# ---- the containers, as processes ---------------------------------------------------


class Containers:
    """The services of the compose file as process groups under one
    temporary root: root/volumes/NAME for each volume, root/tmp/SERVICE for
    each container's /tmp, root/log/SERVICE.out and .err for its output."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="msgr-compose-"))
        os.chmod(self.root, 0o755)
        self.port = free_port()
        self.smtp_port = free_port()
        self.maildir = self.root / "mail"
        # The shell's, for interpolation: `MSGR_SMTP_URL=... docker compose
        # --profile mail up`.
        self.env = {"MSGR_PORT": str(self.port), "MSGR_SMTP_URL": f"smtp://127.0.0.1:{self.smtp_port}"}
        self.compose = load_compose(self.env, profiles=("mail",))
        self.services = self.compose["services"]
        self.procs = {}
        self.uid = pwd.getpwnam(USER).pw_uid
        self.gid = pwd.getpwnam(USER).pw_gid
        for d in ("volumes", "tmp", "log"):
            (self.root / d).mkdir(mode=0o755)
        # A named volume starts as a copy of the image's directory:
        # messenger's, 0700 (docker/Dockerfile).
        for name in self.compose["volumes"]:
            self._own_dir(self.root / "volumes" / name, 0o700)
        self._start_guardian()
        self.smtp = subprocess.Popen(
            ["/usr/bin/python3", str(REPO / "tests" / "smtpsink.py"), str(self.smtp_port),
             str(self.maildir), str(os.getpid())],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=open(self.root / "log" / "smtpsink.err", "w"), cwd="/",
        )
        assert self.smtp.stdout.readline().strip() == b"ready", tail(self.root / "log" / "smtpsink.err")

    def mails(self, to):
        """The messages the test SMTP server took for to."""
        import email
        import email.policy

        found = []
        for path in sorted(self.maildir.glob("new/*")) + sorted(self.maildir.glob("cur/*")):
            msg = email.message_from_bytes(path.read_bytes().replace(b"\r\n", b"\n"),
                                           policy=email.policy.default)
            if f"<{to}>" in (msg.get_all("X-Envelope-To") or []):
                found.append(msg)
        return found

    def _start_guardian(self):
        """A watcher in its own session that kills the services' sessions
        and removes the root if this process dies without its teardown
        (SIGKILL, a CI timeout), as helpers.Stack has for the stack."""
        script = (
            'while kill -0 "$1" 2>/dev/null; do sleep 1; done; '
            'while read -r sid; do kill -KILL -- "-$sid" 2>/dev/null; done <"$2/sessions"; '
            'rm -rf "$2"'
        )
        (self.root / "sessions").touch()
        self.guardian = subprocess.Popen(
            ["setsid", "/bin/bash", "-c", script, "guardian", str(os.getpid()), str(self.root)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/",
        )

    def _own_dir(self, path, mode):
        path.mkdir(mode=mode)
        os.chown(path, self.uid, self.gid)
        os.chmod(path, mode)

    def mounts(self, name):
        """{container path: host directory} of a service's volumes."""
        out = {}
        for v in self.services[name].get("volumes", []):
            source, target = v.split(":")[:2]
            out[target] = self.root / "volumes" / source
        return out

    def published(self, name):
        """(host address, host port, container port) of a service's ports."""
        out = []
        for p in self.services[name].get("ports", []):
            host, port, inner = str(p).split("/")[0].rsplit(":", 2)
            out.append((host, int(port), int(inner)))
        return out

    def environment(self, name):
        """The service's environment as its processes see it here: the
        image's, then the compose file's with every mount point replaced by
        its directory; the published port is what nginx listens on."""
        service = self.services[name]
        env = dict(IMAGE_ENV)
        env.update({k: str(v) for k, v in (service.get("environment") or {}).items()})
        mounts = self.mounts(name)
        for key, value in env.items():
            for target in sorted(mounts, key=len, reverse=True):
                value = re.sub(rf"(?<![\w/.-]){re.escape(target)}(?=/|\s|$)", str(mounts[target]), value)
            env[key] = value
        tmp = self.root / "tmp" / name
        if not tmp.exists():
            self._own_dir(tmp, 0o1777)
        env["TMPDIR"] = str(tmp)
        for host, port, inner in self.published(name):
            assert env.get("PORT") == str(inner), f"{name} listens on {env.get('PORT')}, publishes {inner}"
            env["PORT"], env["LISTEN_ADDR"] = str(port), host
        return env

    def _as_user(self, argv, name, **kw):
        return subprocess.Popen(
            ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", "--", *argv],
            cwd=REPO,  # the image's WORKDIR /app
            env=self.environment(name),
            stdin=subprocess.DEVNULL,
            **kw,
        )

    def log(self, name, stream="err"):
        return tail(self.root / "log" / f"{name}.{stream}", 10**6)

    def up(self, name):
        """Starts a service's command; its output goes to files owned by
        its user, as a container runtime hands the container its output
        (so that nginx may open /dev/stdout)."""
        files = []
        for stream in ("out", "err"):
            path = self.root / "log" / f"{name}.{stream}"
            f = open(path, "ab")
            os.chown(path, self.uid, self.gid)
            files.append(f)
        try:
            self.procs[name] = self._as_user(
                list(self.services[name]["command"]), name,
                stdout=files[0], stderr=files[1], start_new_session=True,
            )
        finally:
            for f in files:
                f.close()
        with open(self.root / "sessions", "a") as f:
            f.write(f"{self.procs[name].pid}\n")

    def healthcheck(self, name):
        """Runs the service's healthcheck test once: True when it passes."""
        check = self.services[name]["healthcheck"]
        test = list(check["test"])
        argv = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
        assert test[0] in ("CMD", "CMD-SHELL"), test
        proc = self._as_user(argv, name, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, err = proc.communicate(timeout=duration(check.get("timeout"), 30))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return False
        self.last_health_error = err.decode(errors="replace")
        return proc.returncode == 0

    def wait_healthy(self, name, timeout=120):
        deadline = time.monotonic() + timeout
        while not self.healthcheck(name):
            proc = self.procs[name]
            assert proc.poll() is None, f"{name} exited {proc.returncode}:\n{self.log(name)}"
            assert time.monotonic() < deadline, (
                f"{name} not healthy after {timeout}s: {self.last_health_error}\n{self.log(name)}"
            )
            time.sleep(0.5)

    def wait_completed(self, name, timeout=120):
        try:
            rc = self.procs[name].wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{name} still running after {timeout}s:\n{self.log(name)}") from None
        assert rc == 0, f"{name} exited {rc}:\n{self.log(name)}"

    def up_all(self):
        """compose up: each service once its dependencies meet their
        condition; returns once every long-running one is healthy."""
        for name in start_order(self.services):
            for dep, condition in depends_on(self.services[name]).items():
                if condition == "service_healthy":
                    self.wait_healthy(dep)
                elif condition == "service_completed_successfully":
                    self.wait_completed(dep)
            self.up(name)
        for name, service in self.services.items():
            if service.get("healthcheck"):
                self.wait_healthy(name)

    def members(self, name):
        """Live processes of a service: its session (a container's processes)."""
        sid = self.procs[name].pid
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    if fields[0] != "Z" and int(fields[3]) == sid:
                        found.append(int(entry))
        return found

    def kill(self, name, sig=signal.SIGKILL):
        """What the container's end does to its processes."""
        for pid in self.members(name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.procs[name].wait(10)

    def stop(self, name):
        """docker stop: the stop signal to the container's first process,
        then SIGKILL after the grace period. Returns (seconds it took,
        exit status, whether the grace period ran out)."""
        service = self.services[name]
        proc = self.procs[name]
        sig = getattr(signal, service.get("stop_signal", "SIGTERM"))
        grace = duration(service.get("stop_grace_period"), DOCKER_STOP_GRACE)
        started = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            rc = proc.wait(grace)
            late = False
        except subprocess.TimeoutExpired:
            late = True
            self.kill(name)
            rc = proc.returncode
        # The container's other processes go with it (its PID namespace).
        leftover = self.members(name)
        self.kill(name)
        return time.monotonic() - started, rc, late, leftover

    def down(self):
        """Stops every service in reverse start order; returns problems."""
        problems = []
        for name in reversed(start_order(self.services)):
            if name not in self.procs:
                continue
            took, rc, late, leftover = self.stop(name)
            if late:
                problems.append(f"{name} did not stop within its grace period:\n{self.log(name)}")
            if leftover:
                problems.append(f"{name}'s first process ended but left {leftover}")
        self.guardian.kill()
        self.guardian.wait()
        self.smtp.terminate()
        self.smtp.wait(10)
        left = processes_using(self.root)
        for pid, cmd in left:
            problems.append(f"process left behind: {pid} {cmd}")
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        return problems


@pytest.fixture(scope="module")
def up():
    if os.geteuid() != 0:
        pytest.skip("runs the services as the user messenger: needs root")
    bin_dir = REPO / "build" / "bin"  # docker/Dockerfile: make all
    if not (bin_dir / "auth").exists():
        pytest.fail(f"{bin_dir}/auth does not exist: run `make all` first")
    c = Containers()
    try:
        c.up_all()
        yield c
    finally:
        problems = c.down()
        if os.environ.get("MSGR_TEST_KEEP") != "1":
            shutil.rmtree(c.root, ignore_errors=True)
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


# ---- the tests, in order: the last ones kill and stop services; the fixture's
# ---- teardown stops the rest as `docker compose down` would, each on its
# ---- stop signal within its grace period, and finds no process left --------


def test_published_on_localhost_with_the_port_from_the_environment(up):
    assert up.published("nginx") == [("127.0.0.1", up.port, 8080)]
    env = up.environment("nginx")
    assert env["MSGR_PUBLIC_URL"] == f"http://localhost:{up.port}"
    assert env["MSGR_ALLOWED_ORIGINS"].split() == [
        f"http://localhost:{up.port}", f"http://127.0.0.1:{up.port}"
    ]


def test_register_send_receive_upload_download(up):
    base = f"http://127.0.0.1:{up.port}"
    api = Api(base)
    alice, bob = api.new_user("alice"), api.new_user("bob")
    r = api.post("/api/chats", token=alice, json={"type": "direct", "user_id": bob["user"]["id"]})
    assert r.status_code == 201, r.text
    chat = r.json()
    origin = up.environment("wsd")["MSGR_PUBLIC_URL"]
    ws = WsClient.open(f"ws://127.0.0.1:{up.port}/ws", origin=origin)
    try:
        ws.auth(bob["access_token"], since=0)
        text = "hello through compose " + uuid.uuid4().hex[:8]
        r = api.post(f"/api/chats/{chat['id']}/messages", token=alice, json={"text": text})
        assert r.status_code == 201, r.text
        # (Each user's Welcome chat has its events too: wait for this one.)
        ev = ws.wait_for(lambda f: f["type"] == "message.created"
                         and f["data"]["message"]["text"] == text)
        assert ev["chat_id"] == chat["id"], ev
    finally:
        ws.close()

    data = os.urandom(100_000)
    r = api.post("/api/files", token=alice, files=[("file", ("blob.bin", data, "application/octet-stream"))])
    assert r.status_code == 201, r.text
    f = r.json()["files"][0]
    r = api.get(f["url"])
    assert r.status_code == 200 and r.content == data
    # Stored in the files volume, which nginx reads from its own mount.
    stored = [p for p in (up.root / "volumes" / "files").rglob("*") if p.is_file()]
    assert any(p.stat().st_size == len(data) for p in stored), stored


def test_the_mail_profile_sends_mail(up):
    # A password reset's mail goes through the outbox and the mailer service.
    api = Api(f"http://127.0.0.1:{up.port}")
    user = api.new_user("mail")
    r = api.post("/api/auth/password-reset", json={"email": user["email"]})
    assert r.status_code == 202, r.text
    (got,) = wait_until(lambda: up.mails(user["email"]), timeout=30, message="the reset mail")
    link = up.environment("mailer")["MSGR_PUBLIC_URL"] + "/#/reset?token="
    assert link in got.get_body(("plain",)).get_content()
    assert "mailer.sock" in up.log("mailer")


def test_logs_reach_the_containers_output(up):
    # nginx: the access log on stdout (one line per request), errors on stderr.
    api = Api(f"http://127.0.0.1:{up.port}")
    marker = "/api/no-such-" + uuid.uuid4().hex[:8]
    assert api.get(marker).status_code == 404
    wait_until(lambda: marker in up.log("nginx", "out"), timeout=5, message="the access log line")
    assert not list((up.root / "tmp" / "nginx").rglob("*access*")), "an access log file was written"
    # The programs, wsd and PostgreSQL on stderr.
    for name in ("auth", "chats", "messages", "files"):
        assert f"{name}.sock" in up.log("app"), up.log("app")
    assert "wsd.sock" in up.log("wsd")
    assert "database system is ready to accept connections" in up.log("postgres")


@pytest.mark.parametrize("name", ["app", "wsd", "nginx", "mailer"])
def test_a_healthcheck_fails_once_its_service_is_killed(up, name):
    assert up.healthcheck(name), up.last_health_error
    up.kill(name)
    assert not up.healthcheck(name)
    assert up.last_health_error.strip(), "a failing check should say why"
    # restart: unless-stopped starts it again, on the same volumes.
    up.up(name)
    up.wait_healthy(name, timeout=60)
    assert Api(f"http://127.0.0.1:{up.port}").get("/api/health").status_code == 200


def test_postgres_stops_within_seconds_on_its_stop_signal(up):
    assert up.services["postgres"]["stop_signal"] == "SIGINT"
    # The programs hold connections: the smart shutdown (SIGTERM) would wait
    # for them, the fast one cuts them.
    api = Api(f"http://127.0.0.1:{up.port}")
    api.new_user("conn")
    took, rc, late, leftover = up.stop("postgres")
    # (Well within Docker's 10 s even on a loaded machine: a fast shutdown
    # of a small cluster takes about a second.)
    assert not late and took < 8, f"took {took:.1f}s:\n{up.log('postgres')}"
    assert rc == 0 and not leftover, (rc, leftover)
    assert "database system is shut down" in up.log("postgres")
    assert not up.healthcheck("postgres")
    # A database away makes no other service unhealthy: they are up, and
    # reconnect when it is back.
    for name in ("app", "wsd", "nginx", "mailer"):
        assert up.healthcheck(name), up.last_health_error
