/*
 * server.h - a pre-forked FastCGI server.
 *
 * srv_main() opens the listening socket (MSGR_<NAME>_SOCKET or --socket), forks
 * MSGR_WORKERS workers (or --workers) that accept and dispatch requests,
 * and restarts any worker that dies. SIGTERM or SIGINT to the master stops
 * the workers and then the master. Each request is logged on one line.
 */
#ifndef MSGR_SERVER_H
#define MSGR_SERVER_H

#include <stddef.h>

#include "http.h"

struct srv_app {
	const char *name; /* "auth": the log prefix and the socket variable */
	const struct http_route *routes;
	size_t nroutes;
	/* Called once in each worker after it connects to the database; may
	 * be NULL. Returns 0, or non-zero to make the worker exit. */
	int (*init_worker)(void);
};

int srv_main(int argc, char **argv, const struct srv_app *app);

#endif
