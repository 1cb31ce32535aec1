/*
 * send_loop.c - the event loop's sends (loop.c): JSON POST
 * /api/chats/{id}/messages, checked as a worker checks them (send.c), and
 * written in batches (message_send_batch(), schema/functions/messages.sql).
 *
 * One transaction per message spends most of the database's time on what
 * each statement and each commit costs, not on the message. So the sends of
 * plain text that have come together are written with one call of
 * message_send_batch() (which also sends the one NOTIFY for all), and each
 * is answered after the commit. The batch runs asynchronously, on a
 * database link of its own (shared/pglink.h): meanwhile the loop reads the
 * next requests, which fill the next batch. Batches size themselves, and
 * an idle server writes batches of one.
 *
 * The batch writes, and answers, only what it is sure of: new messages and
 * repeated client_ids. Every other send (an error, files) is written alone
 * with SEND_JSON_SQL, which answers it exactly, one statement at a time on
 * a second link: a send alone that waits (on a lock, say) holds up neither
 * the batches nor the reads. Multipart sends go to the workers (nginx
 * passes them there), as they stream files.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"
#include "front.h"
#include "log.h"
#include "metrics.h"
#include "messages.h"
#include "pglink.h"
#include "reply.h"
#include "sqlparam.h"

/* A send held until its statement answers; in its request's arena. */
struct pending_send {
	struct front_req *fr;
	struct http_req *req;
	struct send_input in;
	int tries;                 /* alone: its statements lost with their link */
	struct pending_send *next; /* in the queue of sends alone */
};

/* As many sends as requests came in while the link was busy: at most one
 * per connection. */
struct batch {
	struct pending_send **sends;
	size_t n, cap;
};

#define BATCH_STATEMENT "send_batch"
#define ALONE_STATEMENT "send_alone"

static const struct pglink_statement batch_statements[] = {
	{BATCH_STATEMENT,
	 "SELECT ord, status, body FROM message_send_batch($1::bigint[], $2::bigint[], "
	 "$3::text[], $4::text[], $5::bigint[], $6::float8, $7::float8)",
	 7},
};

static const struct pglink_statement alone_statements[] = {
	{ALONE_STATEMENT, SEND_JSON_SQL, SEND_JSON_NPARAMS},
};

/* Batches are written one at a time: while one runs (and waits for its
 * commit) the loop goes on reading requests, which fill the next. (Two
 * links, each writing the chats the other was not, measured worse: a
 * batch's commit waits for the other's, as each sends a NOTIFY, and the
 * sends into the chats in flight waited up to a second.) */
static struct pglink *batch_link;
static struct batch in_flight; /* batch_link's, while it is busy */
static struct batch filling;   /* the sends that came meanwhile: the next */

/* The sends written alone, in arrival order, and the one in flight. */
static struct pglink *alone_link;
static struct pending_send *alone_head, *alone_tail, *alone_sending;

/* Makes room for n sends in b; false when out of memory. */
static bool batch_reserve(struct batch *b, size_t n)
{
	if (n <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < n)
		cap *= 2;
	struct pending_send **sends = realloc(b->sends, cap * sizeof *sends);
	if (!sends)
		return false;
	b->sends = sends;
	b->cap = cap;
	return true;
}

/* ---- sends alone -------------------------------------------------------------- */

static void alone_queue(struct pending_send *s)
{
	s->next = NULL;
	if (alone_tail)
		alone_tail->next = s;
	else
		alone_head = s;
	alone_tail = s;
}

static struct pending_send *alone_pop(void)
{
	struct pending_send *s = alone_head;
	if (s && !(alone_head = s->next))
		alone_tail = NULL;
	return s;
}

/* s's statement was lost with its link, or not sent: it goes again once,
 * first in line, as a worker's db_exec() retries; then it is a 503. */
static void alone_lost(struct pending_send *s)
{
	if (s->tries++ == 0) {
		s->next = alone_head;
		alone_head = s;
		if (!alone_tail)
			alone_tail = s;
		return;
	}
	reply_db_problem(s->req, NULL);
	front_answered(s->fr);
}

/* Sends the next send alone when the link is free for it. */
static void alone_next(void)
{
	while (alone_head && !pglink_busy(alone_link)) {
		enum pglink_state state = pglink_state(alone_link);
		if (state == PGLINK_CONNECTING)
			return; /* sent on the round the connect ends */
		struct pending_send *s = alone_pop();
		if (state == PGLINK_DOWN) {
			reply_db_problem(s->req, NULL);
			front_answered(s->fr);
			continue;
		}
		struct send_json_params p;
		send_json_params(s->req, &s->in, &p);
		if (pglink_send(alone_link, ALONE_STATEMENT, SEND_JSON_NPARAMS, p.values) == MSGR_OK)
			alone_sending = s;
		else
			alone_lost(s);
	}
}

static void alone_done(void *arg, PGresult *res)
{
	(void)arg;
	struct pending_send *s = alone_sending;
	alone_sending = NULL;
	if (!res) {
		alone_lost(s);
		return;
	}
	reply_send(s->req, res);
	front_answered(s->fr);
}

/* ---- batches ------------------------------------------------------------------ */

/* Answers each send of the batch: those res answered (its rows come in
 * item order, only for those) with their status; the others are sent
 * alone, but for those without a client_id when the batch's outcome is
 * unknown (it may have been written). */
