"""CPU time per request of one REST scenario, by process group, for A/B
comparisons steadier than requests per second on a shared machine.

usage: /usr/bin/python3 bench/cpu_per_request.py TREE ROUNDS [SECONDS] [SCENARIO]

Starts TREE's own bench stack and data set (bench/run.py's Stack and seed,
so each tree is measured with its own schema, scripts and binaries), warms
up, then runs wrk with history.lua (the newest 50 messages of a chat with
1,000, pages kept) ROUNDS times and prints, for each run, the requests per
second and the utime+stime of every process of nginx, the messages program
and PostgreSQL (each with its children) divided by the requests wrk counted.
SCENARIO "send" runs send.lua instead (16 senders, each in its own chat:
the companion's batched sends). Alternate the trees between calls;
docs/BENCHMARKS.md has the figures.
"""
import importlib.util
import json
import os
import sys
import time
import urllib.request

tree, rounds = sys.argv[1], int(sys.argv[2])
seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 8
scenario = sys.argv[4] if len(sys.argv) > 4 else "history"
os.environ.setdefault("BENCH_SEARCH_MESSAGES", "2000")
sys.path.insert(0, tree + "/bench")
spec = importlib.util.spec_from_file_location("bench_run", tree + "/bench/run.py")
R = importlib.util.module_from_spec(spec)
spec.loader.exec_module(R)
TICK = os.sysconf("SC_CLK_TCK")


def with_descendants(root):
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(R.children_of(pid))
    return out


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read().rsplit(")", 1)[1].split()
            total += int(stat[11]) + int(stat[12])
        except OSError:
            pass  # a process that ended: its time is lost either way
    return total


stack = R.Stack()
work = stack.var / "bench"
work.mkdir()
try:
    stack.start()
    ds = R.seed.build(stack, R.CFG, R.log)
    reg = ds["reg"]
    pairs = R.write_lines(work / "history_pairs", [f"{u['token']} {ds['read_chat']}" for u in reg])
    page = urllib.request.Request(f"{stack.base_url}/api/chats/{ds['read_chat']}/messages?limit=50",
                                  headers={"Authorization": "Bearer " + reg[0]["token"]})
    with urllib.request.urlopen(page) as r:
        print(json.dumps({"tree": tree, "page_bytes": len(r.read())}), flush=True)
    if scenario == "send":
        script = "send.lua"
        send_pairs = R.write_lines(work / "send_pairs",
                                   [f"{u['token']} {c}" for u, c in zip(reg, ds["send_chats"])])
        args = lambda: [send_pairs, str(time.time_ns())]  # fresh client_ids each run
    else:
        script = "history.lua"
        args = lambda: [pairs]
    R.wrk(stack, script, args(), 3)
    with open(stack.var / "pg" / "postmaster.pid") as f:
        postmaster = int(f.readline())
    roots = {"nginx": stack.pid("nginx"), "messages": stack.pid("messages"), "postgres": postmaster}
    for _ in range(rounds):
        pids = {k: with_descendants(v) for k, v in roots.items()}
        before = {k: cpu_ticks(v) for k, v in pids.items()}
        res = R.wrk(stack, script, args(), seconds)
        after = {k: cpu_ticks(v) for k, v in pids.items()}
        n = max(1, res["requests"])
        us = {k: round((after[k] - before[k]) / TICK * 1e6 / n, 1) for k in roots}
        print(json.dumps({"scenario": scenario, "rps": res["rps"], "requests": res["requests"], "us_cpu_per_request": us,
                          "sum": round(sum(us.values()), 1)}), flush=True)
finally:
    stack.stop()
    stack.remove()
