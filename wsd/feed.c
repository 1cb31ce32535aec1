/*
 * feed.c - reading the event outbox in id order, with nothing lost to
 * late commits.
 *
 * The process keeps one cursor: every event with an id <= cursor is final
 * (no transaction can still commit one) and has been dispatched. A poll
 * reads the events after the cursor together with the statement's own
 * snapshot. Rows are dispatched in id order while their ids are
 * consecutive; at a gap the poll stops and remembers it.
 *
 * Why a gap closes. next_event_id() assigns the writer's transaction id
 * before it draws the event id (schema/functions/events.sql). A gap below a
 * visible row R means the missing ids were drawn before R's id was, so
 * their transactions had transaction ids before this poll's snapshot was
 * taken. When the poll sees a gap it also takes a transaction id of its
 * own, X (pg_current_xact_id(), evaluated after the snapshot: X is larger
 * than every transaction id assigned before the snapshot). Once a later
 * snapshot has xmin > X, every transaction that could hold a missing id
 * has ended: ids still missing then were rolled back and are skipped for
 * good; ids that committed meanwhile are in that later poll. So a gap is
 * {upto = R - 1, horizon = X + 1}, resolved by a snapshot with
 * xmin >= horizon.
 *
 * (The snapshot's own xmax is not enough as the horizon: it is
 * latestCompletedXid + 1, and a transaction that got its id after the last
 * completion but before the snapshot can have an id >= xmax and still be
 * running when a later snapshot's xmin reaches that xmax.)
 *
 * The start is the same argument once: the cursor starts at the sequence's
 * last value N, read before taking a transaction id X; nothing is
 * dispatched until a snapshot's xmin passes X, when every id <= N is final.
 * Older events are the replay's business (replay.c).
 *
 * NOTIFY msgr_events (payload: the new highest id) is only a hint to poll
 * now; a poll also runs every poll_ms, faster while a gap is open, and
 * again at once when a page came back full.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "log.h"
#include "pg.h"
#include "wsd.h"

#define MAX_GAPS 64

enum feed_phase { FEED_INIT, FEED_BARRIER, FEED_LIVE };

struct gap {
	int64_t upto;     /* every id <= upto missing at the poll ... */
	uint64_t horizon; /* ... is final once a snapshot has xmin >= horizon */
};

static struct {
	struct pg_conn *conn;
	enum feed_phase phase;
	int64_t cursor;
	uint64_t barrier; /* FEED_BARRIER: the horizon of the start */
	const struct feed_ops *ops;
	void *arg;
	struct gap gaps[MAX_GAPS];
	unsigned ngaps;
	bool init_sent; /* the start-up queries are queued */
	bool polling;   /* a poll is queued or running */
	bool again;     /* poll again as soon as this one is answered */
	lws_sorted_usec_list_t sul;
} F;

PG_STMT(poll_stmt,
	"WITH s AS MATERIALIZED (SELECT pg_current_snapshot() AS snap),"
	" e AS MATERIALIZED (SELECT id, chat_id, kind, payload, created_at, audience FROM events"
	"  WHERE id > $1::bigint ORDER BY id LIMIT $2::int),"
	" g AS (SELECT count(*) AS n, max(id) AS top FROM e)"
	" SELECT pg_snapshot_xmin(s.snap)::text,"
	"  CASE WHEN g.top - $1::bigint <> g.n THEN pg_current_xact_id()::text END,"
	"  e.id, e.chat_id, e.kind, e.payload::text,"
	"  (extract(epoch FROM e.created_at) * 1000000)::bigint::text, e.audience::text"
	" FROM s CROSS JOIN g LEFT JOIN e ON true ORDER BY e.id");

static void poll_now(void);

bool feed_live(void)
{
	return F.phase == FEED_LIVE;
}

int64_t feed_cursor(void)
{
	return F.cursor;
}

static void feed_tick(lws_sorted_usec_list_t *sul);

/* (Re)arms the one poll timer. */
static void schedule(long ms)
{
	lws_sul_schedule(W.context, 0, &F.sul, feed_tick, (lws_usec_t)ms * LWS_US_PER_MS);
}

