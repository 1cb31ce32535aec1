/*
 * search_index.c - the search index kept by the companion (loop.c): the
 * messages queued for indexing (schema/migrations/032_search_index.sql)
 * are written into message_search by search_index_drain(), on a database
 * link of its own, every MSGR_SEARCH_INDEX_MS. Out of the sends'
 * transactions, so a send pays one queue row instead of the index's
 * posting trees; search stays exact meanwhile (search_messages() matches
 * the queued messages of the caller's chats in messages). The companions
 * of several hosts take turns (search_index_drain() says how).
 *
 * Indexing yields to the companion's requests: after a drain that took d
 * while requests came, the next waits at least (SEARCH_INDEX_SHARE - 1) *
 * d, so that it keeps at most 1/SEARCH_INDEX_SHARE of a database
 * connection busy. A RUM insert costs ~0.15 ms of CPU a message: indexing
 * 4,000 sends a second as they come would take a third of a 2-core
 * machine from the sends. So a burst is indexed mostly after it (~1,500
 * messages a second while requests come, ~6,000 once none do), its
 * messages found in the queue until then: searches in its chats read them
 * from messages, slower by ~2.5 µs a queued message.
 *
 * With the companion off (MSGR_SEND_BATCH=0), the master's periodic job
 * (main.c) drains the queue instead, with search_index_drain_all().
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "front.h"
#include "log.h"
#include "messages.h"
#include "pglink.h"

#define DRAIN_STATEMENT "search_index_drain"
#define DRAIN_SQL "SELECT search_index_drain($1::int)"
#define SEARCH_INDEX_SHARE 4

static const struct pglink_statement drain_statements[] = {
	{DRAIN_STATEMENT, DRAIN_SQL, 1},
};

static struct front *loop;
static struct pglink *drain_link;
static struct front_watch tick;
static int tick_fd = -1;
static long batch;             /* messages a drain takes at most */
static char batch_param[24];   /* the same, as the statement's parameter */
static struct timespec drain_started; /* CLOCK_MONOTONIC */
static double hold_ms; /* since drain_started, before the next drain */
static bool requests_came; /* since the last drain began */

static long batch_setting(void)
{
	return config_int("MSGR_SEARCH_INDEX_BATCH", 2000, 1, 1000000);
}

static void drain_next(void)
{
	if (pglink_state(drain_link) != PGLINK_READY || pglink_busy(drain_link))
		return;
	if (log_ms_since(&drain_started) < hold_ms)
		return;
	const char *params[] = {batch_param};
	clock_gettime(CLOCK_MONOTONIC, &drain_started);
	requests_came = false;
	if (pglink_send(drain_link, DRAIN_STATEMENT, 1, params) != MSGR_OK)
		hold_ms = 0; /* refused, and logged: the next tick tries again */
}

static void drain_done(void *arg, PGresult *res)
{
	(void)arg;
	bool more = false;
	if (db_ok(res))
		more = atol(PQgetvalue(res, 0, 0)) >= batch;
	else if (res)
		log_error("could not index messages for search: %s", PQresultErrorMessage(res));
	PQclear(res);
	/* Waiting (SHARE - 1) times the drain's d after it: SHARE times d from its start. */
	hold_ms = requests_came ? SEARCH_INDEX_SHARE * log_ms_since(&drain_started) : 0;
	if (more && !requests_came)
		drain_next();
}

void search_index_yield(void)
{
	requests_came = true;
}

static void tick_ready(struct front_watch *w)
{
	(void)w;
	uint64_t rang;
	while (read(tick_fd, &rang, sizeof rang) == sizeof rang)
		;
	drain_next();
}

bool search_index_start(struct front *f)
{
	long every_ms = config_int("MSGR_SEARCH_INDEX_MS", 250, 10, 60000);
	batch = batch_setting();
	snprintf(batch_param, sizeof batch_param, "%ld", batch);
	loop = f;
	drain_link = pglink_new(f, drain_statements, 1, drain_done, NULL);
	if (!drain_link)
		return false;
	tick.ready = tick_ready;
	tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct itimerspec every = {
		.it_interval = {.tv_sec = every_ms / 1000, .tv_nsec = (every_ms % 1000) * 1000000L},
		.it_value = {.tv_sec = every_ms / 1000, .tv_nsec = (every_ms % 1000) * 1000000L},
	};
	if (tick_fd < 0 || timerfd_settime(tick_fd, 0, &every, NULL) != 0 ||
	    front_watch(f, tick_fd, &tick, FRONT_READABLE) != MSGR_OK) {
		log_error("could not make the search index's timer: %s", strerror(errno));
		return false;
	}
	pglink_state(drain_link); /* connecting now, not on the first tick */
	return true;
}

void search_index_finish(void)
{
	pglink_wait(drain_link);
	pglink_free(drain_link);
	drain_link = NULL;
	if (tick_fd >= 0) {
		front_unwatch(loop, tick_fd);
		close(tick_fd);
	}
	tick_fd = -1;
}

long search_index_drain_all(void)
{
	DB_STMT(drain, 1, DRAIN_SQL);
	long limit = batch_setting();
	char limit_param[24];
	snprintf(limit_param, sizeof limit_param, "%ld", limit);
	const char *params[] = {limit_param};
	long total = 0, n;
	do {
		PGresult *res = db_exec(&drain, params);
		if (!db_ok(res)) {
			log_error("could not index messages for search: %s",
				  res ? PQresultErrorMessage(res) : "no database connection");
			PQclear(res);
			break;
		}
		n = atol(PQgetvalue(res, 0, 0));
		total += n;
		PQclear(res);
	} while (n >= limit);
	return total;
}
