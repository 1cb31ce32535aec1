/*
 * wsd - the realtime daemon (API.md "Realtime"): WebSocket connections at
 * /ws behind nginx, fed from the events table. wsd.h lists the modules;
 * settings.h the arguments and environment; lifecycle.h what the signals
 * do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <libwebsockets.h>

#include "bus.h"
#include "fanout.h"
#include "feed.h"
#include "lifecycle.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "members.h"
#include "pg.h"
#include "presence.h"
#include "context.h"
#include "session.h"
#include "settings.h"
#include "user.h"
#include "wsd.h"

struct wsd W;

uint64_t wsd_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct pg_conn *wsd_conn_for(int64_t user_id)
{
	return W.work[(uint64_t)user_id % W.nwork];
}

/* The connections for per-user queries, presence and acks. */
static bool open_work_conns(void)
{
	W.nwork = (unsigned)W.cfg.work_conns;
	W.work = calloc(W.nwork, sizeof *W.work);
	for (unsigned i = 0; W.work && i < W.nwork; i++) {
		char name[16];
		snprintf(name, sizeof name, "work%u", i);
		if (!(W.work[i] = pg_conn_new(W.context, W.pg_vhost, name, W.conninfo, NULL, NULL)))
			return false;
	}
	return W.work != NULL;
}

/* The feed's events and notifications, to the modules that act on them. */
static void on_event(void *arg, const struct event *ev)
{
	(void)arg;
	fanout_event(ev);
}

static void on_live(void *arg)
{
	(void)arg;
	members_feed_live();
}

static void on_bus(void *arg, const char *payload)
{
	(void)arg;
	bus_receive(payload);
}

/* Revocations notified while msgr_wsd was not listened to are lost: every
 * connection asks again whether its login session is live. */
static void on_relisten(void *arg)
{
	(void)arg;
	session_recheck_all();
}

static const struct feed_ops feed_ops = {
	.event = on_event, .live = on_live, .bus = on_bus, .relisten = on_relisten};

/* After lws_context_destroy(), whose close callbacks still use it all. */
static void free_all(void)
{
	for (unsigned i = 0; i < W.nwork; i++)
		pg_conn_free(W.work[i]);
	free(W.work);
	members_free();
	user_free_all();
	presence_free();
	fanout_free();
	settings_free();
}

/* The counters file (metrics.h), where the FastCGI programs keep theirs;
 * none for wsd on a TCP port without MSGR_RUN_DIR. */
static void open_metrics(const struct wsd_listen *where)
{
	char dir[4096];
	if (config_run_dir(where->socket, dir, sizeof dir) &&
	    metrics_open(dir, "wsd", NULL, 0) != MSGR_OK)
		log_error("going on without metrics");
}

int main(int argc, char **argv)
{
	struct wsd_listen where;
	log_init("wsd");
	int rc = settings_read(argc, argv, &where);
	if (rc >= 0)
		return rc;
	lifecycle_signals();
	if ((rc = context_create(&where)))
		return rc;
	open_metrics(&where);
	if (!open_work_conns()) {
		log_error("out of memory at start-up");
		return 1;
	}
	presence_start();
	if (!feed_start(&feed_ops, NULL)) {
		log_error("out of memory at start-up");
		return 1;
	}
	log_info("listening on %s (instance %s)", where.socket ? where.socket : where.addr,
		 W.wsd_id);
	lifecycle_run();
	lws_context_destroy(W.context);
	free_all();
	metrics_remove();
	log_info("stopped");
	return 0;
}
