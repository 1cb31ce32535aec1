/*
 * test_pglink.c - the event loop's database link (shared/pglink.h),
 * through its header, against a real PostgreSQL: a link connects through
 * the loop's turns, never holding one; each statement's outcome comes to
 * the callback exactly once (a result, an error result, or NULL when the
 * connection is lost); a lost link connects again; a database that cannot
 * be reached leaves the link down, tried again later and less often; and
 * pglink_wait() takes a connect and what is in flight.
 *
 * The database is MSGR_DATABASE_URL's (with MSGR_SECRET_FILE, as the
 * programs'); without it every test passes without running and the
 * program says so. tests/integration/test_pglink_unit.py runs it against
 * the test stack's database, so that `make test` cannot skip it.
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "front.h"
#include "log.h"
#include "pglink.h"

#include "unit.h"

static const struct pglink_statement stmts[] = {
	{"plus_one", "SELECT $1::int + 1", 1},
	{"pid", "SELECT pg_backend_pid()", 0},
	{"sleep", "SELECT pg_sleep($1::float8)", 1},
	{"length", "SELECT length($1::text)", 1},
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

/* Turns the loop until the link is ready (10 s at most); false when it
 * is not then. */
static bool turn_until_ready(struct fixture *x)
{
	for (int i = 0; i < 200 && pglink_state(x->link) != PGLINK_READY; i++)
		front_turn(x->f, 50);
	return pglink_state(x->link) == PGLINK_READY;
}

/* A connected link and its backend's pid; NULL without a database (the
 * test passes) or when it cannot connect (the test fails). */
static struct fixture *connected(char pid[64])
{
	if (!have_database())
		return NULL;
	struct fixture *x = start();
	if (!turn_until_ready(x)) {
		unit_fail(__FILE__, __LINE__, "could not connect to MSGR_DATABASE_URL");
		stop(x);
		return NULL;
	}
	backend_pid(x, pid);
	return x;
}

/* The database URL, replaced with url until url_restore(). */
static char *url_saved;

static void url_replace(const char *url)
{
	url_saved = strdup(getenv("MSGR_DATABASE_URL"));
	setenv("MSGR_DATABASE_URL", url, 1);
}

static void url_restore(void)
{
	setenv("MSGR_DATABASE_URL", url_saved, 1);
	free(url_saved);
	url_saved = NULL;
}

/* One turn of the loop that does not wait for events, then a pause of
 * 5 ms: its events are added to *events, and the time the turn took (its
 * handlers') to *slowest when longer. */
static void timed_turn(struct fixture *x, int *events, double *slowest)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	int n = front_turn(x->f, 0);
	double took = log_ms_since(&t);
	*events += n > 0 ? n : 0;
	if (took > *slowest)
		*slowest = took;
	usleep(5000);
}

TEST(a_link_connects_through_the_turns_of_the_loop)
{
	if (!have_database())
		return;
	struct fixture *x = start();
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	CHECK_INT_EQ(pglink_state(x->link), PGLINK_CONNECTING);
	CHECK(log_ms_since(&t) < 100); /* started, not waited for (ASan: generous) */
	CHECK_INT_EQ(pglink_state(x->link), PGLINK_CONNECTING);
	/* Nothing is sent on a link that is connecting, and no callback
	 * comes for the connect. */
	const char *params[] = {"1"};
	CHECK(pglink_send(x->link, "plus_one", 1, params) != MSGR_OK);
	int turns = 0, events = 0;
	double slowest = 0;
	while (turns < 2000 && pglink_state(x->link) != PGLINK_READY) {
		timed_turn(x, &events, &slowest);
		turns++;
	}
	REQUIRE(pglink_state(x->link) == PGLINK_READY);
	/* The connect, the secret and each prepare: a step per event. */
	CHECK(events >= 2);
	CHECK(slowest < 50);
	CHECK_INT_EQ(x->o.calls, 0);
	REQUIRE(plus_one(x, "41"));
	CHECK_STR_EQ(x->o.value, "42");
	stop(x);
}