static void batch_answer(struct batch *b, PGresult *res, bool outcome_unknown)
{
	int rows = res ? PQntuples(res) : 0, row = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct pending_send *s = b->sends[i];
		if (row < rows && atoll(PQgetvalue(res, row, 0)) == (long long)i + 1) {
			http_send_json(s->req, atoi(PQgetvalue(res, row, 1)), PQgetvalue(res, row, 2),
				       (size_t)PQgetlength(res, row, 2));
			row++;
		} else if (outcome_unknown && !s->in.client_id) {
			http_problem(s->req, 503, "send_unconfirmed",
				     "the message may not have been sent; send it again, with a "
				     "client_id to make sure it is stored once");
		} else {
			/* With a client_id, alone answers the message if it was written. */
			alone_queue(s);
			continue;
		}
		/* Its next request, if it has one, goes in the filling batch. */
		front_answered(s->fr);
	}
	b->n = 0;
}

/* The statement's array parameters for the batch's sends, in 5 buffers:
 * users, chats, texts, client_ids, sessions (NULL for a token without sid).
 * A send whose session ended is left out by the batch (no row), so it goes
 * alone, where live_session_user() answers it 401; the others are written. */
#define BATCH_ARRAYS 5
static void batch_params(const struct batch *b, struct buf p[BATCH_ARRAYS])
{
	for (int k = 0; k < BATCH_ARRAYS; k++)
		buf_putc(&p[k], '{');
	for (size_t i = 0; i < b->n; i++) {
		const struct http_req *req = b->sends[i]->req;
		const struct send_input *in = &b->sends[i]->in;
		if (i)
			for (int k = 0; k < BATCH_ARRAYS; k++)
				buf_putc(&p[k], ',');
		buf_printf(&p[0], "%lld", (long long)req->user_id);
		buf_printf(&p[1], "%lld", (long long)req->path_id[0]);
		buf_pg_array_str(&p[2], in->text, in->text_len);
		if (in->client_id)
			buf_pg_array_str(&p[3], in->client_id, in->client_id_len);
		else
			buf_puts(&p[3], "NULL");
		const char *sid = http_session_param(req);
		buf_puts(&p[4], sid ? sid : "NULL");
	}
	for (int k = 0; k < BATCH_ARRAYS; k++)
		buf_putc(&p[k], '}');
}

/* Sends the batch in flight on its ready link; false when it could not
 * (nothing was written then). */
static bool batch_send(void)
{
	struct buf p[BATCH_ARRAYS] = {{0}};
	batch_params(&in_flight, p);
	char rate[SQLPARAM_INT_LEN], burst[SQLPARAM_INT_LEN];
	send_limit_params(rate, burst);
	const char *params[] = {buf_cstr(&p[0]), buf_cstr(&p[1]), buf_cstr(&p[2]),
				buf_cstr(&p[3]), buf_cstr(&p[4]), rate, burst};
	bool built = true;
	for (int k = 0; k < BATCH_ARRAYS; k++)
		built = built && buf_status(&p[k]) == MSGR_OK;
	if (!built)
		log_error("could not send a batch of %zu sends: out of memory", in_flight.n);
	bool sent = built && pglink_send(batch_link, BATCH_STATEMENT, 7, params) == MSGR_OK;
	for (int k = 0; k < BATCH_ARRAYS; k++)
		buf_free(&p[k]);
	return sent;
}

/* The batch's outcome: res, or NULL when the connection was lost before it
 * came. Answers it. */
static void batch_done(void *arg, PGresult *res)
{
	(void)arg;
	/* Lost, the outcome is unknown: the commit may have happened. A failed
	 * statement, on a live connection, wrote nothing. */
	bool lost = !res;
	if (!db_ok(res)) {
		log_error("a batch of %zu sends failed: %s", in_flight.n,
			  res ? PQresultErrorMessage(res) : "the database connection was lost");
		PQclear(res);
		res = NULL;
	}
	batch_answer(&in_flight, res, lost);
	PQclear(res);
}

/* ---- the loop's interface ----------------------------------------------------- */

void send_loop(struct http_req *req, struct front_req *fr)
{
	search_index_yield();
	if (!http_require_user(req))
		return;
	struct pending_send *s = arena_alloc(req->arena, sizeof *s);
	if (!send_json_read(req, &s->in))
		return;
	s->fr = fr;
	s->req = req;
	s->tries = 0;
	front_hold(fr);
	if (send_batchable(&s->in) && batch_reserve(&filling, filling.n + 1))
		filling.sends[filling.n++] = s; /* its strings live in the request's arena */
	else
		alone_queue(s);
}

void send_loop_next(void)
{
	if (filling.n && !pglink_busy(batch_link)) {
		enum pglink_state state = pglink_state(batch_link);
		/* Connecting, the batch fills on until the round the connect
		 * ends. */
		if (state != PGLINK_CONNECTING) {
			struct batch spare = in_flight;
			in_flight = filling;
			filling = spare;
			/* Down, or not sent: nothing was written, each goes alone. */
			if (state == PGLINK_DOWN || !batch_send())
				batch_answer(&in_flight, NULL, false);
			else
				metrics_batch(METRICS_BATCH_SEND, (unsigned)in_flight.n);
		}
	}
	alone_next();
}

bool send_loop_start(struct front *f)
{
	batch_link = pglink_new(f, batch_statements, 1, batch_done, NULL);
	alone_link = pglink_new(f, alone_statements, 1, alone_done, NULL);
	if (!batch_link || !alone_link)
		return false;
	/* Connecting now, not on the first send. */
	pglink_state(batch_link);
	pglink_state(alone_link);
	return true;
}

void send_loop_finish(void)
{
	do {
		send_loop_next();
		pglink_wait(batch_link);
		pglink_wait(alone_link);
	} while (filling.n || alone_head);
	pglink_free(batch_link);
	pglink_free(alone_link);
	batch_link = alone_link = NULL;
	free(in_flight.sends);
	free(filling.sends);
	in_flight = filling = (struct batch){0};
}
