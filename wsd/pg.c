/*
 * pg.c - asynchronous PostgreSQL connections inside the lws event loop
 * (see pg.h for the contract).
 */
#include "pg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "metrics.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_US (10 * LWS_US_PER_SEC)

/* One queued statement and its copied parameters, in one allocation. */
struct pg_query {
	struct pg_query *next;
	struct pg_conn *conn;
	pg_result_cb cb; /* NULL once cancelled */
	void *arg;
	const char *sql;
	struct pg_stmt *stmt; /* a prepared statement, or NULL */
	int nparams;
	bool sent;      /* on the wire, answer not yet complete */
	bool preparing; /* what is on the wire is its PQsendPrepare */
	const char *params[];
};

enum pg_state { PG_DOWN, PG_CONNECTING, PG_READY };

/* Lifetime: from pg_conn_new() to pg_conn_free(); the wsi (a dup of the
 * libpq socket) is replaced on every reconnect. */
struct pg_conn {
	char *name;
	char *conninfo;
	struct lws_context *cx;
	struct lws_vhost *vh;
	const struct pg_conn_ops *ops;
	void *arg;
	PGconn *pg;
	struct lws *wsi;       /* the adopted dup, or NULL */
	struct lws *servicing; /* the wsi whose callback is running */
	int sock;              /* PQsocket() when wsi was adopted */
	enum pg_state state;
	struct pg_query *head, *tail; /* head is the one sent, if any */
	unsigned queued;
	uint64_t prepared; /* pg_stmt ids prepared on this connection */
	PGresult *result;  /* the answer being collected for head */
	lws_sorted_usec_list_t sul_retry;
	lws_sorted_usec_list_t sul_timeout;
	unsigned backoff_ms;
	bool was_ready; /* connected at least once: say "reconnected" */
	bool shut;      /* pg_conn_shutdown(): never again */
	bool down_logged;
};

static void start_connect(struct pg_conn *c);
static void send_next(struct pg_conn *c);

static struct lws_context *conn_context(const struct pg_conn *c)
{
	return c->cx;
}

/* Hands the adopted descriptor back to lws to close: at once when its own
 * callback is running (the callback returns -1), else at the next timeout
 * check, never from inside another connection's callback. */
static void detach_wsi(struct pg_conn *c)
{
	if (!c->wsi)
		return;
	lws_set_opaque_user_data(c->wsi, NULL);
	if (c->wsi != c->servicing)
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	c->wsi = NULL;
}

static bool adopt_socket(struct pg_conn *c)
{
	int sock = PQsocket(c->pg);
	if (sock < 0)
		return false;
	int fd = fcntl(sock, F_DUPFD_CLOEXEC, 3);
	if (fd < 0) {
		log_error("pg %s: could not duplicate the database socket: %s", c->name,
			  strerror(errno));
		return false;
	}
	lws_sock_file_fd_type u;
	u.filefd = fd;
	/* On failure lws closes fd itself. */
	struct lws *wsi = lws_adopt_descriptor_vhost(c->vh, LWS_ADOPT_RAW_FILE_DESC, u,
						     PG_LWS_PROTOCOL, NULL);
	if (!wsi) {
		log_error("pg %s: could not adopt the database socket", c->name);
		return false;
	}
	lws_set_opaque_user_data(wsi, c);
	c->wsi = wsi;
	c->sock = sock;
	return true;
}

static void retry_cb(lws_sorted_usec_list_t *sul)
{
	struct pg_conn *c = lws_container_of(sul, struct pg_conn, sul_retry);
	if (!c->shut)
		start_connect(c);
}

/* Closes the libpq connection and forgets what it had prepared; the
 * queue stays, its head to be sent again. */
static void drop_pg(struct pg_conn *c)
{
	lws_sul_cancel(&c->sul_timeout);
	detach_wsi(c);
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
	c->state = PG_DOWN;
	PQclear(c->result);
	c->result = NULL;
	c->prepared = 0;
	if (c->head)
		c->head->sent = c->head->preparing = false;
}

/* The connection is gone (or never came): drop it, keep the queue (the
 * statement in flight will be sent again) and try again later. */
