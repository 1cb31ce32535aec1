"""seed.py - the data set of the benchmarks (bench/run.py calls build()).

What goes through the API and what goes straight into the database:

- Real registrations (POST /api/auth/register, scrypt and all) for the
  users whose tokens drive the REST benchmarks and whose passwords the
  login benchmark uses.
- Bulk users by SQL (INSERT ... generate_series), as the superuser: the
  20,000 idle WebSocket users, the fan-out group and the direct-chat
  users, the partners of the chat-list user. Their access tokens are
  minted here with the server secret (the same HS256 JWT as
  shared/token.c), which saves tens of thousands of scrypt hashes.
- Chats through the API (POST /api/chats), so that memberships, events
  and the JSON are exactly the programs'; the 1,000 messages of the
  history chat through the API too.
- The 1M messages of the search benchmark by SQL (generate_series): the
  generated search column and the GIN index are the schema's own; no
  events are written for them (no client is connected to see them).
"""

import base64
import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor

import requests

# Syllables of the pseudo-words of the search corpus: 20 Latin and 20
# Cyrillic ones; a word is three syllables.
LATIN = "ka lo mi ne su ra te vo pi du ze ba fo gi hu ja ke li mo nu".split()
CYRILLIC = "ка ло ми не су ра те во пи ду зе ба фо ги ху жа ке ли мо ну".split()
VOCAB = 2000

FIRST = ("Anna Boris Clara Dmitri Elena Felix Greta Hugo Irina Jonas Karin Leon Maria Nikolai "
         "Olga Pavel Quinn Rosa Sergei Tanja Ulrich Vera Walter Xenia Yuri Zoe").split()
LAST = ("Ivanova Smith Petrov Müller Garcia Rossi Novak Kowalski Jensen Dubois Silva Sato "
        "Kim Nguyen Larsen Popescu Horvat Ahmed Costa Berg").split()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(secret, user_id, ttl=3 * 3600, now=None):
    """An access token as shared/token.c issues it: JWT HS256 with sub, iat,
    exp and typ=access, signed with the server secret."""
    now = int(now or time.time())
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"sub": str(user_id), "iat": now, "exp": now + ttl, "typ": "access"}
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing = f"{header}.{payload}".encode()
    sig = hmac.new(secret, signing, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(sig)}"


