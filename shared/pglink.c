/*
 * pglink.c - an asynchronous PostgreSQL connection of an event loop
 * (pglink.h).
 *
 * A link goes closed -> polling (PQconnectPoll(), on the socket's events)
 * -> setup (its session set up with one statement at a time: the secret,
 * then each prepare; libpq takes one command at a time outside pipeline
 * mode, and this happens once per connect) -> ready; a connect that fails
 * at any step leaves it down, until its timer starts the next. The same
 * timer ends a connect that takes too long: libpq's connect_timeout is the
 * caller's business when it connects asynchronously.
 *
 * A statement's outcome is complete when PQgetResult() returns NULL; the
 * first result is kept until then (a statement sent with
 * PQsendQueryPrepared() gives one, but an error may follow it). libpq is
 * only asked for a result when PQisBusy() says it has it whole, so the loop
 * never waits on the socket, except in pglink_wait().
 */
#include "pglink.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "front.h"
#include "log.h"
#include "metrics.h"

#define PGLINK_RETRY_FIRST_MS 100
#define PGLINK_RETRY_MAX_MS 2000
#define PGLINK_CONNECT_TIMEOUT_MS 5000

enum link_phase {
	LINK_CLOSED,  /* no connection: the next pglink_state() connects */
	LINK_POLLING, /* PQconnectPoll() takes the connect on */
	LINK_SETUP,   /* connected: the session's setup statements run */
	LINK_READY,
	LINK_DOWN, /* the last connect failed: the timer starts the next */
};

struct pglink {
	struct front_watch watch; /* the connection's socket */
	struct front_watch timer; /* timer_fd: a connect due, or overdue */
	struct front *front;
	const struct pglink_statement *stmts;
	size_t nstmts;
	pglink_done_fn done;
	void *arg;
	PGconn *pg;  /* NULL while closed or down */
	int fd;      /* the socket watched, or -1 */
	int timer_fd;
	enum link_phase phase;
	PostgresPollingStatusType polling; /* what PQconnectPoll() waits for */
	size_t step;      /* setup: 0, the secret; i + 1, stmts[i]'s prepare */
	bool step_failed; /* the step's statement failed (logged) */
	int retry_ms;     /* the wait after the next failed connect */
	bool writing;     /* libpq has output the socket could not take */
	bool busy;        /* a statement is in flight */
	PGresult *result; /* its first result, while the rest come */
	bool replica;     /* connects to MSGR_DATABASE_REPLICA_URL */
};

static void link_event(struct front_watch *w);
static void timer_event(struct front_watch *w);

/* Arms l's timer to ring in ms (0: disarms it). */
static void timer_set(struct pglink *l, int ms)
{
	struct itimerspec t = {
		.it_value = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L},
	};
	if (timerfd_settime(l->timer_fd, 0, &t, NULL) != 0)
		log_error("could not set a database link's timer: %s", strerror(errno));
}

struct pglink *pglink_new(struct front *f, const struct pglink_statement *stmts, size_t n,
			  pglink_done_fn done, void *arg)
{
	struct pglink *l = calloc(1, sizeof *l);
	if (!l) {
		log_error("out of memory for a database link");
		return NULL;
	}
	*l = (struct pglink){
		.watch.ready = link_event,
		.timer.ready = timer_event,
		.front = f,
		.stmts = stmts,
		.nstmts = n,
		.done = done,
		.arg = arg,
		.fd = -1,
		.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC),
		.retry_ms = PGLINK_RETRY_FIRST_MS,
	};
	if (l->timer_fd < 0 || front_watch(f, l->timer_fd, &l->timer, FRONT_READABLE) != MSGR_OK) {
		log_error("could not make a database link's timer: %s", strerror(errno));
		if (l->timer_fd >= 0)
			close(l->timer_fd);
		free(l);
		return NULL;
	}
	return l;
}

void pglink_free(struct pglink *l)
{
	if (!l)
		return;
	if (l->busy)
		log_error("a database link was freed with a statement in flight");
	PQclear(l->result);
	pglink_close(l);
	front_unwatch(l->front, l->timer_fd);
	close(l->timer_fd);
	free(l);
}

/* Ends l's connection, if it has one. */
static void link_drop(struct pglink *l)
{
	/* A socket libpq closed (or replaced, connecting) left the loop's
	 * set as it closed; its number may be another's since. */
	if (l->fd >= 0 && PQsocket(l->pg) == l->fd)
		front_unwatch(l->front, l->fd);
	PQfinish(l->pg);
	l->pg = NULL;
	l->fd = -1;
	l->writing = false;
}

void pglink_close(struct pglink *l)
{
	if (l->phase != LINK_READY && l->phase != LINK_CLOSED)
		timer_set(l, 0); /* a connect overdue, or one due */
	link_drop(l);
	l->phase = LINK_CLOSED;
}

/* The events l's socket waits for now. */
static unsigned link_wants(const struct pglink *l)
{
	if (l->phase == LINK_POLLING)
		return l->polling == PGRES_POLLING_READING ? FRONT_READABLE : FRONT_WRITABLE;
	return FRONT_READABLE | (l->writing ? FRONT_WRITABLE : 0);
}

