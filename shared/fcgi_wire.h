/*
 * fcgi_wire.h - the FastCGI protocol's records, for a program that serves
 * many connections from one event loop (libfcgi blocks on one request).
 *
 * A responder only, one request at a time per connection (it does not
 * multiplex, as FastCGI allows and nginx does not do), with keep-alive
 * (FCGI_KEEP_CONN). The caller reads bytes from the connection and feeds
 * them in; fcgi_feed() takes whole records and says when a request's
 * parameters and body are complete. Records it answers itself (a second
 * request on the connection, another role, a management record) go to
 * the caller's output buffer.
 */
#ifndef MSGR_FCGI_WIRE_H
#define MSGR_FCGI_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"

struct fcgi_request {
	uint16_t id;          /* 0 until FCGI_BEGIN_REQUEST */
	bool keep_conn;       /* the web server keeps the connection after it */
	bool params_done;     /* the empty FCGI_PARAMS record came */
	bool stdin_done;      /* the empty FCGI_STDIN record came */
	bool stdin_overflow;  /* the body was longer than the limit: dropped */
	struct buf params;    /* the name-value pairs, as they came */
	struct buf stdin;     /* the body, at most the limit */
};

enum fcgi_feed_result {
	FCGI_FEED_MORE,  /* every whole record taken; read more */
	FCGI_FEED_READY, /* the request is complete; later bytes are left */
	FCGI_FEED_BAD,   /* not FastCGI: close the connection */
};

/* Takes the whole records at the start of data (len bytes) into r and
 * sets *used to the bytes taken. The body beyond stdin_limit bytes is
 * dropped and flagged. Records answered here are appended to out. */
enum fcgi_feed_result fcgi_feed(struct fcgi_request *r, const unsigned char *data, size_t len,
				size_t *used, size_t stdin_limit, struct buf *out);

/* The parameters as an environment: "NAME=value" strings in arena, NULL
 * last (the shape libfcgi gives, so FCGX_GetParam() reads it). NULL when
 * the pairs do not add up, or hold a NUL, or a name holds '='. */
char **fcgi_envp(const struct fcgi_request *r, struct arena *arena);

/* Appends the answer to request id: data in FCGI_STDOUT records, the
 * empty one, and FCGI_END_REQUEST. */
void fcgi_put_answer(struct buf *out, uint16_t id, const char *data, size_t len);

/* Forgets the request, keeping the buffers' memory for the next. */
void fcgi_request_reset(struct fcgi_request *r);
void fcgi_request_free(struct fcgi_request *r);

#endif
