/*
 * messages - everything inside a chat (API.md "Chats and messages"):
 * history, sending (JSON or multipart with files), editing, deleting,
 * reactions, read markers, and search over the caller's chats.
 *
 * Settings: MSGR_SEND_RATE (messages a second per user, default 20, 0 turns
 * the limit off) and MSGR_SEND_BURST (how many may come at once, default
 * the rate); beyond them a send is 429 with Retry-After.
 * MSGR_EVENT_RETENTION_DAYS (default 7): the master prunes older events every
 * MSGR_PRUNE_INTERVAL seconds (default 3600). MSGR_PAGE_CACHE_KB (default
 * 8192, 0 = off): the memory each process (the loop, each worker) may
 * keep rendered history pages in.
 * nginx passes JSON sends and history reads to the socket "<socket>.loop"
 * (the routes below with a loop handler: `messages --routes`).
 * MSGR_SEND_BATCH (default 1; 0 = off): a companion process serves it from
 * an event loop (loop.c), writing plain text sends in batches
 * (send_loop.c) and checking kept pages in batches on MSGR_READ_LINKS
 * (default 4) database connections (history_loop.c); off,
 * MSGR_SEND_WORKERS (default 4) workers serve it with the worker handlers.
 * The companion also writes the search index, every MSGR_SEARCH_INDEX_MS
 * (default 250) at most MSGR_SEARCH_INDEX_BATCH (default 2000) messages a
 * statement (search_index.c); the master's periodic job too.
 */
#include "config.h"
#include "messages.h"
#include "pagecache.h"
#include "server.h"
#include "upload.h"

struct messages_config messages_config;

/* Who serves what: the worker's handler, and the event loop's where it
 * has one (nginx's map of the loop socket is checked against this:
 * tests/integration/test_routes.py). */
static const struct http_route routes[] = {
	{"GET", "/api/chats/{chat_id}/messages", handle_history, history_loop},
	{"POST", "/api/chats/{chat_id}/messages", handle_send, send_loop},
	{"POST", "/api/chats/{chat_id}/read", handle_read, NULL},
	{"PATCH", "/api/messages/{message_id}", handle_edit, NULL},
	{"DELETE", "/api/messages/{message_id}", handle_delete, NULL},
	{"POST", "/api/messages/{message_id}/forward", handle_forward, NULL},
	{"PUT", "/api/messages/{message_id}/reactions/{emoji}", handle_react, NULL},
	{"DELETE", "/api/messages/{message_id}/reactions/{emoji}", handle_unreact, NULL},
	{"GET", "/api/messages/{message_id}/reactions", handle_reactors, NULL},
	{"POST", "/api/messages/{message_id}/report", handle_report, NULL},
	{"GET", "/api/search/messages", handle_search, NULL},
};

static void read_send_limits(void)
{
	long rate = config_int("MSGR_SEND_RATE", 20, 0, 1000000);
	long burst = config_int("MSGR_SEND_BURST", rate > 0 ? rate : 1, 1, 1000000);
	messages_config.send_rate = (double)rate;
	messages_config.send_burst = (double)burst;
}

/* The master's periodic job: old events pruned; and what the companion
 * has not indexed yet (all that is queued while it is off). */
static void periodic_job(void)
{
	prune_old_events();
	search_index_drain_all();
}

static void run_companion(int listen_fd)
{
	read_send_limits();
	messages_loop(listen_fd, routes, sizeof routes / sizeof routes[0]);
}

static int init_worker(void)
{
	read_send_limits();
	page_cache_set_budget((size_t)config_int("MSGR_PAGE_CACHE_KB", 8192, 0, 1048576) * 1024);
	/* Multipart sends store files; deletes remove them. */
	return upload_init();
}

int main(int argc, char **argv)
{
	bool batching = config_int("MSGR_SEND_BATCH", 1, 0, 1) != 0;
	struct srv_app app = {
		.name = "messages",
		.routes = routes,
		.nroutes = sizeof routes / sizeof routes[0],
		.init_worker = init_worker,
		.periodic = periodic_job,
		.periodic_secs = (unsigned)config_int("MSGR_PRUNE_INTERVAL", 3600, 1, 86400),
		.companion = batching ? run_companion : NULL,
		.companion_suffix = ".loop",
		.wait_pool = {batching ? NULL : ".loop",
			      config_int("MSGR_SEND_WORKERS", 4, 1, 200)},
	};
	return srv_main(argc, argv, &app);
}
