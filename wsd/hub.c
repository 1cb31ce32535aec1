/*
 * hub.c - the users and chats this process serves, their memberships, and
 * the fan-out of events, typing and presence to sessions.
 *
 * Only users with a connection here are known. A user's memberships are
 * read once, when its first connection authenticates, and from then on kept
 * from the event stream (chat.created, member.added, member.removed), so
 * that membership and events never disagree: a removed member gets its own
 * member.removed and nothing after it, an added member gets its
 * member.added and everything after it.
 *
 * Loading has to meet the stream at one point. The load reads, in one
 * snapshot, the user's chat_members rows and its membership events after
 * the feed cursor C at the time of the query; undoing those events gives
 * the memberships as of C. Membership events that the feed dispatches
 * while the query runs are logged and applied after it, which brings the
 * memberships to the cursor of the moment the answer is processed.
 * (Membership events of one user and chat commit in id order: each one
 * changes the same chat_members row.)
 *
 * Presence: user_presence has a row per (user, wsd process) while the user
 * has connections there; the SQL functions of schema/004_wsd.sql decide
 * when a user goes online or offline across all processes and NOTIFY
 * msgr_wsd, and every process (this one too) fans the change out to its
 * users who share a chat. Typing is sent to local members at once and to
 * the other processes with NOTIFY msgr_wsd: no table is written.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "wsd.h"

/* A chat with local members. Lifetime: while it has one. */
struct chat {
	int64_t id;
	uint32_t n, cap;
	struct user **users;
};

static struct {
	struct map users; /* id -> struct user */
	struct map chats; /* id -> struct chat */
	uint32_t mark;
	uint64_t gen;
	struct buf ids;
	struct buf frame;
	lws_sorted_usec_list_t sul_heartbeat;
	void (*stopped)(void);
} H;

PG_STMT(load_stmt,
	"SELECT 'm', chat_id, NULL, NULL FROM chat_members WHERE user_id = $1::bigint"
	" UNION ALL"
	" SELECT 't', chat_id, id, kind FROM events"
	"  WHERE id > $2::bigint"
	"  AND kind IN ('chat.created', 'member.added', 'member.removed')"
	"  AND wsd_event_users(kind, payload) @> ARRAY[$1::bigint]"
	" ORDER BY 1, 3");

unsigned hub_users(void)
{
	return (unsigned)H.users.len;
}

/* ---- sorted id arrays ------------------------------------------------- */

