/*
 * replay.c - the stored events after since, paged from the events table.
 *
 * Hand-over without gap or duplicate: a round reads (pos, to] with to = the
 * feed cursor when the round starts; when its last page is processed,
 * either the cursor is still to (then the session turns live in the same
 * callback: the feed dispatches only ids > to from then on) or it moved,
 * and another round reads (to, cursor]. Live events are not queued during
 * the replay (session_deliver() drops them): the rounds read them from the
 * table.
 *
 * Who may see what: a round starts from the user's memberships as of to
 * (kept by members.c), reads the user's own membership events in (pos, to]
 * and undoes them to get the memberships as of pos, then walks the events
 * in id order applying the same rule as the live fan-out (a join includes
 * its own event, a removal includes its own event and ends the chat).
 *
 * The first round also asks whether events after since were pruned: then
 * the client gets {"type":"reset"} and refetches over REST.
 */
#include "replay.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "buf.h"
#include "log.h"
#include "metrics.h"
#include "members.h"
#include "pg.h"
#include "session.h"
#include "user.h"
#include "wsd.h"

#define REPLAY_LOW 32 /* queued frames under which the next page is read */

/* A membership at the start of a round. */
struct rstate {
	int64_t chat_id;
	bool member;
};

struct replay {
	struct session *s;
	struct user *u;
	int64_t pos;            /* every event <= pos was sent or is not for the user */
	struct pg_query *query; /* the one in flight, if any */
	bool first;             /* the first round also checks retention */
	bool paused;            /* waits for the session's queue to drain */
	/* the round */
	int64_t to;        /* it reads (pos, to] */
	int64_t page_from; /* the next page starts after this id */
	int64_t *snap;     /* the user's chats as of to */
	uint32_t nsnap;
	struct rstate *chats; /* sorted by chat id */
	uint32_t nchats;
	struct member_change *trans; /* the user's membership events, by id */
	uint32_t ntrans;
	char *chat_param; /* the chats to read, as a SQL array literal */
};

PG_STMT(trans_stmt,
	"SELECT (SELECT coalesce(max(upto), 0) FROM events_pruned) > $1::bigint,"
	" t.id, t.chat_id, t.kind"
	" FROM (SELECT 1) AS one LEFT JOIN LATERAL ("
	"  SELECT id, chat_id, kind FROM events"
	"  WHERE id > $1::bigint AND id <= $2::bigint"
	"  AND kind IN ('chat.created', 'member.added', 'member.removed', 'chat.deleted')"
	"  AND wsd_event_users(kind, payload) @> ARRAY[$3::bigint]) AS t ON true"
	" ORDER BY t.id");

/* The events of the chats for every member, and those whose audience has
 * the user (of no chat, or a large group's markers: send_page() drops
 * those of chats the user was not in). */
PG_STMT(page_stmt,
	"SELECT id, chat_id, kind, payload::text FROM events"
	" WHERE ((chat_id = ANY ($1::bigint[]) AND audience IS NULL)"
	" OR audience @> ARRAY[$5::bigint])"
	" AND id > $2::bigint AND id <= $3::bigint"
	" ORDER BY id LIMIT $4::int");

static void round_clear(struct replay *r)
{
	free(r->snap);
	free(r->chats);
	free(r->trans);
	free(r->chat_param);
	r->snap = NULL;
	r->chats = NULL;
	r->trans = NULL;
	r->chat_param = NULL;
	r->nsnap = r->nchats = r->ntrans = 0;
}

struct replay *replay_new(struct session *s, struct user *u, int64_t from)
{
	struct replay *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->s = s;
	r->u = u;
	r->pos = from;
	r->first = true;
	return r;
}

void replay_free(struct replay *r)
{
	if (!r)
		return;
	pg_query_cancel(r->query);
	round_clear(r);
	free(r);
}

static void fail(struct replay *r, const char *reason)
{
	session_close(r->s, CLOSE_INTERNAL, reason);
}

static void trans_done(void *arg, const PGresult *res);
static void page_done(void *arg, const PGresult *res);