static void conn_lost(struct pg_conn *c, const char *why)
{
	if (!c->down_logged) {
		log_error("pg %s: database connection %s: %.*s", c->name,
			  c->state == PG_READY ? "lost" : "failed", (int)strcspn(why, "\n"), why);
		c->down_logged = true;
	}
	bool was_ready = c->state == PG_READY;
	drop_pg(c);
	if (was_ready && c->ops->lost)
		c->ops->lost(c, c->arg);
	lws_sul_schedule(conn_context(c), 0, &c->sul_retry, retry_cb,
			 (lws_usec_t)c->backoff_ms * LWS_US_PER_MS);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static void timeout_cb(lws_sorted_usec_list_t *sul)
{
	struct pg_conn *c = lws_container_of(sul, struct pg_conn, sul_timeout);
	if (c->state == PG_CONNECTING)
		conn_lost(c, "timed out");
}

static void start_connect(struct pg_conn *c)
{
	/* Named as the log names the process ("wsd[pid]"), as the other
	 * programs' sessions are (shared/db.c): pg_stat_activity tells whose
	 * each session is, wsd's of several hosts or instances apart. */
	char name[64];
	log_process_name(name, sizeof name);
	static const char *const keys[] = {"dbname", "application_name", NULL};
	const char *values[] = {c->conninfo, name, NULL};
	c->pg = PQconnectStartParams(keys, values, 1);
	c->state = PG_CONNECTING;
	if (!c->pg) {
		conn_lost(c, "out of memory");
		return;
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	if (!adopt_socket(c)) {
		conn_lost(c, "could not watch the socket");
		return;
	}
	lws_sul_schedule(conn_context(c), 0, &c->sul_timeout, timeout_cb, CONNECT_TIMEOUT_US);
	/* PQconnectStart leaves us at PGRES_POLLING_WRITING. */
	lws_callback_on_writable(c->wsi);
}

static void connected(struct pg_conn *c)
{
	lws_sul_cancel(&c->sul_timeout);
	if (PQsetnonblocking(c->pg, 1)) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	c->state = PG_READY;
	c->backoff_ms = BACKOFF_MIN_MS;
	if (c->was_ready || c->down_logged)
		log_info("pg %s: database connection %s", c->name,
			 c->was_ready ? "re-established" : "established");
	c->was_ready = true;
	c->down_logged = false;
	if (c->ops->connected)
		c->ops->connected(c, c->arg);
	send_next(c);
}

static void connect_step(struct pg_conn *c)
{
	PostgresPollingStatusType st = PQconnectPoll(c->pg);
	if (st == PGRES_POLLING_FAILED) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	/* libpq may have moved to another socket (another host or address). */
	if (PQsocket(c->pg) != c->sock) {
		detach_wsi(c);
		if (!adopt_socket(c)) {
			conn_lost(c, "could not watch the socket");
			return;
		}
	}
	if (st == PGRES_POLLING_OK)
		connected(c);
	else if (st == PGRES_POLLING_WRITING)
		lws_callback_on_writable(c->wsi);
}

static void query_free(struct pg_query *q)
{
	free(q);
}

/* Unlinks and frees the head of the queue. */
static void pop_head(struct pg_conn *c)
{
	struct pg_query *q = c->head;
	c->head = q->next;
	if (!c->head)
		c->tail = NULL;
	c->queued--;
	query_free(q);
}

static void flush_out(struct pg_conn *c)
{
	int r = PQflush(c->pg);
	if (r < 0)
		conn_lost(c, PQerrorMessage(c->pg));
	else if (r > 0 && c->wsi)
		lws_callback_on_writable(c->wsi);
}

static void send_next(struct pg_conn *c)
{
	while (c->head && !c->head->sent && !c->head->cb)
		pop_head(c); /* cancelled before it was sent */
	if (c->state != PG_READY || !c->head || c->head->sent)
		return;
	struct pg_query *q = c->head;
	int ok;
	if (q->stmt) {
		char name[16];
		uint64_t bit = 1ULL << (q->stmt->id - 1);
		snprintf(name, sizeof name, "wsd%d", q->stmt->id);
		if (c->prepared & bit) {
			ok = PQsendQueryPrepared(c->pg, name, q->nparams, q->params, NULL, NULL, 0);
		} else {
			ok = PQsendPrepare(c->pg, name, q->sql, q->nparams, NULL);
			q->preparing = true;
		}
	} else {
		ok = PQsendQueryParams(c->pg, q->sql, q->nparams, NULL, q->params, NULL, NULL, 0);
	}
	if (!ok) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	q->sent = true;
	flush_out(c);
}

/* A connection-level failure reported as a statement's error: the
 * statement did not run to completion and will be sent again. */
static bool result_is_disconnect(const struct pg_conn *c, const PGresult *res)
{
	if (PQstatus(c->pg) == CONNECTION_BAD)
		return true;
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	return state && (!strncmp(state, "57P", 3) || !strncmp(state, "08", 2));
}

/* Collects whatever results are complete; answers the head query when its
 * last result arrived. */
static void collect(struct pg_conn *c)
{
	while (c->state == PG_READY && c->head && c->head->sent && !PQisBusy(c->pg)) {
		PGresult *res = PQgetResult(c->pg);
		if (res) {
			PQclear(c->result);
			c->result = res;
			continue;
		}
		res = c->result;
		c->result = NULL;
		if (!res || (PQresultStatus(res) == PGRES_FATAL_ERROR && result_is_disconnect(c, res))) {
			const char *msg = res ? PQresultErrorMessage(res) : "no result";
			conn_lost(c, *msg ? msg : PQerrorMessage(c->pg));
			PQclear(res);
			metrics_db_error();
			return;
		}
		struct pg_query *q = c->head;
		if (q->preparing) {
			q->preparing = false;
			if (PQresultStatus(res) == PGRES_COMMAND_OK) {
				/* Prepared: now the statement itself. */
				PQclear(res);
				c->prepared |= 1ULL << (q->stmt->id - 1);
				q->sent = false;
				send_next(c);
				continue;
			}
		}
		db_count_error(res);
		if (q->cb)
			q->cb(q->arg, res);
		PQclear(res);
		/* The callback may have queued more, or freed the connection's
		 * users, but never the connection itself. */
		pop_head(c);
		send_next(c);
	}
}

static void deliver_notifies(struct pg_conn *c)
{
	PGnotify *n;
	while (c->pg && (n = PQnotifies(c->pg))) {
		if (c->ops->notify)
			c->ops->notify(c->arg, n->relname, n->extra ? n->extra : "");
		PQfreemem(n);
	}
}

static void service(struct pg_conn *c, bool readable, bool writable)
{
	if (c->state == PG_CONNECTING) {
		connect_step(c);
		return;
	}
	if (c->state != PG_READY)
		return;
	if (writable) {
		flush_out(c);
		if (c->state != PG_READY)
			return;
	}
	if (readable) {
		if (!PQconsumeInput(c->pg)) {
			conn_lost(c, PQerrorMessage(c->pg));
			return;
		}
		collect(c);
		deliver_notifies(c);
	}
}

int pg_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	(void)user;
	(void)in;
	(void)len;
	struct pg_conn *c = lws_get_opaque_user_data(wsi);
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (!c)
			return -1; /* a descriptor left from an earlier connection */
		c->servicing = wsi;
		service(c, reason == LWS_CALLBACK_RAW_RX_FILE,
			reason == LWS_CALLBACK_RAW_WRITEABLE_FILE);
		c->servicing = NULL;
		return c->wsi == wsi ? 0 : -1;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (c && c->wsi == wsi) {
			/* lws saw a hang-up or an error on the socket. */
			c->wsi = NULL;
			c->servicing = wsi;
			conn_lost(c, "the socket was closed");
			c->servicing = NULL;
		}
		return 0;
	default:
		return 0;
	}
}

