/*
 * http.h - one FastCGI request: what came in and what goes out.
 *
 * Handlers get a struct http_req and must answer exactly once with one of
 * the http_send*, http_problem* or http_no_content functions. Helpers that
 * can fail because of the client's input (http_parse_body, http_require_user)
 * answer with the right problem themselves and return false, so a handler
 * just returns when they do.
 *
 * Problems follow RFC 9457: application/problem+json with type, title,
 * status, detail and a stable snake_case "code".
 */
#ifndef MSGR_HTTP_H
#define MSGR_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "valid.h"

#define HTTP_MAX_PATH_PARAMS 4

struct http_req {
	struct arena *arena;  /* reset after the request */
	void *fcgx;           /* FCGX_Request *, private to http.c and server.c */
	char **envp;          /* the FastCGI parameters, "NAME=value" each */
	const char *method;   /* "GET", ... */
	const char *path;     /* raw path, without the query string */
	const char *query;    /* raw query string, "" when none */
	const char *remote_addr;
	/* X-Request-Id as nginx passes it (1 to 64 of [A-Za-z0-9._-]), or
	 * NULL: it goes into the request's log line and problem documents. */
	const char *request_id;
	int64_t user_id;      /* set by http_require_user, 0 before */
	/* The token's login session (its sid), set with user_id; 0 for a
	 * token without one. Every statement passes it with the user to
	 * live_session_user() (http_session_param()). */
	int64_t session_id;
	char session_param[24]; /* session_id in decimal, "" when 0 */
	int status;           /* the status answered, 0 before the answer */

	/* Captured by the router, percent-decoded, arena-owned. */
	const char *path_str[HTTP_MAX_PATH_PARAMS];
	size_t path_len[HTTP_MAX_PATH_PARAMS];
	int64_t path_id[HTTP_MAX_PATH_PARAMS]; /* for {...id} placeholders */
	int npath;

	/* Response headers added before the answer, "Name: value\r\n" each. */
	struct buf extra_headers;
	/* The request body once read; NULL before. */
	const char *body;
	size_t body_len;

	/* A request an event loop read whole (fcgx NULL): its body, and the
	 * buffer the answer is written to. */
	struct http_held {
		const char *body;
		size_t body_len;
		size_t body_read;
		struct buf *answer;
	} held;
};

/* Starts req for a request with these FastCGI parameters; everything the
 * previous request left is cleared (extra_headers keeps its memory). The
 * caller then sets req->fcgx, or req->held. */
void http_req_begin(struct http_req *req, struct arena *arena, char **envp);
/* Whether id is an X-Request-Id as nginx's map lets it through (1 to
 * HTTP_REQUEST_ID_MAX of [A-Za-z0-9._-]): one behind an nginx without the
 * map comes from the client unchecked, and it goes into logs. */
#define HTTP_REQUEST_ID_MAX 64
bool http_request_id_valid(const char *id);

/* A FastCGI parameter that nginx's configuration sets (by its CGI name,
 * "MESSENGER_FILES_URI"), or NULL. Request headers are http_header's. */
const char *http_param(struct http_req *req, const char *name);

/* A request header by its HTTP name ("Content-Type", "Authorization"),
 * or NULL. */
const char *http_header(struct http_req *req, const char *name);

/* The first value of a query parameter, percent-decoded; false when absent
 * or malformed. */
bool http_query(struct http_req *req, const char *name, const char **value, size_t *len);
/* Validates query parameters against specs like a body (all values are
 * strings in the query, so FIELD_ID and FIELD_INT parse them); answers 422
 * and returns false on any error. */
bool http_parse_query(struct http_req *req, const struct field_spec *specs, size_t n,
		      struct field_value *out);

/* Reads the body, at most limit bytes (413 beyond); sets req->body. */
bool http_read_body(struct http_req *req, size_t limit);
/* Streams the body instead, for bodies too large to hold (uploads): reads
 * up to cap bytes into buf and returns how many, less than cap only at the
 * end of the body; 0 at the end, -1 when the connection failed. Not to be
 * mixed with http_read_body() on one request. */
long http_read_some(struct http_req *req, char *buf, size_t cap);
/* Reads and drops whatever is left of the body: a handler that answers
 * before it read everything calls this first, so that the web server is not
 * cut off while it still sends the body. */
void http_discard_body(struct http_req *req);
/* Reads a JSON object or form body of at most limit bytes and validates it
 * against specs. Answers 400 (malformed), 413 (too large), 415 (another
 * content type) or 422 (field errors) itself and returns false then. */
bool http_parse_body(struct http_req *req, size_t limit, const struct field_spec *specs,
		     size_t n, struct field_value *out);

/* Verifies "Authorization: Bearer <access token>" and sets req->user_id;
 * answers 401 with WWW-Authenticate: Bearer and returns false otherwise. */
bool http_require_user(struct http_req *req);
/* The session of the token http_require_user() accepted, as the text
 * parameter of a statement's live_session_user($user, $sid): NULL (SQL
 * NULL, "no session to check") for a token without sid. */
const char *http_session_param(const struct http_req *req);

void http_add_header(struct http_req *req, const char *name, const char *value);
void http_send(struct http_req *req, int status, const char *content_type, const char *body,
	       size_t len);
void http_send_json(struct http_req *req, int status, const char *json, size_t len);
void http_no_content(struct http_req *req);
/* Answers a problem; detail is printf-style and read by people. */
void http_problem(struct http_req *req, int status, const char *code, const char *detail_fmt,
		  ...) __attribute__((format(printf, 4, 5)));
/* Answers a problem with one more member, name: json (a JSON value). */
void http_problem_with(struct http_req *req, int status, const char *code, const char *name,
		       const char *json, const char *detail_fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Answers 422 with the collected field errors. */
void http_problem_fields(struct http_req *req, const struct field_errors *errs);
/* The reason phrase of a status ("Not Found"). */
const char *http_status_text(int status);

/*
 * Routing: a table of "METHOD /path/{name}" patterns. A placeholder whose
 * name ends in "id" only matches a positive 64-bit decimal id (put in
 * path_id), others match any non-empty segment (percent-decoded into
 * path_str). No match is 404; a path that matches with another method is 405
 * with Allow.
 *
 * A program has one table. Each route names the handler its workers run
 * and, for the requests nginx passes to its event loop (shared/front.h,
 * "<socket>.loop"), the loop's handler, which may hold the request and
 * answer it later. `PROGRAM --routes` prints the table (server.h).
 */
struct front_req; /* shared/front.h */

struct http_route {
	const char *method;
	const char *pattern;
	void (*handle)(struct http_req *req);
	/* The event loop's handler, or NULL when the loop does not serve the
	 * route. */
	void (*loop)(struct http_req *req, struct front_req *fr);
};

/* The route req's method and path take, its captures filled in; NULL after
 * answering 404 or 405. With loop_only, the routes without a loop handler
 * are not there. */
const struct http_route *http_route_find(struct http_req *req, const struct http_route *routes,
					 size_t n, bool loop_only);
/* Runs the worker's handler of req's route (or answers 404, 405);
 * returns the route, or NULL when none matched. */
const struct http_route *http_dispatch(struct http_req *req, const struct http_route *routes,
				       size_t n);

#endif