static uint32_t lower_bound(const int64_t *a, uint32_t n, int64_t key)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (a[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool hub_is_member(const struct user *u, int64_t chat_id)
{
	if (!u || u->state != USER_READY)
		return false;
	uint32_t i = lower_bound(u->chats, u->nchats, chat_id);
	return i < u->nchats && u->chats[i] == chat_id;
}

/* ---- chats ------------------------------------------------------------ */

static bool chat_add_user(int64_t chat_id, struct user *u)
{
	struct chat *c = map_get(&H.chats, chat_id);
	if (!c) {
		c = calloc(1, sizeof *c);
		if (!c)
			return false;
		c->id = chat_id;
		if (map_put(&H.chats, chat_id, c) != MSGR_OK) {
			free(c);
			return false;
		}
	}
	if (c->n == c->cap) {
		uint32_t cap = c->cap ? c->cap * 2 : 4;
		struct user **users = realloc(c->users, cap * sizeof *users);
		if (!users)
			return false;
		c->users = users;
		c->cap = cap;
	}
	c->users[c->n++] = u;
	return true;
}

static void chat_remove_user(int64_t chat_id, struct user *u)
{
	struct chat *c = map_get(&H.chats, chat_id);
	if (!c)
		return;
	for (uint32_t i = 0; i < c->n; i++) {
		if (c->users[i] == u) {
			c->users[i] = c->users[--c->n];
			break;
		}
	}
	if (!c->n) {
		map_del(&H.chats, chat_id);
		free(c->users);
		free(c);
	}
}

/* Makes u a member of chat_id (in both directions); false when out of
 * memory. */
static bool user_join(struct user *u, int64_t chat_id)
{
	uint32_t i = lower_bound(u->chats, u->nchats, chat_id);
	if (i < u->nchats && u->chats[i] == chat_id)
		return true;
	if (u->nchats == u->capchats) {
		uint32_t cap = u->capchats ? u->capchats * 2 : 8;
		int64_t *chats = realloc(u->chats, cap * sizeof *chats);
		if (!chats)
			return false;
		u->chats = chats;
		u->capchats = cap;
	}
	if (!chat_add_user(chat_id, u))
		return false;
	memmove(u->chats + i + 1, u->chats + i, (u->nchats - i) * sizeof *u->chats);
	u->chats[i] = chat_id;
	u->nchats++;
	return true;
}

static void user_leave(struct user *u, int64_t chat_id)
{
	uint32_t i = lower_bound(u->chats, u->nchats, chat_id);
	if (i >= u->nchats || u->chats[i] != chat_id)
		return;
	memmove(u->chats + i, u->chats + i + 1, (u->nchats - i - 1) * sizeof *u->chats);
	u->nchats--;
	chat_remove_user(chat_id, u);
}

/* ---- presence and instance (SQL in schema/004_wsd.sql) ---------------- */

static void log_failure(void *arg, const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		log_error("%s failed: %s", (const char *)arg, PQresultErrorMessage(res));
}

static void user_maybe_ready(struct user *u);

/* A presence change waiting to be written; gen tells the user object an
 * "up" was for (the user may have gone and come back meanwhile). */
struct presence_op {
	int64_t user_id;
	uint64_t gen;
	uint64_t seq; /* keeps one user's changes in order through the sort */
	bool up;
};

#define PRESENCE_BATCH 1000

static struct {
	struct presence_op *ops, *sent;
	size_t n, cap, nsent;
	uint64_t seq;
	bool inflight;
} P;

static void presence_flush(void);

static int cmp_op(const void *a, const void *b)
{
	const struct presence_op *x = a, *y = b;
	if (x->user_id != y->user_id)
		return x->user_id < y->user_id ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static bool presence_push(struct presence_op op)
{
	if (P.n == P.cap) {
		size_t cap = P.cap ? P.cap * 2 : 64;
		struct presence_op *ops = realloc(P.ops, cap * sizeof *ops);
		if (!ops)
			return false;
		P.ops = ops;
		P.cap = cap;
	}
	P.ops[P.n++] = op;
	return true;
}

static void presence_done(void *arg, const PGresult *res)
{
	(void)arg;
	P.inflight = false;
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (PQresultStatus(res) != PGRES_TUPLES_OK && state &&
	    (!strcmp(state, "40P01") || !strcmp(state, "40001"))) {
		/* A deadlock with another process: the batch rolled back; it goes
		 * again, ahead of what came since. */
		log_info("presence batch of %zu: %s; retrying", P.nsent, state);
		size_t need = P.n + P.nsent;
		struct presence_op *ops = malloc((need + 1) * sizeof *ops);
		if (ops) {
			memcpy(ops, P.sent, P.nsent * sizeof *ops);
			memcpy(ops + P.nsent, P.ops, P.n * sizeof *ops);
			free(P.ops);
			P.ops = ops;
			P.n = need;
			P.cap = need + 1;
			free(P.sent);
			P.sent = NULL;
			P.nsent = 0;
			presence_flush();
			return;
		}
	}
	log_failure("wsd_presence_batch", res);
	/* Failed or not, the sessions waiting for it go on. */
	for (size_t i = 0; i < P.nsent; i++) {
		struct user *u = map_get(&H.users, P.sent[i].user_id);
		if (P.sent[i].up && u && u->gen == P.sent[i].gen && !u->announced) {
			u->announced = true;
			user_maybe_ready(u);
		}
	}
	free(P.sent);
	P.sent = NULL;
	P.nsent = 0;
	presence_flush();
}

/* Writes the queued changes in one statement, one batch at a time, in
 * order for each user; sorted by user, so that processes lock users in
 * one order. */
static void presence_flush(void)
{
	if (P.inflight || !P.n)
		return;
	struct buf users = {0}, ups = {0};
	qsort(P.ops, P.n, sizeof *P.ops, cmp_op);
	/* Not too many users locked in one transaction; a user's changes
	 * that do not fit stay in order for the next batch. */
	size_t n = P.n < PRESENCE_BATCH ? P.n : PRESENCE_BATCH;
	buf_putc(&users, '{');
	buf_putc(&ups, '{');
	for (size_t i = 0; i < n; i++) {
		buf_printf(&users, "%s%" PRId64, i ? "," : "", P.ops[i].user_id);
		buf_printf(&ups, "%s%c", i ? "," : "", P.ops[i].up ? 't' : 'f');
	}
	buf_putc(&users, '}');
	buf_putc(&ups, '}');
	const char *params[] = {W.wsd_id, buf_cstr(&users), buf_cstr(&ups)};
	PG_STMT(batch_stmt, "SELECT wsd_presence_batch($1, $2::bigint[], $3::boolean[])");
	if (buf_status(&users) == MSGR_OK && buf_status(&ups) == MSGR_OK &&
	    (P.sent = malloc(n * sizeof *P.sent)) &&
	    pg_exec(W.work[0], &batch_stmt, 3, params, presence_done, NULL)) {
		P.inflight = true;
		memcpy(P.sent, P.ops, n * sizeof *P.sent);
		P.nsent = n;
		memmove(P.ops, P.ops + n, (P.n - n) * sizeof *P.ops);
		P.n -= n;
	} else {
		free(P.sent);
		P.sent = NULL;
	}
	buf_free(&users);
	buf_free(&ups);
}

/* Presence changes are written on the first connection, behind the
 * instance's registration, in batches. A user's sessions get "ready" only
 * after its row is written, so that REST says online once a client is
 * ready, and a connection moving between processes never looks offline. */
static void presence_change(struct user *u, bool up)
{
	if (!presence_push((struct presence_op){u->id, u->gen, ++P.seq, up})) {
		log_error("user %" PRId64 ": presence change lost: out of memory", u->id);
		u->announced = true;
		return;
	}
	presence_flush();
}

static void heartbeat_cb(lws_sorted_usec_list_t *sul);

static void heartbeat_done(void *arg, const PGresult *res)
{
	(void)arg;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		log_error("wsd_heartbeat failed: %s", PQresultErrorMessage(res));
		return;
	}
	if (!strcmp(PQgetvalue(res, 0, 0), "t"))
		return;
	/* Another process took this one for dead (the database was away for
	 * long) and took its users offline: bring them back. */
	log_info("this instance was presumed dead: announcing its users again");
	for (size_t i = 0; i < H.users.cap; i++)
		if (H.users.slots[i].val)
			presence_change(H.users.slots[i].val, true);
}

static void heartbeat_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	char pid[16], dead[16];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	snprintf(dead, sizeof dead, "%ld", W.cfg.dead_secs);
	const char *params[] = {W.wsd_id, pid, dead};
	if (pg_conn_queued(W.work[0]) < 16)
		pg_query(W.work[0], "SELECT wsd_heartbeat($1, $2::int, $3::int)", 3, params,
			 heartbeat_done, NULL);
	lws_sul_schedule(W.context, 0, &H.sul_heartbeat, heartbeat_cb,
			 (lws_usec_t)W.cfg.heartbeat_secs * LWS_US_PER_SEC);
}

void hub_instance_start(void)
{
	char pid[16], dead[16];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	snprintf(dead, sizeof dead, "%ld", W.cfg.dead_secs);
	const char *params[] = {W.wsd_id, pid, dead};
	pg_query(W.work[0], "SELECT wsd_start($1, $2::int, $3::int)", 3, params, log_failure,
		 "wsd_start");
	lws_sul_schedule(W.context, 0, &H.sul_heartbeat, heartbeat_cb,
			 (lws_usec_t)W.cfg.heartbeat_secs * LWS_US_PER_SEC);
}

static void stop_done(void *arg, const PGresult *res)
{
	log_failure(arg, res);
	if (H.stopped)
		H.stopped();
}

void hub_instance_stop(void (*done)(void))
{
	lws_sul_cancel(&H.sul_heartbeat);
	H.stopped = done;
	/* wsd_stop takes every user of this process offline: the changes not
	 * yet written need not be. */
	P.n = 0;
	const char *params[] = {W.wsd_id};
	if (!pg_query(W.work[0], "SELECT wsd_stop($1)", 1, params, stop_done, "wsd_stop"))
		done();
}

/* ---- loading a user's memberships ------------------------------------- */

static void user_loaded(void *arg, const PGresult *res);

static void user_load(struct user *u)
{
	char uid[24], from[24];
	u->state = USER_LOADING;
	u->load_from = feed_cursor();
	u->nlog = 0;
	snprintf(uid, sizeof uid, "%" PRId64, u->id);
	snprintf(from, sizeof from, "%" PRId64, u->load_from);
	const char *params[] = {uid, from};
	u->load_q = pg_exec(wsd_conn_for(u->id), &load_stmt, 2, params, user_loaded, u);
	if (!u->load_q)
		log_error("user %" PRId64 ": out of memory queueing its memberships", u->id);
}

static void close_user_sessions(struct user *u, uint16_t code, const char *reason)
{
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&u->sessions)) {
		session_close(lws_container_of(d, struct session, user_link), code, reason);
	}
	lws_end_foreach_dll(d);
}

