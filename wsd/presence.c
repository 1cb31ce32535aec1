/*
 * presence.c - presence rows and the instance (SQL in schema/functions/wsd.sql).
 *
 * Presence changes are written on the first connection, behind the
 * instance's registration, in batches. Batches are sorted by user, so that
 * processes lock users in one order; two processes can still deadlock on
 * the instance rows, and then the batch goes again, ahead of what came
 * since.
 */
#include "presence.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "pg.h"
#include "user.h"
#include "wsd.h"

#define PRESENCE_BATCH 1000 /* users locked in one transaction, at most */

/* A presence change waiting to be written; gen tells the user object an
 * "up" was for (the user may have gone and come back meanwhile). */
struct presence_op {
	int64_t user_id;
	uint64_t gen;
	uint64_t seq; /* keeps one user's changes in order through the sort */
	bool up;
};

static struct {
	struct presence_op *ops, *sent;
	size_t n, cap, nsent;
	uint64_t seq;
	bool inflight;
	lws_sorted_usec_list_t sul_heartbeat;
	void (*stopped)(void);
} P;

static void flush(void);

static int cmp_op(const void *a, const void *b)
{
	const struct presence_op *x = a, *y = b;
	if (x->user_id != y->user_id)
		return x->user_id < y->user_id ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static bool push(struct presence_op op)
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

/* A deadlock with another process rolled the batch back: it goes again,
 * ahead of what came since. Returns false when out of memory. */
static bool requeue_sent(void)
{
	size_t need = P.n + P.nsent;
	struct presence_op *ops = malloc((need + 1) * sizeof *ops);
	if (!ops)
		return false;
	memcpy(ops, P.sent, P.nsent * sizeof *ops);
	memcpy(ops + P.nsent, P.ops, P.n * sizeof *ops);
	free(P.ops);
	P.ops = ops;
	P.n = need;
	P.cap = need + 1;
	return true;
}

static void batch_done(void *arg, const PGresult *res)
{
	(void)arg;
	P.inflight = false;
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	bool retry = PQresultStatus(res) != PGRES_TUPLES_OK && state &&
		     (!strcmp(state, "40P01") || !strcmp(state, "40001"));
	if (retry)
		log_info("presence batch of %zu: %s; retrying", P.nsent, state);
	if (!retry || !requeue_sent()) {
		pg_log_failure("wsd_presence_batch", res);
		/* Failed or not, the sessions waiting for it go on. */
		for (size_t i = 0; i < P.nsent; i++) {
			struct user *u = user_find(P.sent[i].user_id);
			if (P.sent[i].up && u && u->gen == P.sent[i].gen && !u->announced) {
				u->announced = true;
				user_check_ready(u);
			}
		}
	}
	free(P.sent);
	P.sent = NULL;
	P.nsent = 0;
	flush();
}

/* Writes the queued changes in one statement, one batch at a time, in
 * order for each user. */
static void flush(void)
{
	if (P.inflight || !P.n)
		return;
	struct buf users = {0}, ups = {0};
	qsort(P.ops, P.n, sizeof *P.ops, cmp_op);
	/* A user's changes that do not fit stay in order for the next
	 * batch. */
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
	    pg_exec(W.work[0], &batch_stmt, 3, params, batch_done, NULL)) {
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

void presence_change(struct user *u, bool up)
{
	if (!push((struct presence_op){u->id, u->gen, ++P.seq, up})) {
		log_error("user %" PRId64 ": presence change lost: out of memory", u->id);
		u->announced = true;
		return;
	}
	flush();
}

/* ---- the instance ------------------------------------------------------- */

static void announce(struct user *u)
{
	presence_change(u, true);
}

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
	user_each(announce);
}

/* Queues sql($1 = instance, $2 = pid, $3 = dead_secs) unless the
 * connection is that far behind. */
static void instance_query(const char *sql, unsigned max_queued, pg_result_cb cb, void *arg)
{
	char pid[16], dead[16];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	snprintf(dead, sizeof dead, "%ld", W.cfg.dead_secs);
	const char *params[] = {W.wsd_id, pid, dead};
	if (pg_conn_queued(W.work[0]) < max_queued)
		pg_query(W.work[0], sql, 3, params, cb, arg);
}

static void heartbeat_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	instance_query("SELECT wsd_heartbeat($1, $2::int, $3::int)", 16, heartbeat_done, NULL);
	lws_sul_schedule(W.context, 0, &P.sul_heartbeat, heartbeat_cb,
			 (lws_usec_t)W.cfg.heartbeat_secs * LWS_US_PER_SEC);
}

void presence_start(void)
{
	instance_query("SELECT wsd_start($1, $2::int, $3::int)", UINT32_MAX, pg_log_failure,
		       "wsd_start");
	lws_sul_schedule(W.context, 0, &P.sul_heartbeat, heartbeat_cb,
			 (lws_usec_t)W.cfg.heartbeat_secs * LWS_US_PER_SEC);
}

static void stop_done(void *arg, const PGresult *res)
{
	pg_log_failure(arg, res);
	if (P.stopped)
		P.stopped();
}

void presence_stop(void (*done)(void))
{
	lws_sul_cancel(&P.sul_heartbeat);
	P.stopped = done;
	/* wsd_stop takes every user of this process offline: the changes not
	 * yet written need not be. */
	P.n = 0;
	const char *params[] = {W.wsd_id};
	if (!pg_query(W.work[0], "SELECT wsd_stop($1)", 1, params, stop_done, "wsd_stop"))
		done();
}

void presence_timers_off(void)
{
	lws_sul_cancel(&P.sul_heartbeat);
}

void presence_free(void)
{
	free(P.ops);
	free(P.sent);
	P = (typeof(P)){0};
}
