/*
 * front.c - a FastCGI server on one event loop (front.h).
 *
 * Each of nginx's connections carries one request at a time; its records
 * are read into c->in and taken by fcgi_feed() until a request is complete,
 * which then goes to its loop handler. While a request is held nothing more
 * is read from its connection (nginx sends nothing before the answer), and
 * the connection is neither closed nor freed, whatever nginx does, so that
 * the holder's handle stays valid. A connection is closed once it asked to
 * be (no FCGI_KEEP_CONN), or nginx went away, and nothing is held or left
 * to write; it is freed at the end of the round of events, since an event
 * of the same round may still point to it.
 */
#define _GNU_SOURCE /* accept4 */
#include "front.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "fcgi_wire.h"
#include "log.h"
#include "metrics.h"
#include "server.h"

#define FRONT_EVENTS 64
#define FRONT_READ_CHUNK (16 * 1024)

/* The request a connection carries. */
struct front_req {
	struct front_conn *conn;
	struct http_req http;
	struct buf answer; /* http's HTTP answer */
	struct timespec start;
	size_t route; /* its index in the route table, for metrics.h */
	bool in_handler; /* its loop handler is running */
	bool held;       /* waiting for its holder's answer */
};

/* A connection from nginx. */
struct front_conn {
	struct front_watch watch; /* its socket's events */
	struct front *front;
	int fd;
	uint32_t waiting_for; /* the epoll events asked for */
	struct buf in;        /* bytes read and not yet taken as records */
	struct fcgi_request fcgi;
	struct arena *arena; /* the request's */
	struct front_req req;
	struct buf out; /* records to write */
	size_t out_sent;
	bool closing; /* closed once answered and written */
	bool closed;  /* freed at the end of the round */
	/* In f->open until closed, then in f->closed. */
	struct front_conn *prev, *next;
};

struct front {
	int epoll_fd;
	int listen_fd;
	struct front_watch listener;
	struct front_config cfg;
	struct front_conn *open;
	struct front_conn *closed;
};

static void conn_take(struct front_conn *c);

/* ---- watches ------------------------------------------------------------------ */

enum msgr_err front_watch(struct front *f, int fd, struct front_watch *w, unsigned events)
{
	struct epoll_event ev = {
		.events = (events & FRONT_READABLE ? EPOLLIN : 0) |
			  (events & FRONT_WRITABLE ? EPOLLOUT : 0),
		.data.ptr = w,
	};
	/* A change first: a watch changes what it waits for more often than
	 * it starts, and libpq may have closed the socket it had (epoll then
	 * forgot it) and opened another under the same number. */
	if (epoll_ctl(f->epoll_fd, EPOLL_CTL_MOD, fd, &ev) != 0 &&
	    (errno != ENOENT || epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0)) {
		log_error("could not wait on descriptor %d: %s", fd, strerror(errno));
		return MSGR_ERR_IO;
	}
	return MSGR_OK;
}

void front_unwatch(struct front *f, int fd)
{
	epoll_ctl(f->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
}

/* ---- connections ------------------------------------------------------------- */

static void conn_free(struct front_conn *c)
{
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->req.answer);
	buf_free(&c->req.http.extra_headers);
	fcgi_request_free(&c->fcgi);
	arena_free(c->arena);
	free(c);
}

