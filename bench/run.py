#!/usr/bin/python3
"""run.py - the messenger's benchmarks: `make bench`.

Starts a private stack (scripts/stack.sh, like the integration tests: a
temporary state directory, a free port on 127.0.0.1) from the plain -O2
build in build/bin with PostgreSQL's durability on, as in production;
seeds it (bench/seed.py); runs every scenario for a bounded time; stops
everything it started; and writes the figures into docs/BENCHMARKS.md,
between the markers "<!-- bench:results:begin -->" and "...:end -->"
(the text around them is kept).

Scenarios (BENCH_ONLY picks some, comma-separated):
  rest    wrk against the REST endpoints, and pgbench running the same SQL
          with as many clients for as long: the database's own ceiling
  upload  1 MiB and 25 MiB uploads; the files worker's peak RSS
  idle    idle authenticated WebSocket connections: wsd's memory per
          connection, straight to wsd's socket and through nginx
  fanout  a 1,000-member group getting 20 messages a second, and 5,000
          direct-chat users each sending every 10 s: deliveries/s, latency
  storm   5,000 clients drop and come back with since at once: time to
          catch up, and a check of every received event id against the
          events table
  day     a day in the life of active users at 5,000, 10,000, 20,000 and
          50,000 users (docs/BENCHMARKS.md states the model): REST p50/p99
          per endpoint, delivery latency, errors, events missing or
          duplicated against the events table, CPU and memory of nginx, the
          programs, wsd and PostgreSQL. Seeds its own users and chats by
          SQL, size by size; spreads nginx workers, wsd processes and load
          generators so that no process holds more than 20,000 descriptors

Settings (environment): BENCH_SECONDS (10), BENCH_WARMUP (2), BENCH_CONNS
(32), BENCH_THREADS (2), BENCH_WORKERS (the programs' MSGR_WORKERS, 4),
BENCH_IDLE (20000), BENCH_IDLE_NGINX (8000), BENCH_GROUP (1000),
BENCH_DIRECT (5000), BENCH_FANOUT_SECONDS (30), BENCH_STORM (5000),
BENCH_SEARCH_MESSAGES (1000000), BENCH_BIN (build/bin), BENCH_OUT
(docs/BENCHMARKS.md), BENCH_KEEP=1 (keep the state directory),
BENCH_TIME_LIMIT (1200 s: later scenarios are skipped), BENCH_CONNECT_TIMEOUT
(120 s for each WebSocket connecting phase), BENCH_STACK_ENV ("MSGR_K=V ...":
more settings for the programs), BENCH_REST (e.g. `send,history`: only these
REST cases), BENCH_NOTE (a line for the report); for day: BENCH_DAY_SIZES
(5000,10000,20000,50000), BENCH_DAY_SECONDS (120 s of activity a size),
BENCH_DAY_BIG_PER_MIN (1: messages a minute in each large group),
BENCH_DAY_HISTORY (20 messages seeded in each chat), BENCH_DAY_RECONNECT_EVERY
(6000 s between one user's reconnects on average: 1% a minute), BENCH_DAY_PER_NGINX
(16000 connections an nginx worker), BENCH_DAY_PER_WSD (15000 sockets a wsd), BENCH_DAY_PER_WSLOAD (9000 users a
load generator), BENCH_DAY_HTTP_CONNS (64 keep-alive connections a load
generator). Only
127.0.0.1 is ever a target.
"""

import contextlib
import datetime
import json
import math
import os
import platform
import pwd
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH))

import report  # noqa: E402
import seed  # noqa: E402


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


CFG = {
    "seconds": env_int("BENCH_SECONDS", 10),
    "warmup": env_int("BENCH_WARMUP", 2),
    "conns": env_int("BENCH_CONNS", 32),
    "threads": env_int("BENCH_THREADS", 2),
    "workers": env_int("BENCH_WORKERS", 4),
    "idle": env_int("BENCH_IDLE", 20000),
    "idle_nginx": env_int("BENCH_IDLE_NGINX", 8000),
    "group": env_int("BENCH_GROUP", 1000),
    "group_rate": env_int("BENCH_GROUP_RATE", 20),
    "direct": env_int("BENCH_DIRECT", 5000),
    "direct_interval_ms": env_int("BENCH_DIRECT_INTERVAL_MS", 10000),
    "fanout_seconds": env_int("BENCH_FANOUT_SECONDS", 30),
    "storm": env_int("BENCH_STORM", 5000),
    "search_messages": env_int("BENCH_SEARCH_MESSAGES", 1000000),
    "search_chats": 20,
    "history": 1000,
    "reg_users": 16,
    "time_limit": env_int("BENCH_TIME_LIMIT", 1200),
    # Each connecting phase of wsload ends after this; who is not ready then
    # is counted and left out.
    "connect_timeout": env_int("BENCH_CONNECT_TIMEOUT", 120),
    # The send limiter stays on (its statement runs) but never refuses.
    "send_rate": 1000000,
    "day_sizes": [int(x) for x in os.environ.get("BENCH_DAY_SIZES", "5000,10000,20000,50000").split(",")
                  if x.strip()],
    "day_seconds": env_int("BENCH_DAY_SECONDS", 120),
    # Messages a minute in each large group (docs/BENCHMARKS.md, "Day in the
    # life": every ack there is an event to every member).
    "day_big_per_min": float(os.environ.get("BENCH_DAY_BIG_PER_MIN", "") or 1),
    "day_per_wsd": env_int("BENCH_DAY_PER_WSD", 15000),
    "day_http_conns": env_int("BENCH_DAY_HTTP_CONNS", 64),
    "day_per_wsload": env_int("BENCH_DAY_PER_WSLOAD", 9000),
    "day_per_nginx": env_int("BENCH_DAY_PER_NGINX", 16000),
    "day_history": env_int("BENCH_DAY_HISTORY", 20),
    # Seconds between one user's reconnects on average: 6,000 is 1% of the
    # users a minute.
    "day_reconnect_every": env_int("BENCH_DAY_RECONNECT_EVERY", 6000),
}
ALL = ["rest", "upload", "idle", "fanout", "storm", "day"]
ONLY = [s.strip() for s in os.environ.get("BENCH_ONLY", ",".join(ALL)).split(",") if s.strip()]
BIN = Path(os.environ.get("BENCH_BIN", REPO / "build" / "bin")).resolve()
OUT = Path(os.environ.get("BENCH_OUT", REPO / "docs" / "BENCHMARKS.md"))
WSLOAD = Path(os.environ.get("BENCH_WSLOAD", REPO / "build" / "bench" / "wsload")).resolve()
PGBIN = Path("/usr/lib/postgresql/15/bin")
T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- processes ---------------------------------------------------------------

CHILDREN = set()  # Popen objects of load generators still running


def run(cmd, timeout, env=None, check=False, input=None):
    """Runs a load generator to its end (bounded by timeout); returns
    (returncode, stdout, stderr). Killed when the timeout passes."""
    p = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.PIPE if input else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    CHILDREN.add(p)
    try:
        out, err = p.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(p)
        out, err = p.communicate()
        err += f"\n(killed after {timeout}s)"
    except BaseException:
        kill_tree(p)  # interrupted: the child goes with us
        raise
    finally:
        CHILDREN.discard(p)
    if check and p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}):\n{err[-2000:]}")
    return p.returncode, out, err


