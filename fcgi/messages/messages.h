/*
 * messages.h - the messages program's handlers (API.md "Chats and
 * messages": history, sending, editing, deleting, reactions, read markers
 * and search). Each handler validates its input and makes one call of a
 * function of schema/functions/messages.sql, which answers (shared/reply.h).
 */
#ifndef MSGR_MESSAGES_H
#define MSGR_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "pagecache.h"
#include "reply.h"
#include "sqlparam.h"

/* A JSON body: 4000 code points of text, escaped, and the rest. */
#define MESSAGES_BODY_LIMIT (64 * 1024)
#define MESSAGE_TEXT_MAX 4000    /* code points */
#define MESSAGE_CLIENT_ID_MAX 64 /* code points */
#define MESSAGE_FILES_MAX 10

/* main.c: settings read once per worker and by the loop. */
struct messages_config {
	double send_rate;  /* messages a second per user; 0 = no limit */
	double send_burst; /* the bucket's size */
};
extern struct messages_config messages_config;

/* The send limits as the text parameters of message_send() and
 * message_send_batch(). */
static inline void send_limit_params(char rate[SQLPARAM_INT_LEN], char burst[SQLPARAM_INT_LEN])
{
	sqlparam_int(rate, (int64_t)messages_config.send_rate);
	sqlparam_int(burst, (int64_t)messages_config.send_burst);
}

/* text.c */
/* The check of a message's text beyond valid UTF-8 without NUL: no control
 * characters but tab, line feed and carriage return. NULL when fine. */
const char *message_text_check(const char *s, size_t len);
/* True when the text is empty or only white space. */
bool message_text_blank(const char *s, size_t len);

/* history.c */
void handle_history(struct http_req *req);

/* A read of history, validated: its statements' parameters and its pages'
 * keys (a cursor absent is -1 there), shared by every member or the
 * viewer's own. */
struct history_query {
	char uid[SQLPARAM_INT_LEN], chat[SQLPARAM_INT_LEN];
	const char *sid; /* http_session_param(): NULL for a token without sid */
	char before[SQLPARAM_INT_LEN], after[SQLPARAM_INT_LEN], limit[SQLPARAM_INT_LEN];
	bool has_before, has_after;
	char shared_key[4 * SQLPARAM_INT_LEN];
	char own_key[5 * SQLPARAM_INT_LEN];
};

/* The current stamp of a chat's pages, for a member only: version, period.
 * A member who cleared the chat's history (chat_delete()) sees pages of
 * their own: no stamp (NULL), so none is kept or answered for them. The
 * member's session must be live ($3, the sid: session_live()): when it is
 * not, no row, and the render answers 401. */
#define HISTORY_STAMP_SQL                                                          \
	"SELECT CASE WHEN m.cleared_upto = 0 THEN c.version END, file_url_period() " \
	"FROM chat_members m "                                                       \
	"JOIN chats c ON c.id = m.chat_id WHERE m.chat_id = $2::bigint "            \
	"AND m.user_id = $1::bigint AND session_live($1::bigint, $3::bigint)"
/* The page as an api_reply's columns (chat_page() renders it as text, which
 * is sent as it comes) with the stamp read in the render's own snapshot:
 * status, body, event_id, version, period. */
#define HISTORY_NPARAMS 6
#define HISTORY_RENDER_SQL                                                         \
	"SELECT 200, r.body, NULL::bigint, "                                         \
	"CASE WHEN m.cleared_upto = 0 THEN c.version END, file_url_period() "        \
	"FROM chat_page(live_session_user($1, $6), $2, $3, $4, $5::int) AS r(body) " \
	"LEFT JOIN chats c ON c.id = $2::bigint "                                    \
	"LEFT JOIN chat_members m ON m.chat_id = $2::bigint AND m.user_id = $1::bigint"

/* Reads and validates the request; false when it answered (401, 422). */
bool history_read(struct http_req *req, struct history_query *q);
/* The render's parameters, pointing into q. */
void history_params(const struct history_query *q, const char *params[HISTORY_NPARAMS]);
/* True when this process keeps a page for q (current or not). */
bool history_kept(const struct history_query *q, struct cached_page *page);
/* The stamp in columns col and col + 1 of res's row; false when NULL. */
bool history_stamp_of(const PGresult *res, int row, int col, struct page_stamp *stamp);
/* Answers the kept page when its stamp is now's; false when it did not. */
bool history_answer_kept(struct http_req *req, const struct history_query *q,
			 struct page_stamp now);
