/*
 * batch.c - the companion's sends (companion.h), written in batches
 * (schema/011_send_batch.sql, 012).
 *
 * One transaction per message spends most of the database's time on what
 * each statement and each commit costs, not on the message. So the
 * companion writes the sends of plain text that have come with one call of
 * message_send_batch() (which also sends the one NOTIFY for all), and
 * answers each after the commit. The batch runs asynchronously: meanwhile
 * the loop reads the next requests, which fill the next batch. Batches size
 * themselves, and an idle server writes batches of one.
 *
 * The batch writes, and answers, only what it is sure of: new messages and
 * repeated client_ids. Every other send (an error, files) is written alone
 * with send_json_alone(), which answers it exactly. Multipart sends go to
 * the workers (nginx passes them there), as they stream files.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "buf.h"
#include "companion.h"
#include "db.h"
#include "log.h"
#include "reply.h"
#include "sqlparam.h"

/* As many sends as requests came in while the link was busy: at most
 * one per connection. */
struct batch {
	struct front_conn **conns;
	size_t n, cap;
};

/* The database connection batches are written on, one at a time and
 * asynchronously: while a batch runs (and waits for its commit) the loop
 * goes on reading requests, which fill the next. (Two links, each writing
 * the chats the other was not, measured worse: a batch's commit waits for
 * the other's, as each sends a NOTIFY, and the sends into the chats in
 * flight waited up to a second.) */
struct batch_link {
	struct front_link link;
	struct batch batch; /* in flight when busy */
};

static struct batch_link db_link;
/* The sends that came while a batch was in flight: the next batch. */
static struct batch filling;

/* Makes room for n sends in b; false when out of memory. */
static bool batch_reserve(struct batch *b, size_t n)
{
	if (n <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < n)
		cap *= 2;
	struct front_conn **conns = realloc(b->conns, cap * sizeof *conns);
	if (!conns)
		return false;
	b->conns = conns;
	b->cap = cap;
	return true;
}

/* ---- the batch --------------------------------------------------------------- */

/* Answers each request of the batch: those res answered (its rows come in
 * item order, only for those) with their status; the others are sent
 * alone, but for those without a client_id when the batch's outcome is
 * unknown (it may have been written). */
static void batch_answer(struct batch *b, PGresult *res, bool outcome_unknown)
{
	int rows = res ? PQntuples(res) : 0, row = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct front_conn *c = b->conns[i];
		if (row < rows && atoll(PQgetvalue(res, row, 0)) == (long long)i + 1) {
			http_send_json(&c->req, atoi(PQgetvalue(res, row, 1)), PQgetvalue(res, row, 2),
				       (size_t)PQgetlength(res, row, 2));
			row++;
		} else if (outcome_unknown && !c->send.client_id) {
			http_problem(&c->req, 503, "send_unconfirmed",
				     "the message may not have been sent; send it again, with a "
				     "client_id to make sure it is stored once");
		} else {
			/* With a client_id, alone answers the message if it was written. */
			send_json_alone(&c->req, &c->send);
		}
		/* Its next request, if it has one, goes in the filling batch. */
		front_answered(c);
	}
	b->n = 0;
}

/* ---- the link ----------------------------------------------------------------- */

#define BATCH_STATEMENT "send_batch"

static const struct front_statement batch_statements[] = {
	{BATCH_STATEMENT,
	 "SELECT ord, status, body FROM message_send_batch($1::bigint[], $2::bigint[], "
	 "$3::text[], $4::text[], $5::float8, $6::float8)",
	 6},
};

/* The statement's array parameters for the batch's sends, in 4 buffers:
 * users, chats, texts, client_ids. */