struct pg_conn *pg_conn_new(struct lws_context *cx, struct lws_vhost *vh, const char *name,
			    const char *conninfo, const struct pg_conn_ops *ops, void *arg)
{
	struct pg_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->name = strdup(name);
	c->conninfo = strdup(conninfo);
	if (!c->name || !c->conninfo) {
		free(c->name);
		free(c->conninfo);
		free(c);
		return NULL;
	}
	static const struct pg_conn_ops no_ops;
	c->cx = cx;
	c->vh = vh;
	c->ops = ops ? ops : &no_ops;
	c->arg = arg;
	c->sock = -1;
	c->backoff_ms = BACKOFF_MIN_MS;
	start_connect(c);
	return c;
}

void pg_conn_shutdown(struct pg_conn *c)
{
	if (!c || c->shut)
		return;
	c->shut = true;
	lws_sul_cancel(&c->sul_retry);
	drop_pg(c);
}

void pg_conn_free(struct pg_conn *c)
{
	if (!c)
		return;
	pg_conn_shutdown(c);
	while (c->head)
		pop_head(c);
	free(c->name);
	free(c->conninfo);
	free(c);
}

bool pg_conn_ready(const struct pg_conn *c)
{
	return c && c->state == PG_READY;
}

unsigned pg_conn_queued(const struct pg_conn *c)
{
	return c->queued;
}

