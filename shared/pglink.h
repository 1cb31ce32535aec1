/*
 * pglink.h - an asynchronous PostgreSQL connection of an event loop
 * (front.h): a "link", with one prepared statement in flight at a time.
 *
 * A link connects (db_open(), as a worker's connection is set up) with
 * its statements prepared, and runs them with PQsendQueryPrepared(); its
 * socket is watched by the loop, and the statement's outcome is passed to
 * the link's callback from there, while the loop serves everything else.
 * The caller keeps its own queue, and sends the next statement when the
 * link is no longer busy (its callback may send it at once).
 *
 * Exactly once per statement sent (pglink_send() returned MSGR_OK), the
 * callback gets its outcome:
 *   - a result (the callback owns it and PQclear()s it), which may be an
 *     error result: the statement failed, on a live connection, and so
 *     wrote nothing;
 *   - NULL: the connection was lost before the whole result came (or with
 *     it: a backend terminated while it answered). The statement may or
 *     may not have committed; the caller decides whether to send it again
 *     (one with an idempotency key may go again). The link is closed then,
 *     and the next pglink_ready() connects anew.
 * A statement pglink_send() refused never reached the database. The
 * callback is never called from pglink_send() itself.
 *
 * Not everything is asynchronous: connecting and preparing wait for the
 * database (at start, and on the first use after a loss), as does sending
 * a statement's parameters (the socket is in blocking mode; they are small),
 * and pglink_wait(), which is only for a process that stops.
 */
#ifndef MSGR_PGLINK_H
#define MSGR_PGLINK_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct front;
struct pglink;

/* A statement prepared on each of a link's connections. */
struct pglink_statement {
	const char *name;
	const char *sql;
	int nparams;
};

/* The outcome of the statement sent: res, which the callback takes, or
 * NULL when the connection was lost. */
typedef void (*pglink_done_fn)(void *arg, PGresult *res);

/* A link of loop f, with stmts (which must outlive it) prepared on each of
 * its connections; not connected yet. NULL when out of memory (logged). */
struct pglink *pglink_new(struct front *f, const struct pglink_statement *stmts, size_t n,
			  pglink_done_fn done, void *arg);
/* Closes the connection and frees the link; no statement may be in
 * flight (pglink_wait() first). Accepts NULL. */
void pglink_free(struct pglink *l);

/* True when the link is connected, connecting it first when it is not
 * (which waits); false when it cannot be (logged). */
bool pglink_ready(struct pglink *l);
/* True while a statement is in flight. */
bool pglink_busy(const struct pglink *l);
/* Sends the prepared statement name with nparams text parameters (NULL =
 * SQL NULL), on a link that is ready and not busy. An error when it could
 * not be sent (logged; the link is closed then). */
enum msgr_err pglink_send(struct pglink *l, const char *name, int nparams,
			  const char *const *params) MSGR_WUR;
/* Waits for the outcome of the statement in flight, if any, and passes it
 * on; again for any statement the callback sends. When the process stops. */
void pglink_wait(struct pglink *l);
/* Closes the link's connection (nothing in flight); the next
 * pglink_ready() connects again. */
void pglink_close(struct pglink *l);

#endif
