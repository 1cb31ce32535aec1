/*
 * test_pglink.c - the event loop's database link (shared/pglink.h),
 * through its header, against a real PostgreSQL: each statement's outcome
 * comes to the callback exactly once (a result, an error result, or NULL
 * when the connection is lost), a lost link connects again, and
 * pglink_wait() takes what is in flight.
 *
 * The database is MSGR_DATABASE_URL's (with MSGR_SECRET_FILE, as the
 * programs'); without it every test passes without running and the
 * program says so. tests/integration/test_pglink_unit.py runs it against
 * the test stack's database, so that `make test` cannot skip it.
 */
#include <stdlib.h>

#include "front.h"
#include "pglink.h"

#include "unit.h"

static const struct pglink_statement stmts[] = {
	{"plus_one", "SELECT $1::int + 1", 1},
	{"pid", "SELECT pg_backend_pid()", 0},
	{"sleep", "SELECT pg_sleep($1::float8)", 1},
};

struct outcome {
	int calls;
	bool got_null;
	ExecStatusType status;
	char value[64];
	struct pglink *link;
	/* The callback sends "plus_one" with this, when set: a caller whose
	 * callback sends its next statement. */
	const char *then;
};

static void record(void *arg, PGresult *res)
{
	struct outcome *o = arg;
	o->calls++;
	o->got_null = !res;
	o->status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	snprintf(o->value, sizeof o->value, "%s",
		 res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
			 ? PQgetvalue(res, 0, 0)
			 : "");
	PQclear(res);
	if (o->then) {
		const char *params[] = {o->then};
		o->then = NULL;
		CHECK(pglink_send(o->link, "plus_one", 1, params) == MSGR_OK);
	}
}

static bool have_database(void)
{
	return getenv("MSGR_DATABASE_URL") != NULL;
}

struct fixture {
	struct front *f;
	struct pglink *link;
	struct outcome o;
};

static struct fixture *start(void)
{
	struct fixture *x = calloc(1, sizeof *x);
	const struct front_config cfg = {0};
	x->f = front_new(-1, &cfg);
	x->link = pglink_new(x->f, stmts, sizeof stmts / sizeof stmts[0], record, &x->o);
	x->o.link = x->link;
	if (!x->f || !x->link)
		abort();
	return x;
}

static void stop(struct fixture *x)
{
	pglink_free(x->link);
	front_free(x->f);
	free(x);
}

/* Turns the loop until the callback was called n times in all (10 s at
 * most). */
static void turn_until(struct fixture *x, int n)
{
	for (int i = 0; i < 200 && x->o.calls < n; i++)
		front_turn(x->f, 50);
}

/* Runs "plus_one" with v through the loop; false when it could not be
 * sent. */
static bool plus_one(struct fixture *x, const char *v)
{
	const char *params[] = {v};
	int before = x->o.calls;
	if (pglink_send(x->link, "plus_one", 1, params) != MSGR_OK)
		return false;
	CHECK(pglink_busy(x->link));
	turn_until(x, before + 1);
	return true;
}

/* The backend pid of the link's connection. */
static void backend_pid(struct fixture *x, char pid[64])
{
	int before = x->o.calls;
	REQUIRE(pglink_send(x->link, "pid", 0, NULL) == MSGR_OK);
	turn_until(x, before + 1);
	snprintf(pid, 64, "%s", x->o.value);
}

