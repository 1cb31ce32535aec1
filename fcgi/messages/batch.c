/*
 * batch.c - the companion: JSON sends, served from one event loop and
 * written in batches (schema/011_send_batch.sql, 012).
 *
 * One transaction per message spends most of the database's time on what
 * each statement and each commit costs, not on the message. So nginx
 * passes JSON sends to the program's companion process (on
 * "<socket>.send", shared/server.h), which writes the sends of plain text
 * that have come with one call of message_send_batch() (which also sends
 * the one NOTIFY for all), and answers each after the commit. The batch
 * runs asynchronously: meanwhile the loop reads the next requests, which
 * fill the next batch. Batches size themselves, and an idle server writes
 * batches of one. Being one process that waits for no request, it also
 * spares each send the two process switches of a worker waiting for it.
 *
 * The batch writes, and answers, only what it is sure of: new messages and
 * repeated client_ids. Every other send (an error, files) is written alone
 * with send_json_alone(), which answers it exactly. Multipart sends go to
 * the workers (nginx passes them there), as they stream files.
 *
 * Connections are nginx's, one request at a time each, kept between
 * requests (fastcgi_keep_conn) or not.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "db.h"
#include "fcgi_wire.h"
#include "log.h"
#include "messages.h"
#include "reply.h"
#include "server.h"

#define FRONT_EVENTS 64
#define FRONT_READ_CHUNK (16 * 1024)

/* What an epoll event is about: epoll_event.data.ptr points to a struct
 * that starts with its kind. */
enum front_kind { FRONT_LISTENER, FRONT_CONN, FRONT_LINK };

/* A connection from nginx, and the request it carries. */
struct front_conn {
	enum front_kind kind;
	int fd;
	uint32_t waiting_for; /* the epoll events asked for */
	struct buf in;        /* bytes read and not yet taken as records */
	struct fcgi_request fcgi;
	struct arena *arena;  /* the request's */
	struct http_req req;
	struct buf answer;    /* req's HTTP answer */
	struct send_input send; /* while queued */
	struct timespec start;
	struct buf out;       /* records to write */
	size_t out_sent;
	bool queued;  /* in the batch, waiting for it to be written */
	bool closing; /* closed once out of the batch and written */
	bool closed;  /* freed at the end of the loop's round */
	struct front_conn *next_closed;
};

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
	enum front_kind kind;
	PGconn *pg; /* NULL until connected */
	struct batch batch; /* in flight when busy */
	PGresult *result;
	bool busy;
};

static int epoll_fd = -1;
/* The connection whose request the router is handling. */
static struct front_conn *handling;
/* Connections closed during this round of events, freed after it: an event
 * of the round may still point to one. */
static struct front_conn *closed_conns;
static struct batch_link db_link;

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

static void request_end(struct front_conn *c);
static void conn_take(struct front_conn *c, struct batch *b);
static void conn_settle(struct front_conn *c);

/* Answers each request of the batch: those res answered (its rows come in
 * item order, only for those) with their status; the others are sent
 * alone, but for those without a client_id when the batch's outcome is
 * unknown (it may have been written). Then lets the connections take what
 * more they have (into filling), or go. */
static void batch_answer(struct batch *b, PGresult *res, bool outcome_unknown,
			 struct batch *filling)
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
		c->queued = false;
		request_end(c);
	}
	for (size_t i = 0; i < b->n; i++) {
		struct front_conn *c = b->conns[i];
		if (!c->closing && !c->out.len && c->in.len)
			conn_take(c, filling);
		conn_settle(c);
	}
	b->n = 0;
}

/* ---- the link ----------------------------------------------------------------- */

#define BATCH_STATEMENT "send_batch"

static void link_close(struct batch_link *l)
{
	if (!l->pg)
		return;
	epoll_ctl(epoll_fd, EPOLL_CTL_DEL, PQsocket(l->pg), NULL);
	PQfinish(l->pg);
	l->pg = NULL;
}