/* Starts a round from r->pos to the current cursor, or hands over. */
static void round_start(struct replay *r)
{
	int64_t to = feed_cursor();
	if (r->pos >= to) {
		session_caught_up(r->s, r->pos);
		return;
	}
	round_clear(r);
	uint32_t n;
	const int64_t *chats = members_chats(r->u, &n);
	if (!(r->snap = malloc(((size_t)n + 1) * sizeof *r->snap))) {
		fail(r, "out of memory");
		return;
	}
	memcpy(r->snap, chats, (size_t)n * sizeof *r->snap);
	r->nsnap = n;
	r->to = to;
	char from_s[24], to_s[24], uid[24];
	snprintf(from_s, sizeof from_s, "%" PRId64, r->pos);
	snprintf(to_s, sizeof to_s, "%" PRId64, to);
	snprintf(uid, sizeof uid, "%" PRId64, r->u->id);
	const char *params[] = {from_s, to_s, uid};
	r->query = pg_exec(wsd_conn_for(r->u->id), &trans_stmt, 3, params, trans_done, r);
	if (!r->query)
		fail(r, "out of memory");
}

void replay_start(struct replay *r)
{
	round_start(r);
}

static void next_page(struct replay *r)
{
	char from_s[24], to_s[24], limit[24], uid[24];
	snprintf(from_s, sizeof from_s, "%" PRId64, r->page_from);
	snprintf(to_s, sizeof to_s, "%" PRId64, r->to);
	snprintf(limit, sizeof limit, "%ld", W.cfg.replay_page);
	snprintf(uid, sizeof uid, "%" PRId64, r->u->id);
	const char *params[] = {r->chat_param, from_s, to_s, limit, uid};
	r->query = pg_exec(wsd_conn_for(r->u->id), &page_stmt, 5, params, page_done, r);
	if (!r->query)
		fail(r, "out of memory");
}

static void round_done(struct replay *r)
{
	if (r->to > r->pos)
		r->pos = r->to;
	r->first = false;
	round_start(r);
}

static int cmp_rstate(const void *a, const void *b)
{
	int64_t x = ((const struct rstate *)a)->chat_id, y = ((const struct rstate *)b)->chat_id;
	return (x > y) - (x < y);
}

static struct rstate *find_chat(struct replay *r, int64_t chat_id)
{
	struct rstate key = {chat_id, false};
	return bsearch(&key, r->chats, r->nchats, sizeof key, cmp_rstate);
}

static int cmp_trans(const void *a, const void *b)
{
	int64_t x = ((const struct member_change *)a)->id;
	int64_t y = ((const struct member_change *)b)->id;
	return (x > y) - (x < y);
}

static bool snap_has(const struct replay *r, int64_t chat_id)
{
	uint32_t lo = 0, hi = r->nsnap;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (r->snap[mid] < chat_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->nsnap && r->snap[lo] == chat_id;
}

/* From the user's membership events in (pos, to], the memberships as of
 * pos and the chats worth reading. */
static bool plan_round(struct replay *r, const PGresult *res)
{
	int rows = PQntuples(res);
	r->trans = malloc(((size_t)rows + 1) * sizeof *r->trans);
	r->chats = malloc(((size_t)rows + r->nsnap + 1) * sizeof *r->chats);
	if (!r->trans || !r->chats)
		return false;
	for (int i = 0; i < rows; i++) {
		struct member_change t;
		if (PQgetisnull(res, i, 1) ||
		    !parse_i64(PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1), &t.id) ||
		    !parse_i64(PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2), &t.chat_id))
			continue;
		t.join = event_joins(event_kind_of(PQgetvalue(res, i, 3)));
		r->trans[r->ntrans++] = t;
	}
	qsort(r->trans, r->ntrans, sizeof *r->trans, cmp_trans);
	for (uint32_t i = 0; i < r->nsnap; i++)
		r->chats[r->nchats++] = (struct rstate){r->snap[i], true};
	for (uint32_t i = 0; i < r->ntrans; i++)
		if (!snap_has(r, r->trans[i].chat_id))
			r->chats[r->nchats++] = (struct rstate){r->trans[i].chat_id, false};
	qsort(r->chats, r->nchats, sizeof *r->chats, cmp_rstate);
	uint32_t n = 0;
	for (uint32_t i = 0; i < r->nchats; i++)
		if (!n || r->chats[n - 1].chat_id != r->chats[i].chat_id)
			r->chats[n++] = r->chats[i];
	r->nchats = n;
	/* Undo: the first event of a chat in the range tells the state
	 * before it. Mark handled chats by walking the events in id order. */
	bool *seen = calloc((size_t)r->nchats + 1, sizeof *seen);
	if (!seen)
		return false;
	for (uint32_t i = 0; i < r->ntrans; i++) {
		struct rstate *c = find_chat(r, r->trans[i].chat_id);
		size_t k = (size_t)(c - r->chats);
		if (seen[k])
			continue;
		seen[k] = true;
		c->member = !r->trans[i].join;
	}
	struct buf p = {0};
	buf_putc(&p, '{');
	bool any = false;
	for (uint32_t i = 0; i < r->nchats; i++) {
		if (!r->chats[i].member && !seen[i])
			continue; /* never a member in the range */
		buf_printf(&p, "%s%" PRId64, any ? "," : "", r->chats[i].chat_id);
		any = true;
	}
	buf_putc(&p, '}');
	free(seen);
	if (buf_status(&p) != MSGR_OK) {
		buf_free(&p);
		return false;
	}
	/* No chat to read still reads the events of no chat ("{}"). */
	r->chat_param = p.data;
	return true;
}