/* Ends a backend from a connection of the test's own. */
static void terminate(const char *pid)
{
	PGconn *c = PQconnectdb(getenv("MSGR_DATABASE_URL"));
	const char *params[] = {pid};
	PGresult *res =
		PQexecParams(c, "SELECT pg_terminate_backend($1::int)", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || strcmp(PQgetvalue(res, 0, 0), "t"))
		unit_fail(__FILE__, __LINE__, "could not terminate backend %s: %s", pid,
			  PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
}

/* A connected link and its backend's pid; NULL without a database (the
 * test passes) or when it cannot connect (the test fails). */
static struct fixture *connected(char pid[64])
{
	if (!have_database())
		return NULL;
	struct fixture *x = start();
	if (!pglink_ready(x->link)) {
		unit_fail(__FILE__, __LINE__, "could not connect to MSGR_DATABASE_URL");
		stop(x);
		return NULL;
	}
	backend_pid(x, pid);
	return x;
}

TEST(the_outcome_of_a_statement_comes_once_through_the_loop)
{
	if (!have_database()) {
		printf("test_pglink: MSGR_DATABASE_URL is not set: skipped\n");
		return;
	}
	char pid[64];
	struct fixture *x = connected(pid);
	if (!x)
		return;
	CHECK(!pglink_busy(x->link));
	REQUIRE(plus_one(x, "41"));
	CHECK_INT_EQ(x->o.calls, 2);
	CHECK(!pglink_busy(x->link));
	CHECK_STR_EQ(x->o.value, "42");
	/* Nothing more comes for it. */
	front_turn(x->f, 100);
	CHECK_INT_EQ(x->o.calls, 2);
	stop(x);
}

TEST(a_failed_statement_is_an_error_result_on_a_live_link)
{
	char pid[64];
	struct fixture *x = connected(pid);
	if (!x)
		return;
	REQUIRE(plus_one(x, "not a number"));
	CHECK_INT_EQ(x->o.calls, 2);
	CHECK(!x->o.got_null);
	CHECK_INT_EQ(x->o.status, PGRES_FATAL_ERROR);
	/* The same connection goes on. */
	char again[64];
	backend_pid(x, again);
	CHECK_STR_EQ(again, pid);
	stop(x);
}

TEST(a_link_lost_in_flight_passes_null_once_and_connects_again)
{
	char pid[64];
	struct fixture *x = connected(pid);
	if (!x)
		return;
	const char *params[] = {"30"};
	REQUIRE(pglink_send(x->link, "sleep", 1, params) == MSGR_OK);
	front_turn(x->f, 50);
	CHECK_INT_EQ(x->o.calls, 1);
	terminate(pid);
	turn_until(x, 2);
	CHECK_INT_EQ(x->o.calls, 2);
	CHECK(x->o.got_null);
	CHECK(!pglink_busy(x->link));
	front_turn(x->f, 100);
	CHECK_INT_EQ(x->o.calls, 2);
	/* The next statement has a new connection. */
	REQUIRE(pglink_ready(x->link));
	char other[64];
	backend_pid(x, other);
	CHECK(strcmp(other, pid) != 0);
	stop(x);
}

TEST(an_idle_link_whose_connection_ends_connects_again)
{
	char pid[64];
	struct fixture *x = connected(pid);
	if (!x)
		return;
	terminate(pid);
	for (int i = 0; i < 5; i++)
		front_turn(x->f, 100); /* the loop sees the connection close */
	CHECK_INT_EQ(x->o.calls, 1);
	REQUIRE(pglink_ready(x->link));
	REQUIRE(plus_one(x, "1"));
	CHECK_STR_EQ(x->o.value, "2");
	stop(x);
}

TEST(wait_takes_the_statement_in_flight_and_the_one_its_callback_sends)
{
	char pid[64];
	struct fixture *x = connected(pid);
	if (!x)
		return;
	const char *params[] = {"1"};
	x->o.then = "9";
	REQUIRE(pglink_send(x->link, "plus_one", 1, params) == MSGR_OK);
	/* A second statement on a busy link is refused, and sends nothing. */
	CHECK(pglink_send(x->link, "plus_one", 1, params) != MSGR_OK);
	pglink_wait(x->link);
	CHECK_INT_EQ(x->o.calls, 3);
	CHECK_STR_EQ(x->o.value, "10");
	CHECK(!pglink_busy(x->link));
	pglink_wait(x->link); /* nothing in flight: returns */
	stop(x);
}

TEST(a_link_that_cannot_connect_says_so)
{
	if (!have_database())
		return;
	char *url = strdup(getenv("MSGR_DATABASE_URL"));
	setenv("MSGR_DATABASE_URL", "host=/nonexistent dbname=none connect_timeout=1", 1);
	struct fixture *x = start();
	CHECK(!pglink_ready(x->link));
	const char *params[] = {"1"};
	CHECK(pglink_send(x->link, "plus_one", 1, params) != MSGR_OK);
	CHECK_INT_EQ(x->o.calls, 0);
	setenv("MSGR_DATABASE_URL", url, 1);
	free(url);
	stop(x);
}
