/*
 * test_send_batch.c - the companion's batches (fcgi/messages/batch.c):
 * the SQL array parameters a batch is written with.
 */
#include "../../fcgi/messages/batch.c"
#include "../../fcgi/messages/companion.c"
#include "../../fcgi/messages/history.c"
#include "../../fcgi/messages/reads.c"
#include "../../fcgi/messages/send.c"
#include "../../fcgi/messages/text.c"

#include "unit.h"

struct messages_config messages_config;

static struct front_conn *conn_into(int64_t user_id, int64_t chat_id, const char *text,
				    const char *client_id)
{
	struct front_conn *c = calloc(1, sizeof *c);
	c->req.user_id = user_id;
	c->req.path_id[0] = chat_id;
	c->send.text = text;
	c->send.text_len = strlen(text);
	c->send.client_id = client_id;
	c->send.client_id_len = client_id ? strlen(client_id) : 0;
	return c;
}

static void batch_push(struct batch *b, struct front_conn *c)
{
	REQUIRE(batch_reserve(b, b->n + 1));
	b->conns[b->n++] = c;
}

static void batch_free_all(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->conns[i]);
	free(b->conns);
	*b = (struct batch){0};
}

TEST(batch_params_are_array_literals)
{
	struct batch b = {0};
	batch_push(&b, conn_into(42, 7, "hello \"there\"", "c-1"));
	batch_push(&b, conn_into(-1, 9223372036854775807LL, "a\\b,{}", NULL));
	batch_push(&b, conn_into(3, 4, "NULL", "NULL"));
	struct buf p[4] = {{0}};
	batch_params(&b, p);
	CHECK_STR_EQ(buf_cstr(&p[0]), "{42,-1,3}");
	CHECK_STR_EQ(buf_cstr(&p[1]), "{7,9223372036854775807,4}");
	/* Quoted, so that NULL, commas and braces in a text stay text. */
	CHECK_STR_EQ(buf_cstr(&p[2]), "{\"hello \\\"there\\\"\",\"a\\\\b,{}\",\"NULL\"}");
	/* A missing client_id is SQL NULL: unquoted. */
	CHECK_STR_EQ(buf_cstr(&p[3]), "{\"c-1\",NULL,\"NULL\"}");
	for (int k = 0; k < 4; k++)
		buf_free(&p[k]);
	batch_free_all(&b);
}
