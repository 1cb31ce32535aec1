/*
 * test_send_loop.c - the event loop's sends (fcgi/messages/send_loop.c):
 * the SQL array parameters a batch is written with, and the order of the
 * sends written alone.
 */
#include "../../fcgi/messages/send.c"
#include "../../fcgi/messages/send_loop.c"
#include "../../fcgi/messages/text.c"

#include "unit.h"

struct messages_config messages_config;

/* The search index's hook (search_index.c), which these tests do not run. */
void search_index_yield(void)
{
}

static struct pending_send *send_of(int64_t user_id, int64_t chat_id, const char *text,
				    const char *client_id)
{
	struct pending_send *s = calloc(1, sizeof *s + sizeof *s->req);
	if (!s)
		abort();
	s->req = (struct http_req *)(s + 1);
	s->req->user_id = user_id;
	s->req->path_id[0] = chat_id;
	s->in.text = text;
	s->in.text_len = strlen(text);
	s->in.client_id = client_id;
	s->in.client_id_len = client_id ? strlen(client_id) : 0;
	return s;
}

static void batch_push(struct batch *b, struct pending_send *s)
{
	REQUIRE(batch_reserve(b, b->n + 1));
	b->sends[b->n++] = s;
}

static void batch_free_all(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->sends[i]);
	free(b->sends);
	*b = (struct batch){0};
}

TEST(batch_params_are_array_literals)
{
	struct batch b = {0};
	batch_push(&b, send_of(42, 7, "hello \"there\"", "c-1"));
	batch_push(&b, send_of(-1, 9223372036854775807LL, "a\\b,{}", NULL));
	batch_push(&b, send_of(3, 4, "NULL", "NULL"));
	b.sends[1]->req->session_id = 77;
	snprintf(b.sends[1]->req->session_param, sizeof b.sends[1]->req->session_param, "77");
	struct buf p[BATCH_ARRAYS] = {{0}};
	batch_params(&b, p);
	CHECK_STR_EQ(buf_cstr(&p[0]), "{42,-1,3}");
	CHECK_STR_EQ(buf_cstr(&p[1]), "{7,9223372036854775807,4}");
	/* Quoted, so that NULL, commas and braces in a text stay text. */
	CHECK_STR_EQ(buf_cstr(&p[2]), "{\"hello \\\"there\\\"\",\"a\\\\b,{}\",\"NULL\"}");
	/* A missing client_id is SQL NULL: unquoted. */
	CHECK_STR_EQ(buf_cstr(&p[3]), "{\"c-1\",NULL,\"NULL\"}");
	/* Each send's login session; NULL for a token without sid. */
	CHECK_STR_EQ(buf_cstr(&p[4]), "{NULL,77,NULL}");
	for (int k = 0; k < BATCH_ARRAYS; k++)
		buf_free(&p[k]);
	batch_free_all(&b);
}

TEST(a_lost_send_alone_goes_again_first_in_line)
{
	struct pending_send *a = send_of(1, 1, "a", NULL), *b = send_of(1, 1, "b", NULL);
	alone_queue(a);
	alone_queue(b);
	CHECK(alone_pop() == a);
	alone_lost(a);
	CHECK_INT_EQ(a->tries, 1);
	CHECK(alone_pop() == a);
	CHECK(alone_pop() == b);
	CHECK(alone_pop() == NULL && alone_tail == NULL);
	alone_lost(b); /* into an empty queue */
	CHECK(alone_head == b && alone_tail == b);
	CHECK(alone_pop() == b);
	free(a);
	free(b);
}

TEST(the_send_alone_statement_answers_and_notifies_in_one)
{
	struct pending_send *s = send_of(42, 7, "hi", "c-1");
	s->req->path_str[0] = "7";
	s->in.file_ids = "{}";
	messages_config.send_rate = 20;
	messages_config.send_burst = 30;
	struct send_json_params p;
	send_json_params(s->req, &s->in, &p);
	CHECK_STR_EQ(p.values[0], "42");
	CHECK_STR_EQ(p.values[1], "7");
	CHECK_STR_EQ(p.values[2], "hi");
	CHECK_STR_EQ(p.values[3], "f");
	CHECK_STR_EQ(p.values[4], "c-1");
	CHECK_STR_EQ(p.values[5], "{}");
	CHECK_STR_EQ(p.values[6], "10");
	CHECK_STR_EQ(p.values[7], "20");
	CHECK_STR_EQ(p.values[8], "30");
	CHECK(p.values[10] == NULL); /* no sid: no session to check */
	s->req->session_id = 9;
	snprintf(s->req->session_param, sizeof s->req->session_param, "9");
	send_json_params(s->req, &s->in, &p);
	CHECK_STR_EQ(p.values[10], "9");
	CHECK(strstr(SEND_JSON_SQL, "live_session_user($1, $11)"));
	/* No event id comes back: reply_send() sends no NOTIFY after it (a
	 * second round trip, which would block the loop). */
	CHECK(strstr(SEND_JSON_SQL, "NULL::bigint") && strstr(SEND_JSON_SQL, "pg_notify("));
	free(s);
}