static void conns_free_closed(struct front *f)
{
	while (f->closed) {
		struct front_conn *c = f->closed;
		f->closed = c->next;
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
	if (c->closed || !c->closing || c->req.held || c->out.len)
		return;
	struct front *f = c->front;
	if (c->waiting_for)
		epoll_ctl(f->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->closed = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		f->open = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = f->closed;
	f->closed = c;
}

/* Waits for these events on c; 0: for none (a hang-up is reported even
 * then, so c leaves the epoll set). */
static void conn_wait_for(struct front_conn *c, uint32_t events)
{
	if (c->waiting_for == events)
		return;
	struct epoll_event ev = {.events = events, .data.ptr = &c->watch};
	int op = !events ? EPOLL_CTL_DEL : c->waiting_for ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(c->front->epoll_fd, op, c->fd, &ev) == 0)
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

/* ---- requests ----------------------------------------------------------------- */

/* Answers c's request (500 when the handler did not), logs it, and makes
 * c ready for the next. */
static void request_end(struct front_conn *c)
{
	struct front_req *r = &c->req;
	struct http_req *req = &r->http;
	if (!req->status) {
		log_error("%s %s: the handler gave no answer", req->method, req->path);
		http_problem(req, 500, "internal_error", "the server failed to answer this request");
	}
	double ms = log_ms_since(&r->start);
	log_request(req->method, req->path, req->status, ms, req->user_id, req->request_id);
	metrics_request(r->route, req->status, ms / 1e3);
	fcgi_put_answer(&c->out, c->fcgi.id, buf_cstr(&r->answer), r->answer.len);
	/* Out of memory: nginx gets no answer, and sends a 503 problem. */
	bool written = buf_status(&r->answer) == MSGR_OK && buf_status(&c->out) == MSGR_OK;
	if (!c->fcgi.keep_conn)
		c->closing = true; /* nginx waits for the close */
	buf_reset(&r->answer);
	fcgi_request_reset(&c->fcgi);
	arena_reset(c->arena);
	if (written)
		conn_flush(c);
	else
		conn_drop(c);
}

/* Hands the request that c's records completed to its loop handler: it is
 * answered, or held. */
static void request_start(struct front_conn *c)
{
	struct front_req *r = &c->req;
	const struct front_config *cfg = &c->front->cfg;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	char **envp = fcgi_envp(&c->fcgi, c->arena);
	if (!envp) {
		log_error("nginx sent FastCGI parameters that do not add up");
		conn_drop(c);
		return;
	}
	http_req_begin(&r->http, c->arena, envp);
	r->http.held = (struct http_held){
		.body = c->fcgi.stdin.data ? c->fcgi.stdin.data : "",
		.body_len = c->fcgi.stdin.len,
		.answer = &r->answer,
	};
	const struct http_route *route =
		http_route_find(&r->http, cfg->routes, cfg->nroutes, true);
	r->route = route ? (size_t)(route - cfg->routes) : cfg->nroutes;
	if (route) {
		r->in_handler = true;
		route->loop(&r->http, r);
		r->in_handler = false;
	}
	if (!r->held)
		request_end(c);
}

struct http_req *front_http(struct front_req *fr)
{
	return &fr->http;
}

void front_hold(struct front_req *fr)
{
	fr->held = true;
}

void front_answered(struct front_req *fr)
{
	struct front_conn *c = fr->conn;
	fr->held = false;
	if (fr->in_handler)
		return; /* answered before its handler returned: request_start ends it */
	request_end(c);
	/* Stopping, nothing new is started: nginx answers 503 to a request
	 * left unread, as when the process is gone. */
	if (!c->closing && !c->out.len && c->in.len && !srv_stopping())
		conn_take(c);
	conn_settle(c);
}

/* Takes the whole records read so far, and handles a request they
 * complete. Stops at a held request: nginx sends no other on the
 * connection before its answer. */
static void conn_take(struct front_conn *c)
{
	while (!c->req.held && !c->closing && c->in.len) {
		size_t used;
		enum fcgi_feed_result r =
			fcgi_feed(&c->fcgi, (const unsigned char *)c->in.data, c->in.len, &used,
				  c->front->cfg.body_limit, &c->out);
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
	while (!c->req.held && !c->closing && !c->out.len) {
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

static void conn_ready(struct front_watch *w)
{
	struct front_conn *c = (struct front_conn *)w;
	if (c->closed)
		return;
	if (c->req.held) {
		/* Nothing is read before the answer; a hang-up would be
		 * reported again and again meanwhile. */
		conn_wait_for(c, 0);
	} else if (c->out.len) {
		conn_flush(c);
	} else {
		conn_read(c); /* a hang-up reads as the end */
	}
	conn_settle(c);
}

static void conns_accept(struct front_watch *w)
{
	struct front *f = (struct front *)((char *)w - offsetof(struct front, listener));
	int fd;
	while ((fd = accept4(f->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct front_conn *c = calloc(1, sizeof *c);
		struct arena *arena = c ? arena_new() : NULL;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c ? &c->watch : NULL};
		if (!arena || epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			log_error("could not take a connection: %s", strerror(errno));
			arena_free(arena);
			free(c);
			close(fd);
			continue;
		}
		c->watch.ready = conn_ready;
		c->front = f;
		c->fd = fd;
		c->arena = arena;
		c->req.conn = c;
		c->waiting_for = EPOLLIN;
		c->next = f->open;
		if (f->open)
			f->open->prev = c;
		f->open = c;
		conn_read(c);
		conn_settle(c);
	}
}

/* ---- the loop ----------------------------------------------------------------- */

struct front *front_new(int listen_fd, const struct front_config *cfg)
{
	struct front *f = calloc(1, sizeof *f);
	if (!f) {
		log_error("out of memory for the event loop");
		return NULL;
	}
	f->cfg = *cfg;
	f->listen_fd = listen_fd;
	f->listener.ready = conns_accept;
	f->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (f->epoll_fd < 0) {
		log_error("could not make an event loop: %s", strerror(errno));
		free(f);
		return NULL;
	}
	if (listen_fd >= 0) {
		/* Non-blocking, so that one accept loop takes every waiting
		 * connection. */
		int flags = fcntl(listen_fd, F_GETFL);
		if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
		    front_watch(f, listen_fd, &f->listener, FRONT_READABLE) != MSGR_OK) {
			log_error("could not listen from the event loop: %s", strerror(errno));
			close(f->epoll_fd);
			free(f);
			return NULL;
		}
	}
	return f;
}

void front_free(struct front *f)
{
	if (!f)
		return;
	while (f->open) {
		struct front_conn *c = f->open;
		f->open = c->next;
		if (c->req.held)
			log_error("a request was still held when the loop ended");
		close(c->fd);
		conn_free(c);
	}
	conns_free_closed(f);
	close(f->epoll_fd);
	free(f);
}

/* Handles a round of n events. */
static void front_round(struct front *f, struct epoll_event *events, int n)
{
	for (int i = 0; i < n; i++) {
		struct front_watch *w = events[i].data.ptr;
		w->ready(w);
	}
	if (f->cfg.round_end)
		f->cfg.round_end(f->cfg.arg);
	conns_free_closed(f);
}

int front_turn(struct front *f, int timeout_ms)
{
	struct epoll_event events[FRONT_EVENTS];
	int n = epoll_wait(f->epoll_fd, events, FRONT_EVENTS, timeout_ms);
	if (n < 0)
		return -1;
	front_round(f, events, n);
	return n;
}

void front_serve(struct front *f)
{
	struct epoll_event events[FRONT_EVENTS];
	while (!srv_stopping()) {
		int n = srv_companion_wait(f->epoll_fd, events, FRONT_EVENTS);
		if (n < 0 && errno != EINTR) {
			log_error("the event loop's wait failed: %s", strerror(errno));
			break;
		}
		front_round(f, events, n > 0 ? n : 0);
	}
	/* What was read is answered. */
	if (f->cfg.finish)
		f->cfg.finish(f->cfg.arg);
	conns_free_closed(f);
}
