"""report.py - the Markdown of a bench run (bench/run.py calls write()).

Only the part between BEGIN and END in the output file is replaced: the
analysis written around it by people stays. A file without the markers
gets a short header and the markers first.
"""

from pathlib import Path

BEGIN = "<!-- bench:results:begin -->"
END = "<!-- bench:results:end -->"

HEADER = """# Benchmarks

`make bench` (bench/run.py) measures the messenger on this machine and
rewrites the section between the markers below; the text outside them is
kept.

"""


def fmt(v, digits=0):
    if v is None:
        return "–"
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return f"{v:,}"
    return f"{v:,.{digits}f}"


def ms(v):
    if v is None:
        return "–"
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def verdict(ok):
    return "**met**" if ok else "**missed**"


def wrk_errors(w):
    e = w["errors"]
    other = e["connect"] + e["read"] + e["write"] + e["timeout"]
    s = f"{e['status']}"
    if other:
        s += f" (+{other} socket errors/timeouts)"
    return s


def machine(r):
    m = r["machine"]
    cfg = r["cfg"]
    busy = m.get("busy_idle")
    noisy = busy is not None and busy > 0.10
    lines = [
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB RAM, Linux {m['kernel']}",
        f"- Date: {m['date']}; commit {m['commit']}; run time {r.get('seconds', 0):.0f} s",
        f"- Software: {m['postgres']}; {m['nginx']}; {m['wrk']}",
        f"- Set-up: the stack of `scripts/stack.sh` from `build/bin` (-O2), PostgreSQL with "
        f"fsync and synchronous_commit on (no PG_FAST), {cfg['workers']} workers per FastCGI "
        f"program (no keep-alive from nginx to them), history reads and JSON sends served by the "
        f"`messages` companion over kept connections, kept pages checked and sends written in batches "
        f"(`MSGR_SEND_BATCH=1`, `MSGR_READ_LINKS=4`), as shipped. Load generators on the same "
        f"2 cores, 127.0.0.1 only.",
        f"- REST: `wrk -t{cfg['threads']} -c{cfg['conns']} -d{cfg['seconds']}s` after a "
        f"{cfg['warmup']} s warm-up; ceiling: `pgbench -M prepared -c{cfg['conns']} -j2 "
        f"-T{cfg['seconds']}` as the application role, running the endpoint's statements "
        f"(bench/pgbench/*.sql) on the same data.",
    ]
    if "rest" not in r.get("only", ["rest"]):
        lines.pop()  # no REST scenario in this run: its tools' line says nothing
    if busy is not None:
        lines.append(
            f"- Background load when the run started: {100 * busy:.0f}% of the CPU busy with other "
            f"work, {m.get('foreign_stacks', 0)} processes of other stacks (PostgreSQL/nginx) "
            f"alive; load average {' '.join(m['loadavg'])}."
            + (" **These figures are noisy: other work shared the 2 cores.**" if noisy else ""))
    if m.get("stack_env"):
        lines.append(f"- Extra settings of the programs (BENCH_STACK_ENV): `{m['stack_env']}`")
    if r.get("note"):
        lines.append(f"- Note: {r['note']}")
    return "\n".join(lines)