TEST(a_link_unreachable_is_down_at_once_and_tried_again_less_and_less_often)
{
	if (!have_database())
		return;
	url_replace("host=/nonexistent dbname=none");
	struct fixture *x = start();
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	CHECK_INT_EQ(pglink_state(x->link), PGLINK_DOWN);
	CHECK(log_ms_since(&t) < 100);
	/* Asked again, it says so without trying: the timer tries. */
	CHECK_INT_EQ(pglink_state(x->link), PGLINK_DOWN);
	const char *params[] = {"1"};
	CHECK(pglink_send(x->link, "plus_one", 1, params) != MSGR_OK);
	/* Tries after 100 ms, then 200, then 400 (at about 700 ms), then 800
	 * (about 1500): a second of turns sees 3 of them, each a short turn. */
	int events = 0;
	double slowest = 0;
	clock_gettime(CLOCK_MONOTONIC, &t);
	while (log_ms_since(&t) < 1000)
		timed_turn(x, &events, &slowest);
	CHECK(events >= 2 && events <= 4);
	CHECK(slowest < 50);
	CHECK_INT_EQ(pglink_state(x->link), PGLINK_DOWN);
	/* The database is back: the next try, not before, finds it. */
	url_restore();
	clock_gettime(CLOCK_MONOTONIC, &t);
	CHECK_INT_EQ(pglink_state(x->link), PGLINK_DOWN);
	REQUIRE(turn_until_ready(x));
	double waited = log_ms_since(&t);
	CHECK(waited > 300 && waited < 5000);
	CHECK_INT_EQ(x->o.calls, 0);
	REQUIRE(plus_one(x, "1"));
	CHECK_STR_EQ(x->o.value, "2");
	stop(x);
}

TEST(a_database_that_never_answers_leaves_the_loop_free_and_the_link_down_in_time)
{
	if (!have_database())
		return;
	/* A socket that takes connections into its backlog and never
	 * answers: libpq's connect goes through, its startup waits. */
	char dir[] = "/tmp/test_pglink_XXXXXX";
	REQUIRE(mkdtemp(dir));
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof addr.sun_path, "%s/.s.PGSQL.5432", dir);
	int mute = socket(AF_UNIX, SOCK_STREAM, 0);
	REQUIRE(mute >= 0 && bind(mute, (struct sockaddr *)&addr, sizeof addr) == 0 &&
		listen(mute, 8) == 0);
	char url[128];
	snprintf(url, sizeof url, "host=%s port=5432 dbname=none", dir);
	url_replace(url);
	struct fixture *x = start();
	CHECK_INT_EQ(pglink_state(x->link), PGLINK_CONNECTING);
	int events = 0;
	double slowest = 0;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	while (log_ms_since(&t) < 8000 && pglink_state(x->link) == PGLINK_CONNECTING)
		timed_turn(x, &events, &slowest);
	double waited = log_ms_since(&t);
	CHECK_INT_EQ(pglink_state(x->link), PGLINK_DOWN);
	CHECK(waited > 4500 && waited < 7000); /* the connect's 5 s */
	CHECK(slowest < 50);
	url_restore();
	stop(x);
	close(mute);
	unlink(addr.sun_path);
	rmdir(dir);
}

TEST(a_statement_larger_than_the_socket_takes_goes_as_it_can)
{
	char pid[64];
	struct fixture *x = connected(pid);
	if (!x)
		return;
	/* Megabytes: far more than a socket's buffer, which the loop fills
	 * as the server reads, never waiting in pglink_send(). */
	size_t len = 8 << 20;
	char *text = malloc(len + 1);
	REQUIRE(text);
	memset(text, 'x', len);
	text[len] = '\0';
	const char *params[] = {text};
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	REQUIRE(pglink_send(x->link, "length", 1, params) == MSGR_OK);
	CHECK(log_ms_since(&t) < 500); /* a copy of 8 MB, and a first write */
	free(text);
	int events = 0;
	double slowest = 0;
	clock_gettime(CLOCK_MONOTONIC, &t);
	while (log_ms_since(&t) < 10000 && x->o.calls < 2)
		timed_turn(x, &events, &slowest);
	CHECK_INT_EQ(x->o.calls, 2);
	CHECK_STR_EQ(x->o.value, "8388608");
	CHECK(events > 1); /* written over several turns */
	CHECK(slowest < 100);
	/* The link goes on as usual. */
	REQUIRE(plus_one(x, "1"));
	CHECK_STR_EQ(x->o.value, "2");
	stop(x);
}

TEST(wait_takes_a_connect_to_its_end)
{
	if (!have_database())
		return;
	struct fixture *x = start();
	CHECK_INT_EQ(pglink_state(x->link), PGLINK_CONNECTING);
	pglink_wait(x->link);
	CHECK_INT_EQ(pglink_state(x->link), PGLINK_READY);
	CHECK_INT_EQ(x->o.calls, 0);
	REQUIRE(plus_one(x, "2"));
	CHECK_STR_EQ(x->o.value, "3");
	stop(x);
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
	/* The next statement has a new connection, made through the loop. */
	CHECK_INT_EQ(pglink_state(x->link), PGLINK_CONNECTING);
	REQUIRE(turn_until_ready(x));
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
	REQUIRE(turn_until_ready(x));
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