static bool log_push(struct user *u, int64_t id, int64_t chat_id, bool join)
{
	if (u->nlog == u->caplog) {
		uint32_t cap = u->caplog ? u->caplog * 2 : 4;
		struct transition *log = realloc(u->log, cap * sizeof *log);
		if (!log)
			return false;
		u->log = log;
		u->caplog = cap;
	}
	u->log[u->nlog++] = (struct transition){id, chat_id, join};
	return true;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Builds u->chats from the answer of LOAD_SQL and the log. */
static bool apply_load(struct user *u, const PGresult *res)
{
	int rows = PQntuples(res);
	struct map first = {0}; /* chats with events after load_from */
	bool ok = false;
	/* The chat_members rows of the snapshot (the ids are sorted and
	 * distinct already, but make sure). */
	int64_t *chats = malloc(((size_t)rows + 1) * sizeof *chats);
	uint32_t n = 0;
	if (!chats)
		goto done;
	for (int r = 0; r < rows; r++) {
		if (PQgetvalue(res, r, 0)[0] != 'm')
			continue;
		if (parse_i64(PQgetvalue(res, r, 1), (size_t)PQgetlength(res, r, 1), &chats[n]))
			n++;
	}
	qsort(chats, n, sizeof *chats, cmp_i64);
	u->nchats = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (i && chats[i] == chats[i - 1])
			continue;
		if (u->nchats == u->capchats) {
			uint32_t cap = u->capchats ? u->capchats * 2 : 8;
			while (cap < n)
				cap *= 2;
			int64_t *grown = realloc(u->chats, cap * sizeof *grown);
			if (!grown)
				goto done;
			u->chats = grown;
			u->capchats = cap;
		}
		u->chats[u->nchats++] = chats[i];
	}
	/* Undo the membership events after load_from that the snapshot saw:
	 * the first one of each chat tells the state before it. */
	for (int r = 0; r < rows; r++) {
		if (PQgetvalue(res, r, 0)[0] != 't')
			continue;
		int64_t chat_id;
		if (!parse_i64(PQgetvalue(res, r, 1), (size_t)PQgetlength(res, r, 1), &chat_id))
			continue;
		if (map_get(&first, chat_id))
			continue;
		if (map_put(&first, chat_id, (void *)1) != MSGR_OK)
			goto done;
		bool joined = event_joins(event_kind_of(PQgetvalue(res, r, 3)));
		uint32_t i = lower_bound(u->chats, u->nchats, chat_id);
		bool member = i < u->nchats && u->chats[i] == chat_id;
		if (joined && member) {
			memmove(u->chats + i, u->chats + i + 1,
				(u->nchats - i - 1) * sizeof *u->chats);
			u->nchats--;
		} else if (!joined && !member) {
			if (u->nchats == u->capchats) {
				uint32_t cap = u->capchats ? u->capchats * 2 : 8;
				int64_t *grown = realloc(u->chats, cap * sizeof *grown);
				if (!grown)
					goto done;
				u->chats = grown;
				u->capchats = cap;
			}
			memmove(u->chats + i + 1, u->chats + i,
				(u->nchats - i) * sizeof *u->chats);
			u->chats[i] = chat_id;
			u->nchats++;
		}
	}
	/* Now the memberships are as of load_from: link them, then replay
	 * what the feed dispatched meanwhile. */
	uint32_t linked = 0;
	for (; linked < u->nchats; linked++)
		if (!chat_add_user(u->chats[linked], u))
			break;
	if (linked < u->nchats) {
		for (uint32_t i = 0; i < linked; i++)
			chat_remove_user(u->chats[i], u);
		u->nchats = 0;
		goto done;
	}
	u->state = USER_READY;
	for (uint32_t i = 0; i < u->nlog; i++) {
		if (u->log[i].join) {
			if (!user_join(u, u->log[i].chat_id))
				goto done;
		} else {
			user_leave(u, u->log[i].chat_id);
		}
	}
	ok = true;
done:
	free(chats);
	map_free(&first);
	free(u->log);
	u->log = NULL;
	u->nlog = u->caplog = 0;
	return ok;
}