/* Watches l's socket (libpq may change it while it connects) for what it
 * waits for; false when it cannot. */
static bool link_watch(struct pglink *l)
{
	l->fd = PQsocket(l->pg);
	return l->fd >= 0 && front_watch(l->front, l->fd, &l->watch, link_wants(l)) == MSGR_OK;
}

/* Sends what libpq has of its output, and waits for writable while some
 * is left; false when the connection failed. */
static bool link_flush(struct pglink *l)
{
	int left = PQflush(l->pg);
	if (left < 0)
		return false;
	if (l->writing != (left > 0)) {
		l->writing = left > 0;
		return link_watch(l);
	}
	return true;
}

/* ---- connecting --------------------------------------------------------------- */

/* The connect failed, for why (libpq's message, whose first line is
 * logged): l is down until its timer starts the next. */
static void connect_failed(struct pglink *l, const char *why)
{
	log_error("could not connect to the database: %.*s; trying again in %d ms",
		  (int)strcspn(why, "\n"), why, l->retry_ms);
	link_drop(l);
	l->phase = LINK_DOWN;
	timer_set(l, l->retry_ms);
	l->retry_ms = l->retry_ms * 2 < PGLINK_RETRY_MAX_MS ? l->retry_ms * 2 : PGLINK_RETRY_MAX_MS;
}

static void connect_start(struct pglink *l)
{
	struct db_conn_params p;
	if (l->replica)
		db_replica_conn_params(&p);
	else
		db_conn_params(&p);
	l->pg = PQconnectStartParams(p.keys, p.values, 1);
	l->phase = LINK_POLLING;
	/* Before the first PQconnectPoll(), as if it had asked for writable. */
	l->polling = PGRES_POLLING_WRITING;
	if (PQstatus(l->pg) == CONNECTION_BAD) { /* as for NULL */
		connect_failed(l, l->pg ? PQerrorMessage(l->pg) : "out of memory");
		return;
	}
	timer_set(l, PGLINK_CONNECT_TIMEOUT_MS);
	if (!link_watch(l))
		connect_failed(l, "its socket could not be watched");
}

/* Sends setup step l->step. */
static void setup_send(struct pglink *l)
{
	int sent;
	if (l->step == 0) {
		char hex[DB_SECRET_HEX_MAX];
		const char *params[] = {hex};
		if (db_secret_param(hex) != MSGR_OK) {
			connect_failed(l, "the server secret could not be read");
			return;
		}
		sent = PQsendQueryParams(l->pg, DB_SECRET_SQL, 1, NULL, params, NULL, NULL, 0);
	} else {
		const struct pglink_statement *st = &l->stmts[l->step - 1];
		sent = PQsendPrepare(l->pg, st->name, st->sql, st->nparams, NULL);
	}
	if (!sent || !link_flush(l))
		connect_failed(l, PQerrorMessage(l->pg));
}

/* Connected: the session is set up next. */
static void setup_start(struct pglink *l)
{
	l->phase = LINK_SETUP;
	l->step = 0;
	l->step_failed = false;
	/* Readable from now on (the connect may have last waited for
	 * writable), and writable only while output waits. */
	if (PQsetnonblocking(l->pg, 1) != 0 || !link_watch(l))
		connect_failed(l, PQerrorMessage(l->pg));
	else
		setup_send(l);
}

/* Takes the setup step's results as they come whole; sends the next step,
 * or makes l ready after the last. */
static void setup_results(struct pglink *l)
{
	while (l->phase == LINK_SETUP && !PQisBusy(l->pg)) {
		PGresult *res = PQgetResult(l->pg);
		if (res) {
			ExecStatusType want = l->step ? PGRES_COMMAND_OK : PGRES_TUPLES_OK;
			if (PQresultStatus(res) != want && !l->step_failed) {
				l->step_failed = true;
				log_error("could not %s %s: %s", l->step ? "prepare" : "pass",
					  l->step ? l->stmts[l->step - 1].name : "the secret",
					  PQresultErrorMessage(res));
			}
			PQclear(res);
		} else if (l->step_failed) {
			connect_failed(l, "its session could not be set up");
		} else if (l->step < l->nstmts) {
			l->step++;
			setup_send(l);
		} else {
			l->phase = LINK_READY;
			l->retry_ms = PGLINK_RETRY_FIRST_MS;
			timer_set(l, 0);
		}
	}
}

/* Takes the connect on; the socket had what PQconnectPoll() waited for. */
static void connect_poll(struct pglink *l)
{
	l->polling = PQconnectPoll(l->pg);
	if (l->polling == PGRES_POLLING_FAILED)
		connect_failed(l, PQerrorMessage(l->pg));
	else if (l->polling == PGRES_POLLING_OK)
		setup_start(l);
	else if (!link_watch(l))
		connect_failed(l, "its socket could not be watched");
}

