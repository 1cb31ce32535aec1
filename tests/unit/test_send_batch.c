/*
 * test_send_batch.c - the packets between the messages workers and their
 * send batcher, and the SQL array parameters of a batch
 * (fcgi/messages/batch.c). A request is parsed by the batcher from bytes a
 * worker wrote: every length must add up.
 */
#include "../../fcgi/messages/batch.c"

#include "unit.h"

struct messages_config messages_config;

static const struct batch_item sample = {
	.user_id = 42,
	.chat_id = 7,
	.text = "hello \"there\"",
	.text_len = 13,
	.client_id = "c-1",
	.client_id_len = 3,
};

static unsigned char packet[BATCH_REQUEST_MAX];

TEST(request_round_trip)
{
	size_t n = batch_request_encode(&sample, packet);
	CHECK_UINT_EQ(n, sizeof(struct batch_request_head) + 13 + 3);
	struct batch_item got;
	REQUIRE(batch_request_decode(packet, n, &got));
	CHECK_INT_EQ(got.user_id, 42);
	CHECK_INT_EQ(got.chat_id, 7);
	CHECK_MEM_EQ(got.text, got.text_len, sample.text, sample.text_len);
	REQUIRE(got.client_id != NULL);
	CHECK_MEM_EQ(got.client_id, got.client_id_len, "c-1", 3);
}

TEST(request_without_client_id)
{
	struct batch_item item = sample;
	item.client_id = NULL;
	item.client_id_len = 0;
	size_t n = batch_request_encode(&item, packet);
	struct batch_item got;
	REQUIRE(batch_request_decode(packet, n, &got));
	CHECK(got.client_id == NULL);
	CHECK_UINT_EQ(got.client_id_len, 0);
	/* An empty client_id is one, not none. */
	item.client_id = "";
	n = batch_request_encode(&item, packet);
	REQUIRE(batch_request_decode(packet, n, &got));
	CHECK(got.client_id != NULL);
	CHECK_UINT_EQ(got.client_id_len, 0);
}

TEST(request_longest_travels)
{
	static char text[BATCH_TEXT_BYTES], cid[BATCH_CLIENT_ID_BYTES];
	memset(text, 'x', sizeof text);
	memset(cid, 'y', sizeof cid);
	struct batch_item item = {1, 2, text, sizeof text, cid, sizeof cid};
	size_t n = batch_request_encode(&item, packet);
	CHECK_UINT_EQ(n, BATCH_REQUEST_MAX);
	struct batch_item got;
	CHECK(batch_request_decode(packet, n, &got));
	item.text_len++;
	CHECK_UINT_EQ(batch_request_encode(&item, packet), 0);
	item.text_len--;
	item.client_id_len++;
	CHECK_UINT_EQ(batch_request_encode(&item, packet), 0);
}

TEST(request_lengths_must_add_up)
{
	size_t n = batch_request_encode(&sample, packet);
	struct batch_item got;
	CHECK(!batch_request_decode(packet, n - 1, &got));
	CHECK(!batch_request_decode(packet, 0, &got));
	CHECK(!batch_request_decode(packet, sizeof(struct batch_request_head) - 1, &got));
	unsigned char longer[sizeof packet];
	memcpy(longer, packet, n);
	longer[n] = 'z';
	CHECK(!batch_request_decode(longer, n + 1, &got));

	struct batch_request_head head;
	memcpy(&head, packet, sizeof head);
	head.text_len = BATCH_TEXT_BYTES + 1;
	memcpy(longer, &head, sizeof head);
	CHECK(!batch_request_decode(longer, n, &got));
	head.text_len = UINT32_MAX; /* must not wrap the sum */
	memcpy(longer, &head, sizeof head);
	CHECK(!batch_request_decode(longer, n, &got));
	memcpy(&head, packet, sizeof head);
	head.client_id_len = BATCH_CLIENT_ID_BYTES + 1;
	memcpy(longer, &head, sizeof head);
	CHECK(!batch_request_decode(longer, n, &got));
}

TEST(request_with_nul_refused)
{
	size_t n = batch_request_encode(&sample, packet);
	struct batch_item got;
	packet[sizeof(struct batch_request_head) + 2] = '\0'; /* in the text */
	CHECK(!batch_request_decode(packet, n, &got));
	n = batch_request_encode(&sample, packet);
	packet[n - 1] = '\0'; /* in the client_id */
	CHECK(!batch_request_decode(packet, n, &got));
}

TEST(batch_params_are_array_literals)
{
	struct batch_client *c = calloc(3, sizeof *c);
	REQUIRE(c != NULL);
	c[0].item = sample;
	c[1].item = (struct batch_item){-1, 9223372036854775807LL, "a\\b,{}", 6, NULL, 0};
	c[2].item = (struct batch_item){3, 4, "NULL", 4, "NULL", 4};
	struct batch b = {.clients = {&c[0], &c[1], &c[2]}, .n = 3};
	struct buf p[4] = {{0}};
	batch_params(&b, p);
	CHECK_STR_EQ(buf_cstr(&p[0]), "{42,-1,3}");
	CHECK_STR_EQ(buf_cstr(&p[1]), "{7,9223372036854775807,4}");
	CHECK_STR_EQ(buf_cstr(&p[2]), "{\"hello \\\"there\\\"\",\"a\\\\b,{}\",\"NULL\"}");
	CHECK_STR_EQ(buf_cstr(&p[3]), "{\"c-1\",NULL,\"NULL\"}");
	for (int k = 0; k < 4; k++)
		buf_free(&p[k]);
	free(c);
}