/* Takes the answer to r's query: false (and the session closing) when the
 * statement failed or gave fewer than min_rows rows. */
static bool answered(struct replay *r, const PGresult *res, int min_rows)
{
	r->query = NULL;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) >= min_rows)
		return true;
	log_error("user %" PRId64 ": replay failed: %s", r->u->id,
		  PQresultErrorMessage(res));
	fail(r, "replay failed, try again");
	return false;
}

static void trans_done(void *arg, const PGresult *res)
{
	struct replay *r = arg;
	if (!answered(r, res, 1))
		return;
	if (r->first && !strcmp(PQgetvalue(res, 0, 0), "t")) {
		/* Events after since were pruned: the client refetches. */
		static const char reset[] = "{\"type\":\"reset\"}";
		session_send(r->s, reset, sizeof reset - 1);
		session_caught_up(r->s, feed_cursor());
		return;
	}
	if (!plan_round(r, res)) {
		fail(r, "out of memory");
		return;
	}
	r->page_from = r->pos;
	next_page(r);
}

/* Sends the page's events that the user may see; false when the session
 * stopped taking them. */
static bool send_page(struct replay *r, const PGresult *res)
{
	int rows = PQntuples(res);
	struct buf frame = {0};
	bool ok = true;
	for (int i = 0; i < rows && ok; i++) {
		struct event ev = {0};
		if (!parse_i64(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), &ev.id))
			continue;
		r->page_from = ev.id;
		/* Of no chat: the statement read only those for this user. */
		if (!PQgetisnull(res, i, 1)) {
			if (!parse_i64(PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1),
				       &ev.chat_id))
				continue;
			struct rstate *c = find_chat(r, ev.chat_id);
			if (!c)
				continue;
			struct member_change key = {.id = ev.id};
			struct member_change *t =
				bsearch(&key, r->trans, r->ntrans, sizeof key, cmp_trans);
			bool deliver = c->member;
			if (t && t->join)
				deliver = c->member = true;
			else if (t)
				c->member = false;
			if (!deliver)
				continue;
		}
		ev.kind = PQgetvalue(res, i, 2);
		ev.payload = PQgetvalue(res, i, 3);
		ev.payload_len = (size_t)PQgetlength(res, i, 3);
		ev.type = event_kind_of(ev.kind);
		buf_reset(&frame);
		event_encode(&ev, &frame);
		if (buf_status(&frame) != MSGR_OK) {
			fail(r, "out of memory");
			ok = false;
		} else {
			ok = session_send(r->s, buf_cstr(&frame), frame.len);
			/* Counted as queued: a replayed frame is no live event. */
			if (ok)
				metrics_event_sent(0);
		}
	}
	buf_free(&frame);
	return ok;
}

static void page_done(void *arg, const PGresult *res)
{
	struct replay *r = arg;
	if (!answered(r, res, 0) || !send_page(r, res))
		return;
	if (PQntuples(res) < W.cfg.replay_page)
		round_done(r);
	else if (session_backlog(r->s) > REPLAY_LOW)
		r->paused = true; /* replay_writeable() reads on */
	else
		next_page(r);
}

void replay_writeable(struct replay *r)
{
	if (r->paused && session_backlog(r->s) <= REPLAY_LOW && !r->query) {
		r->paused = false;
		next_page(r);
	}
}
