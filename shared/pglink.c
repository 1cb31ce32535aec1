/*
 * pglink.c - an asynchronous PostgreSQL connection of an event loop
 * (pglink.h).
 *
 * A statement's outcome is complete when PQgetResult() returns NULL; the
 * first result is kept until then (a statement sent with
 * PQsendQueryPrepared() gives one, but an error may follow it). libpq is
 * only asked for a result when PQisBusy() says it has it whole, so the loop
 * never waits on the socket, except in pglink_wait().
 */
#include "pglink.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "front.h"
#include "log.h"

struct pglink {
	struct front_watch watch; /* the connection's socket */
	struct front *front;
	const struct pglink_statement *stmts;
	size_t nstmts;
	pglink_done_fn done;
	void *arg;
	PGconn *pg;       /* NULL until connected */
	bool busy;        /* a statement is in flight */
	PGresult *result; /* its first result, while the rest come */
};

static void link_event(struct front_watch *w);

struct pglink *pglink_new(struct front *f, const struct pglink_statement *stmts, size_t n,
			  pglink_done_fn done, void *arg)
{
	struct pglink *l = calloc(1, sizeof *l);
	if (!l) {
		log_error("out of memory for a database link");
		return NULL;
	}
	*l = (struct pglink){
		.watch.ready = link_event,
		.front = f,
		.stmts = stmts,
		.nstmts = n,
		.done = done,
		.arg = arg,
	};
	return l;
}

void pglink_free(struct pglink *l)
{
	if (!l)
		return;
	if (l->busy)
		log_error("a database link was freed with a statement in flight");
	PQclear(l->result);
	pglink_close(l);
	free(l);
}

void pglink_close(struct pglink *l)
{
	if (!l->pg)
		return;
	front_unwatch(l->front, PQsocket(l->pg));
	PQfinish(l->pg);
	l->pg = NULL;
}

/* A connection with l's statements prepared, watched by l's loop; NULL
 * when none (logged). */
static PGconn *link_open(struct pglink *l)
{
	PGconn *pg = db_open();
	if (!pg)
		return NULL;
	for (size_t i = 0; i < l->nstmts; i++) {
		const struct pglink_statement *st = &l->stmts[i];
		PGresult *res = PQprepare(pg, st->name, st->sql, st->nparams, NULL);
		bool prepared = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!prepared)
			log_error("could not prepare %s: %s", st->name, PQresultErrorMessage(res));
		PQclear(res);
		if (!prepared) {
			PQfinish(pg);
			return NULL;
		}
	}
	if (front_watch(l->front, PQsocket(pg), &l->watch) != MSGR_OK) {
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

bool pglink_ready(struct pglink *l)
{
	if (l->pg && PQstatus(l->pg) == CONNECTION_OK)
		return true;
	pglink_close(l);
	l->pg = link_open(l);
	return l->pg != NULL;
}

bool pglink_busy(const struct pglink *l)
{
	return l->busy;
}

enum msgr_err pglink_send(struct pglink *l, const char *name, int nparams,
			  const char *const *params)
{
	if (l->busy || !l->pg) {
		log_error("%s was sent on a database link that is %s", name,
			  l->busy ? "busy" : "not connected");
		return MSGR_ERR_DB;
	}
	if (!PQsendQueryPrepared(l->pg, name, nparams, params, NULL, NULL, 0)) {
		const char *msg = PQerrorMessage(l->pg);
		log_error("could not send %s: %.*s", name, (int)strcspn(msg, "\n"), msg);
		pglink_close(l);
		return MSGR_ERR_DB;
	}
	l->busy = true;
	return MSGR_OK;
}

/* The statement is over: res, or NULL when the connection was lost. A
 * result that came as the connection broke (a terminated backend's) does
 * not say what became of the statement: that is a loss too. */
static void link_done(struct pglink *l, PGresult *res)
{
	l->busy = false;
	l->result = NULL;
	if (res && PQstatus(l->pg) == CONNECTION_BAD) {
		PQclear(res);
		res = NULL;
	}
	if (!res)
		pglink_close(l);
	l->done(l->arg, res);
}

/* Takes the next result libpq has; blocks when it has none yet. */
static void take_result(struct pglink *l)
{
	PGresult *res = PQgetResult(l->pg);
	if (!res)
		link_done(l, l->result);
	else if (l->result)
		PQclear(res);
	else
		l->result = res;
}

static void link_event(struct front_watch *w)
{
	struct pglink *l = (struct pglink *)w;
	if (!l->pg)
		return; /* closed earlier in this round of events */
	if (!PQconsumeInput(l->pg) || PQstatus(l->pg) == CONNECTION_BAD) {
		if (l->busy) {
			PQclear(l->result);
			l->result = NULL;
			link_done(l, NULL);
		} else {
			pglink_close(l); /* the server closed it: the next statement reconnects */
		}
		return;
	}
	if (!l->busy) {
		/* Input nobody asked for, on an idle link: mostly a backend's
		 * last words (it was terminated) before the close. Reading again
		 * sees the close now, not with the next statement, which would
		 * be lost with it. */
		if (!PQconsumeInput(l->pg) || PQstatus(l->pg) == CONNECTION_BAD)
			pglink_close(l);
		return;
	}
	while (l->busy && l->pg && !PQisBusy(l->pg))
		take_result(l);
}

void pglink_wait(struct pglink *l)
{
	while (l->busy)
		take_result(l);
}