static void batch_params(const struct batch *b, struct buf p[4])
{
	for (int k = 0; k < 4; k++)
		buf_putc(&p[k], '{');
	for (size_t i = 0; i < b->n; i++) {
		const struct http_req *req = &b->conns[i]->req;
		const struct send_input *in = &b->conns[i]->send;
		if (i)
			for (int k = 0; k < 4; k++)
				buf_putc(&p[k], ',');
		buf_printf(&p[0], "%lld", (long long)req->user_id);
		buf_printf(&p[1], "%lld", (long long)req->path_id[0]);
		buf_pg_array_str(&p[2], in->text, in->text_len);
		if (in->client_id)
			buf_pg_array_str(&p[3], in->client_id, in->client_id_len);
		else
			buf_puts(&p[3], "NULL");
	}
	for (int k = 0; k < 4; k++)
		buf_putc(&p[k], '}');
}

/* Sends l's batch to the database; false when it could not (nothing was
 * written then). */
static bool batch_link_send(struct batch_link *l)
{
	if (!front_link_ready(&l->link, batch_statements, 1))
		return false;
	struct buf p[4] = {{0}};
	batch_params(&l->batch, p);
	char rate[SQLPARAM_INT_LEN], burst[SQLPARAM_INT_LEN];
	send_limit_params(rate, burst);
	const char *params[] = {buf_cstr(&p[0]), buf_cstr(&p[1]), buf_cstr(&p[2]),
				buf_cstr(&p[3]), rate, burst};
	bool built = true;
	for (int k = 0; k < 4; k++)
		built = built && buf_status(&p[k]) == MSGR_OK;
	/* Sent whole (the connection blocks while sending), answered later. */
	bool sent = built &&
		    PQsendQueryPrepared(l->link.pg, BATCH_STATEMENT, 6, params, NULL, NULL, 0);
	for (int k = 0; k < 4; k++)
		buf_free(&p[k]);
	if (!sent) {
		log_error("could not send a batch of %zu sends: %s", l->batch.n,
			  built ? PQerrorMessage(l->link.pg) : "out of memory");
		front_link_close(&l->link);
	}
	return sent;
}

/* Hands the filling batch to l, which is idle. */
static void batch_link_start(struct batch_link *l)
{
	struct batch spare = l->batch;
	l->batch = filling;
	filling = spare;
	if (batch_link_send(l)) {
		l->link.busy = true;
		return;
	}
	/* Nothing was written: each is sent alone. */
	batch_answer(&l->batch, NULL, false);
}

/* The batch's result is complete: res, or NULL when the connection was
 * lost before it came. Answers it. */
static void batch_link_done(struct front_link *link, PGresult *res)
{
	struct batch_link *l = (struct batch_link *)link;
	/* Lost in the middle, the outcome is unknown: the commit may have
	 * happened. A failed statement, on a live connection, wrote nothing. */
	bool lost = !res || PQstatus(link->pg) == CONNECTION_BAD;
	if (!db_ok(res)) {
		log_error("a batch of %zu sends failed: %s", l->batch.n,
			  res ? PQresultErrorMessage(res) : "the database connection was lost");
		PQclear(res);
		res = NULL;
	}
	if (lost)
		front_link_close(link);
	batch_answer(&l->batch, res, lost && !res);
	PQclear(res);
}

void sends_next(void)
{
	if (filling.n && !db_link.link.busy)
		batch_link_start(&db_link);
}

void sends_queue(struct front_conn *c)
{
	if (!batch_reserve(&filling, filling.n + 1)) {
		c->queued = false;
		send_json_alone(&c->req, &c->send);
		return;
	}
	filling.conns[filling.n++] = c;
}

void sends_start(void)
{
	db_link.link.done = batch_link_done;
	front_link_ready(&db_link.link, batch_statements, 1);
}

void sends_finish(void)
{
	do {
		sends_next();
		while (db_link.link.busy)
			front_link_take_result(&db_link.link);
	} while (filling.n);
	front_link_close(&db_link.link);
	free(db_link.batch.conns);
	free(filling.conns);
	db_link.batch = filling = (struct batch){0};
}