static void user_loaded(void *arg, const PGresult *res)
{
	struct user *u = arg;
	u->load_q = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("user %" PRId64 ": could not read memberships: %s", u->id,
			  PQresultErrorMessage(res));
		close_user_sessions(u, 1011, "could not read memberships");
		return;
	}
	if (!apply_load(u, res)) {
		log_error("user %" PRId64 ": out of memory loading memberships", u->id);
		close_user_sessions(u, 1011, "out of memory");
		return;
	}
	user_maybe_ready(u);
}

/* Both the memberships and the presence row are there: the sessions that
 * waited for them can start. */
static void user_maybe_ready(struct user *u)
{
	if (u->state != USER_READY || !u->announced)
		return;
	lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&u->sessions)) {
		session_user_ready(lws_container_of(d, struct session, user_link));
	}
	lws_end_foreach_dll_safe(d, d1);
}

void hub_feed_live(void)
{
	for (size_t i = 0; i < H.users.cap; i++) {
		struct user *u = H.users.slots[i].val;
		if (u && u->state == USER_WAITING)
			user_load(u);
	}
}

/* ---- sessions come and go --------------------------------------------- */

bool hub_attach(struct session *s, int64_t user_id)
{
	struct user *u = map_get(&H.users, user_id);
	if (!u) {
		u = calloc(1, sizeof *u);
		if (!u)
			return false;
		u->id = user_id;
		u->state = USER_WAITING;
		u->gen = ++H.gen;
		if (map_put(&H.users, user_id, u) != MSGR_OK) {
			free(u);
			return false;
		}
		presence_change(u, true);
		if (feed_live())
			user_load(u);
	}
	s->user = u;
	lws_dll2_add_tail(&s->user_link, &u->sessions);
	if (u->state == USER_READY && u->announced)
		session_user_ready(s);
	return true;
}