def word(k):
    """Pseudo-word number k of the corpus (every tenth one Cyrillic)."""
    syl = CYRILLIC if k % 10 == 0 else LATIN
    return syl[k % 20] + syl[(k // 20) % 20] + syl[(k // 400) % 20]


class Seeder:
    def __init__(self, stack, log):
        self.stack = stack
        self.log = log
        self.base = stack.base_url
        self.secret = stack.secret()
        self.tls = __import__("threading").local()

    # ---- HTTP ---------------------------------------------------------------

    def session(self):
        s = getattr(self.tls, "s", None)
        if s is None:
            s = self.tls.s = requests.Session()
        return s

    def call(self, method, path, token=None, expect=(200, 201), **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in range(5):
            r = self.session().request(method, self.base + path, headers=headers, timeout=120, **kw)
            if r.status_code in (429, 503) and attempt < 4:
                time.sleep(float(r.headers.get("Retry-After", "1")))
                continue
            break
        if r.status_code not in expect:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r.json() if r.content else None

    def parallel(self, fn, items, workers=8):
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(fn, items))

    # ---- users ----------------------------------------------------------------

    def register(self, prefix, count, run_id):
        """Registers count users one after another (so their ids are
        consecutive); returns [{id, login, password, token}]."""
        out = []
        for i in range(count):
            name = f"{prefix}{run_id}{i:02d}"
            pw = f"bench-{run_id}-pw-{i:02d}"
            d = self.call("POST", "/api/auth/register",
                          json={"username": name, "email": f"{name}@bench.test", "password": pw,
                                "display_name": f"Bench {prefix} {i}"}, expect=(201,))
            out.append({"id": d["user"]["id"], "login": name, "password": pw,
                        "token": d["access_token"]})
        ids = [u["id"] for u in out]
        if ids != list(range(ids[0], ids[0] + count)):
            raise RuntimeError(f"registered user ids are not consecutive: {ids}")
        return out

    def bulk_users(self, prefix, count):
        """Inserts count users by SQL; returns their ids in order."""
        rows = self.stack.psql(
            """INSERT INTO users (username, email, password_hash, display_name)
               SELECT format('%%s%%s', %s::text, i), format('%%s%%s@bench.test', %s::text, i),
                      '*', (%s::text[])[1 + i %% %s] || ' ' || (%s::text[])[1 + (i / %s) %% %s]
               FROM generate_series(1, %s) i ORDER BY i
               RETURNING id""",
            prefix, prefix, FIRST, len(FIRST), LAST, len(FIRST), len(LAST), count)
        return [r[0] for r in rows]

    def tokens(self, ids):
        return {i: mint_token(self.secret, i) for i in ids}

    # ---- chats ------------------------------------------------------------------

    def group(self, owner_token, title, member_ids):
        return self.call("POST", "/api/chats", owner_token, expect=(201,),
                         json={"type": "group", "title": title, "member_ids": member_ids})["id"]

    def direct(self, token, other_id):
        return self.call("POST", "/api/chats", token, expect=(200, 201),
                         json={"type": "direct", "user_id": other_id})["id"]

    def send(self, token, chat_id, text):
        return self.call("POST", f"/api/chats/{chat_id}/messages", token, expect=(201,),
                         json={"text": text})["id"]

    # ---- the search corpus ----------------------------------------------------------

    def corpus(self, chat_ids, sender_ids, count):
        """count messages by SQL, spread over chat_ids, each of 8 words of a
        2,000-word vocabulary drawn with a skewed distribution (word k has
        about a (1 - (k/2000)^(1/3)) share: a few common words, many rare
        ones), newest last, one second apart."""
        words = [word(k) for k in range(VOCAB)]
        st = self.stack
        t0 = time.monotonic()
        st.psql("SET maintenance_work_mem = '256MB'")
        # The search index (schema/migrations/032_search_index.sql) is
        # built once afterwards instead of row by row: the same definition,
        # read from the catalog.
        idx = st.psql("""SELECT indexname, indexdef FROM pg_indexes
                         WHERE tablename = 'message_search' AND indexdef ILIKE '%%USING rum%%'""")
        for name, _ in idx:
            st.psql(f'DROP INDEX "{name}"')
        terms = " || ' ' || ".join(
            f"w.a[1 + floor({VOCAB} * power((hashint8(i * 8 + {j}) & 1048575) / 1048576.0, 3))::int]"
            for j in range(8))
        sql = f"""WITH w AS (SELECT %s::text[] AS a)
                  INSERT INTO messages (chat_id, sender_id, kind, text, created_at)
                  SELECT (%s::bigint[])[1 + i %% %s], (%s::bigint[])[1 + (i / %s) %% %s], 'text',
                         {terms}, now() - make_interval(secs => %s - i)
                  FROM w, generate_series(%s::int, %s::int) i"""
        # Two sessions, one per core: the generated search column costs
        # most of the time.
        parts = 2
        step = (count + parts - 1) // parts

        def insert(k):
            conn = st.connect()
            try:
                with conn.cursor() as cur:
                    # Without the triggers that keep each chat's row current
                    # (last message, page version): a million updates of
                    # twenty rows in two transactions would walk ever longer
                    # chains of row versions. The rows are set once below.
                    cur.execute("SET session_replication_role = replica")
                    cur.execute(sql, (words, chat_ids, len(chat_ids), sender_ids, len(chat_ids),
                                      len(sender_ids), count, 1 + k * step,
                                      min(count, (k + 1) * step)))
            finally:
                conn.close()
        self.parallel(insert, range(parts), workers=parts)
        st.psql("""UPDATE chats c SET last_message_id = l.id,
                            last_activity_at = greatest(c.last_activity_at, l.created_at),
                            version = c.version + 1
                     FROM (SELECT DISTINCT ON (chat_id) chat_id, id, created_at FROM messages
                           WHERE chat_id = ANY(%s) ORDER BY chat_id, id DESC) l
                     WHERE c.id = l.chat_id""", chat_ids)
        # Without the triggers nothing was queued for the index: the
        # corpus goes into it at once, as the companion's drains would
        # have put it.
        st.psql("""INSERT INTO message_search (id, chat_id, search)
                   SELECT m.id, m.chat_id, m.search FROM messages m
                   WHERE m.chat_id = ANY(%s) AND m.deleted_at IS NULL
                     AND NOT EXISTS (SELECT FROM message_search s WHERE s.id = m.id)""", chat_ids)
        t1 = time.monotonic()
        for _, definition in idx:
            st.psql(definition)
        t2 = time.monotonic()
        # The chats point at their newest messages, as sends would leave them.
        st.psql("""UPDATE chats c SET last_message_id = m.id, last_activity_at = m.created_at
                   FROM (SELECT DISTINCT ON (chat_id) chat_id, id, created_at FROM messages
                         WHERE chat_id = ANY(%s) ORDER BY chat_id, id DESC) m
                   WHERE c.id = m.chat_id""", chat_ids)
        self.log(f"seed: {count} messages in {t1 - t0:.1f}s, search index in {t2 - t1:.1f}s")
        return words

    def word_counts(self, words):
        """How many messages each search word matches (for the report)."""
        # message_search: the corpus is all indexed, and messages has no
        # index on its documents.
        return {w: self.stack.psql("SELECT count(*) FROM message_search WHERE search @@ message_tsquery(%s)",
                                   w)[0][0] for w in words}


def build(stack, cfg, log):
    """Builds the data set; returns a dict of what the scenarios need."""
    s = Seeder(stack, log)
    ds = {}
    run_id = format(int(time.time()) % 100000, "05d")
    t0 = time.monotonic()

    # Registered users: the chat-list user first, then 16 REST users.
    lst = s.register("blst", 1, run_id)[0]
    reg = s.register("breg", cfg["reg_users"], run_id)
    ds["list_user"], ds["reg"] = lst, reg
    log(f"seed: registered {1 + len(reg)} users in {time.monotonic() - t0:.1f}s")

    # Bulk users.
    t = time.monotonic()
    idle = s.bulk_users("bidle", cfg["idle"])
    group = s.bulk_users("bgrp", cfg["group"])
    direct = s.bulk_users("bdir", cfg["direct"] + cfg["direct"] % 2)
    partners = s.bulk_users("bpart", 100)
    sendp = s.bulk_users("bsendp", len(reg))
    ds.update(idle=idle, group=group, direct=direct)
    tokens = s.tokens(idle + group + direct + partners + sendp)
    ds["tokens"] = tokens
    log(f"seed: {len(tokens)} users by SQL and their tokens in {time.monotonic() - t:.1f}s")
    # A minted token must be accepted like an issued one.
    s.call("GET", "/api/users/me", tokens[group[0]], expect=(200,))

    # Chats of the REST benchmarks.
    t = time.monotonic()
    r0 = reg[0]["token"]
    others = [u["id"] for u in reg[1:]]
    ds["read_chat"] = s.group(r0, "bench history", others)
    ds["hot_chat"] = s.group(r0, "bench hot chat", others)
    # One direct chat per REST user, created in order: consecutive ids.
    ds["send_chats"] = [s.direct(u["token"], p) for u, p in zip(reg, sendp)]
    if ds["send_chats"] != list(range(ds["send_chats"][0], ds["send_chats"][0] + len(reg))):
        raise RuntimeError(f"the send chats' ids are not consecutive: {ds['send_chats']}")
    ds["search_chats"] = [s.group(r0, f"bench search {k}", others) for k in range(cfg["search_chats"])]
    # The chat-list user: 100 direct chats, each with a message from the other side.
    list_chats = s.parallel(lambda p: s.direct(lst["token"], p), partners, workers=4)
    s.parallel(lambda pc: s.send(tokens[pc[0]], pc[1], "hello from a bench partner"),
               list(zip(partners, list_chats)), workers=4)
    log(f"seed: REST chats in {time.monotonic() - t:.1f}s")

    # 1,000 messages in the history chat, through the API.
    t = time.monotonic()
    s.parallel(lambda i: s.send(reg[i % len(reg)]["token"], ds["read_chat"], f"history message {i}"),
               range(cfg["history"]), workers=4)
    log(f"seed: {cfg['history']} history messages in {time.monotonic() - t:.1f}s")

    # The WebSocket groups: 1,000 members; direct chats of pairs.
    t = time.monotonic()
    if group:
        ds["group_chat"] = s.group(tokens[group[0]], "bench fan-out", group[1:])
    pairs = list(zip(direct[0::2], direct[1::2]))
    chats = s.parallel(lambda ab: s.direct(tokens[ab[0]], ab[1]), pairs, workers=8)
    ds["direct_chats"] = [(c, a, b) for c, (a, b) in zip(chats, pairs)]
    log(f"seed: fan-out group and {len(pairs)} direct chats in {time.monotonic() - t:.1f}s")

    # The search corpus.
    if cfg["search_messages"]:
        words = s.corpus(ds["search_chats"], [u["id"] for u in reg], cfg["search_messages"])
        # The throughput mix: words found in 0.05% to 0.5% of the messages
        # (Latin and Cyrillic, picked by their counts), a word found nowhere
        # (a typo) and two words together. Commoner words are measured one
        # by one below (the search profile): a few of them in the mix would
        # make every figure theirs.
        lo, hi = cfg["search_messages"] * 0.0005, cfg["search_messages"] * 0.005
        band = []
        for k in range(200, VOCAB, 23):
            n = s.word_counts([words[k]])[words[k]]
            if lo <= n <= hi:
                band.append(words[k])
            if len(band) >= 8:
                break
        picks = band + ["kalomizu", f"{words[350]} {words[1100]}"]
        ds["search_words"] = picks
        ds["search_counts"] = s.word_counts(picks)
        # The cost of one search by how common its word is (run.py times
        # each alone): from a word in half the messages to a rare one.
        prof = [words[0], words[1], words[7], words[40], words[600], words[1999], "zzzzzz"]
        ds["search_profile_words"] = prof
        ds["search_profile_counts"] = s.word_counts(prof)
    else:
        ds["search_words"], ds["search_counts"] = ["kalomi"], {}
    # User search strings: username prefixes and display-name substrings.
    ds["user_queries"] = ["bidle1", "bgrp9", "anna", "petrov", "müll", "sergei",
                          "bdir42", "kowal", "xenia berg", "olg"]

    t = time.monotonic()
    stack.psql("VACUUM ANALYZE")
    stack.psql("CHECKPOINT")
    log(f"seed: VACUUM ANALYZE and CHECKPOINT in {time.monotonic() - t:.1f}s; "
        f"all seeding {time.monotonic() - t0:.1f}s")
    return ds


# ---- the day-in-the-life data set (BENCH_ONLY=day) ------------------------------

# Large groups for every 5,000 users (members drawn from all of them).
DAY_LARGE = (1000, 500, 200, 100)


def build_day(stack, n, big_per_min, log, seed_messages=20):
    """n users and their chats by set-based SQL, as docs/BENCHMARKS.md's
    "Day in the life" states them: per user 4 direct chats and 2 small
    groups (3 to 10 members), and per 5,000 users the large groups of
    DAY_LARGE; seed_messages messages in every chat. Returns
    {users, tokens, chats: [(chat_id, weight, kind, [members])]} (kind:
    direct, small or large): a member sends
    to a chat with its weight (1 for direct chats and small groups; a large
    group's weight makes it get big_per_min messages a minute in all)."""
    import random
    s = Seeder(stack, log)
    rnd = random.Random(n)
    t0 = time.monotonic()
    tag = f"bday{format(int(time.time()) % 100000, '05d')}n{n}u"
    users = s.bulk_users(tag, n)
    tokens = s.tokens(users)
    # Direct chats: two rings over a shuffled order, each user's neighbours
    # one and seven places away: 4 partners each, no pair twice.
    perm = users[:]
    rnd.shuffle(perm)
    pairs = set()
    for off in (1, 7):
        for i in range(n):
            a, b = perm[i], perm[(i + off) % n]
            pairs.add((min(a, b), max(a, b)))
    pairs = sorted(pairs)
    groups = []  # (members, weight)
    for _ in range(2):
        perm = users[:]
        rnd.shuffle(perm)
        i = 0
        while i < n:
            size = 3 + rnd.randrange(8)
            members = perm[i:i + size]
            i += size
            if len(members) >= 3:
                groups.append((members, 1.0))
    # A member's sends: ~6 chats of weight 1 (4 direct, 2 small); a large
    # group of m members gets m * (1/60 s) * w / (6 + w) of them.
    for _ in range(max(1, n // 5000)):
        for size in DAY_LARGE:
            size = min(size, n // 2)
            w = 6.0 * big_per_min / max(1, size - big_per_min)
            groups.append((rnd.sample(users, size), w))
    conn = stack.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("""INSERT INTO chats (type, direct_lo, direct_hi)
                           SELECT 'direct', lo, hi FROM unnest(%s::bigint[], %s::bigint[]) AS p(lo, hi)
                           RETURNING id, direct_lo, direct_hi""",
                        ([a for a, _ in pairs], [b for _, b in pairs]))
            direct_ids = {(lo, hi): cid for cid, lo, hi in cur.fetchall()}
            titles = [f"{tag} group {k}" for k in range(len(groups))]
            cur.execute("""INSERT INTO chats (type, title) SELECT 'group', t FROM unnest(%s::text[]) t
                           RETURNING id, title""", (titles,))
            group_ids = {t: cid for cid, t in cur.fetchall()}
            chats = []
            mc, mu, mr = [], [], []
            for (a, b) in pairs:
                cid = direct_ids[(a, b)]
                chats.append((cid, 1.0, "direct", [a, b]))
                mc += [cid, cid]
                mu += [a, b]
                mr += ["member", "member"]
            for title, (members, w) in zip(titles, groups):
                cid = group_ids[title]
                chats.append((cid, w, "small" if w == 1.0 else "large", members))
                for k, u in enumerate(members):
                    mc.append(cid)
                    mu.append(u)
                    mr.append("owner" if k == 0 else "member")
            cur.execute("""INSERT INTO chat_members (chat_id, user_id, role)
                           SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[])""", (mc, mu, mr))
            # History to open: seed_messages in each chat by its members,
            # without the per-row triggers (the chats' rows are set once
            # below, as the search corpus does; nothing is queued for the
            # search index, which the day does not use).
            cur.execute("SET session_replication_role = replica")
            ids = [c[0] for c in chats]
            firsts = [c[3][0] for c in chats]
            seconds = [c[3][1] for c in chats]
            cur.execute("""INSERT INTO messages (chat_id, sender_id, kind, text, created_at)
                           SELECT c.id, CASE WHEN i %% 2 = 0 THEN c.a ELSE c.b END, 'text',
                                  format('seeded message %%s of the day bench, a typical length', i),
                                  now() - make_interval(secs => %s - i)
                           FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS c(id, a, b),
                                generate_series(1, %s) i""",
                        (seed_messages, ids, firsts, seconds, seed_messages))
            cur.execute("SET session_replication_role = DEFAULT")
            cur.execute("""UPDATE chats c SET last_message_id = l.id, last_activity_at = l.created_at,
                                  version = c.version + 1
                           FROM (SELECT DISTINCT ON (chat_id) chat_id, id, created_at FROM messages
                                 WHERE chat_id = ANY(%s) ORDER BY chat_id, id DESC) l
                           WHERE c.id = l.chat_id""", (ids,))
            # Everything seeded has been read and delivered.
            cur.execute("""UPDATE chat_members cm SET last_read_message_id = c.last_message_id,
                                  last_delivered_message_id = c.last_message_id
                           FROM chats c WHERE c.id = cm.chat_id AND c.id = ANY(%s)""", (ids,))
            cur.execute("ANALYZE")
    finally:
        conn.close()
    log(f"seed day {n}: {n} users, {len(pairs)} direct chats, {len(groups)} groups "
        f"({len(mc)} memberships), {len(chats) * seed_messages} messages in {time.monotonic() - t0:.1f}s")
    return {"users": users, "tokens": tokens, "chats": chats, "memberships": len(mc),
            "direct": len(pairs), "groups": len(groups),
            "large": [len(m) for m, w in groups if w != 1.0]}