def rest_table(r):
    rows = r.get("rest") or []
    if not rows:
        return ""
    out = ["### REST", "",
           "| Scenario | req/s | p50 ms | p99 ms | non-2xx | DB ceiling (tps) | REST / ceiling | Target |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    notes = []
    for row in rows:
        if "wrk" not in row or (row.get("error") and "pg" not in row):
            why = row.get("skipped") or row.get("error", "")[:300].replace("\n", " ").replace("|", "/")
            out.append(f"| {row['title']} | not measured: {why} | | | | | | |")
            continue
        w, p = row["wrk"], row.get("pg")
        share = f"{100 * w['rps'] / p['tps']:.0f}%" if p and p["tps"] else "–"
        target = ""
        if row.get("target"):
            _, value = row["target"]
            target = f"≥ {value:,} req/s: {verdict(w['rps'] >= value)}"
        invalid = " (**invalid: errors**)" if w["errors"]["status"] or w["errors"]["timeout"] else ""
        busy = row.get("busy_before")
        title = row["title"] + (f" [CPU {100 * busy:.0f}% busy before]" if busy and busy > 0.15 else "")
        ceiling = fmt(p["tps"]) if p else "failed" if row.get("pg_error") else "–"
        out.append(f"| {title} | {fmt(w['rps'])}{invalid} | {ms(w['latency_ms']['p50'])} | "
                   f"{ms(w['latency_ms']['p99'])} | {wrk_errors(w)} | "
                   f"{ceiling} | {share} | {target} |")
        if p and p.get("items"):
            notes.append(f"\"{row['title']}\": the ceiling is one pgbench client (the "
                         f"companion writes one batch at a time) writing batches of {p['items']} sends with `message_send_batch()` "
                         f"(which sends one NOTIFY each), {fmt(p['txn_tps'])} batches/s, counted in messages; "
                         f"the REST run's batches held {row.get('batch_avg') or '–'} sends on average.")
        if row.get("pg_error"):
            why = "statement timeouts" if "canceling statement" in row["pg_error"] or "aborted" in row["pg_error"] else "see build/bench/results.json"
            notes.append(f"The ceiling of \"{row['title']}\" could not be measured: pgbench "
                         f"stopped ({why}).")
    if notes:
        out += [""] + notes
    ds = r.get("dataset") or {}
    if ds.get("search_counts"):
        words = ", ".join(f"`{w}` {n:,}" for w, n in ds["search_counts"].items())
        out += ["", f"Search strings and how many of the messages each matches: {words}."]
    prof = r.get("search_profile")
    if prof:
        cells = []
        for p in prof:
            t = f"{p['ms']:.1f} ms" if p.get("ms") is not None else f"failed ({p.get('error')})"
            cells.append(f"`{p['q']}` ({(p.get('matches') or 0):,} matches): {t}")
        out += ["", "One search alone (the endpoint's statement, best of three) by how many "
                "messages match: " + "; ".join(cells) + "."]
    if ds.get("user_queries"):
        out += ["", "User search strings: " + ", ".join(f"`{q}`" for q in ds["user_queries"]) + "."]
    out += ["", "REST / ceiling: the endpoint's requests per second as a share of the "
            "transactions per second PostgreSQL alone sustains for the same statements with "
            "as many clients (the statements of one request are one pgbench transaction)."]
    return "\n".join(out)


def upload_section(r):
    u = r.get("upload")
    if not u:
        return ""
    out = ["### Uploads (`POST /api/files`, multipart, one file)", "",
           "| File | connections | files/s | MiB/s | p50 ms | p99 ms | non-2xx | DB ceiling (tps) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label in ("1 MiB", "25 MiB"):
        row = u.get(label)
        if not row:
            continue
        if "wrk" not in row:
            out.append(f"| {label} | not measured: {row.get('error', '')[:200]} | | | | | | |")
            continue
        w = row["wrk"]
        out.append(f"| {label} | {w['conns']} | {fmt(w['rps'], 1)} | {fmt(row['mib_per_s'], 0)} | "
                   f"{ms(w['latency_ms']['p50'])} | {ms(w['latency_ms']['p99'])} | {wrk_errors(w)} | "
                   f"{fmt(row['pg']['tps']) if row.get('pg') else '–'} |")
    h = u.get("hwm")
    if h and h.get("max_growth_kib") is not None:
        g = h["max_growth_kib"]
        out += ["", f"Peak RSS (VmHWM) of a files worker during a 25 MiB upload: "
                f"+{g:,} KiB over its RSS before ({h['rss_before_kib']:,} KiB), the largest of "
                f"{h['workers']} workers after {h['uploads']} such uploads "
                f"(each: {', '.join(str(x) for x in h['growth_kib'])} KiB). Target < 2 MiB: "
                f"{verdict(g < 2048)}."]
    return "\n".join(out)


def idle_section(r):
    rows = r.get("idle")
    if not rows:
        return ""
    out = ["### WebSocket: idle authenticated connections", "",
           "| Path | connections ready / tried | wsd processes | wsd RSS before → after (KiB) | "
           "wsd KiB per connection | nginx KiB per connection | connect time | Target ≤ 8 KiB |",
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        k = row.get("kib_per_conn")
        path = "straight to wsd's unix socket" if row["label"] == "direct" else "through nginx"
        out.append(
            f"| {path} | {fmt(row['ready'])} / {fmt(row['users'])} | {row['wsd_processes']} | "
            f"{fmt(row['wsd_rss_before_kib'])} → {fmt(row['wsd_rss_after_kib'])} | "
            f"{fmt(k, 2)} | {fmt(row.get('nginx_kib_per_conn'), 2)} | {row['connect_seconds']:.1f} s | "
            f"{verdict(k is not None and k <= 8 and row['ready'] == row['users'])} |")
        if row.get("connects_per_second"):
            out.append(f"| ↳ {row['connects_per_second']:,.0f} connections authenticated a second; "
                       f"{row.get('not_in_time', 0):,} not ready within the connect deadline | | | | | | | |")
        if row.get("failed") or row.get("dropped"):
            out.append(f"| ↳ {row['failed']} failed, {row['dropped']} dropped: "
                       f"{row.get('first_failure', '')[:150]} | | | | | | | |")
    if any(r2.get("wsd_processes", 1) > 1 for r2 in rows):
        out += ["", "More than one wsd: a process here may hold at most "
                f"{rows[0].get('wsd_nofile')} descriptors (the hard RLIMIT_NOFILE of this "
                "machine, which cannot be raised without CAP_SYS_RESOURCE), so the connections "
                "were spread over wsd processes side by side, as the contract allows; the "
                "figure per connection is the sum of their growth over the sum of connections."]
    return "\n".join(out)


def fanout_section(r):
    f = r.get("fanout")
    if not f:
        return ""
    lat = f.get("latency") or {}
    sends = f.get("sends") or {}
    dps = f.get("deliveries_per_second") or 0
    ok = dps >= 20000 and (lat.get("p99_ms") or 1e9) <= 50
    return "\n".join([
        "### WebSocket: fan-out", "",
        f"{f['group_members']:,} members of one group connected, one of them sending "
        f"{r['cfg']['group_rate']} messages a second over REST; {f['direct_users']:,} users in "
        f"direct chats each sending a message every {r['cfg']['direct_interval_ms'] / 1000:g} s; "
        f"all {f['users']:,} connected through nginx; {f['send_seconds']:.0f} s of sending "
        f"(deliveries/s: over the {f.get('delivery_seconds', f['send_seconds']):.1f} s from the first "
        "send to the last delivery). "
        "Latency: from just before the REST request is written to the event's arrival "
        "(CLOCK_REALTIME of the same machine, stamped in the message text).", "",
        "| deliveries/s | delivered / expected | latency p50 | p99 | max | sends ok (/s) | "
        "send non-2xx / errors | REST p50 / p99 | Target ≥ 20,000/s, p99 ≤ 50 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {fmt(dps)} | {fmt(f['deliveries'])} / {fmt(f['expected_deliveries'])} | "
        f"{ms(lat.get('p50_ms'))} ms | {ms(lat.get('p99_ms'))} ms | {ms(lat.get('max_ms'))} ms | "
        f"{fmt(sends.get('ok'))} ({fmt(f.get('sends_per_second'))}) | "
        f"{fmt(sends.get('non2xx'))} / {fmt(sends.get('errors'))} | "
        f"{ms((sends.get('rest') or {}).get('p50_ms'))} / {ms((sends.get('rest') or {}).get('p99_ms'))} ms | "
        f"{verdict(ok)} |",
        "",
        f"Connections: {fmt(f['ready'])} ready of {fmt(f['users'])} "
        f"(in {f['seconds']:.0f} s; {fmt(f.get('not_in_time'))} not within the connect deadline), "
        f"{fmt(f['failed'])} failed, "
        f"{fmt(f['dropped'])} dropped by the server, out-of-order or repeated event ids "
        f"{fmt(f['dup_or_old'])}; sends more than 100 ms behind schedule: "
        f"{fmt(sends.get('behind_100ms'))}."
        + (f" First failure: {f['first_failure'][:200]}" if f.get("first_failure") else ""),
    ])


def storm_section(r):
    s = r.get("storm")
    if not s:
        return ""
    c = s.get("check") or {}
    caught = s.get("caught") or {}
    return "\n".join([
        "### WebSocket: reconnect storm", "",
        f"{s['users']:,} clients in direct chats, connected through nginx; each chat gets a "
        "message while all are connected; then each side sends one more message while every "
        "client drops its connection at the same moment; once those are stored, all clients "
        "reconnect at once with `since` = the last event id they had.", "",
        "| clients | all caught up after | per client p50 / p99 | caught up | missing messages | "
        "event ids checked against the events table | missing | duplicates | unexpected |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {fmt(s['users'])} | {s.get('catch_up_seconds', 0):.2f} s | "
        f"{ms(caught.get('p50_ms'))} / {ms(caught.get('p99_ms'))} ms | {fmt(s.get('caught_up'))} | "
        f"{fmt(s.get('missing_messages'))} | {fmt(c.get('expected_events'))} expected, "
        f"{fmt(c.get('received_events'))} received | {fmt(c.get('missing'))} | "
        f"{fmt(c.get('duplicates'))} | {fmt(c.get('unexpected'))} |",
        "",
        f"Users not compared (not connected both before and after the drop): "
        f"{fmt(c.get('not_compared'))}. "
        f"Failures: {fmt(s['failed'])} connections ({s.get('first_failure', '')[:200]}); "
        f"resets {fmt(s['resets'])}; send non-2xx {fmt((s.get('sends') or {}).get('non2xx'))}."
        + (f" Example of a user missing events: {c['example']}." if c.get("example") else ""),
    ])


def day_section(r):
    rows = r.get("day")
    if not rows:
        return ""
    cfg = r["cfg"]
    big = cfg.get("day_big_per_min")
    out = [
        "### Day in the life", "",
        f"The model of docs/BENCHMARKS.md (\"The day-in-the-life scenario\"): each user connected by "
        f"WebSocket through nginx, 4 direct chats and 2 groups of 3–10 members, and per 5,000 users "
        f"large groups of 1,000, 500, 200 and 100 members ({fmt(big, 1)} message a minute each); every "
        f"user sends a message every 60 s on average (two typing frames 1.5 s apart before it), acks "
        f"every message received, opens a chat every 30 s (newest 50 + read marker), fetches the chat "
        f"list every 5 minutes; 1% of the users drop and reconnect with `since` each minute (and "
        f"whoever wsd closes comes back with `since` a second later, as the app does). "
        f"{cfg.get('day_seconds')} s of activity a size, after everybody is connected. Delivery: "
        f"from just before the send's request is written to the event's arrival at each other "
        f"member's socket (replays after a reconnect counted apart); REST: from when the user wanted "
        f"it to the response. Target at 50,000 users: delivery p99 ≤ 200 ms, every REST p99 ≤ "
        f"100 ms, 0 errors (a socket closed by wsd counts), 0 lost.", "",
        "| users | connected | sends/s | deliveries (replayed) | delivery p50 / p99 / max ms | "
        "REST p99 ms: send / history / read / chat list | errors | sockets closed by wsd (of them "
        "lagging, 4008) | events checked: missing / duplicated | target |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    res = ["", "| users | wsd processes / nginx workers / load generators | CPU % of a core: nginx / "
           "programs / wsd / PostgreSQL / load generator | memory MiB (PSS, peak): nginx / programs / "
           "wsd / PostgreSQL | events written (message / delivered / read) |",
           "|---:|---:|---:|---:|---:|"]
    notes = []
    for d in rows:
        if d.get("skipped") or d.get("error"):
            out.append(f"| {fmt(d['users'])} | " + " | ".join(["–"] * 8) + " | not measured |")
            notes.append(f"- {fmt(d['users'])} users: {(d.get('skipped') or d.get('error'))[:600]}")
            continue
        lat = d.get("latency", {})
        dl = lat.get("delivery") or {}
        rest = d.get("rest", {})
        p99s = [(lat.get(k) or {}).get("p99_ms") for k in ("send", "history", "read", "chats")]
        c = d.get("check") or {}
        sends = (rest.get("send") or {}).get("ok", 0) / max(1, d["seconds"])
        ok = (dl.get("p99_ms") is not None and dl["p99_ms"] <= 200
              and all(p is not None and p <= 100 for p in p99s)
              and d.get("errors") == 0 and d.get("dropped") == 0
              and c.get("missing") == 0 and c.get("duplicates") == 0
              and d.get("ready") == d["users"])
        out.append(
            f"| {fmt(d['users'])} | {fmt(d['ready'])} | {fmt(sends, 1)} | {fmt(d.get('deliveries'))} "
            f"({fmt(d.get('replayed'))}) | {ms(dl.get('p50_ms'))} / {ms(dl.get('p99_ms'))} / "
            f"{ms(dl.get('max_ms'))} | " + " / ".join(ms(p) for p in p99s) +
            f" | {fmt(d.get('errors'))} | {fmt(d.get('dropped'))} ({fmt(d.get('lagging'))}) | "
            f"{fmt(c.get('missing'))} / {fmt(c.get('duplicates'))} of "
            f"{fmt(c.get('expected_events'))} | {verdict(ok)} |")
        cpu, pss, ek = d.get("cpu_pct", {}), d.get("pss_mib", {}), d.get("events_by_kind", {})
        grp = ("nginx", "programs", "wsd", "postgres")
        res.append(
            f"| {fmt(d['users'])} | {d['wsd_processes']} / {d['nginx_workers']} / "
            f"{d['wsload_processes']} | " + " / ".join(fmt(cpu.get(k), 0) for k in grp + ("wsload",)) +
            " | " + " / ".join(fmt(pss.get(k), 0) for k in grp) +
            f" | {fmt(ek.get('message.created', 0))} / {fmt(ek.get('delivered', 0))} / "
            f"{fmt(ek.get('read', 0))} |")
        rc = (lat.get("reconnect") or {})
        notes.append(
            f"- {fmt(d['users'])} users: {fmt(d['direct_chats'])} direct chats, {fmt(d['groups'])} "
            f"groups (large: {', '.join(fmt(x) for x in d.get('large_groups', []))} members), "
            f"{fmt(d['memberships'])} memberships, seeded in {d['seed_seconds']:.0f} s; connected in "
            f"{d['connect_seconds']:.0f} s; {fmt(d.get('reconnects'))} reconnects (ready again p99 "
            f"{ms(rc.get('p99_ms'))} ms); requests: " +
            ", ".join(f"{k} {fmt(v.get('ok'))} ok" + (f" (first failure {v['first'][:120]})"
                                                        if v.get("first") else "")
                      for k, v in rest.items()) +
            f" (waited over 100 ms for a free connection of the load generator: "
            f"{fmt(sum(v.get('behind_100ms', 0) for v in rest.values()))})"
            f"; REST p50 ms send / history / read / chat list: " +
            " / ".join(ms((lat.get(k) or {}).get("p50_ms")) for k in ("send", "history", "read", "chats")) +
            "; delivery p50 / p99 / max ms by chat: " +
            ", ".join(f"{k} {ms((lat.get('delivery_' + k) or {}).get('p50_ms'))} / "
                      f"{ms((lat.get('delivery_' + k) or {}).get('p99_ms'))} / "
                      f"{ms((lat.get('delivery_' + k) or {}).get('max_ms'))} "
                      f"({fmt((lat.get('delivery_' + k) or {}).get('n'))})"
                      for k in ("direct", "small", "large")) +
            f"; connections failed {fmt(d.get('failed'))}, dropped {fmt(d.get('dropped'))}, resets "
            f"{fmt(d.get('resets'))}; events received {fmt(c.get('received_events'))}, drained for "
            f"{d.get('drain_seconds') or 0:.0f} s after the sends (until 5 s without a frame"
            + ("; **the 300 s cap ended the wait: events still on their way then count as missing**"
               if d.get("drain_capped") else "") + ")"
            + (f"; first failure: {d['first_failure'][:200]}" if d.get("first_failure") else "") + ".")
    return "\n".join(out + res + [""] + notes)


def problems_section(r):
    out = []
    for name, why in (r.get("skipped") or {}).items():
        out.append(f"- Scenario `{name}` not measured: {why[:600]}")
    for name, info in (r.get("logs") or {}).items():
        first = "; ".join(info["first"][:3])
        out.append(f"- {info['count']} error lines in {name}, e.g.: `{first[:400]}`")
    for p in r.get("teardown") or []:
        out.append(f"- Teardown: {p[:300]}")
    if r.get("interrupted"):
        out.append("- The run was interrupted.")
    if not out:
        return ""
    return "### Problems during the run\n\n" + "\n".join(out)


def render(r):
    parts = [BEGIN, "## Figures of the last `make bench`", "", machine(r)]
    for section in (rest_table, upload_section, idle_section, fanout_section, storm_section,
                    day_section, problems_section):
        text = section(r)
        if text:
            parts += ["", text]
    parts += ["", END]
    return "\n".join(parts) + "\n"


def write(path, results):
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    block = render(results)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block.rstrip("\n") + tail
    else:
        text = (text or HEADER) + ("\n" if text and not text.endswith("\n") else "") + block
    path.write_text(text)
