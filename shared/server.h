/*
 * server.h - a pre-forked FastCGI server.
 *
 * srv_main() opens the listening socket (MSGR_<NAME>_SOCKET or --socket), forks
 * MSGR_WORKERS workers (or --workers) that accept and dispatch requests,
 * and restarts any worker that dies; it may also run a periodic job
 * (srv_app.periodic). SIGTERM or SIGINT to the master stops the workers and
 * then the master. Each request is logged on one line. `PROGRAM --routes`
 * prints the route table instead: "METHOD PATTERN", and " loop" for the
 * routes the companion's event loop serves too.
 *
 * A program may have a second pool of workers (srv_app.wait_pool), or a
 * companion: one process beside the workers, serving a FastCGI socket of
 * its own from an event loop, for requests better served in one place than
 * in each worker (the messages program writes sends in batches): its
 * loop is shared/front.h.
 */
#ifndef MSGR_SERVER_H
#define MSGR_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/epoll.h>

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
	 * when the next is due makes that one skipped, and so does one that
	 * finds the job's lock taken (srv_periodic_lock: another host's run).
	 * SIGTERM to the master stops a run. */
	void (*periodic)(void);
	unsigned periodic_secs;
	/* The companion, or NULL. The master listens on the FastCGI socket's
	 * path + companion_suffix (with the same permissions) and passes the
	 * listening descriptor, so connections wait there while the companion
	 * restarts. The companion runs in a child until srv_stopping(),
	 * waiting only in srv_companion_wait(), without a worker's database
	 * connection (its loop has links of its own, pglink.h); it is
	 * restarted when it ends, and stopped after the workers. */
	void (*companion)(int listen_fd);
	const char *companion_suffix;
	/* A second pool of workers with a socket of its own, at the FastCGI
	 * socket's path + suffix, for the requests nginx passes there (the
	 * messages program's sends, when no companion batches them). No
	 * suffix or no workers: none. */
	struct srv_pool {
		const char *suffix;
		long workers;
	} wait_pool;
};

/* Takes the advisory lock of the periodic job of program name for this
 * process's database session (until it disconnects); false when another
 * process, on any host, holds it (that one is doing the job now) or the
 * database could not be asked. Taken by the master's periodic child before
 * app->periodic, and by one-off runs of the same job (files --sweep). */
bool srv_periodic_lock(const char *name);

/* In the companion: true once SIGTERM or SIGINT asked it to stop. */
bool srv_stopping(void);
/* In the companion: epoll_wait() without a time limit, which a stop
 * interrupts (-1, EINTR), even one asked for just before the call. */
int srv_companion_wait(int epoll_fd, struct epoll_event *events, int max_events);

/* The directory of the programs' sockets (and of metrics.h's files):
 * MSGR_RUN_DIR, or else the directory of this program's own socket. */
const char *srv_run_dir(void);

int srv_main(int argc, char **argv, const struct srv_app *app);

#endif