static void feed_tick(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	/* The safety net: whatever happens, look again later. */
	schedule(W.cfg.poll_ms);
	poll_now();
}

static bool field_u64(const PGresult *res, int row, int col, uint64_t *out)
{
	if (PQgetisnull(res, row, col))
		return false;
	return parse_u64(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), out);
}

static bool field_i64(const PGresult *res, int row, int col, int64_t *out)
{
	if (PQgetisnull(res, row, col))
		return false;
	return parse_i64(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), out);
}

/* The first remembered gap that covers every id up to upto, if any. */
static struct gap *gap_covering(int64_t upto)
{
	for (unsigned i = 0; i < F.ngaps; i++)
		if (F.gaps[i].upto >= upto)
			return &F.gaps[i];
	return NULL;
}

static void gap_remember(int64_t upto, uint64_t horizon)
{
	if (F.ngaps == MAX_GAPS) {
		/* A later gap with a later horizon also covers the last one's
		 * ids: replacing it only waits longer, never less. */
		F.gaps[MAX_GAPS - 1] = (struct gap){upto, horizon};
		return;
	}
	F.gaps[F.ngaps++] = (struct gap){upto, horizon};
}

static void gaps_prune(void)
{
	unsigned keep = 0;
	for (unsigned i = 0; i < F.ngaps; i++)
		if (F.gaps[i].upto > F.cursor)
			F.gaps[keep++] = F.gaps[i];
	F.ngaps = keep;
}

static void dispatch_row(const PGresult *res, int row, int64_t id)
{
	struct event ev = {.id = id};
	if (!field_i64(res, row, 3, &ev.chat_id))
		ev.chat_id = 0;
	ev.kind = PQgetvalue(res, row, 4);
	ev.payload = PQgetvalue(res, row, 5);
	ev.payload_len = (size_t)PQgetlength(res, row, 5);
	ev.type = event_kind_of(ev.kind);
	if (!field_i64(res, row, 6, &ev.created_us))
		ev.created_us = 0;
	ev.audience = PQgetisnull(res, row, 7) ? NULL : PQgetvalue(res, row, 7);
	F.ops->event(F.arg, &ev);
	F.cursor = id;
}

/* Returns true when the page was full and consumed to its end. */
static bool process(const PGresult *res)
{
	int rows = PQntuples(res);
	uint64_t xmin = 0, horizon = 0;
	if (rows < 1 || !field_u64(res, 0, 0, &xmin)) {
		log_error("feed: poll answered without a snapshot");
		return false;
	}
	bool have_horizon = field_u64(res, 0, 1, &horizon);
	if (F.phase == FEED_BARRIER) {
		if (xmin < F.barrier)
			return false; /* writers from before the start still run */
		F.phase = FEED_LIVE;
		log_info("feed: live from event %" PRId64, F.cursor);
		F.ops->live(F.arg);
	}
	int events = 0;
	for (int r = 0; r < rows; r++) {
		int64_t id;
		if (!field_i64(res, r, 2, &id))
			continue; /* the LEFT JOIN's empty row */
		events++;
		if (id <= F.cursor)
			continue;
		if (id > F.cursor + 1) {
			int64_t first = F.cursor + 1, last = id - 1;
			struct gap *g = gap_covering(last);
			if (!g || xmin < g->horizon) {
				if (!g && have_horizon)
					gap_remember(last, horizon + 1);
				return false; /* wait: they may still commit */
			}
			/* Every transaction that could hold them has ended. */
			log_info("feed: event ids %" PRId64 "..%" PRId64
				 " were never committed: skipped",
				 first, last);
			F.cursor = last;
		}
		dispatch_row(res, r, id);
	}
	gaps_prune();
	return events == W.cfg.replay_page;
}

