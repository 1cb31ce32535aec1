/*
 * lifecycle.c - the process from the first tick to the teardown.
 */
#include "lifecycle.h"

#include <signal.h>
#include <stdbool.h>

#include <libwebsockets.h>

#include "ack.h"
#include "feed.h"
#include "log.h"
#include "pg.h"
#include "presence.h"
#include "session.h"
#include "wsd.h"

#define CLOSE_SLICE 500 /* connections closing at once while stopping */

static volatile sig_atomic_t got_stop, got_hup;
static lws_sorted_usec_list_t sul_tick;
static uint64_t stop_deadline, next_sweep;
static enum { RUNNING, DRAINING, DEREGISTERING, DONE, TORN_DOWN } phase;

void lifecycle_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = 1;
}

void lifecycle_signals(void)
{
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = lifecycle_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void deregistered(void)
{
	phase = DONE;
}

/* Before lws_context_destroy(): database sockets first, so that lws closing
 * them is not taken for a lost connection (the connections themselves stay
 * until every session's close callback has run), and every timer, which
 * lives in the context. */
static void teardown(void)
{
	feed_stop();
	for (unsigned i = 0; i < W.nwork; i++)
		pg_conn_shutdown(W.work[i]);
	presence_timers_off();
	ack_free();
	phase = TORN_DOWN;
	if (W.event_lib)
		lws_context_destroy(W.context); /* ends the loop: lws_service() returns */
}

/* One step of the stop sequence: close every connection with 1001, then
 * take this process's users offline. */
static void stop_step(uint64_t now)
{
	if (phase == DRAINING)
		session_close_all(CLOSE_SLICE);
	if (phase == DRAINING && (!session_count() || now >= stop_deadline)) {
		phase = DEREGISTERING;
		stop_deadline = now + 4000; /* stack.sh waits 10 s in all */
		log_info("stopping: %u connections left; taking this instance's users offline",
			 session_count());
		ack_flush_now();
		presence_stop(deregistered);
	} else if (phase == DEREGISTERING && now >= stop_deadline) {
		log_error("could not take this instance's users offline: exiting anyway");
		phase = DONE;
	}
}

/* Signals, the once-a-second sweep, and the stop sequence. */
static void tick(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	uint64_t now = wsd_now_ms();
	if (got_hup) {
		got_hup = 0;
		log_info("SIGHUP: nothing to reload");
	}
	if (got_stop && phase == RUNNING) {
		phase = DRAINING;
		W.stopping = true;
		stop_deadline = now + 4000;
		log_info("stopping: closing %u connections", session_count());
	}
	if (now >= next_sweep) {
		session_sweep();
		next_sweep = now + 1000;
	}
	stop_step(now);
	if (phase == DONE) {
		teardown();
		return;
	}
	lws_sul_schedule(W.context, 0, &sul_tick, tick,
			 (phase == RUNNING ? 200 : 50) * LWS_US_PER_MS);
}

void lifecycle_run(void)
{
	lws_sul_schedule(W.context, 0, &sul_tick, tick, LWS_US_PER_SEC);
	/* With an event library lws_service() runs the loop until teardown()
	 * destroys the context; with poll() it returns after each wakeup. */
	while (phase != TORN_DOWN)
		if (lws_service(W.context, 0) < 0 && !W.event_lib)
			break;
	if (phase != TORN_DOWN)
		teardown();
}