static bool link_connect(struct batch_link *l)
{
	if (l->pg && PQstatus(l->pg) == CONNECTION_OK)
		return true;
	link_close(l);
	if (!(l->pg = db_open()))
		return false;
	PGresult *res = PQprepare(l->pg, BATCH_STATEMENT,
				  "SELECT ord, status, body FROM message_send_batch($1::bigint[], "
				  "$2::bigint[], $3::text[], $4::text[], $5::float8, $6::float8)",
				  6, NULL);
	bool prepared = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!prepared)
		log_error("could not prepare the batch statement: %s", PQresultErrorMessage(res));
	PQclear(res);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
	if (!prepared || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, PQsocket(l->pg), &ev) != 0) {
		link_close(l);
		return false;
	}
	return true;
}

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
static bool link_send(struct batch_link *l)
{
	if (!link_connect(l))
		return false;
	struct buf p[4] = {{0}};
	batch_params(&l->batch, p);
	char rate[REPLY_ID_LEN], burst[REPLY_ID_LEN];
	send_limit_params(rate, burst);
	const char *params[] = {buf_cstr(&p[0]), buf_cstr(&p[1]), buf_cstr(&p[2]),
				buf_cstr(&p[3]), rate, burst};
	bool built = true;
	for (int k = 0; k < 4; k++)
		built = built && buf_status(&p[k]) == MSGR_OK;
	/* Sent whole (the connection blocks while sending), answered later. */
	bool sent = built && PQsendQueryPrepared(l->pg, BATCH_STATEMENT, 6, params, NULL, NULL, 0);
	for (int k = 0; k < 4; k++)
		buf_free(&p[k]);
	if (!sent) {
		log_error("could not send a batch of %zu sends: %s", l->batch.n,
			  built ? PQerrorMessage(l->pg) : "out of memory");
		link_close(l);
	}
	return sent;
}

/* Hands the filling batch to l, which is idle. */
static void link_start(struct batch_link *l, struct batch *filling)
{
	struct batch spare = l->batch;
	l->batch = *filling;
	*filling = spare;
	if (link_send(l)) {
		l->busy = true;
		return;
	}
	/* Nothing was written: each is sent alone. */
	batch_answer(&l->batch, NULL, false, filling);
}

/* The batch's result is complete: res, or NULL when the connection was
 * lost before it came. Answers it. */
static void link_done(struct batch_link *l, PGresult *res, struct batch *filling)
{
	l->busy = false;
	/* Lost in the middle, the outcome is unknown: the commit may have
	 * happened. A failed statement, on a live connection, wrote nothing. */
	bool lost = !res || PQstatus(l->pg) == CONNECTION_BAD;
	if (!db_ok(res)) {
		log_error("a batch of %zu sends failed: %s", l->batch.n,
			  res ? PQresultErrorMessage(res) : "the database connection was lost");
		PQclear(res);
		res = NULL;
	}
	if (lost)
		link_close(l);
	batch_answer(&l->batch, res, lost && !res, filling);
	PQclear(res);
}

/* Takes the next result of l's batch (waiting for it when none has come):
 * the first is kept, and the end of them answers the batch. */
static void link_take_result(struct batch_link *l, struct batch *filling)
{
	PGresult *res = PQgetResult(l->pg);
	if (!res) {
		res = l->result;
		l->result = NULL;
		link_done(l, res, filling);
	} else if (l->result) {
		PQclear(res);
	} else {
		l->result = res;
	}
}

/* Reads what the database sent on l; answers the batch once complete. */
static void link_receive(struct batch_link *l, struct batch *filling)
{
	if (!PQconsumeInput(l->pg) || PQstatus(l->pg) == CONNECTION_BAD) {
		if (l->busy) {
			PQclear(l->result);
			l->result = NULL;
			link_done(l, NULL, filling);
		} else {
			link_close(l); /* the server closed it: the next batch reconnects */
		}
		return;
	}
	while (l->busy && !PQisBusy(l->pg))
		link_take_result(l, filling);
}

/* Waits for l's batch and answers it: when the companion stops. */
static void link_finish(struct batch_link *l, struct batch *filling)
{
	while (l->busy)
		link_take_result(l, filling);
}

/* Starts the next batch when the link is free for it. */
static void batch_next(struct batch *filling)
{
	if (filling->n && !db_link.busy)
		link_start(&db_link, filling);
}

/* ---- connections ------------------------------------------------------------- */

