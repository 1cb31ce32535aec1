/*
 * server.h - a pre-forked FastCGI server.
 *
 * srv_main() opens the listening socket (MSGR_<NAME>_SOCKET or --socket), forks
 * MSGR_WORKERS workers (or --workers) that accept and dispatch requests,
 * and restarts any worker that dies; it may also run a periodic job
 * (srv_app.periodic). SIGTERM or SIGINT to the master stops the workers and
 * then the master. Each request is logged on one line.
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
	/* A periodic job (a cleanup sweep), or NULL. The master runs it in a
	 * child process of its own, with a database connection, a few seconds
	 * after start and then every periodic_secs seconds; a run still going
	 * when the next is due makes that one skipped. SIGTERM to the master
	 * stops a run. */
	void (*periodic)(void);
	unsigned periodic_secs;
};

int srv_main(int argc, char **argv, const struct srv_app *app);

#endif
