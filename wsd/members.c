/*
 * members.c - the memberships of the users this process serves, kept from
 * the event stream.
 *
 * A user's memberships are read once, when its first connection
 * authenticates, and from then on kept from the event stream
 * (chat.created, member.added, member.removed), so that membership and
 * events never disagree: a removed member gets its own member.removed and
 * nothing after it, an added member gets its member.added and everything
 * after it.
 *
 * Loading has to meet the stream at one point. The load reads, in one
 * snapshot, the user's chat_members rows and its membership events after
 * the feed cursor C at the time of the query; undoing those events gives
 * the memberships as of C. Membership events that the feed dispatches
 * while the query runs are logged and applied after it, which brings the
 * memberships to the cursor of the moment the answer is processed.
 * (Membership events of one user and chat commit in id order: each one
 * changes the same chat_members row.)
 */
#include "members.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "buf.h"
#include "log.h"
#include "map.h"
#include "pg.h"
#include "user.h"
#include "wsd.h"

enum set_state {
	SET_WAITING, /* the feed is not live yet */
	SET_LOADING, /* the memberships are being read */
	SET_READY,
};

/* One user's memberships. Lifetime: its user's. */
struct member_set {
	enum set_state state;
	int64_t *chats; /* sorted: the chats it is a member of (when READY) */
	uint32_t n, cap;
	/* while LOADING */
	int64_t load_from;
	struct member_change *log; /* what the feed dispatched meanwhile */
	uint32_t nlog, caplog;
	struct pg_query *load_q;
};

/* A chat with local members. Lifetime: while it has one. */
struct chat {
	int64_t id;
	uint32_t n, cap;
	struct user **users;
};

static struct {
	struct map chats; /* id -> struct chat */
	struct buf ids;   /* the users an event names */
} M;

PG_STMT(load_stmt,
	"SELECT 'm', chat_id, NULL, NULL FROM chat_members WHERE user_id = $1::bigint"
	" UNION ALL"
	" SELECT 't', chat_id, id, kind FROM events"
	"  WHERE id > $2::bigint"
	"  AND kind IN ('chat.created', 'member.added', 'member.removed', 'chat.deleted')"
	"  AND wsd_event_users(kind, payload) @> ARRAY[$1::bigint]"
	" ORDER BY 1, 3");

/* ---- a sorted id array ------------------------------------------------ */

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

/* Room for need ids in ms->chats; false when out of memory. */
static bool reserve(struct member_set *ms, uint32_t need)
{
	if (need <= ms->cap)
		return true;
	uint32_t cap = ms->cap ? ms->cap * 2 : 8;
	while (cap < need)
		cap *= 2;
	int64_t *chats = realloc(ms->chats, cap * sizeof *chats);
	if (!chats)
		return false;
	ms->chats = chats;
	ms->cap = cap;
	return true;
}

/* Inserts chat_id at i (room reserved). */
static void insert_at(struct member_set *ms, uint32_t i, int64_t chat_id)
{
	memmove(ms->chats + i + 1, ms->chats + i, (ms->n - i) * sizeof *ms->chats);
	ms->chats[i] = chat_id;
	ms->n++;
}

static void remove_at(struct member_set *ms, uint32_t i)
{
	memmove(ms->chats + i, ms->chats + i + 1, (ms->n - i - 1) * sizeof *ms->chats);
	ms->n--;
}

/* ---- the chats' side ---------------------------------------------------- */