static void conn_free(struct front_conn *c)
{
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->answer);
	buf_free(&c->req.extra_headers);
	fcgi_request_free(&c->fcgi);
	arena_free(c->arena);
	free(c);
}

static void conns_free_closed(void)
{
	while (closed_conns) {
		struct front_conn *c = closed_conns;
		closed_conns = c->next_closed;
		conn_free(c);
	}
}

/* Closes c as soon as it is out of the batch, with nothing more to
 * write. */
static void conn_drop(struct front_conn *c)
{
	c->closing = true;
	buf_reset(&c->out);
	c->out_sent = 0;
}

/* Closes c when it is done with. */
static void conn_settle(struct front_conn *c)
{
	if (c->closed || !c->closing || c->queued || c->out.len)
		return;
	if (c->waiting_for)
		epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->closed = true;
	c->next_closed = closed_conns;
	closed_conns = c;
}

/* Waits for these events on c; 0: for none (a hang-up is reported even
 * then, so c leaves the epoll set). */
static void conn_wait_for(struct front_conn *c, uint32_t events)
{
	if (c->waiting_for == events)
		return;
	struct epoll_event ev = {.events = events, .data.ptr = c};
	int op = !events ? EPOLL_CTL_DEL : c->waiting_for ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(epoll_fd, op, c->fd, &ev) == 0)
		c->waiting_for = events;
	else
		conn_drop(c);
}

/* Writes what it can of the records; the rest when the socket can take
 * it. */
static void conn_flush(struct front_conn *c)
{
	while (c->out_sent < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->out_sent += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			conn_wait_for(c, EPOLLOUT);
			return;
		} else {
			conn_drop(c); /* nginx went away */
			return;
		}
	}
	buf_reset(&c->out);
	c->out_sent = 0;
	conn_wait_for(c, EPOLLIN);
}

/* Answers c's request (500 when the handler did not), logs it, and makes
 * c ready for the next. */
static void request_end(struct front_conn *c)
{
	struct http_req *req = &c->req;
	if (!req->status) {
		log_error("%s %s: the handler gave no answer", req->method, req->path);
		http_problem(req, 500, "internal_error", "the server failed to answer this request");
	}
	log_request(req->method, req->path, req->status, log_ms_since(&c->start), req->user_id);
	fcgi_put_answer(&c->out, c->fcgi.id, buf_cstr(&c->answer), c->answer.len);
	/* Out of memory: nginx gets no answer, and sends a 503 problem. */
	bool written = buf_status(&c->answer) == MSGR_OK && buf_status(&c->out) == MSGR_OK;
	if (!c->fcgi.keep_conn)
		c->closing = true; /* nginx waits for the close */
	buf_reset(&c->answer);
	fcgi_request_reset(&c->fcgi);
	arena_reset(c->arena);
	if (written)
		conn_flush(c);
	else
		conn_drop(c);
}

/* The one route of the companion's socket. */
static void front_send(struct http_req *req)
{
	if (!http_require_user(req))
		return;
	struct send_input in;
	if (!send_json_read(req, &in))
		return;
	if (!send_batchable(&in)) {
		send_json_alone(req, &in);
		return;
	}
	handling->send = in; /* its strings live in the request's arena */
	handling->queued = true;
}

static const struct http_route front_routes[] = {
	{"POST", "/api/chats/{chat_id}/messages", front_send},
};

/* Handles the request that c's records completed: it is answered, or
 * queued in the batch. */
static void request_start(struct front_conn *c, struct batch *b)
{
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	char **envp = fcgi_envp(&c->fcgi, c->arena);
	if (!envp) {
		log_error("nginx sent FastCGI parameters that do not add up");
		conn_drop(c);
		return;
	}
	http_req_begin(&c->req, c->arena, envp);
	c->req.held = (struct http_held){
		.body = c->fcgi.stdin.data ? c->fcgi.stdin.data : "",
		.body_len = c->fcgi.stdin.len,
		.answer = &c->answer,
	};
	handling = c;
	http_dispatch(&c->req, front_routes, sizeof front_routes / sizeof front_routes[0]);
	handling = NULL;
	if (!c->queued) {
		request_end(c);
		return;
	}
	if (!batch_reserve(b, b->n + 1)) {
		c->queued = false;
		send_json_alone(&c->req, &c->send);
		request_end(c);
		return;
	}
	b->conns[b->n++] = c;
}

