/*
 * test_companion.c - the messages program's companion (companion.h): the
 * SQL array parameters a batch of sends and a check of stamps are made
 * with, and which waiting reads follow a render.
 */
#define _GNU_SOURCE /* accept4, as companion.c */
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

static struct front_conn *read_of(const char *uid, const char *chat, const char *shared_key)
{
	struct front_conn *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	snprintf(c->read.uid, sizeof c->read.uid, "%s", uid);
	snprintf(c->read.chat, sizeof c->read.chat, "%s", chat);
	snprintf(c->read.shared_key, sizeof c->read.shared_key, "%s", shared_key);
	return c;
}

static void queue_free_all(struct read_queue *q)
{
	struct front_conn *c;
	while ((c = queue_pop(q)))
		free(c);
}

TEST(stamps_params_are_array_literals_in_queue_order)
{
	struct read_queue q = {0};
	queue_push(&q, read_of("42", "7", "7/-1/-1/50"));
	queue_push(&q, read_of("1", "9223372036854775807", "x"));
	queue_push(&q, read_of("3", "7", "7/-1/-1/50"));
	struct buf users = {0}, chats = {0};
	stamps_params(&q, &users, &chats);
	CHECK_STR_EQ(buf_cstr(&users), "{42,1,3}");
	CHECK_STR_EQ(buf_cstr(&chats), "{7,9223372036854775807,7}");
	buf_free(&users);
	buf_free(&chats);
	CHECK_UINT_EQ(q.n, 3);
	queue_free_all(&q);
	CHECK(q.head == NULL && q.tail == NULL && q.n == 0);
}

static void renders_waiting_of(struct front_conn *reads[], const char *const keys[], int n)
{
	for (int i = 0; i < n; i++)
		queue_push(&renders_waiting, reads[i] = read_of("1", "1", keys[i]));
}

/* As reads_next() starts a render: the first waiting, and its followers. */
static void render_job_of_the_first(struct read_queue *job)
{
	struct front_conn *lead = queue_pop(&renders_waiting);
	queue_push(job, lead);
	take_followers(job, lead);
}

static const char *const six_keys[] = {"1/-1/-1/50", "2/-1/-1/50", "1/-1/-1/50",
				       "1/5/-1/50",  "1/-1/-1/50", "3/-1/-1/50"};

TEST(reads_of_a_stale_page_follow_its_render_and_the_others_keep_their_order)
{
	page_cache_set_budget(1 << 20);
	page_cache_put("1/-1/-1/50", (struct page_stamp){1, 1}, "{}", 2); /* stale, say */
	struct front_conn *reads[6];
	renders_waiting_of(reads, six_keys, 6);
	struct read_queue job = {0};
	render_job_of_the_first(&job);
	CHECK_UINT_EQ(job.n, 3);
	CHECK(job.head == reads[0] && reads[0]->next_read == reads[2] && job.tail == reads[4]);
	CHECK(reads[2]->followed && reads[4]->followed && !reads[1]->followed);
	CHECK_UINT_EQ(renders_waiting.n, 3);
	CHECK(renders_waiting.head == reads[1] && reads[1]->next_read == reads[3] &&
	      renders_waiting.tail == reads[5]);

	/* The render kept a page only for reads[2]'s viewer, say: reads[4]
	 * goes first for its own render, and follows no other again. */
	queue_pop(&job);
	page_cache_clear();
	snprintf(reads[2]->read.own_key, sizeof reads[2]->read.own_key, "1/-1/-1/50/7");
	page_cache_put("1/-1/-1/50/7", (struct page_stamp){2, 1}, "{\"me\": true}", 12);
	followers_back(&job);
	CHECK_UINT_EQ(job.n, 0);
	CHECK(stamps_waiting.head == reads[2] && stamps_waiting.n == 1);
	CHECK(renders_waiting.head == reads[4] && reads[4]->next_read == reads[1]);
	CHECK_UINT_EQ(renders_waiting.n, 4);
	page_cache_put("1/-1/-1/50", (struct page_stamp){2, 1}, "{}", 2);
	struct front_conn *next_lead = read_of("9", "1", "1/-1/-1/50");
	take_followers(&job, next_lead);
	CHECK_UINT_EQ(job.n, 0);
	CHECK_UINT_EQ(renders_waiting.n, 4);

	free(next_lead);
	free(reads[0]);
	queue_free_all(&stamps_waiting);
	queue_free_all(&renders_waiting);
	page_cache_set_budget(0);
}

TEST(nothing_follows_a_render_when_no_page_is_kept)
{
	page_cache_set_budget(1 << 20);
	struct front_conn *reads[6];
	renders_waiting_of(reads, six_keys, 6);
	struct read_queue job = {0};
	render_job_of_the_first(&job);
	CHECK_UINT_EQ(job.n, 1);
	CHECK_UINT_EQ(renders_waiting.n, 5);
	queue_free_all(&job);
	queue_free_all(&renders_waiting);
	page_cache_set_budget(0);
}
