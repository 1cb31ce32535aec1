/*
 * messages.h - the messages program's handlers (API.md "Chats and
 * messages": history, sending, editing, deleting, reactions, read markers
 * and search). Each handler validates its input and makes one call of a
 * function of schema/003_chats.sql, which answers (shared/reply.h).
 */
#ifndef MSGR_MESSAGES_H
#define MSGR_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "reply.h"

/* A JSON body: 4000 code points of text, escaped, and the rest. */
#define MESSAGES_BODY_LIMIT (64 * 1024)
#define MESSAGE_TEXT_MAX 4000    /* code points */
#define MESSAGE_CLIENT_ID_MAX 64 /* code points */
#define MESSAGE_FILES_MAX 10

/* main.c: settings read once per worker and by the companion. */
struct messages_config {
	double send_rate;  /* messages a second per user; 0 = no limit */
	double send_burst; /* the bucket's size */
};
extern struct messages_config messages_config;

/* The send limits as the text parameters of message_send() and
 * message_send_batch(). */
static inline void send_limit_params(char rate[REPLY_ID_LEN], char burst[REPLY_ID_LEN])
{
	reply_id(rate, (int64_t)messages_config.send_rate);
	reply_id(burst, (int64_t)messages_config.send_burst);
}

/* text.c */
/* The check of a message's text beyond valid UTF-8 without NUL: no control
 * characters but tab, line feed and carriage return. NULL when fine. */
const char *message_text_check(const char *s, size_t len);
/* True when the text is empty or only white space. */
bool message_text_blank(const char *s, size_t len);

/* history.c */
void handle_history(struct http_req *req);

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
};
/* Reads and validates a JSON send's body; false when it answered (400,
 * 413, 415, 422). */
bool send_json_read(struct http_req *req, struct send_input *in);
/* True when the batcher may write it: text that is not blank, no files. */
bool send_batchable(const struct send_input *in);
/* Writes it with message_send(), which answers every case exactly. */
void send_json_alone(struct http_req *req, const struct send_input *in);

/* batch.c: the companion, serving the sends nginx passes to it until the
 * program stops. */
void send_batcher(int listen_fd);

/* edit.c */
void handle_edit(struct http_req *req);
void handle_delete(struct http_req *req);

/* reactions.c */
void handle_react(struct http_req *req);
void handle_unreact(struct http_req *req);

/* read.c */
void handle_read(struct http_req *req);

/* search.c */
void handle_search(struct http_req *req);

/* prune.c: the periodic job of the master */
void prune_old_events(void);

#endif