void hub_detach(struct session *s)
{
	struct user *u = s->user;
	if (!u)
		return;
	lws_dll2_remove(&s->user_link);
	s->user = NULL;
	if (u->sessions.count)
		return;
	presence_change(u, false);
	pg_query_cancel(u->load_q);
	for (uint32_t i = 0; i < u->nchats && u->state == USER_READY; i++)
		chat_remove_user(u->chats[i], u);
	map_del(&H.users, u->id);
	free(u->chats);
	free(u->log);
	free(u);
}

/* ---- fan-out ---------------------------------------------------------- */

/* Sends m to every session of u (stream id, or 0 for ephemeral frames). */
static void deliver_user(struct user *u, int64_t id, struct msg *m)
{
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&u->sessions)) {
		session_deliver(lws_container_of(d, struct session, user_link), id, m);
	}
	lws_end_foreach_dll(d);
}

static struct msg *frame_msg(void)
{
	if (buf_status(&H.frame) != MSGR_OK) {
		buf_reset(&H.frame);
		return NULL;
	}
	return msg_new(buf_cstr(&H.frame), H.frame.len);
}

void hub_dispatch(const struct event *ev)
{
	const int64_t *targets = NULL;
	size_t ntargets = 0;
	if (ev->type != EVENT_OTHER) {
		buf_reset(&H.ids);
		if (event_members(ev, &H.ids) != MSGR_OK)
			log_error("event %" PRId64 ": %s payload without the expected members",
				  ev->id, ev->kind);
		else {
			targets = (const int64_t *)(void *)H.ids.data;
			ntargets = H.ids.len / sizeof(int64_t);
		}
	}
	bool joins = event_joins(ev->type);
	for (size_t i = 0; i < ntargets && joins; i++) {
		struct user *u = map_get(&H.users, targets[i]);
		if (!u)
			continue;
		if (u->state == USER_READY && !user_join(u, ev->chat_id)) {
			log_error("user %" PRId64 ": out of memory joining chat %" PRId64, u->id,
				  ev->chat_id);
			close_user_sessions(u, 1011, "out of memory");
		} else if (u->state == USER_LOADING && !log_push(u, ev->id, ev->chat_id, true)) {
			close_user_sessions(u, 1011, "out of memory");
		}
	}
	struct chat *c = map_get(&H.chats, ev->chat_id);
	if (c && c->n) {
		buf_reset(&H.frame);
		event_encode(ev, &H.frame);
		struct msg *m = frame_msg();
		if (!m) {
			log_error("event %" PRId64 ": out of memory", ev->id);
		} else {
			for (uint32_t i = 0; i < c->n; i++)
				deliver_user(c->users[i], ev->id, m);
			msg_unref(m);
		}
	}
	for (size_t i = 0; i < ntargets && !joins; i++) {
		struct user *u = map_get(&H.users, targets[i]);
		if (!u)
			continue;
		if (u->state == USER_READY)
			user_leave(u, ev->chat_id);
		else if (u->state == USER_LOADING && !log_push(u, ev->id, ev->chat_id, false))
			close_user_sessions(u, 1011, "out of memory");
	}
}