static struct pg_query *query_new(struct pg_conn *c, const char *sql, int nparams,
				  const char *const *params, pg_result_cb cb, void *arg)
{
	size_t size = sizeof(struct pg_query) + (size_t)nparams * sizeof(char *) + strlen(sql) + 1;
	for (int i = 0; i < nparams; i++)
		if (params[i])
			size += strlen(params[i]) + 1;
	struct pg_query *q = malloc(size);
	if (!q)
		return NULL;
	char *p = (char *)&q->params[nparams];
	*q = (struct pg_query){.conn = c, .cb = cb, .arg = arg, .nparams = nparams};
	for (int i = 0; i < nparams; i++) {
		if (!params[i]) {
			q->params[i] = NULL;
			continue;
		}
		size_t n = strlen(params[i]) + 1;
		memcpy(p, params[i], n);
		q->params[i] = p;
		p += n;
	}
	memcpy(p, sql, strlen(sql) + 1);
	q->sql = p;
	return q;
}

/* Appends q to the queue, which keeps each caller's statements in order,
 * and sends it at once if nothing is in flight. Returns q. */
static struct pg_query *queue_last(struct pg_conn *c, struct pg_query *q)
{
	if (c->tail)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
	c->queued++;
	send_next(c);
	return q;
}

struct pg_query *pg_query(struct pg_conn *c, const char *sql, int nparams,
			  const char *const *params, pg_result_cb cb, void *arg)
{
	struct pg_query *q = query_new(c, sql, nparams, params, cb, arg);
	if (!q)
		return NULL;
	return queue_last(c, q);
}

struct pg_query *pg_exec(struct pg_conn *c, struct pg_stmt *st, int nparams,
			 const char *const *params, pg_result_cb cb, void *arg)
{
	static int ids;
	if (!st->id) {
		if (ids == 64) {
			log_error("pg: more than 64 prepared statements: running unprepared");
			return pg_query(c, st->sql, nparams, params, cb, arg);
		}
		st->id = ++ids;
	}
	struct pg_query *q = query_new(c, st->sql, nparams, params, cb, arg);
	if (!q)
		return NULL;
	q->stmt = st;
	return queue_last(c, q);
}

struct pg_query *pg_query_first(struct pg_conn *c, const char *sql, int nparams,
				const char *const *params, pg_result_cb cb, void *arg)
{
	struct pg_query *q = query_new(c, sql, nparams, params, cb, arg);
	if (!q)
		return NULL;
	if (c->head && c->head->sent) {
		q->next = c->head->next;
		c->head->next = q;
		if (c->tail == c->head)
			c->tail = q;
	} else {
		q->next = c->head;
		c->head = q;
		if (!c->tail)
			c->tail = q;
	}
	c->queued++;
	send_next(c);
	return q;
}

void pg_query_cancel(struct pg_query *q)
{
	if (!q)
		return;
	struct pg_conn *c = q->conn;
	q->cb = NULL;
	if (q->sent)
		return; /* freed when its answer arrives */
	struct pg_query **pp = &c->head, *prev = NULL;
	while (*pp && *pp != q) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = q->next;
	if (c->tail == q)
		c->tail = prev;
	c->queued--;
	query_free(q);
}

void pg_log_failure(void *what, const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		log_error("%s failed: %s", (const char *)what, PQresultErrorMessage(res));
}