/* Takes the whole records read so far, and handles a request they
 * complete. Stops at a queued request: nginx sends no other on the
 * connection before its answer. */
static void conn_take(struct front_conn *c, struct batch *b)
{
	while (!c->queued && !c->closing && c->in.len) {
		size_t used;
		enum fcgi_feed_result r = fcgi_feed(&c->fcgi, (const unsigned char *)c->in.data,
						    c->in.len, &used, MESSAGES_BODY_LIMIT, &c->out);
		memmove(c->in.data, c->in.data + used, c->in.len - used);
		c->in.len -= used;
		if (r == FCGI_FEED_BAD) {
			log_error("nginx sent what is not FastCGI; closing the connection");
			conn_drop(c);
		} else if (r == FCGI_FEED_READY) {
			request_start(c, b);
		} else {
			break;
		}
	}
	if (c->out.len > c->out_sent)
		conn_flush(c); /* records fcgi_feed() answered */
}

/* Reads what c has sent, and takes it. */
static void conn_read(struct front_conn *c, struct batch *b)
{
	char chunk[FRONT_READ_CHUNK];
	while (!c->queued && !c->closing && !c->out.len) {
		ssize_t n = recv(c->fd, chunk, sizeof chunk, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_drop(c); /* closed, or failed */
			return;
		}
		buf_append(&c->in, chunk, (size_t)n);
		if (buf_status(&c->in) != MSGR_OK) {
			conn_drop(c);
			return;
		}
		conn_take(c, b);
	}
}

static void conns_accept(int listen_fd, struct batch *b)
{
	int fd;
	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct front_conn *c = calloc(1, sizeof *c);
		struct arena *arena = c ? arena_new() : NULL;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (!arena || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			log_error("could not take a connection: %s", strerror(errno));
			if (arena)
				arena_free(arena);
			free(c);
			close(fd);
			continue;
		}
		c->kind = FRONT_CONN;
		c->fd = fd;
		c->arena = arena;
		c->waiting_for = EPOLLIN;
		conn_read(c, b);
		conn_settle(c);
	}
}

static void conn_event(struct front_conn *c, struct batch *b)
{
	if (c->closed)
		return;
	if (c->queued) {
		/* Nothing is read before the answer; a hang-up would be
		 * reported again and again meanwhile. */
		conn_wait_for(c, 0);
		return;
	}
	if (c->out.len)
		conn_flush(c);
	else
		conn_read(c, b); /* a hang-up reads as the end */
}

/* Ends the companion: the batches in flight, and the requests read, are
 * written and answered. */
static void batcher_drain(struct batch *filling)
{
	do {
		batch_next(filling);
		if (db_link.busy)
			link_finish(&db_link, filling);
	} while (db_link.busy || filling->n);
	link_close(&db_link);
	free(db_link.batch.conns);
}

void send_batcher(int listen_fd)
{
	epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	static enum front_kind listener = FRONT_LISTENER;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listener};
	if (epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
		log_error("the send batcher could not start: %s", strerror(errno));
		return;
	}
	/* Non-blocking, so that one accept loop takes every waiting connection. */
	fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
	db_link.kind = FRONT_LINK;
	link_connect(&db_link);
	log_info("serving sends, written in batches");
	struct batch filling = {0};
	struct epoll_event events[FRONT_EVENTS];
	while (!srv_stopping()) {
		int n = srv_companion_wait(epoll_fd, events, FRONT_EVENTS);
		if (n < 0 && errno != EINTR) {
			log_error("the send batcher's wait failed: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			enum front_kind *kind = events[i].data.ptr;
			if (*kind == FRONT_LISTENER) {
				conns_accept(listen_fd, &filling);
			} else if (*kind == FRONT_LINK) {
				link_receive((struct batch_link *)kind, &filling);
			} else {
				struct front_conn *c = (struct front_conn *)kind;
				conn_event(c, &filling);
				conn_settle(c);
			}
		}
		batch_next(&filling);
		conns_free_closed();
	}
	batcher_drain(&filling);
	conns_free_closed();
	free(filling.conns);
	close(epoll_fd);
}