/* Typing from user_id in chat_id to the chat's other local members. */
static void fan_typing(int64_t user_id, int64_t chat_id)
{
	struct chat *c = map_get(&H.chats, chat_id);
	if (!c)
		return;
	buf_reset(&H.frame);
	buf_printf(&H.frame, "{\"type\":\"typing\",\"chat_id\":%" PRId64
		   ",\"data\":{\"user_id\":%" PRId64 "}}",
		   chat_id, user_id);
	struct msg *m = frame_msg();
	if (!m)
		return;
	for (uint32_t i = 0; i < c->n; i++)
		if (c->users[i]->id != user_id)
			deliver_user(c->users[i], 0, m);
	msg_unref(m);
}

void hub_typing(struct user *u, int64_t chat_id)
{
	fan_typing(u->id, chat_id);
	char payload[160];
	int n = snprintf(payload, sizeof payload,
			 "{\"t\":\"typing\",\"w\":\"%s\",\"u\":%" PRId64 ",\"c\":%" PRId64 "}",
			 W.wsd_id, u->id, chat_id);
	if (n < 0 || (size_t)n >= sizeof payload)
		return;
	const char *params[] = {payload};
	/* Ephemeral: not worth queueing behind a stalled database. */
	struct pg_conn *c = wsd_conn_for(u->id);
	PG_STMT(notify_stmt, "SELECT pg_notify('msgr_wsd', $1)");
	if (pg_conn_ready(c) && pg_conn_queued(c) < 64)
		pg_exec(c, &notify_stmt, 1, params, log_failure, "typing notify");
}

/* Presence of user_id to the local users who share one of chats with it. */
static void fan_presence(int64_t user_id, bool online, const char *last_seen,
			 const int64_t *chats, size_t nchats)
{
	buf_reset(&H.frame);
	buf_printf(&H.frame,
		   "{\"type\":\"presence\",\"data\":{\"user_id\":%" PRId64
		   ",\"online\":%s,\"last_seen_at\":",
		   user_id, online ? "true" : "false");
	if (last_seen && *last_seen)
		buf_json_str(&H.frame, last_seen, strlen(last_seen));
	else
		buf_puts(&H.frame, "null");
	buf_puts(&H.frame, "}}");
	struct msg *m = frame_msg();
	if (!m)
		return;
	if (++H.mark == 0)
		H.mark = 1;
	for (size_t i = 0; i < nchats; i++) {
		struct chat *c = map_get(&H.chats, chats[i]);
		for (uint32_t j = 0; c && j < c->n; j++) {
			struct user *u = c->users[j];
			if (u->id == user_id || u->mark == H.mark)
				continue;
			u->mark = H.mark;
			deliver_user(u, 0, m);
		}
	}
	msg_unref(m);
}