static void timer_event(struct front_watch *w)
{
	struct pglink *l = (struct pglink *)((char *)w - offsetof(struct pglink, timer));
	uint64_t rang;
	if (read(l->timer_fd, &rang, sizeof rang) != (ssize_t)sizeof rang)
		return; /* set again since it rang */
	if (l->phase == LINK_DOWN)
		connect_start(l);
	else if (l->phase == LINK_POLLING || l->phase == LINK_SETUP)
		connect_failed(l, "no answer in time");
}

void pglink_use_replica(struct pglink *l)
{
	l->replica = true;
}

enum pglink_state pglink_state(struct pglink *l)
{
	switch (l->phase) {
	case LINK_READY:
		if (l->busy || PQstatus(l->pg) == CONNECTION_OK)
			return PGLINK_READY;
		pglink_close(l); /* lost while idle: connects again at once */
		break;
	case LINK_POLLING:
	case LINK_SETUP:
		return PGLINK_CONNECTING;
	case LINK_DOWN:
		return PGLINK_DOWN;
	case LINK_CLOSED:
		break;
	}
	connect_start(l);
	return l->phase == LINK_DOWN ? PGLINK_DOWN : PGLINK_CONNECTING;
}

/* ---- statements --------------------------------------------------------------- */

bool pglink_busy(const struct pglink *l)
{
	return l->busy;
}

enum msgr_err pglink_send(struct pglink *l, const char *name, int nparams,
			  const char *const *params)
{
	if (l->busy || l->phase != LINK_READY) {
		log_error("%s was sent on a database link that is %s", name,
			  l->busy ? "busy" : "not connected");
		metrics_db_error();
		return MSGR_ERR_DB;
	}
	/* A statement not sent whole (the flush failed) did not run: the
	 * server runs none without its last message. */
	if (!PQsendQueryPrepared(l->pg, name, nparams, params, NULL, NULL, 0) || !link_flush(l)) {
		const char *msg = PQerrorMessage(l->pg);
		log_error("could not send %s: %.*s", name, (int)strcspn(msg, "\n"), msg);
		metrics_db_error();
		pglink_close(l);
		return MSGR_ERR_DB;
	}
	l->busy = true;
	return MSGR_OK;
}

/* The statement is over: res, or NULL when the connection was lost. A
 * result that came as the connection broke (a terminated backend's) does
 * not say what became of the statement: that is a loss too. */
static void link_done(struct pglink *l, PGresult *res)
{
	l->busy = false;
	l->result = NULL;
	if (res && PQstatus(l->pg) == CONNECTION_BAD) {
		PQclear(res);
		res = NULL;
	}
	if (!res)
		pglink_close(l);
	db_count_error(res);
	l->done(l->arg, res);
}

/* Takes the next result libpq has; blocks when it has none yet. */
static void take_result(struct pglink *l)
{
	PGresult *res = PQgetResult(l->pg);
	if (!res)
		link_done(l, l->result);
	else if (l->result)
		PQclear(res);
	else
		l->result = res;
}

/* l's connection failed, or was closed by the server. */
static void link_lost(struct pglink *l)
{
	if (l->phase != LINK_READY) {
		connect_failed(l, PQerrorMessage(l->pg));
	} else if (l->busy) {
		PQclear(l->result);
		l->result = NULL;
		link_done(l, NULL);
	} else {
		pglink_close(l); /* the next statement connects again */
	}
}

static void link_event(struct front_watch *w)
{
	struct pglink *l = (struct pglink *)w;
	if (!l->pg)
		return; /* closed earlier in this round of events */
	if (l->phase == LINK_POLLING) {
		connect_poll(l);
		return;
	}
	if ((l->writing && !link_flush(l)) || !PQconsumeInput(l->pg) ||
	    PQstatus(l->pg) == CONNECTION_BAD) {
		link_lost(l);
		return;
	}
	if (l->phase == LINK_SETUP) {
		setup_results(l);
		return;
	}
	if (!l->busy) {
		/* Input nobody asked for, on an idle link: mostly a backend's
		 * last words (it was terminated) before the close. Reading again
		 * sees the close now, not with the next statement, which would
		 * be lost with it. */
		if (!PQconsumeInput(l->pg) || PQstatus(l->pg) == CONNECTION_BAD)
			pglink_close(l);
		return;
	}
	while (l->busy && l->pg && !PQisBusy(l->pg))
		take_result(l);
}

/* ---- stopping ----------------------------------------------------------------- */

/* Takes a connect in progress to its end, ready or down, waiting on its
 * socket, until the connect's time is up. */
static void connect_wait(struct pglink *l)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (l->phase == LINK_POLLING || l->phase == LINK_SETUP) {
		unsigned wants = link_wants(l);
		struct pollfd p = {
			.fd = l->fd,
			.events = (short)((wants & FRONT_READABLE ? POLLIN : 0) |
					  (wants & FRONT_WRITABLE ? POLLOUT : 0)),
		};
		int left = PGLINK_CONNECT_TIMEOUT_MS - (int)log_ms_since(&start);
		int n = left > 0 ? poll(&p, 1, left) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			connect_failed(l, n ? strerror(errno) : "no answer in time");
		else
			link_event(&l->watch);
	}
}

void pglink_wait(struct pglink *l)
{
	connect_wait(l);
	while (l->busy)
		take_result(l);
}
