/*
 * companion.h - the parts of the messages program's companion: one process
 * that serves, from one event loop, the requests nginx passes to
 * "<socket>.loop" (JSON sends and history reads), with the database work
 * done asynchronously on connections of its own.
 *
 *   companion.c  the loop, nginx's connections, FastCGI, the routes
 *   batch.c      sends, written in batches on one connection
 *   reads.c      reads, their pages' stamps checked in batches and pages
 *                rendered on a few connections
 *
 * A request that waits for the database is "queued" on its connection;
 * whoever answers it calls front_answered().
 */
#ifndef MSGR_COMPANION_H
#define MSGR_COMPANION_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "arena.h"
#include "buf.h"
#include "fcgi_wire.h"
#include "messages.h"

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
	struct send_input send;      /* a send, while queued */
	struct history_query read;   /* a read, while queued */
	int read_tries;              /* its statements lost with their connection */
	bool followed;               /* it followed another read's render */
	struct front_conn *next_read; /* in a queue of reads.c */
	struct timespec start;
	struct buf out;       /* records to write */
	size_t out_sent;
	bool queued;  /* waiting for the database to answer */
	bool closing; /* closed once answered and written */
	bool closed;  /* freed at the end of the loop's round */
	struct front_conn *next_closed;
};

/* companion.c */
/* c's queued request has its answer: writes it, and takes the next. */
void front_answered(struct front_conn *c);

/* A database connection of the companion's ("link"), and the one
 * statement in flight on it, sent with PQsendQueryPrepared(). batch.c and
 * reads.c make it the first member of theirs. */
struct front_link {
	enum front_kind kind; /* FRONT_LINK */
	PGconn *pg;           /* NULL until connected */
	bool busy;            /* a statement is in flight */
	PGresult *result;     /* its first result, while the rest come */
	/* The statement's outcome: its result (which done takes), or NULL when
	 * the connection was lost before it came. */
	void (*done)(struct front_link *l, PGresult *res);
};

struct front_statement {
	const char *name, *sql;
	int nparams;
};
/* Connects l (db_open()) when it is not, with these statements prepared;
 * false when it cannot (logged). */
bool front_link_ready(struct front_link *l, const struct front_statement *stmts, size_t n);
/* Closes l's connection, if any. */
void front_link_close(struct front_link *l);
/* Reads what the database sent on l (its epoll event), and passes the
 * statement's outcome to done once complete. */
void front_link_receive(struct front_link *l);
/* Waits for the statement's next result: when the companion stops. */
void front_link_take_result(struct front_link *l);

/* batch.c */
void sends_start(void);
/* Queues c's send (c->send) for the next batch, or answers it. */
void sends_queue(struct front_conn *c);
/* Starts the next batch when the connection is free for it. */
void sends_next(void);
/* Writes and answers every send queued: when the companion stops. */
void sends_finish(void);

/* reads.c */
void reads_start(int links);
/* Queues c's read (c->read). */
void reads_queue(struct front_conn *c);
/* Sends what waits to the connections free for it. */
void reads_next(void);
/* Answers every read queued: when the companion stops. */
void reads_finish(void);

#endif
