/*
 * pg.h - asynchronous PostgreSQL connections inside the lws event loop.
 *
 * A struct pg_conn owns one libpq connection whose socket is adopted into
 * the loop (a dup of it, as an lws raw file descriptor: lws closes its copy,
 * libpq its own). Nothing here ever blocks: connecting is PQconnectPoll(),
 * queries are PQsendQueryParams() and results are collected with
 * PQconsumeInput()/PQisBusy() when the socket is readable.
 *
 * Queries run one at a time, first in first out, so that a caller can rely
 * on the order of its own statements. A query survives the loss of the
 * connection: one that was sent but not answered is sent again after the
 * reconnect (so every statement given here must be safe to repeat), and
 * the reconnect backs off from 100 ms to 5 s. The result callback therefore
 * sees every query answered exactly once, with a PGresult that may be an
 * error result (a statement that failed), never NULL.
 */
#ifndef WSD_PG_H
#define WSD_PG_H

#include <libpq-fe.h>
#include <libwebsockets.h>
#include <stdbool.h>

struct pg_conn;
struct pg_query;

/* The result callback. res belongs to the caller of the callback: it is
 * cleared when the callback returns. */
typedef void (*pg_result_cb)(void *arg, const PGresult *res);

struct pg_conn_ops {
	/* The connection is (again) ready, before any queued query is sent:
	 * the place to queue LISTEN with pg_query_first(). May be NULL. */
	void (*connected)(struct pg_conn *c, void *arg);
	/* The connection was lost (the queue is kept). May be NULL. */
	void (*lost)(struct pg_conn *c, void *arg);
	/* A notification arrived (channel, payload). May be NULL. */
	void (*notify)(void *arg, const char *channel, const char *payload);
};

/* The raw-file protocol that pg connections are bound to: put it in the
 * protocol list of the vhost given to pg_conn_new(). */
int pg_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len);
#define PG_LWS_PROTOCOL "msgr-pg"

/* A new connection named name (for the log), connecting at once with
 * conninfo (a libpq connection string or URI, copied); its socket is
 * adopted into vh of cx. ops may be NULL. Returns NULL when out of memory. */
struct pg_conn *pg_conn_new(struct lws_context *cx, struct lws_vhost *vh, const char *name,
			    const char *conninfo, const struct pg_conn_ops *ops, void *arg);
/* Closes the connection for good (no reconnect; queries still queue but
 * never run): before lws_context_destroy(), whose close callbacks may
 * still queue or cancel queries. */
void pg_conn_shutdown(struct pg_conn *c);
/* Shuts down and frees the connection and its queue without calling back.
 * Accepts NULL. */
void pg_conn_free(struct pg_conn *c);
bool pg_conn_ready(const struct pg_conn *c);
/* Queries waiting or running on the connection. */
unsigned pg_conn_queued(const struct pg_conn *c);

/* A statement that is prepared once per connection, on first use (and
 * again after a reconnect), so that hot queries are not planned at every
 * execution. Declare with PG_STMT (a static, at file or function scope); at
 * most 64 in a process. */
struct pg_stmt {
	const char *sql;
	int id; /* assigned on first use */
};
#define PG_STMT(var, sql_) static struct pg_stmt var = {sql_, 0}

/* Queues a prepared statement; otherwise as pg_query(). */
struct pg_query *pg_exec(struct pg_conn *c, struct pg_stmt *st, int nparams,
			 const char *const *params, pg_result_cb cb, void *arg);

/* Queues a statement with nparams text parameters (NULL = SQL NULL; all
 * copied). Returns a handle for pg_query_cancel(), or NULL when out of
 * memory (then cb is never called). */
struct pg_query *pg_query(struct pg_conn *c, const char *sql, int nparams,
			  const char *const *params, pg_result_cb cb, void *arg);
/* The same, ahead of everything queued but not yet sent. */
struct pg_query *pg_query_first(struct pg_conn *c, const char *sql, int nparams,
				const char *const *params, pg_result_cb cb, void *arg);
/* Makes sure cb will not be called for q; q is invalid afterwards. */
void pg_query_cancel(struct pg_query *q);

/* A result callback for statements whose answer only matters when it is
 * an error: logs "<what> failed: <message>"; what (the arg) is a static
 * string naming the statement. */
void pg_log_failure(void *what, const PGresult *res);

#endif
