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
enum front_kind { FRONT_LISTENER, FRONT_CONN, FRONT_SEND_LINK, FRONT_READ_LINK };

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

struct front_statement {
	const char *name, *sql;
	int nparams;
};
/* A database connection of the companion's (db_open()), with these
 * statements prepared, whose events come to the loop with owner as their
 * data.ptr (a struct that starts with its kind); NULL when none (logged). */
PGconn *front_link_open(void *owner, const struct front_statement *stmts, size_t n);
/* Closes a connection front_link_open() made; NULL is fine. */
void front_link_close(PGconn *pg);

/* batch.c */
void sends_start(void);
/* Queues c's send (c->send) for the next batch, or answers it. */
void sends_queue(struct front_conn *c);
/* Starts the next batch when the connection is free for it. */
void sends_next(void);
/* The database sent something on the sends' connection (an epoll event). */
void sends_receive(void *link);
/* Writes and answers every send queued: when the companion stops. */
void sends_finish(void);

/* reads.c */
void reads_start(int links);
/* Queues c's read (c->read). */
void reads_queue(struct front_conn *c);
/* Sends what waits to the connections free for it. */
void reads_next(void);
void reads_receive(void *link);
/* Answers every read queued: when the companion stops. */
void reads_finish(void);

#endif
