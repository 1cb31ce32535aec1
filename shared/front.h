/*
 * front.h - a FastCGI server on one event loop, for the requests a program
 * serves better in one place than in each of its workers (server.h's
 * companion: the messages program writes its sends in batches there).
 *
 * It accepts nginx's connections on the listening socket it is given,
 * reads FastCGI records (fcgi_wire.h), one request at a time per
 * connection, kept between requests (fastcgi_keep_conn) or not, and hands
 * each request to the loop handler of its route (http.h: the routes
 * without one are not served here, 404 or 405). Nothing waits: a handler
 * either answers at once, with http.h's functions, or holds the request
 * with front_hold() and answers it later, on an event of its own (a
 * database link's, pglink.h), with front_answered(). Meanwhile the loop
 * reads the next requests of every other connection; nginx sends no other
 * request on a connection before the answer to its last.
 *
 *	static void history_loop(struct http_req *req, struct front_req *fr)
 *	{
 *		if (!history_read(req, &q))
 *			return;                 // answered (401, 422)
 *		front_hold(fr);
 *		queue_for_the_database(fr, ...); // later: answer req, then
 *		                                 // front_answered(fr)
 *	}
 *
 * A held request is answered exactly once, by its holder, stopping or not:
 * its connection (and so its struct front_req, its http_req and the
 * request's arena, where the holder may keep what it needs until then)
 * lives until front_answered(), even when nginx closes its end. A held
 * request must not be answered by a handler's return.
 *
 * One loop per process, on one thread; no function here may be called
 * from another.
 */
#ifndef MSGR_FRONT_H
#define MSGR_FRONT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "http.h"

struct front;
struct front_req;

struct front_config {
	/* The program's table; only the routes with a loop handler are
	 * served. */
	const struct http_route *routes;
	size_t nroutes;
	/* The largest body taken (FCGI_STDIN); longer ones are cut there, and
	 * the handler's body reader answers 413. */
	size_t body_limit;
	/* Called after each round of events, once the requests the round
	 * completed have gone to their handlers: the place to start the work
	 * they queued (one statement for many). May be NULL. */
	void (*round_end)(void *arg);
	/* Called once by front_serve() when the process stops: must answer
	 * every request still held (it may wait for the database then). May
	 * be NULL when nothing is ever held. */
	void (*finish)(void *arg);
	void *arg;
};

/* A loop serving the connections accepted on listen_fd (made non-blocking
 * here), or none when it is -1 (a loop for front_watch() only). NULL when
 * it cannot be made (logged). */
struct front *front_new(int listen_fd, const struct front_config *cfg);
/* Closes every connection and the loop; no request may be held. Accepts
 * NULL. listen_fd stays open (the caller's). */
void front_free(struct front *f);

/* Serves until srv_stopping() (server.h), waiting in srv_companion_wait();
 * then calls cfg->finish and writes what was answered. */
void front_serve(struct front *f);
/* One round: waits up to timeout_ms (-1: without limit) for events and
 * handles them, as front_serve() does in turn. Returns how many events it
 * handled, or -1 when the wait failed (errno). For tests, and loops of
 * their own. */
int front_turn(struct front *f, int timeout_ms);

/* The HTTP side of fr: what came in, and where the answer goes. */
struct http_req *front_http(struct front_req *fr);
/* In fr's loop handler: the handler returns without an answer, which the
 * caller gives later with front_answered(). */
void front_hold(struct front_req *fr);
/* fr's held request has its answer (given with http.h's functions on its
 * http_req): it is written to nginx, and the connection takes its next
 * request, which may come to a loop handler before this returns. fr is
 * not valid afterwards. */
void front_answered(struct front_req *fr);

/*
 * Other descriptors whose events the loop waits for (a database
 * connection's socket, a timer): embed a struct front_watch, set ready,
 * and watch the descriptor for what it waits for: readable, writable (it
 * can take more bytes), or both. ready is called from the loop when one of
 * those comes, or fd is closed or failed (always reported), without
 * saying which: it tries what it waits for, and expects EAGAIN. Asking
 * again for a descriptor already watched changes what it waits for (a
 * descriptor closed meanwhile, and so dropped by the loop, is added
 * again). Readiness is level-triggered: a watch that asks for writable
 * while it has nothing to write is called at every round. A watch removed
 * during a round may still be called in that round, so it must stay valid
 * (and say it is done) until the round ends.
 */
struct front_watch {
	void (*ready)(struct front_watch *w);
};
enum front_events { FRONT_READABLE = 1u << 0, FRONT_WRITABLE = 1u << 1 };
/* Waits for events (front_events, or'ed; not 0) on fd. */
enum msgr_err front_watch(struct front *f, int fd, struct front_watch *w,
			  unsigned events) MSGR_WUR;
void front_unwatch(struct front *f, int fd);

#endif