/* A presence change whose chat list did not fit the notification. */
struct presence_lookup {
	int64_t user_id;
	bool online;
	char last_seen[40];
};

static void presence_chats_done(void *arg, const PGresult *res)
{
	struct presence_lookup *p = arg;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("presence of user %" PRId64 ": could not read chats: %s", p->user_id,
			  PQresultErrorMessage(res));
		free(p);
		return;
	}
	int rows = PQntuples(res);
	int64_t *chats = malloc(((size_t)rows + 1) * sizeof *chats);
	size_t n = 0;
	for (int r = 0; chats && r < rows; r++)
		if (parse_i64(PQgetvalue(res, r, 0), (size_t)PQgetlength(res, r, 0), &chats[n]))
			n++;
	if (chats)
		fan_presence(p->user_id, p->online, p->last_seen, chats, n);
	free(chats);
	free(p);
}

static int64_t json_id(struct json_object *obj, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_int64(v);
}

static void bus_presence(struct json_object *root)
{
	int64_t user_id = json_id(root, "u");
	struct json_object *on, *ts, *chats;
	if (user_id <= 0 || !json_object_object_get_ex(root, "on", &on))
		return;
	bool online = json_object_get_boolean(on);
	const char *last_seen = json_object_object_get_ex(root, "ts", &ts) &&
						json_object_is_type(ts, json_type_string)
					? json_object_get_string(ts)
					: NULL;
	if (json_object_object_get_ex(root, "chats", &chats) &&
	    json_object_is_type(chats, json_type_array)) {
		size_t n = json_object_array_length(chats);
		int64_t *ids = malloc((n + 1) * sizeof *ids);
		if (!ids)
			return;
		for (size_t i = 0; i < n; i++)
			ids[i] = json_object_get_int64(json_object_array_get_idx(chats, i));
		fan_presence(user_id, online, last_seen, ids, n);
		free(ids);
		return;
	}
	/* Too many chats to list in a notification: look them up, unless no
	 * one here could care. */
	if (!H.users.len)
		return;
	struct presence_lookup *p = calloc(1, sizeof *p);
	if (!p)
		return;
	p->user_id = user_id;
	p->online = online;
	if (last_seen)
		snprintf(p->last_seen, sizeof p->last_seen, "%s", last_seen);
	char uid[24];
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	const char *params[] = {uid};
	if (!pg_query(wsd_conn_for(user_id),
		      "SELECT chat_id FROM chat_members WHERE user_id = $1::bigint", 1, params,
		      presence_chats_done, p))
		free(p);
}

void hub_bus(const char *payload)
{
	struct json_object *root = json_tokener_parse(payload);
	struct json_object *t, *w;
	if (!root || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "t", &t))
		goto done;
	const char *type = json_object_get_string(t);
	if (!strcmp(type, "typing")) {
		/* Our own typing was delivered here already. */
		if (json_object_object_get_ex(root, "w", &w) &&
		    !strcmp(json_object_get_string(w), W.wsd_id))
			goto done;
		int64_t user_id = json_id(root, "u"), chat_id = json_id(root, "c");
		if (user_id > 0 && chat_id > 0)
			fan_typing(user_id, chat_id);
	} else if (!strcmp(type, "presence")) {
		bus_presence(root);
	}
done:
	json_object_put(root);
}

bool hub_init(void)
{
	return true;
}

void hub_stop(void)
{
	lws_sul_cancel(&H.sul_heartbeat);
}

void hub_free(void)
{
	for (size_t i = 0; i < H.chats.cap; i++) {
		struct chat *c = H.chats.slots[i].val;
		if (c) {
			free(c->users);
			free(c);
		}
	}
	map_free(&H.chats);
	for (size_t i = 0; i < H.users.cap; i++) {
		struct user *u = H.users.slots[i].val;
		if (u) {
			free(u->chats);
			free(u->log);
			free(u);
		}
	}
	map_free(&H.users);
	buf_free(&H.ids);
	buf_free(&H.frame);
	free(P.ops);
	free(P.sent);
	P = (typeof(P)){0};
}