def kill_tree(p):
    """Ends a child we started, and its process group (we made it a session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, signal.SIGTERM)
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=5)


def proc_status(pid):
    """/proc/PID/status as a dict of str -> str; {} when gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def kib(pid, field):
    v = proc_status(pid).get(field, "0 kB").split()
    return int(v[0]) if v else 0


def children_of(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read().rsplit(")", 1)[1].split()
            if int(stat[1]) == pid and stat[0] != "Z":
                out.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return sorted(out)


def cpu_busy(seconds=1.0):
    """The machine's CPU use (0..1) over a short interval, from /proc/stat."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]
        return sum(v), idle
    t1, i1 = sample()
    time.sleep(seconds)
    t2, i2 = sample()
    return 1 - (i2 - i1) / max(1, t2 - t1)


def foreign_stacks(var):
    """Other messenger stacks and test runs on this machine right now."""
    n = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "nginx: master" in cmd or ("postgres -D" in cmd or "/postgres" in cmd and " -D " in cmd):
            if str(var) not in cmd:
                n += 1
    return n


# ---- the stack ---------------------------------------------------------------


class Stack:
    """A private stack from scripts/stack.sh, as tests/helpers.py starts one,
    with durability on (no PG_FAST)."""

    def __init__(self):
        self.var = Path(tempfile.mkdtemp(prefix="msgr-bench-"))
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        for k in [k for k in self.env if k.startswith("MSGR_")]:
            del self.env[k]
        self.env.update(
            VAR=str(self.var), PORT=str(self.port), BIN=str(BIN), PG_FAST="0",
            MSGR_WORKERS=str(CFG["workers"]),
            START_TIMEOUT="90",
            # Real tokens must outlive the run (the default is 15 minutes).
            MSGR_ACCESS_TTL="10800",
            MSGR_SEND_RATE=str(CFG["send_rate"]), MSGR_SEND_BURST=str(CFG["send_rate"]),
            # The seed registers every user from 127.0.0.1.
            MSGR_REGISTER_MAX_PER_ADDR="1000000000",
        )
        # BENCH_STACK_ENV="MSGR_X=1 MSGR_Y=2": more settings for the programs
        # (to compare configurations; the report lists them).
        for kv in os.environ.get("BENCH_STACK_ENV", "").split():
            k, _, v = kv.partition("=")
            if k.startswith("MSGR_"):
                self.env[k] = v
        self._db = None
        self.extra_wsd = []  # Popen of wsd processes started here
        self.program_overrides = {}  # setting -> the stack's own value

    def sh(self, *args, timeout=240):
        with tempfile.TemporaryFile(mode="w+") as out:
            p = subprocess.run([str(REPO / "scripts" / "stack.sh"), *args], env=self.env,
                               stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                               timeout=timeout)
            out.seek(0)
            text = out.read()
        if p.returncode != 0:
            raise RuntimeError(f"scripts/stack.sh {' '.join(args)} failed:\n{text}")
        return text

    def start(self):
        self.sh("start")

    def restart_with(self, program, settings):
        """Restarts one program with these MSGR_* settings on top of the
        stack's (an empty dict: back to the stack's own)."""
        for k, own in self.program_overrides.items():
            if own is None:
                self.env.pop(k, None)
            else:
                self.env[k] = own
        self.program_overrides = {k: self.env.get(k) for k in settings}
        self.env.update(settings)
        self.sh("restart", program)

    def stop(self):
        for p in self.extra_wsd:
            kill_tree(p)
        self.extra_wsd = []
        self.close()
        problems = []
        try:
            self.sh("stop")
        except Exception as e:  # noqa: BLE001 - reported, then the leftovers go
            problems.append(str(e))
        sys.path.insert(0, str(REPO / "tests"))
        from helpers import processes_using
        left = processes_using(self.var)
        for pid, cmd in left:
            problems.append(f"left behind, killed: {pid} {cmd}")
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        return problems

    def remove(self):
        shutil.rmtree(self.var, ignore_errors=True)

    def secret(self):
        data = (self.var / "secret").read_bytes()
        return data.rstrip(b"\r\n")

    def pid(self, name):
        try:
            return int((self.var / "run" / f"{name}.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    @property
    def db_superuser(self):
        return pwd.getpwuid(os.stat(self.var / "pg").st_uid).pw_name

    def db(self):
        import psycopg2
        if self._db is None or self._db.closed:
            self._db = psycopg2.connect(host=str(self.var / "run"), dbname="messenger",
                                        user=self.db_superuser)
            self._db.autocommit = True
        return self._db

    def connect(self):
        """A new superuser connection (autocommit), for work in parallel."""
        import psycopg2
        c = psycopg2.connect(host=str(self.var / "run"), dbname="messenger", user=self.db_superuser)
        c.autocommit = True
        return c

    def settle(self, timeout=60):
        """Waits until no statement of the programs is running: requests
        queued by a scenario must not be served during the next one.
        Returns the seconds waited."""
        t0 = time.monotonic()
        quiet = 0
        while time.monotonic() - t0 < timeout:
            n = self.psql("""SELECT count(*) FROM pg_stat_activity
                             WHERE usename = 'msgr_app' AND state = 'active'
                               AND pid <> pg_backend_pid()""")[0][0]
            quiet = quiet + 1 if n == 0 else 0
            if quiet >= 3:
                break
            time.sleep(0.2)
        return time.monotonic() - t0

    def psql(self, sql, *params):
        with self.db().cursor() as cur:
            cur.execute(sql, params or None)
            if cur.description is not None:
                return cur.fetchall()
            return cur.rowcount

    def close(self):
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()
            self._db = None

    def nginx_tune(self, worker_connections, rlimit):
        """Raises nginx's connection limits in this stack's rendered
        nginx.conf and reloads it (SIGHUP): the repository's nginx.conf
        allows 4,096 connections a worker, and a proxied WebSocket takes
        two."""
        conf = self.var / "nginx" / "nginx.conf"
        text = conf.read_text()
        text = re.sub(r"worker_connections\s+\d+;", f"worker_connections {worker_connections};", text)
        text = re.sub(r"worker_rlimit_nofile\s+\d+;", f"worker_rlimit_nofile {rlimit};", text)
        conf.write_text(text)
        self.reload_nginx(workers=1, timeout=15, settle=0.5)

    def reload_nginx(self, workers, timeout, settle):
        """SIGHUP to nginx, then waits until none of the old workers is
        left and at least `workers` new ones run, and `settle` s more."""
        master = self.pid("nginx")
        before = set(children_of(master))
        os.kill(master, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = set(children_of(master))
            if len(now) >= workers and not (now & before):
                break
            time.sleep(0.2)
        time.sleep(settle)

    def start_extra_wsd(self, n):
        """Starts another wsd like the stack's (its environment, its user),
        on a socket of its own; returns the socket path. Several wsd
        processes side by side are part of the contract."""
        pid = self.pid("wsd")
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = dict(kv.split("=", 1) for kv in f.read().decode().split("\0") if "=" in kv)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a for a in f.read().decode().split("\0") if a]
        sock = str(self.var / "run" / f"wsd-bench{n}.sock")
        argv = [argv[0], "--socket", sock]
        st = os.stat(f"/proc/{pid}")
        runas = []
        if os.getuid() == 0 and st.st_uid != 0:
            runas = ["/usr/bin/setpriv", f"--reuid={st.st_uid}", f"--regid={st.st_gid}",
                     "--init-groups", "--"]
        logf = open(self.var / "log" / f"wsd-bench{n}.log", "ab")
        p = subprocess.Popen(runas + argv, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                             stderr=subprocess.STDOUT, start_new_session=True, cwd="/")
        logf.close()
        self.extra_wsd.append(p)
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the extra wsd did not start (see {self.var}/log/wsd-bench{n}.log)")
            time.sleep(0.1)
        return sock, p.pid


# ---- wrk and pgbench -----------------------------------------------------------------


def wrk(stack, script, args, seconds, conns=None, threads=None, timeout="10s"):
    conns = conns or CFG["conns"]
    threads = min(threads or CFG["threads"], conns)
    env = dict(os.environ, BENCH_LUA_DIR=str(BENCH))
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", f"--timeout={timeout}",
           "-s", BENCH / script, stack.base_url, "--", *args]
    rc, out, err = run(cmd, timeout=seconds + 60, env=env)
    m = re.search(r"^BENCH_JSON (\{.*\})$", out, re.M)
    if rc != 0 or not m:
        raise RuntimeError(f"wrk {script} failed ({rc}):\n{out[-1500:]}\n{err[-1500:]}")
    r = json.loads(m.group(1))
    r["conns"], r["threads"] = conns, threads
    return r


def pgbench(stack, template, seconds, variables, variants=None, conns=None, workdir=None):
    """Runs bench/pgbench/TEMPLATE with as many clients as wrk had. With
    variants (a list of dicts), one copy of the script per variant, its
    variables renamed apart (pgbench picks a script at random for each
    transaction)."""
    conns = conns or CFG["conns"]
    text = (BENCH / "pgbench" / template).read_text()
    files = []
    dvars = dict(variables)
    for k, variant in enumerate(variants or [{}]):
        t = text
        for name, value in variant.items():
            t = re.sub(rf":{name}\b", f":{name}_{k}", t)
            dvars[f"{name}_{k}"] = value
        path = Path(workdir) / f"{template[:-4]}_{k}.sql"
        path.write_text(t)
        files.append(path)
    cmd = [PGBIN / "pgbench", "-n", "-M", "prepared", "-c", str(conns), "-j", str(min(2, conns)),
           "-T", str(seconds), "-h", stack.var / "run", "-U", "msgr_app"]
    for f in files:
        cmd += ["-f", f]
    for k, v in dvars.items():
        cmd += ["-D", f"{k}={v}"]
    cmd.append("messenger")
    env = dict(os.environ, PGOPTIONS=f"-c msgr.secret={stack.secret().hex()}")
    rc, out, err = run(cmd, timeout=seconds + 60, env=env)
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if rc != 0 or not m:
        raise RuntimeError(f"pgbench {template} failed ({rc}):\n{out[-1500:]}\n{err[-1500:]}")
    return {"tps": float(m.group(1)), "latency_ms": float(lat.group(1)) if lat else None,
            "failed": int(failed.group(1)) if failed else 0, "conns": conns}


# ---- scenarios ------------------------------------------------------------------------


def write_lines(path, lines):
    Path(path).write_text("".join(f"{x}\n" for x in lines))
    return path


# Sends are written by the messages program's companion, one batch at a
# time, of the sends waiting at that moment: the ceiling is one pgbench client
# writing batches of SEND_BATCH, counted in messages.
SEND_BATCH = 16


def send_ceiling(uid_lo, chat_lo, chat_step, senders, rate):
    return dict(pg="send_batch.sql", pg_conns=1, pg_items=SEND_BATCH,
                vars=dict(uid_lo=uid_lo, chat_lo=chat_lo, chat_step=chat_step, n=senders,
                          batch=SEND_BATCH, text="bench message from pgbench, a typical length",
                          rate=rate, burst=rate))


def batch_sizes(stack, since_event):
    """Messages a transaction among the message.created events after
    since_event: the batches the batcher wrote."""
    rows = stack.psql("SELECT count(*), count(DISTINCT xid::text) FROM events "
                      "WHERE id > %s AND kind = 'message.created'", since_event)
    n, xacts = rows[0]
    return round(n / xacts, 1) if xacts else None


def scenario_rest(stack, ds, work, results):
    reg = ds["reg"]
    reg_tokens = write_lines(work / "reg_tokens", [u["token"] for u in reg])
    uid_lo, uid_hi = reg[0]["id"], reg[-1]["id"]
    secs, warm = CFG["seconds"], CFG["warmup"]
    rate = CFG["send_rate"]
    cases = [
        dict(key="users", title="User search (`GET /api/users?q=`), 26k users",
             lua="users.lua", args=[reg_tokens, write_lines(work / "user_queries", ds["user_queries"])],
             pg="users_search.sql", vars=dict(uid_lo=uid_lo, uid_hi=uid_hi, limit=20),
             variants=[{"q": q} for q in ds["user_queries"]]),
        dict(key="chats", title="Chat list of a user with 100 chats (`GET /api/chats`)",
             lua="chats.lua", args=[write_lines(work / "list_token", [ds["list_user"]["token"]])],
             pg="chat_list.sql", vars=dict(uid=ds["list_user"]["id"])),
        dict(key="history", title="Newest 50 messages of a chat with 1,000 (pages kept by the companion)",
             lua="history.lua",
             args=[write_lines(work / "history_pairs", [f"{u['token']} {ds['read_chat']}" for u in reg])],
             pg="history_kept.sql", vars=dict(uid_lo=uid_lo, uid_hi=uid_hi, chat=ds["read_chat"]),
             target=("rps", 8000)),
        dict(key="history_render", title="Newest 50 messages, every page rendered (`MSGR_PAGE_CACHE_KB=0`)",
             lua="history.lua", args=[str(work / "history_pairs")], program_env={"MSGR_PAGE_CACHE_KB": "0"},
             pg="history.sql", vars=dict(uid_lo=uid_lo, uid_hi=uid_hi, chat=ds["read_chat"], limit=50)),
        dict(key="search", title=f"Message search over {CFG['search_messages']:,} messages",
             lua="search.lua",
             args=[reg_tokens, write_lines(work / "search_words", ds.get("search_words", ["kalomi"]))],
             pg="search.sql", vars=dict(uid_lo=uid_lo, uid_hi=uid_hi, limit=20),
             variants=[{"q": w} for w in ds.get("search_words", ["kalomi"])]),
        dict(key="send", title="Send a message (16 senders, each in its own chat)",
             lua="send.lua",
             args=[write_lines(work / "send_pairs", [f"{u['token']} {c}" for u, c in zip(reg, ds["send_chats"])]),
                   str(int(time.time()))],
             **send_ceiling(uid_lo, ds["send_chats"][0], 1, len(reg), rate),
             target=("rps", 4000)),
        dict(key="send_hot", title="Send a message (16 senders, all in one group chat)",
             lua="send.lua",
             args=[write_lines(work / "hot_pairs", [f"{u['token']} {ds['hot_chat']}" for u in reg]),
                   str(int(time.time()) + 1)],
             **send_ceiling(uid_lo, ds["hot_chat"], 0, len(reg), rate)),
        dict(key="login", title="Login (`POST /api/auth/login`, scrypt N=16384 r=8 p=5)",
             lua="login.lua",
             args=[write_lines(work / "creds", [f"{u['login']} {u['password']}" for u in reg])],
             pg="login.sql", vars=dict(max_user=10, max_addr=100, window=900, ttl=2592000),
             variants=[{"login": u["login"], "uid": u["id"]} for u in reg],
             # Each login is a scrypt hash in an auth worker: more connections
             # than workers only queue.
             conns=CFG["workers"]),
    ]
    only = [k for k in os.environ.get("BENCH_REST", "").split(",") if k]
    for c in cases:
        if only and c["key"] not in only:
            continue
        if over_time():
            results["rest"].append({"key": c["key"], "title": c["title"], "skipped": "time limit"})
            continue
        row = {"key": c["key"], "title": c["title"], "target": c.get("target")}
        try:
            if c.get("program_env"):
                stack.restart_with("messages", c["program_env"])
            row["settle_seconds"] = stack.settle()
            row["busy_before"] = cpu_busy(1.0)
            conns = c.get("conns")
            if warm:
                wrk(stack, c["lua"], c["args"], warm, conns=conns)
            since_event = stack.psql("SELECT coalesce(max(id), 0) FROM events")[0][0]
            row["wrk"] = wrk(stack, c["lua"], c["args"], secs, conns=conns)
            if c.get("pg_items"):
                row["batch_avg"] = batch_sizes(stack, since_event)
            stack.settle()
            try:
                row["pg"] = pgbench(stack, c["pg"], secs, c["vars"], c.get("variants"),
                                    conns=c.get("pg_conns", conns), workdir=work)
                if c.get("pg_items"):
                    row["pg"]["txn_tps"] = row["pg"]["tps"]
                    row["pg"]["items"] = c["pg_items"]
                    row["pg"]["tps"] *= c["pg_items"]
            except Exception as e:  # noqa: BLE001 - the REST figure stands
                row["pg_error"] = str(e)[-600:]
            w, p = row["wrk"], row.get("pg") or {"tps": 0}
            log(f"rest {c['key']}: {w['rps']:.0f} req/s p50 {w['latency_ms']['p50']:.1f} ms "
                f"p99 {w['latency_ms']['p99']:.1f} ms errors {w['errors']}; "
                f"pgbench {p['tps']:.0f} tps ({100 * w['rps'] / max(p['tps'], 1e-9):.0f}%)"
                + (" (pgbench failed)" if row.get("pg_error") else ""))
        except Exception as e:  # noqa: BLE001 - one failed case does not end the run
            row["error"] = str(e)[-1500:]
            log(f"rest {c['key']}: FAILED {str(e)[:500]}")
        finally:
            if c.get("program_env"):
                stack.restart_with("messages", {})
        results["rest"].append(row)
    with contextlib.suppress(Exception):
        search_profile(stack, ds, results)


def search_profile(stack, ds, results):
    """The time of one search alone, by how common its word is: the
    statement of the endpoint, as the application role (its 5 s
    statement_timeout), best of three."""
    words = ds.get("search_profile_words") or []
    if not words:
        return
    stack.settle()
    uid = ds["reg"][0]["id"]
    out = []
    conn = None
    try:
        import psycopg2
        conn = psycopg2.connect(host=str(stack.var / "run"), dbname="messenger", user="msgr_app",
                                options=f"-c msgr.secret={stack.secret().hex()}")
        conn.autocommit = True
        for w in words:
            best, err = None, None
            for _ in range(3):
                t = time.monotonic()
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT status, body, event_id FROM search_messages(%s, %s, NULL, NULL, 20)",
                                    (uid, w))
                        cur.fetchall()
                except psycopg2.Error as e:
                    err = (e.pgerror or str(e)).strip().splitlines()[0]
                    break
                d = (time.monotonic() - t) * 1000
                best = d if best is None else min(best, d)
            out.append({"q": w, "matches": ds["search_profile_counts"].get(w), "ms": best, "error": err})
    finally:
        if conn is not None:
            conn.close()
    results["search_profile"] = out
    log("search profile: " + ", ".join(f"{r['q']}={r['matches']}:{r['ms'] and round(r['ms'], 1)}ms"
                                        for r in out))


def files_workers(stack):
    master = stack.pid("files")
    return children_of(master) if master else []


def scenario_upload(stack, ds, work, results):
    import requests
    token = ds["reg"][0]["token"]
    res = results["upload"] = {}
    url = stack.base_url + "/api/files"

    def upload(size, name="bench.bin"):
        data = (b"0123456789abcdef" * (size // 16 + 1))[:size]
        r = requests.post(url, headers={"Authorization": f"Bearer {token}"},
                          files={"file": (name, data, "application/octet-stream")}, timeout=120)
        if r.status_code != 201:
            raise RuntimeError(f"upload of {size} bytes: {r.status_code} {r.text[:300]}")

    # Peak RSS of the worker that takes a 25 MiB upload: every worker is
    # warm (small uploads), its peak is reset to its current RSS
    # (/proc/PID/clear_refs 5), then 25 MiB uploads go through.
    workers = files_workers(stack)
    for _ in range(3 * len(workers)):
        upload(4096)
    base = {}
    for pid in workers:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        base[pid] = kib(pid, "VmRSS")
    big = 25 * 1024 * 1024
    for _ in range(len(workers)):
        upload(big)
    growth = {pid: kib(pid, "VmHWM") - base[pid] for pid in workers}
    res["hwm"] = {"workers": len(workers), "uploads": len(workers),
                  "rss_before_kib": max(base.values()) if base else None,
                  "max_growth_kib": max(growth.values()) if growth else None,
                  "growth_kib": sorted(growth.values())}
    log(f"upload: 25 MiB worker peak RSS growth {res['hwm']['max_growth_kib']} KiB "
        f"(per worker {res['hwm']['growth_kib']})")

    tokens = write_lines(work / "upload_tokens", [u["token"] for u in ds["reg"]])
    for size, conns, label in ((1024 * 1024, 8, "1 MiB"), (big, 2, "25 MiB")):
        if over_time():
            break
        row = {}
        try:
            row["busy_before"] = cpu_busy(1.0)
            row["wrk"] = wrk(stack, "upload.lua", [tokens, str(size)], CFG["seconds"], conns=conns,
                             timeout="60s")
            row["mib_per_s"] = row["wrk"]["rps"] * size / 1048576
            row["pg"] = pgbench(stack, "upload.sql", CFG["seconds"],
                                dict(uid=ds["reg"][0]["id"], size=size), conns=conns, workdir=work)
            log(f"upload {label}: {row['wrk']['rps']:.1f} files/s, errors {row['wrk']['errors']}")
        except Exception as e:  # noqa: BLE001
            row["error"] = str(e)[-1500:]
            log(f"upload {label}: FAILED {str(e)[:500]}")
        res[label] = row
    # The stored files go: the disk is not the next scenario's problem.
    n = stack.psql("SELECT count(*) FROM files")[0][0]
    for f in (stack.var / "files").glob("*"):
        with contextlib.suppress(OSError):
            if f.is_file():
                f.unlink()
    res["stored"] = n


def wait_presence_clear(stack, timeout=120):
    """Waits until wsd has taken every user offline (the previous scenario's
    connections are gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = stack.psql("SELECT count(*) FROM user_presence")[0][0]
        if n == 0:
            return 0
        time.sleep(0.5)
    return n


def wsload_env():
    return dict(os.environ)


class WsloadRun:
    """A wsload process that says "ready" on stdout and holds until told."""

    def __init__(self, args, label):
        self.label = label
        self.p = subprocess.Popen([str(WSLOAD), *map(str, args)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  start_new_session=True)
        CHILDREN.add(self.p)
        self.ready = None

    def wait_ready(self, timeout):
        self.ready = self.wait_phase("ready", timeout)
        return self.ready

    def wait_phase(self, phase, timeout):
        """Waits for a {"phase": PHASE, ...} line on stdout; returns it, or
        None when it did not come in time."""
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(self.p.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sel.select(timeout=1):
                line = self.p.stdout.readline()
                if not line:
                    break
                with contextlib.suppress(ValueError):
                    d = json.loads(line)
                    if d.get("phase") == phase:
                        return d
        return None

    def finish(self, timeout=120):
        try:
            out, err = self.p.communicate(input="\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(self.p)
            out, err = self.p.communicate()
        CHILDREN.discard(self.p)
        summary = None
        for line in out.splitlines():
            with contextlib.suppress(ValueError):
                d = json.loads(line)
                if "mode" in d:
                    summary = d
        return summary, err


def nofile_limit(pid):
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    return None


def idle_measure(stack, work, users, targets, label, via_nginx):
    """Connects users (split over the wsd targets [(socket or None, pid)])
    and measures wsd's RSS before and after; with via_nginx, also nginx's."""
    tokens = write_lines(work / f"idle_tokens_{label}", [f"{u} {TOKENS[u]}" for u in users])
    nginx_pids = children_of(stack.pid("nginx")) if via_nginx else []
    time.sleep(1)
    before = {pid: kib(pid, "VmRSS") for _, pid in targets}
    nginx_before = sum(kib(p, "VmRSS") for p in nginx_pids)
    # One wsload process per 9,000 connections: a process may not hold
    # more descriptors than the hard limit (20,000 here).
    nproc = max(len(targets), math.ceil(len(users) / 9000))
    runs = []
    t0 = time.monotonic()
    for k in range(nproc):
        sock, _ = targets[k % len(targets)]
        ws = f"127.0.0.1:{stack.port}" if via_nginx else f"unix:{sock}"
        runs.append(WsloadRun(["idle", "--ws", ws, "--tokens", tokens, "--slice", f"{k}/{nproc}",
                               "--host", f"127.0.0.1:{stack.port}",
                               "--origin", f"http://127.0.0.1:{stack.port}",
                               "--concurrency", 200, "--connect-timeout", CFG["connect_timeout"],
                               "--timeout", CFG["connect_timeout"] + 120], f"{label}{k}"))
    readies = [r.wait_ready(CFG["connect_timeout"] + 60) for r in runs]
    connect_secs = time.monotonic() - t0
    time.sleep(3)  # let allocations settle
    after = {pid: kib(pid, "VmRSS") for _, pid in targets}
    nginx_after = sum(kib(p, "VmRSS") for p in nginx_pids)
    summaries = [r.finish() for r in runs]
    ready = sum(d["ready"] for d in readies if d)
    not_in_time = sum(d.get("not_in_time", 0) for d in readies if d)
    failed = sum((s or {}).get("failed", 0) for s, _ in summaries)
    dropped = sum((s or {}).get("dropped", 0) for s, _ in summaries)
    growth = sum(after[p] - before[p] for p in after)
    row = {"label": label, "users": len(users), "ready": ready, "failed": failed, "dropped": dropped,
           "not_in_time": not_in_time, "connects_per_second": ready / connect_secs if connect_secs else None,
           "wsd_processes": len(targets), "connect_seconds": connect_secs,
           "wsd_rss_before_kib": sum(before.values()), "wsd_rss_after_kib": sum(after.values()),
           "kib_per_conn": growth / ready if ready else None,
           "first_failure": next((s.get("first_failure") for s, _ in summaries if s and s.get("first_failure")), ""),
           "connect_ms": [s.get("connect") for s, _ in summaries if s]}
    if via_nginx:
        row["nginx_kib_per_conn"] = (nginx_after - nginx_before) / ready if ready else None
    if not ready:
        row["error"] = "no connection became ready: " + " | ".join(e[-400:] for _, e in summaries)
    log(f"idle {label}: {ready}/{len(users)} ready in {connect_secs:.1f}s, wsd "
        f"{row['kib_per_conn'] and round(row['kib_per_conn'], 2)} KiB/conn, failed {failed}")
    return row


TOKENS = {}


def scenario_idle(stack, ds, work, results):
    res = results["idle"] = []
    wsd = stack.pid("wsd")
    if not wsd:
        raise RuntimeError("wsd is not running")
    users = ds["idle"][:CFG["idle"]]
    # A fresh wsd: memory freed by earlier connections would be reused and
    # hide the growth.
    stack.sh("restart", "wsd")
    wsd = stack.pid("wsd")
    limit = nofile_limit(wsd) or 1024
    per = max(1000, limit - 200)
    need = math.ceil(len(users) / per)
    targets = [(str(stack.var / "run" / "wsd.sock"), wsd)]
    for n in range(1, need):
        targets.append(stack.start_extra_wsd(n))
    if need > 1:
        log(f"idle: wsd may hold {limit} descriptors: {need} wsd processes side by side")
    row = idle_measure(stack, work, users, targets, "direct", via_nginx=False)
    row["wsd_nofile"] = limit
    res.append(row)
    for p in stack.extra_wsd:
        kill_tree(p)
    stack.extra_wsd = []
    wait_presence_clear(stack)
    if over_time():
        return
    n = min(CFG["idle_nginx"], len(users))
    stack.sh("restart", "wsd")
    wsd = stack.pid("wsd")
    res.append(idle_measure(stack, work, users[:n], [(None, wsd)], "nginx", via_nginx=True))
    wait_presence_clear(stack)


def scenario_fanout(stack, ds, work, results):
    group, direct = ds["group"][:CFG["group"]], ds["direct"]
    users = group + direct
    tokens = write_lines(work / "fanout_tokens", [f"{u} {TOKENS[u]}" for u in users])
    lines = []
    if group:
        interval = max(1, round(1000 / CFG["group_rate"]))
        lines.append(f"send {ds['group_chat']} {group[0]} {interval} 0 " + " ".join(map(str, group)))
    import random
    rnd = random.Random(7)
    iv = CFG["direct_interval_ms"]
    for c, a, b in ds["direct_chats"]:
        lines.append(f"send {c} {a} {iv} {rnd.randrange(iv)} {a} {b}")
        lines.append(f"send {c} {b} {iv} {rnd.randrange(iv)} {a} {b}")
    plan = write_lines(work / "fanout_plan", lines)
    args = ["fanout", "--ws", f"127.0.0.1:{stack.port}", "--api", f"127.0.0.1:{stack.port}",
            "--tokens", tokens, "--plan", plan, "--duration", CFG["fanout_seconds"], "--drain", 5,
            "--concurrency", 200, "--http-conns", 32, "--connect-timeout", CFG["connect_timeout"],
            "--timeout", CFG["fanout_seconds"] + CFG["connect_timeout"] + 120]
    busy = cpu_busy(1.0)
    rc, out, err = run([WSLOAD, *args], timeout=CFG["fanout_seconds"] + CFG["connect_timeout"] + 180)
    summary = last_json(out)
    if not summary:
        raise RuntimeError(f"wsload fanout gave no summary ({rc}):\n{err[-2000:]}")
    summary["busy_before"] = busy
    summary["group_members"], summary["direct_users"] = len(group), len(direct)
    results["fanout"] = summary
    log(f"fanout: {summary.get('deliveries_per_second')} deliveries/s, latency "
        f"{summary.get('latency')}, sends {summary.get('sends', {}).get('ok')} ok")
    wait_presence_clear(stack)


def last_json(out):
    found = None
    for line in out.splitlines():
        with contextlib.suppress(ValueError):
            d = json.loads(line)
            if isinstance(d, dict) and "mode" in d:
                found = d
    return found


def scenario_storm(stack, ds, work, results):
    chats = ds["direct_chats"][:CFG["storm"] // 2]
    users = [u for _, a, b in chats for u in (a, b)]
    tokens = write_lines(work / "storm_tokens", [f"{u} {TOKENS[u]}" for u in users])
    lines = []
    for c, a, b in chats:
        lines += [f"live {c} {a} {a} {b}", f"offline {c} {a} {a} {b}", f"offline {c} {b} {a} {b}"]
    plan = write_lines(work / "storm_plan", lines)
    ids_out = work / "storm_ids"
    args = ["storm", "--ws", f"127.0.0.1:{stack.port}", "--api", f"127.0.0.1:{stack.port}",
            "--tokens", tokens, "--plan", plan, "--drain", 3, "--concurrency", 200,
            "--reconnect-concurrency", 0, "--http-conns", 32, "--ids-out", ids_out,
            "--connect-timeout", CFG["connect_timeout"], "--timeout", 2 * CFG["connect_timeout"] + 120]
    busy = cpu_busy(1.0)
    rc, out, err = run([WSLOAD, *args], timeout=2 * CFG["connect_timeout"] + 180)
    summary = last_json(out)
    if not summary:
        raise RuntimeError(f"wsload storm gave no summary ({rc}):\n{err[-2000:]}")
    summary["busy_before"] = busy
    summary["check"] = check_storm_ids(stack, ids_out)
    results["storm"] = summary
    log(f"storm: caught up in {summary.get('catch_up_seconds')}s, check {summary['check']}")
    wait_presence_clear(stack)


def check_storm_ids(stack, path):
    """The storm's users, connected both before and after the drop."""
    return check_ids(stack, [path], min_sessions=2)


# ---- day: a day in the life ------------------------------------------------------------


def descendants(root):
    """root and every process under it (pids)."""
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def proc_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            v = f.read().rsplit(")", 1)[1].split()
        return int(v[11]) + int(v[12])
    except (OSError, IndexError, ValueError):
        return 0


def proc_pss_kib(pid):
    """Proportional set size: shared pages (PostgreSQL's shared buffers,
    the programs' forked masters) are not counted once per process."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return kib(pid, "VmRSS")


def day_groups(stack, wsload_pids):
    """The processes whose CPU and memory the report shows, by group."""
    g = {"nginx": descendants(stack.pid("nginx") or -1),
         "programs": [p for n in ("auth", "chats", "messages", "files") if stack.pid(n)
                      for p in descendants(stack.pid(n))],
         "wsd": [p for p in [stack.pid("wsd")] + [q.pid for q in stack.extra_wsd] if p],
         "postgres": [], "wsload": list(wsload_pids)}
    with contextlib.suppress(OSError, ValueError, IndexError):
        g["postgres"] = descendants(int((stack.var / "pg" / "postmaster.pid").read_text().split()[0]))
    return g


def day_sample(groups):
    return {name: ({p: proc_ticks(p) for p in pids}, sum(proc_pss_kib(p) for p in pids))
            for name, pids in groups.items()}


def day_nginx(stack, n, wsd_socks):
    """nginx for n WebSockets as a deployment would run it: each proxied
    socket holds two descriptors (client and wsd), a worker at most
    19,000 connections (the 20,000 descriptors a process may hold here),
    so enough workers, connections spread over them by the kernel
    (reuseport), and every wsd in one upstream (least_conn)."""
    workers = max(2, math.ceil((2 * n + 2000) / CFG["day_per_nginx"]))
    conf = stack.var / "nginx" / "nginx.conf"
    text = conf.read_text()
    text = re.sub(r"worker_processes\s+[^;]+;", f"worker_processes {workers};", text)
    text = re.sub(r"worker_connections\s+\d+;", "worker_connections 19000;", text)
    text = re.sub(r"worker_rlimit_nofile\s+\d+;", "worker_rlimit_nofile 19500;", text)
    text = re.sub(r"(listen\s+[0-9.]+:\d+)(\s+reuseport)?;", r"\1 reuseport;", text)
    conf.write_text(text)
    up = stack.var / "nginx" / "messenger-upstreams.conf"
    utext = up.read_text()
    servers = "".join(f"    server unix:{s};\n" for s in wsd_socks)
    utext = re.sub(r"upstream messenger_wsd \{[^}]*\}",
                   "upstream messenger_wsd {\n    least_conn;\n" + servers + "}", utext)
    up.write_text(utext)
    stack.reload_nginx(workers=workers, timeout=20, settle=1)
    return workers


def pct(values, p):
    if not values:
        return None
    k = max(0, min(len(values) - 1, math.ceil(p / 100 * len(values)) - 1))
    return values[k] / 1000.0


def lat_summary(values):
    values.sort()
    return {"n": len(values), "p50_ms": pct(values, 50), "p99_ms": pct(values, 99),
            "max_ms": values[-1] / 1000.0 if values else None}


def check_ids(stack, paths, top=None, min_sessions=1):
    """Compares each user's received event ids (wsload's --ids-out files)
    with the events of its chats in the events table, from its first
    "ready" (last_event_id) to top (the newest event now when None). Users
    with fewer than min_sessions connections are not compared (counted as
    connection failures). A large group's markers are expected only by
    their audience (emit_marker())."""
    got, starts = {}, {}
    incomplete = 0
    for path in paths:
        for line in Path(path).read_text().splitlines():
            f = [int(x) for x in line.split()]
            if f[2] < min_sessions:
                incomplete += 1
                continue
            got[f[0]], starts[f[0]] = f[4:], f[1]
    if not got:
        return {"error": "no ids"}
    if top is None:
        top = stack.psql("SELECT coalesce(max(id), 0) FROM events")[0][0]
    rows = stack.psql(
        """SELECT s.uid, coalesce(array_agg(e.id ORDER BY e.id) FILTER (WHERE e.id IS NOT NULL), '{}')
           FROM unnest(%s::bigint[], %s::bigint[]) AS s(uid, start)
           LEFT JOIN chat_members cm ON cm.user_id = s.uid
           LEFT JOIN events e ON e.chat_id = cm.chat_id AND e.id > s.start AND e.id <= %s
             AND (e.audience IS NULL OR e.audience @> ARRAY[s.uid])
           GROUP BY s.uid""",
        list(starts), list(starts.values()), top)
    missing = unexpected = dups = users_missing = 0
    example = None
    for uid, expected in rows:
        ids = [i for i in got.get(uid, []) if i <= top]
        exp, rec = set(expected), set(ids)
        dups += len(ids) - len(rec)
        miss = exp - rec
        missing += len(miss)
        unexpected += len(rec - exp)
        if miss:
            users_missing += 1
            example = example or {"user": uid, "missing": sorted(miss)[:5]}
    return {"users": len(got), "not_compared": incomplete,
            "expected_events": sum(len(e) for _, e in rows),
            "received_events": sum(len(v) for v in got.values()), "missing": missing,
            "users_missing": users_missing, "unexpected": unexpected, "duplicates": dups,
            "example": example}


def day_one(stack, n, work):
    secs = CFG["day_seconds"]
    t_seed = time.monotonic()
    d = seed.build_day(stack, n, CFG["day_big_per_min"], log, CFG["day_history"])
    seed_secs = time.monotonic() - t_seed
    users, tokens = d["users"], d["tokens"]
    tok = write_lines(work / f"day{n}_tokens", [f"{u} {tokens[u]}" for u in users])
    plan = write_lines(work / f"day{n}_plan",
                       [f"chat {c} {w:.6g} {k} " + " ".join(map(str, m)) for c, w, k, m in d["chats"]])
    # wsd: 15,000 sockets a process at most (its 20,000 descriptors, its
    # database connections and some room).
    nwsd = max(1, math.ceil(n / CFG["day_per_wsd"]))
    stack.sh("restart", "wsd")
    socks = [str(stack.var / "run" / "wsd.sock")]
    for k in range(1, nwsd):
        socks.append(stack.start_extra_wsd(100 + k)[0])
    workers = day_nginx(stack, n, socks)
    # The load generator: 9,000 users a process (its sockets and its HTTP
    # connections within the 20,000 descriptors).
    nproc = max(1, math.ceil(n / CFG["day_per_wsload"]))
    log(f"day {n}: {nwsd} wsd, {workers} nginx workers, {nproc} wsload processes")
    runs = []
    t0 = time.monotonic()
    for k in range(nproc):
        runs.append(WsloadRun(
            ["day", "--ws", f"127.0.0.1:{stack.port}", "--api", f"127.0.0.1:{stack.port}",
             "--tokens", tok, "--plan", plan, "--slice", f"{k}/{nproc}",
             "--duration", secs, "--drain", 5, "--concurrency", 200,
             "--http-conns", CFG["day_http_conns"], "--connect-timeout", CFG["connect_timeout"],
             "--send-every", 60, "--open-every", 30, "--list-every", 300, "--reconnect-every", CFG["day_reconnect_every"],
             "--ids-out", work / f"day{n}_ids{k}", "--samples-out", work / f"day{n}_samples{k}",
             "--timeout", secs + 2 * CFG["connect_timeout"] + 300], f"day{k}"))
    readies = [r.wait_ready(CFG["connect_timeout"] + 60) for r in runs]
    connect_secs = time.monotonic() - t0
    ready = sum(x["ready"] for x in readies if x)
    row = {"users": n, "ready": ready, "connect_seconds": connect_secs, "seed_seconds": seed_secs,
           "wsd_processes": nwsd, "nginx_workers": workers, "wsload_processes": nproc,
           "direct_chats": d["direct"], "groups": d["groups"], "large_groups": d["large"],
           "memberships": d["memberships"], "seconds": secs}
    if not all(readies):
        for r in runs:
            kill_tree(r.p)
        raise RuntimeError(f"day {n}: a load generator did not get ready")
    groups = day_groups(stack, [r.p.pid for r in runs])
    ev0 = stack.psql("SELECT coalesce(max(id), 0) FROM events")[0][0]
    for r in runs:
        r.p.stdin.write("go\n")
        r.p.stdin.flush()
    w0, s0 = time.monotonic(), day_sample(groups)
    peak = {k: v[1] for k, v in s0.items()}
    while time.monotonic() - w0 < secs:
        time.sleep(min(5, max(0.1, secs - (time.monotonic() - w0))))
        for k, (_, pss) in day_sample(groups).items():
            peak[k] = max(peak[k], pss)
    w1, s1 = time.monotonic(), day_sample(groups)
    hz = os.sysconf("SC_CLK_TCK")
    row["cpu_pct"] = {k: 100.0 * sum(max(0, s1[k][0].get(p, 0) - t) for p, t in s0[k][0].items())
                      / hz / (w1 - w0) for k in groups}
    row["pss_mib"] = {k: v / 1024 for k, v in peak.items()}
    # Every process has posted its last send: the newest event now is the
    # end of what each user must have received.
    for r in runs:
        r.wait_phase("sent", 180)
    time.sleep(2)  # wsd's batched acks are written
    top = stack.psql("SELECT coalesce(max(id), 0) FROM events")[0][0]
    for r in runs:
        with contextlib.suppress(OSError):
            r.p.stdin.write(f"top {top}\n")
            r.p.stdin.flush()
    # Each drains until no frame came for 5 s (300 s at most).
    summaries = [r.finish(timeout=420) for r in runs]
    sums = [s for s, _ in summaries if s]
    row["events"] = top - ev0
    row["events_by_kind"] = dict(stack.psql(
        "SELECT kind, count(*) FROM events WHERE id > %s AND id <= %s GROUP BY kind", ev0, top))
    series = {}
    for k in range(nproc):
        with contextlib.suppress(OSError):
            for line in (work / f"day{n}_samples{k}").read_text().splitlines():
                name, *vals = line.split()
                series.setdefault(name, []).extend(int(v) for v in vals)
    row["latency"] = {name: lat_summary(v) for name, v in series.items()}
    rest = {}
    for s in sums:
        for name, r in s.get("rest", {}).items():
            a = rest.setdefault(name, {"sent": 0, "ok": 0, "non2xx": 0, "errors": 0, "behind_100ms": 0})
            for f in a:
                a[f] += r.get(f, 0)
            if r.get("first_status") and "first" not in a:
                a["first"] = f"{r['first_status']} {r.get('first_body', '')}"
    row["rest"] = rest
    for f in ("deliveries", "replayed", "acks", "typing_sent", "typing_got", "reconnects", "failed", "lagging",
              "dropped", "not_in_time", "unexpected_frames", "dup_or_old", "resets"):
        row[f] = sum(s.get(f, 0) for s in sums)
    row["first_failure"] = next((s["first_failure"] for s in sums if s.get("first_failure")), "")
    row["drain_seconds"] = max((s.get("drain_seconds", 0) for s in sums), default=None)
    row["drain_capped"] = any(s.get("drain_capped") for s in sums)
    row["errors"] = sum(a["non2xx"] + a["errors"] for a in rest.values()) + row["failed"]
    row["check"] = check_ids(stack, [work / f"day{n}_ids{k}" for k in range(nproc)], top)
    if len(sums) < nproc:
        row["error"] = "a load generator gave no summary: " + " | ".join(e[-300:] for _, e in summaries)
    for p in stack.extra_wsd:
        kill_tree(p)
    stack.extra_wsd = []
    lat = row["latency"].get("delivery", {})
    log(f"day {n}: delivery p50 {lat.get('p50_ms')} p99 {lat.get('p99_ms')} max {lat.get('max_ms')} ms, "
        f"rest {json.dumps({k: (v['p99_ms'] if v else None) for k, v in row['latency'].items()})}, "
        f"errors {row['errors']}, check {row['check']}, cpu {row['cpu_pct']}")
    return row


def scenario_day(stack, ds, work, results):
    res = results["day"] = []
    for n in CFG["day_sizes"]:
        if over_time():
            res.append({"users": n, "skipped": "time limit"})
            continue
        try:
            res.append(day_one(stack, n, work))
        except Exception as e:  # noqa: BLE001 - the next size still runs
            log(f"day {n}: FAILED {e}")
            res.append({"users": n, "error": str(e)[-1500:]})
            for p in stack.extra_wsd:
                kill_tree(p)
            stack.extra_wsd = []
        wait_presence_clear(stack)


DEADLINE = None


def over_time():
    return time.monotonic() > DEADLINE


def machine_info():
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError):
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = int(line.split()[1])
    def version(cmd):
        with contextlib.suppress(Exception):
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        return "?"
    commit, dirty = "unknown", False
    with contextlib.suppress(Exception):
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"],
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    return {
        "cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem / 1048576, 1),
        "kernel": platform.release(), "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" + uncommitted changes" if dirty else ""),
        "postgres": version([PGBIN / "postgres", "--version"]),
        "nginx": version(["nginx", "-v"]), "wrk": version(["wrk", "-v"]),
        "loadavg": open("/proc/loadavg").read().split()[:3],
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
        "stack_env": os.environ.get("BENCH_STACK_ENV", ""),
    }


def main():
    global DEADLINE
    DEADLINE = T0 + CFG["time_limit"]
    if "day" in ONLY:
        # The day's sizes have a budget of their own on top.
        DEADLINE += sum(CFG["day_seconds"] + 300 + n / 100 for n in CFG["day_sizes"])
    for name in ("wrk", "nginx"):
        if not shutil.which(name):
            sys.exit(f"bench: {name} is not installed (make deps)")
    for exe in [BIN / p for p in ("auth", "chats", "messages", "files", "wsd")] + [WSLOAD]:
        if not exe.exists():
            log(f"bench: {exe} does not exist: the scenarios that need it are skipped")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def on_signal(sig, frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    results = {"machine": machine_info(), "cfg": CFG, "only": ONLY, "rest": [], "skipped": {},
               "note": os.environ.get("BENCH_NOTE", "")}
    stack = Stack()
    work = stack.var / "bench"
    work.mkdir()
    problems = []
    try:
        log(f"bench: starting the stack in {stack.var} on port {stack.port} (durability on)")
        stack.start()
        results["machine"]["foreign_stacks"] = foreign_stacks(stack.var)
        results["machine"]["busy_idle"] = cpu_busy(2.0)
        log(f"bench: machine busy {100 * results['machine']['busy_idle']:.0f}% before we start, "
            f"{results['machine']['foreign_stacks']} other stack processes")
        if set(ONLY) - {"day"}:
            ds = seed.build(stack, CFG, log)
            TOKENS.update(ds["tokens"])
            results["dataset"] = {k: ds.get(k) for k in ("search_words", "search_counts",
                                                         "user_queries", "search_profile_counts")}
        else:
            ds = {}  # the day seeds its own users and chats, size by size
        runners = {"rest": scenario_rest, "upload": scenario_upload, "idle": scenario_idle,
                   "fanout": scenario_fanout, "storm": scenario_storm, "day": scenario_day}
        for name in ALL:
            if name not in ONLY:
                continue
            if over_time():
                results["skipped"][name] = f"the time limit of {CFG['time_limit']} s was reached"
                continue
            if name in ("idle", "fanout", "storm", "day"):
                if not WSLOAD.exists():
                    results["skipped"][name] = f"{WSLOAD} was not built"
                    continue
                if not stack.pid("wsd"):
                    results["skipped"][name] = "wsd is not running"
                    continue
                # nginx as shipped allows 4,096 connections a worker, and a
                # proxied WebSocket takes two.
                if not results.get("nginx_tuned"):
                    stack.nginx_tune(19000, 19500)
                    results["nginx_tuned"] = {"worker_connections": 19000,
                                              "worker_rlimit_nofile": 19500}
            log(f"bench: scenario {name}")
            try:
                runners[name](stack, ds, work, results)
            except Exception as e:  # noqa: BLE001 - the others still run
                results["skipped"][name] = f"failed: {str(e)[-1500:]}"
                log(f"bench: scenario {name} FAILED: {e}")
    except KeyboardInterrupt as e:
        log(f"bench: interrupted ({e}); stopping")
        results["interrupted"] = True
    finally:
        for p in list(CHILDREN):
            kill_tree(p)
        results["logs"] = collect_log_errors(stack)
        problems = stack.stop()
        results["teardown"] = problems
        if os.environ.get("BENCH_KEEP") == "1":
            log(f"bench: state kept in {stack.var}")
        else:
            stack.remove()
        results["seconds"] = time.monotonic() - T0
        raw = REPO / "build" / "bench" / "results.json"
        raw.parent.mkdir(parents=True, exist_ok=True)
        raw.write_text(json.dumps(results, indent=1, default=str))
        report.write(OUT, results)
        log(f"bench: wrote {OUT} (raw figures in {raw}) after {results['seconds']:.0f}s")
    for p in problems:
        log(f"bench: teardown: {p}")
    return 0


def collect_log_errors(stack):
    """Error lines of the programs during the run (a bench with errors is
    suspect); the first few of each log."""
    out = {}
    for f in sorted((stack.var / "log").glob("*.log")):
        lines = []
        with contextlib.suppress(OSError):
            for line in open(f, errors="replace"):
                if " error: " in line or "[error]" in line or "[crit]" in line or "[alert]" in line:
                    lines.append(line.strip()[:300])
        if lines:
            out[f.name] = {"count": len(lines), "first": lines[:5]}
    return out


if __name__ == "__main__":
    sys.exit(main())
