"""The local stack supervises its programs (scripts/stack.sh supervise): a
FastCGI master or wsd killed outright is started again within seconds,
leaving no orphan; a deliberate restart or stop is no crash; stop ends the
supervisors too. And start without the build says what to run, at once."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from chatkit import group, send
from helpers import REPO, STACK_SH, Stack, free_port, processes_using, wait_until
from ws_client import WsClient

PROGRAMS = ["auth", "chats", "messages", "files", "wsd"]


def _stat(pid):
    """(state, ppid) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def _alive(pid):
    st = _stat(pid)
    return st is not None and st[0] != "Z"


def _pid(stack, name):
    try:
        text = (stack.var / "run" / f"{name}.pid").read_text().split()
    except OSError:
        return None
    return int(text[0]) if text else None


def _running_copies(stack, name):
    """Live processes of a program: its command line names its socket (the
    master, and the workers and companion it forked)."""
    marker = f"{stack.var}/run/{name}.sock"
    return [pid for pid, cmd in processes_using(stack.var) if marker in cmd.split()]


def _orphans(stack, name, master):
    """Processes of the program that are neither the master nor its children."""
    return [p for p in _running_copies(stack, name)
            if p != master and (_stat(p) or ("Z", 0))[1] != master]


def _restart_lines(stack, name):
    try:
        text = (stack.var / "log" / "supervise.log").read_text()
    except OSError:
        return []
    return [l for l in text.splitlines() if f" stack: {name} (pid " in l and "starting it again" in l]


@pytest.fixture(scope="module")
def world(stack, api, new_user):
    if not stack.local:
        pytest.skip("needs the local stack")
    alice, bob = new_user("sup"), new_user("sup")
    chat = group(api, alice, [bob], title="Supervised")
    msg = send(api, alice, chat["id"], "still here")
    r = api.post("/api/files", token=alice, files=[("file", ("s.txt", b"supervised\n", "text/plain"))])
    assert r.status_code == 201, r.text
    return {"alice": alice, "chat": chat, "msg": msg, "file": r.json()["files"][0]}


def _serves(stack, api, world, name):
    """True when the program answers through nginx as it should."""
    alice = world["alice"]
    try:
        if name == "auth":
            return api.get("/api/health").status_code == 200
        if name == "chats":
            r = api.get("/api/chats", token=alice)
            return r.status_code == 200 and world["chat"]["id"] in [c["id"] for c in r.json()["chats"]]
        if name == "messages":
            r = api.get(f"/api/chats/{world['chat']['id']}/messages", token=alice)
            return r.status_code == 200 and world["msg"]["id"] in [m["id"] for m in r.json()["messages"]]
        if name == "files":
            r = api.get(world["file"]["url"], token=alice)
            return r.status_code == 200 and r.content == b"supervised\n"
        if name == "wsd":
            c = WsClient.open(stack.ws_url, origin=stack.origin, timeout=3)
            try:
                return c.auth(alice, timeout=3)["type"] == "ready"
            finally:
                c.close()
    except Exception:
        return False
    raise AssertionError(name)


@pytest.mark.parametrize("name", PROGRAMS)
def test_killed_program_serves_again(stack, api, world, name):
    wait_until(lambda: _serves(stack, api, world, name), timeout=20, message=f"{name} serving")
    sup = (stack.var / "run" / f"{name}.supervisor.pid").read_text().split()[0]
    master = _pid(stack, name)
    kids = [p for p in _running_copies(stack, name) if p != master]
    before = len(_restart_lines(stack, name))
    t0 = time.monotonic()
    os.kill(master, signal.SIGKILL)
    wait_until(lambda: _pid(stack, name) not in (None, master) and _alive(_pid(stack, name)),
               timeout=35, message=f"a new {name} master")
    wait_until(lambda: _serves(stack, api, world, name), timeout=30, message=f"{name} serving again")
    took = time.monotonic() - t0
    new = _pid(stack, name)
    # the pid file is true, and is the supervisor's as before
    assert _alive(new) and new != master
    assert (stack.var / "run" / f"{name}.supervisor.pid").read_text().split()[0] == sup
    # the old master's children went with it: none serves beside the new one
    wait_until(lambda: not any(_alive(k) for k in kids) and not _orphans(stack, name, new),
               timeout=15, message=f"no {name} orphan")
    lines = _restart_lines(stack, name)
    assert len(lines) == before + 1, lines
    assert f"{name} (pid {master}) was killed by signal 9" in lines[-1]
    assert f"{name} was killed by signal 9" in stack.log(name)
    print(f"{name}: serving again {took:.1f} s after SIGKILL")


