/*
 * companion.c - the messages program's companion (companion.h): the event
 * loop, nginx's connections to "<socket>.loop", and their requests.
 *
 * nginx passes JSON sends and history reads to it. Each request is read,
 * checked and answered by the very code a worker runs (send.c,
 * history.c), but nothing here waits: the database work goes to
 * batch.c and reads.c, which answer on their connections' events while
 * the loop reads the next requests. So one process serves what many
 * workers did, without the two process switches a worker waiting for the
 * database costs per request, and many requests share one statement.
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

#include "companion.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "pagecache.h"
#include "server.h"

#define FRONT_EVENTS 64
#define FRONT_READ_CHUNK (16 * 1024)

static int front_epoll_fd = -1;
/* The connection whose request the router is handling. */
static struct front_conn *handling;
/* Connections closed during this round of events, freed after it: an event
 * of the round may still point to one. */
static struct front_conn *closed_conns;

static void conn_take(struct front_conn *c);

/* ---- the database ------------------------------------------------------------- */

/* A connection with these statements prepared, whose events come to the
 * loop for l; NULL when none (logged). */
static PGconn *link_open(struct front_link *l, const struct front_statement *stmts, size_t n)
{
	PGconn *pg = db_open();
	if (!pg)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		PGresult *res = PQprepare(pg, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);
		bool prepared = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!prepared)
			log_error("could not prepare %s: %s", stmts[i].name, PQresultErrorMessage(res));
		PQclear(res);
		if (!prepared) {
			PQfinish(pg);
			return NULL;
		}
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
	if (epoll_ctl(front_epoll_fd, EPOLL_CTL_ADD, PQsocket(pg), &ev) != 0) {
		log_error("could not wait on a database connection: %s", strerror(errno));
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

bool front_link_ready(struct front_link *l, const struct front_statement *stmts, size_t n)
{
	if (l->pg && PQstatus(l->pg) == CONNECTION_OK)
		return true;
	front_link_close(l);
	l->kind = FRONT_LINK;
	l->pg = link_open(l, stmts, n);
	return l->pg != NULL;
}

void front_link_close(struct front_link *l)
{
	if (!l->pg)
		return;
	epoll_ctl(front_epoll_fd, EPOLL_CTL_DEL, PQsocket(l->pg), NULL);
	PQfinish(l->pg);
	l->pg = NULL;
}

/* The statement is over: res, or NULL when the connection was lost. */
static void link_done(struct front_link *l, PGresult *res)
{
	l->busy = false;
	l->result = NULL;
	l->done(l, res);
}

void front_link_take_result(struct front_link *l)
{
	PGresult *res = PQgetResult(l->pg);
	if (!res)
		link_done(l, l->result);
	else if (l->result)
		PQclear(res);
	else
		l->result = res;
}

void front_link_receive(struct front_link *l)
{
	if (!l->pg)
		return; /* closed earlier in this round of events */
	if (!PQconsumeInput(l->pg) || PQstatus(l->pg) == CONNECTION_BAD) {
		if (l->busy) {
			PQclear(l->result);
			link_done(l, NULL);
		} else {
			front_link_close(l); /* the server closed it: the next statement reconnects */
		}
		return;
	}
	while (l->busy && !PQisBusy(l->pg))
		front_link_take_result(l);
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

/* Closes c as soon as it is answered, with nothing more to write. */
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
		epoll_ctl(front_epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
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
	if (epoll_ctl(front_epoll_fd, op, c->fd, &ev) == 0)
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
	sends_queue(handling);
}

static void front_history(struct http_req *req)
{
	if (!history_read(req, &handling->read))
		return;
	handling->read_tries = 0;
	handling->followed = false;
	handling->queued = true;
	reads_queue(handling);
}

static const struct http_route front_routes[] = {
	{"GET", "/api/chats/{chat_id}/messages", front_history},
	{"POST", "/api/chats/{chat_id}/messages", front_send},
};

/* Handles the request that c's records completed: it is answered, or
 * queued. */
static void request_start(struct front_conn *c)
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
	if (!c->queued)
		request_end(c);
}

void front_answered(struct front_conn *c)
{
	c->queued = false;
	request_end(c);
	/* Stopping, nothing new is started: nginx answers 503 to a request
	 * left unread, as when the process is gone. */
	if (!c->closing && !c->out.len && c->in.len && !srv_stopping())
		conn_take(c);
	conn_settle(c);
}

/* Takes the whole records read so far, and handles a request they
 * complete. Stops at a queued request: nginx sends no other on the
 * connection before its answer. */
static void conn_take(struct front_conn *c)
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
			request_start(c);
		} else {
			break;
		}
	}
	if (c->out.len > c->out_sent)
		conn_flush(c); /* records fcgi_feed() answered */
}

/* Reads what c has sent, and takes it. */
static void conn_read(struct front_conn *c)
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
		conn_take(c);
	}
}

static void conns_accept(int listen_fd)
{
	int fd;
	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct front_conn *c = calloc(1, sizeof *c);
		struct arena *arena = c ? arena_new() : NULL;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (!arena || epoll_ctl(front_epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
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
		conn_read(c);
		conn_settle(c);
	}
}

static void conn_event(struct front_conn *c)
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
		conn_read(c); /* a hang-up reads as the end */
}

void messages_companion(int listen_fd)
{
	front_epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	static enum front_kind listener = FRONT_LISTENER;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listener};
	if (front_epoll_fd < 0 || epoll_ctl(front_epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
		log_error("the companion could not start: %s", strerror(errno));
		return;
	}
	/* Non-blocking, so that one accept loop takes every waiting connection. */
	fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
	page_cache_set_budget((size_t)config_int("MSGR_PAGE_CACHE_KB", 8192, 0, 1048576) * 1024);
	sends_start();
	int read_links = (int)config_int("MSGR_READ_LINKS", 4, 1, 64);
	reads_start(read_links);
	log_info("serving sends, written in batches, and reads on %d connections", read_links);
	struct epoll_event events[FRONT_EVENTS];
	while (!srv_stopping()) {
		int n = srv_companion_wait(front_epoll_fd, events, FRONT_EVENTS);
		if (n < 0 && errno != EINTR) {
			log_error("the companion's wait failed: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			enum front_kind *kind = events[i].data.ptr;
			if (*kind == FRONT_LISTENER) {
				conns_accept(listen_fd);
			} else if (*kind == FRONT_LINK) {
				front_link_receive((struct front_link *)kind);
			} else {
				struct front_conn *c = (struct front_conn *)kind;
				conn_event(c);
				conn_settle(c);
			}
		}
		sends_next();
		reads_next();
		conns_free_closed();
	}
	/* What was read is answered: sends written, reads rendered. */
	sends_finish();
	reads_finish();
	conns_free_closed();
	close(front_epoll_fd);
}
