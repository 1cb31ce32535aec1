/* wsd/feed.c: the cursor, gaps and the start-up barrier, fed with made-up
 * poll answers (the columns of POLL_SQL: snapshot xmin, the poll's own
 * transaction id when it saw a gap, then id, chat_id, kind, payload). What
 * it dispatches comes back through the test's own struct feed_ops. */
#include "../../wsd/event.c"
#include "../../wsd/feed.c"
#include "../../wsd/pg.c"
#include "unit.h"

struct wsd W;

static int64_t got[64];
static int ngot;
static int went_live;

static void on_event(void *arg, const struct event *ev)
{
	(void)arg;
	if (ngot < 64)
		got[ngot++] = ev->id;
}

static void on_live(void *arg)
{
	(void)arg;
	went_live++;
}

static void on_bus(void *arg, const char *payload)
{
	(void)arg;
	(void)payload;
}

static const struct feed_ops test_ops = {.event = on_event, .live = on_live, .bus = on_bus};

/* One poll answer: xmin, the horizon xid or 0 for NULL, and ids (0 ends
 * the list; none at all gives the LEFT JOIN's empty row). */
static PGresult *answer(uint64_t xmin, uint64_t xid, const int64_t *ids)
{
	static PGresAttDesc attrs[6] = {
		{.name = "xmin"}, {.name = "xid"}, {.name = "id"},
		{.name = "chat_id"}, {.name = "kind"}, {.name = "payload"},
	};
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PQsetResultAttrs(res, 6, attrs);
	char x[24], h[24], v[24];
	snprintf(x, sizeof x, "%llu", (unsigned long long)xmin);
	snprintf(h, sizeof h, "%llu", (unsigned long long)xid);
	int row = 0;
	do {
		PQsetvalue(res, row, 0, x, (int)strlen(x));
		PQsetvalue(res, row, 1, xid ? h : NULL, xid ? (int)strlen(h) : -1);
		if (*ids) {
			snprintf(v, sizeof v, "%lld", (long long)*ids);
			PQsetvalue(res, row, 2, v, (int)strlen(v));
			PQsetvalue(res, row, 3, "1", 1);
			PQsetvalue(res, row, 4, "message.created", 15);
			PQsetvalue(res, row, 5, "{}", 2);
		} else {
			for (int c = 2; c < 6; c++)
				PQsetvalue(res, row, c, NULL, -1);
		}
		row++;
	} while (*ids && *++ids);
	return res;
}

static void poll_with(uint64_t xmin, uint64_t xid, const int64_t *ids)
{
	PGresult *res = answer(xmin, xid, ids);
	process(res);
	gaps_prune();
	PQclear(res);
}

static void reset(enum feed_phase phase, int64_t cursor)
{
	memset(&F, 0, sizeof F);
	F.ops = &test_ops;
	F.phase = phase;
	F.cursor = cursor;
	ngot = 0;
	went_live = 0;
	W.cfg.replay_page = 200;
}

#define IDS(...) ((const int64_t[]){__VA_ARGS__, 0})

TEST(consecutive_rows_are_dispatched_in_order)
{
	reset(FEED_LIVE, 10);
	poll_with(5, 0, IDS(11, 12, 13));
	CHECK_INT_EQ(ngot, 3);
	CHECK_INT_EQ(got[0], 11);
	CHECK_INT_EQ(got[2], 13);
	CHECK_INT_EQ(F.cursor, 13);
	poll_with(5, 0, IDS(0)); /* nothing new */
	CHECK_INT_EQ(ngot, 3);
}

TEST(nothing_before_the_start_barrier_is_passed)
{
	reset(FEED_BARRIER, 10);
	F.barrier = 100;
	poll_with(99, 0, IDS(11, 12));
	CHECK_INT_EQ(ngot, 0);
	CHECK(F.phase == FEED_BARRIER);
	poll_with(100, 0, IDS(11, 12));
	CHECK(F.phase == FEED_LIVE);
	CHECK_INT_EQ(went_live, 1);
	CHECK_INT_EQ(ngot, 2);
	CHECK_INT_EQ(F.cursor, 12);
}

TEST(a_gap_waits_for_its_horizon_then_is_skipped)
{
	reset(FEED_LIVE, 12);
	/* 14 is missing; the poll took xid 300: horizon 301. */
	poll_with(200, 300, IDS(13, 15));
	CHECK_INT_EQ(ngot, 1);
	CHECK_INT_EQ(F.cursor, 13);
	REQUIRE(F.ngaps == 1);
	CHECK_INT_EQ(F.gaps[0].upto, 14);
	CHECK_UINT_EQ(F.gaps[0].horizon, 301);
	/* Transactions that may hold 14 still run (xmin 300 < 301). A later
	 * poll's own xid does not replace the remembered horizon. */
	poll_with(300, 350, IDS(15, 16));
	CHECK_INT_EQ(ngot, 1);
	REQUIRE(F.ngaps == 1);
	CHECK_UINT_EQ(F.gaps[0].horizon, 301);
	/* They all ended: 14 never comes. */
	poll_with(301, 360, IDS(15, 16));
	CHECK_INT_EQ(ngot, 3);
	CHECK_INT_EQ(got[1], 15);
	CHECK_INT_EQ(got[2], 16);
	CHECK_INT_EQ(F.cursor, 16);
	CHECK_INT_EQ(F.ngaps, 0);
}

TEST(a_gap_filled_by_a_late_commit)
{
	reset(FEED_LIVE, 16);
	poll_with(400, 450, IDS(18));
	CHECK_INT_EQ(ngot, 0);
	poll_with(410, 0, IDS(17, 18));
	CHECK_INT_EQ(ngot, 2);
	CHECK_INT_EQ(got[0], 17);
	CHECK_INT_EQ(got[1], 18);
	CHECK_INT_EQ(F.ngaps, 0);
}

/* A gap past a resolved one needs a horizon of its own: the old one says
 * nothing about ids drawn after its poll. */
TEST(each_gap_has_its_own_horizon)
{
	reset(FEED_LIVE, 18);
	poll_with(500, 600, IDS(20, 22)); /* 19 and 21 missing */
	CHECK_INT_EQ(ngot, 0);
	REQUIRE(F.ngaps == 1);
	CHECK_INT_EQ(F.gaps[0].upto, 19);
	poll_with(601, 700, IDS(20, 22));
	CHECK_INT_EQ(ngot, 1); /* 19 skipped, 20 dispatched, stop at 21 */
	CHECK_INT_EQ(got[0], 20);
	REQUIRE(F.ngaps == 1);
	CHECK_INT_EQ(F.gaps[0].upto, 21);
	CHECK_UINT_EQ(F.gaps[0].horizon, 701);
	poll_with(650, 710, IDS(22));
	CHECK_INT_EQ(ngot, 1);
	poll_with(701, 720, IDS(22));
	CHECK_INT_EQ(ngot, 2);
	CHECK_INT_EQ(got[1], 22);
}

TEST(a_full_page_asks_for_more)
{
	reset(FEED_LIVE, 0);
	W.cfg.replay_page = 3;
	PGresult *res = answer(5, 0, IDS(1, 2, 3));
	CHECK(process(res));
	PQclear(res);
	res = answer(5, 0, IDS(4));
	CHECK(!process(res));
	PQclear(res);
}