def test_backoff_doubles_while_it_keeps_dying(stack, api, world):
    """Killed again right after its restart, the program waits twice as long."""
    name = "chats"
    wait_until(lambda: _serves(stack, api, world, name), timeout=20, message="chats serving")
    delays = []
    for _ in range(2):
        master = _pid(stack, name)
        os.kill(master, signal.SIGKILL)
        wait_until(lambda: _pid(stack, name) not in (None, master), timeout=35, message="a new master")
        delays.append(float(_restart_lines(stack, name)[-1].rsplit(" in ", 1)[1].split()[0]))
    assert delays[1] == min(2 * delays[0], 30.0), delays
    wait_until(lambda: _serves(stack, api, world, name), timeout=30, message="chats serving again")


def test_deliberate_restart_is_no_crash(stack, api, world):
    name = "files"
    before = len(_restart_lines(stack, name))
    sup = (stack.var / "run" / f"{name}.supervisor.pid").read_text()
    stack.restart(name)
    master = _pid(stack, name)
    assert _alive(master)
    assert (stack.var / "run" / f"{name}.supervisor.pid").read_text() != sup
    assert not _alive(int(sup.split()[0]))  # the old supervisor is gone
    wait_until(lambda: _serves(stack, api, world, name), timeout=30, message="files serving")
    time.sleep(1.5)  # a supervisor that took the stop for a crash would have restarted it by now
    assert _pid(stack, name) == master
    assert len(_restart_lines(stack, name)) == before
    assert not _orphans(stack, name, master)
    assert "(supervisor " in stack.stack_sh("status")


def test_stop_stops_the_supervisors(stack):
    """A private stack: stop leaves no supervisor (nor anything else) behind,
    and start again after a supervisor died gives the program a new one."""
    if not stack.local:
        pytest.skip("needs the local stack")
    s = Stack.start_local(Path(stack.env["BIN"]))
    problems = []
    try:
        sups = {n: int((s.var / "run" / f"{n}.supervisor.pid").read_text().split()[0]) for n in PROGRAMS}
        assert all(_alive(p) for p in sups.values()), sups
        # a supervisor killed outright: the program runs on; start gives it a new one
        os.kill(sups["auth"], signal.SIGKILL)
        wait_until(lambda: not _alive(sups["auth"]), message="the supervisor gone")
        master = _pid(s, "auth")
        s.stack_sh("start")
        assert _pid(s, "auth") == master
        new_sup = int((s.var / "run" / "auth.supervisor.pid").read_text().split()[0])
        assert new_sup != sups["auth"] and _alive(new_sup)
        # it watches the program it found: killed, the program is started again
        os.kill(master, signal.SIGKILL)
        wait_until(lambda: _pid(s, "auth") not in (None, master), timeout=35, message="auth again")
        wait_until(lambda: _health(s), timeout=30, message="health")
        sups["auth"] = new_sup
    finally:
        problems = s.shutdown()
    assert problems == []
    assert not any(_alive(p) for p in sups.values())


def _health(s):
    try:
        return requests.get(s.base_url + "/api/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_a_program_that_fails_at_start_fails_start(stack):
    """A program that exits at once (here chats, status 3) is reported by
    start, which fails and leaves nothing running, its supervisor included."""
    if not stack.local:
        pytest.skip("needs the local stack")
    with tempfile.TemporaryDirectory(prefix="msgr-failbin-") as tmp:
        for name in PROGRAMS:
            os.symlink(Path(stack.env["BIN"]) / name, f"{tmp}/{name}")
        os.unlink(f"{tmp}/chats")
        with open(f"{tmp}/chats", "w") as f:
            f.write("#!/bin/sh\necho chats cannot start >&2\nexit 3\n")
        os.chmod(f"{tmp}/chats", 0o755)
        os.chmod(tmp, 0o755)
        var = Path(tempfile.mkdtemp(prefix="msgr-failvar-"))
        env = dict(stack.env, VAR=str(var), BIN=tmp, PORT=str(free_port()))
        try:
            p = subprocess.run([str(STACK_SH), "start"], env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=180)
            assert p.returncode != 0
            assert "chats exited with status 3" in p.stderr
            assert "chats cannot start" in p.stderr
            assert processes_using(var) == []
        finally:
            subprocess.run([str(STACK_SH), "stop"], env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=180)
            shutil.rmtree(var, ignore_errors=True)


def test_start_without_the_build_says_what_to_run():
    """BIN without programs: start fails at once, in one line naming make
    run, before PostgreSQL or anything else is started."""
    with tempfile.TemporaryDirectory(prefix="msgr-nobuild-") as tmp:
        env = dict(os.environ, VAR=f"{tmp}/var", BIN=f"{tmp}/bin", PORT=str(free_port()))
        os.mkdir(f"{tmp}/bin")
        t0 = time.monotonic()
        p = subprocess.run([str(STACK_SH), "start"], env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30, cwd=REPO)
        assert p.returncode != 0
        assert time.monotonic() - t0 < 5
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1, p.stderr
        assert "make run" in lines[0] and f"{tmp}/bin" in lines[0], lines
        assert not os.path.exists(f"{tmp}/var"), os.listdir(tmp)