static bool chat_add_user(int64_t chat_id, struct user *u)
{
	struct chat *c = map_get(&M.chats, chat_id);
	if (!c) {
		c = calloc(1, sizeof *c);
		if (!c)
			return false;
		c->id = chat_id;
		if (map_put(&M.chats, chat_id, c) != MSGR_OK) {
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
	struct chat *c = map_get(&M.chats, chat_id);
	if (!c)
		return;
	for (uint32_t i = 0; i < c->n; i++) {
		if (c->users[i] == u) {
			c->users[i] = c->users[--c->n];
			break;
		}
	}
	if (!c->n) {
		map_del(&M.chats, chat_id);
		free(c->users);
		free(c);
	}
}

/* Makes u a member of chat_id (in both views); false when out of memory. */
static bool join(struct user *u, int64_t chat_id)
{
	struct member_set *ms = u->members;
	uint32_t i = lower_bound(ms->chats, ms->n, chat_id);
	if (i < ms->n && ms->chats[i] == chat_id)
		return true;
	if (!reserve(ms, ms->n + 1) || !chat_add_user(chat_id, u))
		return false;
	insert_at(ms, i, chat_id);
	return true;
}

static void leave(struct user *u, int64_t chat_id)
{
	struct member_set *ms = u->members;
	uint32_t i = lower_bound(ms->chats, ms->n, chat_id);
	if (i >= ms->n || ms->chats[i] != chat_id)
		return;
	remove_at(ms, i);
	chat_remove_user(chat_id, u);
}

/* ---- queries ------------------------------------------------------------ */

bool members_ready(const struct user *u)
{
	return u->members && u->members->state == SET_READY;
}

bool members_has(const struct user *u, int64_t chat_id)
{
	if (!u || !members_ready(u))
		return false;
	const struct member_set *ms = u->members;
	uint32_t i = lower_bound(ms->chats, ms->n, chat_id);
	return i < ms->n && ms->chats[i] == chat_id;
}

const int64_t *members_chats(const struct user *u, uint32_t *n)
{
	*n = u->members->n;
	return u->members->chats;
}

struct user *const *members_local(int64_t chat_id, uint32_t *n)
{
	struct chat *c = map_get(&M.chats, chat_id);
	*n = c ? c->n : 0;
	return c ? c->users : NULL;
}

/* ---- loading ------------------------------------------------------------ */

bool members_new(struct user *u)
{
	u->members = calloc(1, sizeof *u->members);
	return u->members != NULL;
}

static void loaded(void *arg, const PGresult *res);

void members_load(struct user *u)
{
	struct member_set *ms = u->members;
	if (ms->state != SET_WAITING || !feed_live())
		return;
	char uid[24], from[24];
	ms->state = SET_LOADING;
	ms->load_from = feed_cursor();
	ms->nlog = 0;
	snprintf(uid, sizeof uid, "%" PRId64, u->id);
	snprintf(from, sizeof from, "%" PRId64, ms->load_from);
	const char *params[] = {uid, from};
	ms->load_q = pg_exec(wsd_conn_for(u->id), &load_stmt, 2, params, loaded, u);
	if (!ms->load_q)
		log_error("user %" PRId64 ": out of memory queueing its memberships", u->id);
}

static void load_waiting(struct user *u)
{
	members_load(u);
}

void members_feed_live(void)
{
	user_each(load_waiting);
}

static bool log_push(struct member_set *ms, int64_t id, int64_t chat_id, bool join)
{
	if (ms->nlog == ms->caplog) {
		uint32_t cap = ms->caplog ? ms->caplog * 2 : 4;
		struct member_change *log = realloc(ms->log, cap * sizeof *log);
		if (!log)
			return false;
		ms->log = log;
		ms->caplog = cap;
	}
	ms->log[ms->nlog++] = (struct member_change){id, chat_id, join};
	return true;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Builds u's memberships from the answer of load_stmt and the log. */
static bool apply_load(struct user *u, const PGresult *res)
{
	struct member_set *ms = u->members;
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
	ms->n = 0;
	if (!reserve(ms, n))
		goto done;
	for (uint32_t i = 0; i < n; i++)
		if (!i || chats[i] != chats[i - 1])
			ms->chats[ms->n++] = chats[i];
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
		uint32_t i = lower_bound(ms->chats, ms->n, chat_id);
		bool member = i < ms->n && ms->chats[i] == chat_id;
		if (joined && member) {
			remove_at(ms, i);
		} else if (!joined && !member) {
			if (!reserve(ms, ms->n + 1))
				goto done;
			insert_at(ms, i, chat_id);
		}
	}
	/* Now the memberships are as of load_from: link them, then replay
	 * what the feed dispatched meanwhile. */
	uint32_t linked = 0;
	for (; linked < ms->n; linked++)
		if (!chat_add_user(ms->chats[linked], u))
			break;
	if (linked < ms->n) {
		for (uint32_t i = 0; i < linked; i++)
			chat_remove_user(ms->chats[i], u);
		ms->n = 0;
		goto done;
	}
	ms->state = SET_READY;
	for (uint32_t i = 0; i < ms->nlog; i++) {
		if (ms->log[i].join) {
			if (!join(u, ms->log[i].chat_id))
				goto done;
		} else {
			leave(u, ms->log[i].chat_id);
		}
	}
	ok = true;
done:
	free(chats);
	map_free(&first);
	free(ms->log);
	ms->log = NULL;
	ms->nlog = ms->caplog = 0;
	return ok;
}

static void loaded(void *arg, const PGresult *res)
{
	struct user *u = arg;
	u->members->load_q = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("user %" PRId64 ": could not read memberships: %s", u->id,
			  PQresultErrorMessage(res));
		user_close(u, 1011, "could not read memberships");
		return;
	}
	if (!apply_load(u, res)) {
		log_error("user %" PRId64 ": out of memory loading memberships", u->id);
		user_close(u, 1011, "out of memory");
		return;
	}
	user_check_ready(u);
}

/* ---- the stream --------------------------------------------------------- */

void members_apply(const struct event *ev)
{
	if (!event_is_membership(ev->type))
		return;
	buf_reset(&M.ids);
	if (event_members(ev, &M.ids) != MSGR_OK) {
		log_error("event %" PRId64 ": %s payload without the expected members", ev->id,
			  ev->kind);
		return;
	}
	const int64_t *ids = (const int64_t *)(void *)M.ids.data;
	size_t nids = M.ids.len / sizeof(int64_t);
	bool joins = event_joins(ev->type);
	for (size_t i = 0; i < nids; i++) {
		struct user *u = user_find(ids[i]);
		if (!u)
			continue;
		struct member_set *ms = u->members;
		if (ms->state == SET_READY) {
			if (!joins) {
				leave(u, ev->chat_id);
			} else if (!join(u, ev->chat_id)) {
				log_error("user %" PRId64 ": out of memory joining chat %" PRId64,
					  u->id, ev->chat_id);
				user_close(u, 1011, "out of memory");
			}
		} else if (ms->state == SET_LOADING &&
			   !log_push(ms, ev->id, ev->chat_id, joins)) {
			user_close(u, 1011, "out of memory");
		}
	}
}

/* ---- the end ------------------------------------------------------------ */

void members_forget(struct user *u)
{
	struct member_set *ms = u->members;
	if (!ms)
		return;
	pg_query_cancel(ms->load_q);
	for (uint32_t i = 0; i < ms->n && ms->state == SET_READY; i++)
		chat_remove_user(ms->chats[i], u);
	free(ms->chats);
	free(ms->log);
	free(ms);
	u->members = NULL;
}

/* At exit: the queries are gone with their connections. */
static void drop(struct user *u)
{
	if (u->members) {
		free(u->members->chats);
		free(u->members->log);
		free(u->members);
		u->members = NULL;
	}
}

void members_free(void)
{
	user_each(drop);
	for (size_t i = 0; i < M.chats.cap; i++) {
		struct chat *c = M.chats.slots[i].val;
		if (c) {
			free(c->users);
			free(c);
		}
	}
	map_free(&M.chats);
	buf_free(&M.ids);
}