static void poll_done(void *arg, const PGresult *res)
{
	(void)arg;
	F.polling = false;
	bool more = false;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		log_error("feed: poll failed: %s", PQresultErrorMessage(res));
	else
		more = process(res);
	gaps_prune();
	if (more || F.again) {
		F.again = false;
		poll_now();
	} else if (F.ngaps || F.phase == FEED_BARRIER) {
		schedule(W.cfg.gap_poll_ms);
	}
}

static void poll_now(void)
{
	if (F.phase == FEED_INIT)
		return;
	if (F.polling) {
		F.again = true;
		return;
	}
	char cursor[24], limit[24];
	snprintf(cursor, sizeof cursor, "%" PRId64, F.cursor);
	snprintf(limit, sizeof limit, "%ld", W.cfg.replay_page);
	const char *params[] = {cursor, limit};
	if (pg_exec(F.conn, &poll_stmt, 2, params, poll_done, NULL))
		F.polling = true;
}

static void init_xid_done(void *arg, const PGresult *res)
{
	(void)arg;
	uint64_t xid;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    !field_u64(res, 0, 0, &xid)) {
		log_error("feed: could not start: %s", PQresultErrorMessage(res));
		F.init_sent = false;
		return;
	}
	F.barrier = xid + 1;
	F.phase = FEED_BARRIER;
	poll_now();
}

static void init_seq_done(void *arg, const PGresult *res)
{
	(void)arg;
	int64_t last;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    !field_i64(res, 0, 0, &last)) {
		log_error("feed: could not read events_id_seq: %s", PQresultErrorMessage(res));
		F.init_sent = false;
		return;
	}
	F.cursor = last;
}

static void start_init(void)
{
	if (F.phase != FEED_INIT || F.init_sent)
		return;
	/* Two statements, in this order: the transaction id must be taken
	 * after the sequence was read. */
	pg_query(F.conn,
		 "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END"
		 " FROM events_id_seq",
		 0, NULL, init_seq_done, NULL);
	pg_query(F.conn, "SELECT pg_current_xact_id()::text", 0, NULL, init_xid_done, NULL);
	F.init_sent = true;
}

static void listen_done(void *arg, const PGresult *res)
{
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		log_error("feed: %s failed: %s", (const char *)arg, PQresultErrorMessage(res));
}

/* LISTEN msgr_wsd answered: after a lost connection, what it missed is
 * asked again. A question sent after this answer sees every commit whose
 * notification could have been missed. */
static void listen_wsd_done(void *arg, const PGresult *res)
{
	static bool listened;
	listen_done(arg, res);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return;
	if (listened && F.ops->relisten)
		F.ops->relisten(F.arg);
	listened = true;
}

static void on_connected(struct pg_conn *c, void *arg)
{
	(void)arg;
	/* LISTEN first, then catch up from the table: nothing committed
	 * between the two is missed (and the poll would find it anyway). */
	pg_query_first(c, "LISTEN msgr_wsd", 0, NULL, listen_wsd_done, "LISTEN msgr_wsd");
	pg_query_first(c, "LISTEN msgr_events", 0, NULL, listen_done, "LISTEN msgr_events");
	if (F.phase == FEED_INIT)
		start_init();
	else
		poll_now();
}

static void on_notify(void *arg, const char *channel, const char *payload)
{
	(void)arg;
	if (!strcmp(channel, "msgr_wsd")) {
		F.ops->bus(F.arg, payload);
		return;
	}
	int64_t id;
	if (parse_i64(payload, strlen(payload), &id) && id <= F.cursor)
		return; /* nothing new for us */
	poll_now();
}

static const struct pg_conn_ops conn_ops = {
	.connected = on_connected,
	.notify = on_notify,
};

bool feed_start(const struct feed_ops *ops, void *arg)
{
	F.ops = ops;
	F.arg = arg;
	F.conn = pg_conn_new(W.context, W.pg_vhost, "feed", W.conninfo, &conn_ops, NULL);
	if (!F.conn)
		return false;
	schedule(W.cfg.poll_ms);
	return true;
}

void feed_poke(void)
{
	poll_now();
}

void feed_stop(void)
{
	lws_sul_cancel(&F.sul);
	pg_conn_free(F.conn);
	F.conn = NULL;
}
