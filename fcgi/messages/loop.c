/*
 * loop.c - the messages program's event loop (messages.h): the companion
 * process that serves what nginx passes to "<socket>.loop", JSON sends
 * and history reads, with the routes' loop handlers.
 *
 * Each request is read, checked and answered by the very code a worker
 * runs (send.c, history.c), but nothing waits: the database work goes to
 * send_loop.c and history_loop.c, which answer on their connections'
 * events while the loop (shared/front.h) reads the next requests. So one
 * process serves what many workers did, without the two process switches
 * a worker waiting for the database costs per request, and many requests
 * share one statement.
 */
#include "config.h"
#include "front.h"
#include "log.h"
#include "messages.h"
#include "pagecache.h"

/* After each round of events: the statements for what the round queued,
 * one for many. */
static void loop_round_end(void *arg)
{
	(void)arg;
	send_loop_next();
	history_loop_next();
}

/* Stopping: sends written, reads rendered, each answered. */
static void loop_finish(void *arg)
{
	(void)arg;
	send_loop_finish();
	history_loop_finish();
	search_index_finish();
}

void messages_loop(int listen_fd, const struct http_route *routes, size_t nroutes)
{
	page_cache_set_budget((size_t)config_int("MSGR_PAGE_CACHE_KB", 8192, 0, 1048576) * 1024);
	const struct front_config cfg = {
		.routes = routes,
		.nroutes = nroutes,
		.body_limit = MESSAGES_BODY_LIMIT,
		.round_end = loop_round_end,
		.finish = loop_finish,
	};
	struct front *f = front_new(listen_fd, &cfg);
	int read_links = (int)config_int("MSGR_READ_LINKS", 4, 1, 64);
	if (!f || !send_loop_start(f) || !history_loop_start(f, read_links) ||
	    !search_index_start(f)) {
		log_error("the companion could not start");
		front_free(f);
		return;
	}
	log_info("serving sends, written in batches, and reads on %d connections", read_links);
	front_serve(f);
	front_free(f);
}