/* True when res, a render on the replica, is a page that shows version
 * need.version or a later one: it may be answered (and kept). */
bool history_replica_current(const PGresult *res, struct page_stamp need);
/* Answers the render's result (or its problem), and keeps the page. Takes
 * res. */
void history_answer_render(struct http_req *req, const struct history_query *q, PGresult *res);

/* send.c */
void handle_send(struct http_req *req);
/* What a JSON send carries, validated. */
struct send_input {
	const char *text; /* NULL when absent */
	size_t text_len;
	const char *client_id; /* NULL when absent */
	size_t client_id_len;
	const char *file_ids; /* a PostgreSQL array literal ("{}" for none) */
	size_t nfiles;
	const char *reply_to; /* the id answered, as text; NULL when none */
};
/* Reads and validates a JSON send's body; false when it answered (400,
 * 413, 415, 422). */
bool send_json_read(struct http_req *req, struct send_input *in);
/* True when a batch may write it: text that is not blank, no files, not a
 * reply (message_send() checks the message replied to). */
bool send_batchable(const struct send_input *in);
/* A send written alone: message_send(), which answers every case exactly,
 * and the NOTIFY of its event in its transaction (sent at its commit, as a
 * batch's is), so the row's event id is NULL and reply_send() sends none
 * after it. */
#define SEND_JSON_NPARAMS 11
#define SEND_JSON_SQL                                                              \
	"SELECT r.status, r.body, NULL::bigint, CASE WHEN r.event_id IS NOT NULL "  \
	"THEN pg_notify('msgr_events', r.event_id::text) END "                      \
	"FROM message_send(live_session_user($1, $11), $2, $3, $4::boolean, $5, "   \
	"$6::bigint[], $7::int, $8::float8, $9::float8, $10::bigint) r"
/* SEND_JSON_SQL's parameters for in, sent by req's user. */
struct send_json_params {
	char uid[SQLPARAM_INT_LEN], max[SQLPARAM_INT_LEN], rate[SQLPARAM_INT_LEN], burst[SQLPARAM_INT_LEN];
	const char *values[SEND_JSON_NPARAMS];
};
void send_json_params(const struct http_req *req, const struct send_input *in,
		      struct send_json_params *p);

/*
 * The event loop (shared/front.h) that serves what nginx passes to
 * "<socket>.loop": JSON sends and history reads. Each loop file sits beside
 * its worker twin and keeps its state to itself; loop.c starts them, and
 * after each round of events lets each send the statements its requests
 * queued.
 */
struct front;
struct front_req;

/* loop.c: serves the routes' loop handlers until the program stops. */
void messages_loop(int listen_fd, const struct http_route *routes, size_t nroutes);

/* send_loop.c: JSON sends, written in batches */
void send_loop(struct http_req *req, struct front_req *fr);
bool send_loop_start(struct front *f);
/* Starts the statements the sends queued call for. */
void send_loop_next(void);
/* Writes and answers every send held: when the loop stops. */
void send_loop_finish(void);

/* history_loop.c: reads, their kept pages checked in batches */
void history_loop(struct http_req *req, struct front_req *fr);
bool history_loop_start(struct front *f, int links);
void history_loop_next(void);
/* Answers every read held: when the loop stops. */
void history_loop_finish(void);

/* search_index.c: messages indexed for search out of the sends'
 * transactions, by the loop on a link of its own */
bool search_index_start(struct front *f);
void search_index_finish(void);
/* A request came: indexing yields to it (called by the loop handlers). */
void search_index_yield(void);
/* On the worker's connection until the queue is empty (the periodic job):
 * how many queued rows it took. */
long search_index_drain_all(void);

/* forward.c */
void handle_forward(struct http_req *req);

/* edit.c */
void handle_edit(struct http_req *req);
void handle_delete(struct http_req *req);

/* reactions.c */
void handle_react(struct http_req *req);
void handle_unreact(struct http_req *req);
void handle_reactors(struct http_req *req);

/* report.c */
void handle_report(struct http_req *req);

/* read_marker.c */
void handle_read(struct http_req *req);

/* search.c */
void handle_search(struct http_req *req);

/* prune.c: the periodic job of the master */
void prune_old_events(void);

#endif
