/*
 * ack.c - delivered markers from {"type":"ack"}, written in batches.
 *
 * Acks are collected for ack_flush_ms and written with one statement,
 * wsd_mark_delivered() (schema/functions/wsd.sql), which calls the chats
 * schema's mark_delivered() for the highest message of each (user, chat):
 * it moves the marker forward only and emits `delivered`, so a batch sent
 * twice after a lost connection changes nothing the second time. One
 * batch is in flight at a time; the next one waits for it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ack.h"
#include "feed.h"
#include "buf.h"
#include "log.h"
#include "pg.h"
#include "wsd.h"

#define ACK_MAX 4096 /* entries before a flush is forced */

struct ack {
	int64_t user_id, chat_id, message_id;
};

static struct {
	struct ack *items;
	size_t n, cap;
	struct ack *sent; /* the batch in flight, kept to retry it */
	size_t nsent;
	bool inflight;
	lws_sorted_usec_list_t sul;
} A;

static void flush_cb(lws_sorted_usec_list_t *sul);

static int cmp_ack(const void *a, const void *b)
{
	const struct ack *x = a, *y = b;
	if (x->user_id != y->user_id)
		return x->user_id < y->user_id ? -1 : 1;
	if (x->chat_id != y->chat_id)
		return x->chat_id < y->chat_id ? -1 : 1;
	return (x->message_id > y->message_id) - (x->message_id < y->message_id);
}

static void notify_done(void *arg, const PGresult *res)
{
	(void)arg;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		log_error("could not notify msgr_events: %s", PQresultErrorMessage(res));
}

static void flush_done(void *arg, const PGresult *res)
{
	(void)arg;
	A.inflight = false;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		bool retry = state && (!strcmp(state, "40P01") || !strcmp(state, "40001"));
		log_error("wsd_mark_delivered failed%s: %s", retry ? " (will retry)" : "",
			  PQresultErrorMessage(res));
		for (size_t i = 0; retry && i < A.nsent; i++)
			ack_add(A.sent[i].user_id, A.sent[i].chat_id, A.sent[i].message_id);
	} else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		/* After the commit, as every writer does (schema/functions/messages.sql). */
		const char *params[] = {PQgetvalue(res, 0, 0)};
		pg_query(W.work[0], "SELECT pg_notify('msgr_events', $1)", 1, params, notify_done,
			 NULL);
		feed_poke();
	}
	free(A.sent);
	A.sent = NULL;
	A.nsent = 0;
	if (A.n)
		lws_sul_schedule(W.context, 0, &A.sul, flush_cb, 0);
}

static void flush(void)
{
	if (!A.n || A.inflight)
		return;
	/* The highest message per (user, chat) is all that matters. */
	qsort(A.items, A.n, sizeof *A.items, cmp_ack);
	struct buf users = {0}, chats = {0}, msgs = {0};
	buf_putc(&users, '{');
	buf_putc(&chats, '{');
	buf_putc(&msgs, '{');
	bool first = true;
	A.sent = malloc(A.n * sizeof *A.sent);
	A.nsent = 0;
	for (size_t i = 0; i < A.n; i++) {
		if (i + 1 < A.n && A.items[i + 1].user_id == A.items[i].user_id &&
		    A.items[i + 1].chat_id == A.items[i].chat_id)
			continue;
		if (A.sent)
			A.sent[A.nsent++] = A.items[i];
		const char *sep = first ? "" : ",";
		buf_printf(&users, "%s%" PRId64, sep, A.items[i].user_id);
		buf_printf(&chats, "%s%" PRId64, sep, A.items[i].chat_id);
		buf_printf(&msgs, "%s%" PRId64, sep, A.items[i].message_id);
		first = false;
	}
	buf_putc(&users, '}');
	buf_putc(&chats, '}');
	buf_putc(&msgs, '}');
	A.n = 0;
	if (buf_status(&users) == MSGR_OK && buf_status(&chats) == MSGR_OK &&
	    buf_status(&msgs) == MSGR_OK) {
		const char *params[] = {users.data, chats.data, msgs.data};
		if (pg_query(W.work[0],
			     "SELECT wsd_mark_delivered($1::bigint[], $2::bigint[], $3::bigint[])",
			     3, params, flush_done, NULL))
			A.inflight = true;
	} else {
		log_error("acks dropped: out of memory");
	}
	buf_free(&users);
	buf_free(&chats);
	buf_free(&msgs);
}

static void flush_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	flush();
}

void ack_add(int64_t user_id, int64_t chat_id, int64_t message_id)
{
	if (A.n == A.cap) {
		if (A.cap >= ACK_MAX) {
			log_error("acks dropped: the database is behind");
			return;
		}
		size_t cap = A.cap ? A.cap * 2 : 64;
		struct ack *items = realloc(A.items, cap * sizeof *items);
		if (!items)
			return;
		A.items = items;
		A.cap = cap;
	}
	A.items[A.n++] = (struct ack){user_id, chat_id, message_id};
	if (A.n == 1)
		lws_sul_schedule(W.context, 0, &A.sul, flush_cb,
				 (lws_usec_t)W.cfg.ack_flush_ms * LWS_US_PER_MS);
}

void ack_flush_now(void)
{
	flush();
}

void ack_free(void)
{
	lws_sul_cancel(&A.sul);
	free(A.items);
	free(A.sent);
	A.sent = NULL;
	A.items = NULL;
	A.n = A.cap = 0;
}
