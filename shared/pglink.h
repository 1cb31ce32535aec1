/*
 * pglink.h - an asynchronous PostgreSQL connection of an event loop
 * (front.h): a "link", with one prepared statement in flight at a time.
 *
 * A link connects as a worker's connection is set up (db.h's
 * db_conn_params() and DB_SECRET_SQL), with its statements prepared, and
 * runs them with PQsendQueryPrepared(); its socket is watched by the loop,
 * and the statement's outcome is passed to the link's callback from there,
 * while the loop serves everything else. The caller keeps its own queue,
 * and sends the next statement when the link is no longer busy (its
 * callback may send it at once).
 *
 * Nothing waits for the database: connecting (PQconnectPoll()), passing
 * the secret and preparing each statement are steps taken on the socket's
 * events, and the socket is non-blocking, written as it can take more.
 * So a link is in one of three states (pglink_state()):
 *   - ready: a statement may be sent;
 *   - connecting: the caller keeps its work queued. The connect ends, ready
 *     or down, on an event of the loop, and so before the round's
 *     front_config.round_end, where the caller sends it (or answers it);
 *   - down: the last connect failed (logged). The caller answers what it
 *     has queued as it would without a database (503). The link tries
 *     again on its own, after 100 ms, doubling up to 2 s while it fails; a
 *     connect that has not ended in 5 s has failed.
 * A link that has no connection (new, or lost) connects when asked for its
 * state. Only pglink_wait() waits, for a process that stops. (Resolving a
 * host name waits too, inside libpq: the database is named by a socket
 * directory or an address.)
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
 *     and the next pglink_state() connects anew.
 * A statement pglink_send() refused never reached the database (or never
 * whole: it did not run). The callback is never called from pglink_send()
 * itself, nor for a connect.
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
 * its connections; not connected yet. NULL when it cannot be made (out of
 * memory, no timer: logged). */
struct pglink *pglink_new(struct front *f, const struct pglink_statement *stmts, size_t n,
			  pglink_done_fn done, void *arg);
/* Closes the connection and frees the link; no statement may be in
 * flight (pglink_wait() first). Accepts NULL. */
void pglink_free(struct pglink *l);

/* Makes l connect to the read replica (db.h: MSGR_DATABASE_REPLICA_URL)
 * instead of the primary; before l's first pglink_state(). */
void pglink_use_replica(struct pglink *l);

enum pglink_state {
	PGLINK_READY,      /* connected: a statement may be sent */
	PGLINK_CONNECTING, /* work waits; the state changes on a loop event */
	PGLINK_DOWN,       /* could not connect: work is answered without */
};
/* Where l stands; a link without a connection (and not down) starts
 * connecting here. Never waits. A busy link is ready. */
enum pglink_state pglink_state(struct pglink *l);
/* True while a statement is in flight. */
bool pglink_busy(const struct pglink *l);
/* Sends the prepared statement name with nparams text parameters (NULL =
 * SQL NULL), on a link that is ready and not busy; what the socket cannot
 * take at once goes when it can. An error when it could not be sent
 * (logged; the link is closed then). */
enum msgr_err pglink_send(struct pglink *l, const char *name, int nparams,
			  const char *const *params) MSGR_WUR;
/* Waits for a connect in progress to end (ready or down), then for the
 * outcome of the statement in flight, if any, and passes it on; again for
 * any statement the callback sends. Only when the process stops. */
void pglink_wait(struct pglink *l);
/* Closes the link's connection (nothing in flight), or gives up its
 * connect; the next pglink_state() connects again, at once. */
void pglink_close(struct pglink *l);

#endif
