/*
 * test_history_loop.c - the event loop's history reads
 * (fcgi/messages/history_loop.c): the SQL array parameters a check of
 * stamps is made with, and which waiting reads follow a render.
 */
#include "../../fcgi/messages/history.c"
#include "../../fcgi/messages/history_loop.c"

#include "unit.h"

/* The search index's hook (search_index.c), which these tests do not run. */
void search_index_yield(void)
{
}

static struct pending_read *read_of(const char *uid, const char *chat, const char *shared_key)
{
	struct pending_read *c = calloc(1, sizeof *c);
	if (!c)
		abort();
	snprintf(c->q.uid, sizeof c->q.uid, "%s", uid);
	snprintf(c->q.chat, sizeof c->q.chat, "%s", chat);
	snprintf(c->q.shared_key, sizeof c->q.shared_key, "%s", shared_key);
	return c;
}

static void queue_free_all(struct read_queue *q)
{
	struct pending_read *c;
	while ((c = queue_pop(q)))
		free(c);
}

TEST(stamps_params_are_array_literals_in_queue_order)
{
	struct read_queue q = {0};
	queue_push(&q, read_of("42", "7", "7/-1/-1/50"));
	queue_push(&q, read_of("1", "9223372036854775807", "x"));
	queue_push(&q, read_of("3", "7", "7/-1/-1/50"));
	q.head->next->q.sid = "55";
	struct buf users = {0}, chats = {0}, sids = {0};
	stamps_params(&q, &users, &chats, &sids);
	CHECK_STR_EQ(buf_cstr(&users), "{42,1,3}");
	CHECK_STR_EQ(buf_cstr(&chats), "{7,9223372036854775807,7}");
	/* A token without sid: NULL, which session_live() takes as live. */
	CHECK_STR_EQ(buf_cstr(&sids), "{NULL,55,NULL}");
	buf_free(&users);
	buf_free(&chats);
	buf_free(&sids);
	CHECK_UINT_EQ(q.n, 3);
	queue_free_all(&q);
	CHECK(q.head == NULL && q.tail == NULL && q.n == 0);
}

static void renders_waiting_of(struct pending_read *reads[], const char *const keys[], int n)
{
	for (int i = 0; i < n; i++)
		queue_push(&renders_waiting, reads[i] = read_of("1", "1", keys[i]));
}

/* As reads_next() starts a render: the first waiting, and its followers. */
static void render_job_of_the_first(struct read_queue *job)
{
	struct pending_read *lead = queue_pop(&renders_waiting);
	queue_push(job, lead);
	take_followers(job, lead);
}

static const char *const six_keys[] = {"1/-1/-1/50", "2/-1/-1/50", "1/-1/-1/50",
				       "1/5/-1/50",  "1/-1/-1/50", "3/-1/-1/50"};

TEST(reads_of_a_stale_page_follow_its_render_and_the_others_keep_their_order)
{
	page_cache_set_budget(1 << 20);
	page_cache_put("1/-1/-1/50", (struct page_stamp){1, 1}, "{}", 2); /* stale, say */
	struct pending_read *reads[6];
	renders_waiting_of(reads, six_keys, 6);
	struct read_queue job = {0};
	render_job_of_the_first(&job);
	CHECK_UINT_EQ(job.n, 3);
	CHECK(job.head == reads[0] && reads[0]->next == reads[2] && job.tail == reads[4]);
	CHECK(reads[2]->followed && reads[4]->followed && !reads[1]->followed);
	CHECK_UINT_EQ(renders_waiting.n, 3);
	CHECK(renders_waiting.head == reads[1] && reads[1]->next == reads[3] &&
	      renders_waiting.tail == reads[5]);

	/* The render kept a page only for reads[2]'s viewer, say: reads[4]
	 * goes first for its own render, and follows no other again. */
	queue_pop(&job);
	page_cache_clear();
	snprintf(reads[2]->q.own_key, sizeof reads[2]->q.own_key, "1/-1/-1/50/7");
	page_cache_put("1/-1/-1/50/7", (struct page_stamp){2, 1}, "{\"me\": true}", 12);
	followers_back(&job);
	CHECK_UINT_EQ(job.n, 0);
	CHECK(stamps_waiting.head == reads[2] && stamps_waiting.n == 1);
	CHECK(renders_waiting.head == reads[4] && reads[4]->next == reads[1]);
	CHECK_UINT_EQ(renders_waiting.n, 4);
	page_cache_put("1/-1/-1/50", (struct page_stamp){2, 1}, "{}", 2);
	struct pending_read *next_lead = read_of("9", "1", "1/-1/-1/50");
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
	struct pending_read *reads[6];
	renders_waiting_of(reads, six_keys, 6);
	struct read_queue job = {0};
	render_job_of_the_first(&job);
	CHECK_UINT_EQ(job.n, 1);
	CHECK_UINT_EQ(renders_waiting.n, 5);
	queue_free_all(&job);
	queue_free_all(&renders_waiting);
	page_cache_set_budget(0);
}
