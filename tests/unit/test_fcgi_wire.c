/*
 * test_fcgi_wire.c - FastCGI records as nginx sends them, parsed by the
 * event loop's reader (shared/fcgi_wire.c): whole requests, requests cut
 * at every byte, keep-alive, padding, long name-value lengths, records it
 * answers itself, and what is not FastCGI.
 */
#include "fcgi_wire.c"

#include "unit.h"

#define LIMIT 64

/* Appends a record of type for request id with content c (len bytes) and
 * pad bytes of padding. */
static void rec(struct buf *b, int type, uint16_t id, const void *c, size_t len, int pad)
{
	unsigned char h[8] = {1, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
			      (unsigned char)(len >> 8), (unsigned char)len, (unsigned char)pad, 0};
	buf_append(b, h, 8);
	if (len)
		buf_append(b, c, len);
	for (int i = 0; i < pad; i++)
		buf_putc(b, '\xee');
}

static void begin(struct buf *b, uint16_t id, int role, int flags)
{
	unsigned char body[8] = {(unsigned char)(role >> 8), (unsigned char)role,
				 (unsigned char)flags};
	rec(b, FCGI_BEGIN_REQUEST, id, body, 8, 0);
}

/* A name-value pair with 1-byte lengths. */
static void pair(struct buf *b, const char *name, const char *value)
{
	buf_putc(b, (char)strlen(name));
	buf_putc(b, (char)strlen(value));
	buf_puts(b, name);
	buf_puts(b, value);
}

/* A whole request: params, body, and the empty records that end both. */
static void request(struct buf *b, uint16_t id, int flags, const char *body)
{
	begin(b, id, FCGI_RESPONDER, flags);
	struct buf p = {0};
	pair(&p, "REQUEST_METHOD", "POST");
	pair(&p, "REQUEST_URI", "/api/chats/7/messages");
	rec(b, FCGI_PARAMS, id, p.data, p.len, 3);
	rec(b, FCGI_PARAMS, id, NULL, 0, 0);
	if (*body)
		rec(b, FCGI_STDIN, id, body, strlen(body), 1);
	rec(b, FCGI_STDIN, id, NULL, 0, 0);
	buf_free(&p);
}

static const char *param(const struct fcgi_request *r, struct arena *a, const char *name)
{
	char **env = fcgi_envp(r, a);
	size_t n = strlen(name);
	for (; env && *env; env++)
		if (!strncmp(*env, name, n) && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

TEST(whole_request)
{
	struct buf in = {0}, out = {0};
	request(&in, 1, FCGI_KEEP_CONN, "{\"text\":\"hi\"}");
	struct fcgi_request r = {0};
	size_t used;
	CHECK_INT_EQ(fcgi_feed(&r, (unsigned char *)in.data, in.len, &used, LIMIT, &out),
		     FCGI_FEED_READY);
	CHECK_UINT_EQ(used, in.len);
	CHECK_INT_EQ(r.id, 1);
	CHECK(r.keep_conn);
	CHECK_MEM_EQ(r.stdin.data, r.stdin.len, "{\"text\":\"hi\"}", 13);
	CHECK(!r.stdin_overflow);
	struct arena *a = arena_new();
	CHECK_STR_EQ(param(&r, a, "REQUEST_METHOD"), "POST");
	CHECK_STR_EQ(param(&r, a, "REQUEST_URI"), "/api/chats/7/messages");
	CHECK(param(&r, a, "REQUEST") == NULL);
	CHECK_UINT_EQ(out.len, 0);
	arena_free(a);
	fcgi_request_free(&r);
	buf_free(&in);
	buf_free(&out);
}

TEST(request_cut_at_every_byte)
{
	struct buf in = {0}, out = {0};
	request(&in, 258, 0, "body");
	for (size_t cut = 0; cut < in.len; cut++) {
		struct fcgi_request r = {0};
		size_t used;
		enum fcgi_feed_result first =
			fcgi_feed(&r, (unsigned char *)in.data, cut, &used, LIMIT, &out);
		CHECK_INT_EQ(first, FCGI_FEED_MORE);
		CHECK(used <= cut);
		size_t more;
		CHECK_INT_EQ(fcgi_feed(&r, (unsigned char *)in.data + used, in.len - used, &more,
				       LIMIT, &out),
			     FCGI_FEED_READY);
		CHECK_UINT_EQ(used + more, in.len);
		CHECK_INT_EQ(r.id, 258);
		CHECK(!r.keep_conn);
		CHECK_MEM_EQ(r.stdin.data, r.stdin.len, "body", 4);
		fcgi_request_free(&r);
	}
	CHECK_UINT_EQ(out.len, 0);
	buf_free(&in);
	buf_free(&out);
}

TEST(next_request_left_for_later)
{
	struct buf in = {0}, out = {0};
	request(&in, 1, FCGI_KEEP_CONN, "one");
	size_t first_len = in.len;
	request(&in, 1, FCGI_KEEP_CONN, "two");
	struct fcgi_request r = {0};
	size_t used;
	CHECK_INT_EQ(fcgi_feed(&r, (unsigned char *)in.data, in.len, &used, LIMIT, &out),
		     FCGI_FEED_READY);
	CHECK_UINT_EQ(used, first_len);
	CHECK_MEM_EQ(r.stdin.data, r.stdin.len, "one", 3);
	fcgi_request_reset(&r);
	CHECK_INT_EQ(fcgi_feed(&r, (unsigned char *)in.data + used, in.len - used, &used, LIMIT,
			       &out),
		     FCGI_FEED_READY);
	CHECK_MEM_EQ(r.stdin.data, r.stdin.len, "two", 3);
	fcgi_request_free(&r);
	buf_free(&in);
	buf_free(&out);
}

TEST(body_over_the_limit_dropped_and_flagged)
{
	struct buf in = {0}, out = {0};
	char body[LIMIT + 2];
	memset(body, 'b', sizeof body - 1);
	body[sizeof body - 1] = '\0';
	request(&in, 1, 0, body);
	struct fcgi_request r = {0};
	size_t used;
	CHECK_INT_EQ(fcgi_feed(&r, (unsigned char *)in.data, in.len, &used, LIMIT, &out),
		     FCGI_FEED_READY);
	CHECK(r.stdin_overflow);
	CHECK(r.stdin.len <= LIMIT);
	fcgi_request_free(&r);
	buf_free(&in);
	buf_free(&out);
}

TEST(long_pair_lengths)
{
	static char value[300];
	memset(value, 'v', sizeof value - 1);
	struct buf p = {0};
	unsigned char len4[4] = {0x80, 0, 0x01, 0x2b}; /* 299 */
	buf_putc(&p, 4);
	buf_append(&p, len4, 4);
	buf_puts(&p, "LONG");
	buf_puts(&p, value);
	struct fcgi_request r = {0};
	buf_append(&r.params, p.data, p.len);
	struct arena *a = arena_new();
	const char *got = param(&r, a, "LONG");
	REQUIRE(got != NULL);
	CHECK_UINT_EQ(strlen(got), 299);
	/* A length beyond what is there does not add up. */
	buf_reset(&r.params);
	buf_append(&r.params, p.data, p.len - 1);
	CHECK(fcgi_envp(&r, a) == NULL);
	/* Nor does a 4-byte length cut short. */
	buf_reset(&r.params);
	buf_append(&r.params, p.data, 3);
	CHECK(fcgi_envp(&r, a) == NULL);
	/* A name with '=' would read as another name; a NUL would cut. */
	buf_reset(&r.params);
	buf_append(&r.params, "\x03\x01" "A=BC", 6);
	CHECK(fcgi_envp(&r, a) == NULL);
	buf_reset(&r.params);
	buf_append(&r.params, "\x01\x02" "Ax\0", 5);
	CHECK(fcgi_envp(&r, a) == NULL);
	arena_free(a);
	fcgi_request_free(&r);
	buf_free(&p);
}

TEST(empty_params_give_empty_environment)
{
	struct fcgi_request r = {0};
	struct arena *a = arena_new();
	char **env = fcgi_envp(&r, a);
	REQUIRE(env != NULL);
	CHECK(env[0] == NULL);
	arena_free(a);
}

/* The type of the first record in b, and its request id. */
static int first_type(const struct buf *b, uint16_t *id)
{
	const unsigned char *h = (const unsigned char *)b->data;
	*id = (uint16_t)(h[2] << 8 | h[3]);
	return h[1];
}

/* out holds exactly the END_REQUEST of request id, with this status. */
static void expect_end_request(const struct buf *out, uint16_t want_id, int protocol_status)
{
	uint16_t id;
	REQUIRE(out->len == 16);
	CHECK_INT_EQ(first_type(out, &id), FCGI_END_REQUEST);
	CHECK_INT_EQ(id, want_id);
	CHECK_INT_EQ((unsigned char)out->data[12], protocol_status);
}

TEST(second_request_refused_while_one_is_open)
{
	struct buf in = {0}, out = {0};
	begin(&in, 1, FCGI_RESPONDER, 0);
	begin(&in, 2, FCGI_RESPONDER, 0);
	rec(&in, FCGI_PARAMS, 2, "\x01\x01" "AB", 4, 0); /* the refused one's: dropped */
	struct fcgi_request r = {0};
	size_t used;
	CHECK_INT_EQ(fcgi_feed(&r, (unsigned char *)in.data, in.len, &used, LIMIT, &out),
		     FCGI_FEED_MORE);
	CHECK_UINT_EQ(used, in.len);
	CHECK_INT_EQ(r.id, 1);
	CHECK_UINT_EQ(r.params.len, 0);
	expect_end_request(&out, 2, FCGI_CANT_MPX_CONN);
	fcgi_request_free(&r);
	buf_free(&in);
	buf_free(&out);
}

TEST(other_roles_refused)
{
	struct buf in = {0}, out = {0};
	begin(&in, 5, FCGI_AUTHORIZER, 0);
	struct fcgi_request r = {0};
	size_t used;
	CHECK_INT_EQ(fcgi_feed(&r, (unsigned char *)in.data, in.len, &used, LIMIT, &out),
		     FCGI_FEED_MORE);
	CHECK_INT_EQ(r.id, 0);
	expect_end_request(&out, 5, FCGI_UNKNOWN_ROLE);
	fcgi_request_free(&r);
	buf_free(&in);
	buf_free(&out);
}

TEST(management_records_answered)
{
	struct buf in = {0}, out = {0};
	rec(&in, FCGI_GET_VALUES, 0, NULL, 0, 0);
	rec(&in, 42, 0, NULL, 0, 0);
	struct fcgi_request r = {0};
	size_t used;
	CHECK_INT_EQ(fcgi_feed(&r, (unsigned char *)in.data, in.len, &used, LIMIT, &out),
		     FCGI_FEED_MORE);
	uint16_t id;
	REQUIRE(out.len == 8 + 16);
	CHECK_INT_EQ(first_type(&out, &id), FCGI_GET_VALUES_RESULT);
	CHECK_INT_EQ(id, 0);
	CHECK_INT_EQ((unsigned char)out.data[9], FCGI_UNKNOWN_TYPE);
	CHECK_INT_EQ((unsigned char)out.data[16], 42);
	fcgi_request_free(&r);
	buf_free(&in);
	buf_free(&out);
}

TEST(abort_ends_the_request)
{
	struct buf in = {0}, out = {0};
	begin(&in, 3, FCGI_RESPONDER, FCGI_KEEP_CONN);
	rec(&in, FCGI_ABORT_REQUEST, 3, NULL, 0, 0);
	struct fcgi_request r = {0};
	size_t used;
	CHECK_INT_EQ(fcgi_feed(&r, (unsigned char *)in.data, in.len, &used, LIMIT, &out),
		     FCGI_FEED_MORE);
	CHECK_INT_EQ(r.id, 0);
	expect_end_request(&out, 3, FCGI_REQUEST_COMPLETE);
	fcgi_request_free(&r);
	buf_free(&in);
	buf_free(&out);
}

TEST(not_fastcgi)
{
	struct buf out = {0};
	struct fcgi_request r = {0};
	size_t used;
	const char *http = "POST /api/chats/7/messages HTTP/1.1\r\n";
	CHECK_INT_EQ(fcgi_feed(&r, (const unsigned char *)http, strlen(http), &used, LIMIT, &out),
		     FCGI_FEED_BAD);

	/* Records only an application sends. */
	struct buf in = {0};
	begin(&in, 1, FCGI_RESPONDER, 0);
	rec(&in, FCGI_STDOUT, 1, "x", 1, 0);
	fcgi_request_reset(&r);
	CHECK_INT_EQ(fcgi_feed(&r, (unsigned char *)in.data, in.len, &used, LIMIT, &out),
		     FCGI_FEED_BAD);

	/* A BEGIN_REQUEST of another size, a second one for the same id,
	 * params after their end. */
	buf_reset(&in);
	unsigned char body[7] = {0, 1};
	rec(&in, FCGI_BEGIN_REQUEST, 1, body, 7, 0);
	fcgi_request_reset(&r);
	CHECK_INT_EQ(fcgi_feed(&r, (unsigned char *)in.data, in.len, &used, LIMIT, &out),
		     FCGI_FEED_BAD);
	buf_reset(&in);
	begin(&in, 1, FCGI_RESPONDER, 0);
	begin(&in, 1, FCGI_RESPONDER, 0);
	fcgi_request_reset(&r);
	CHECK_INT_EQ(fcgi_feed(&r, (unsigned char *)in.data, in.len, &used, LIMIT, &out),
		     FCGI_FEED_BAD);
	buf_reset(&in);
	begin(&in, 1, FCGI_RESPONDER, 0);
	rec(&in, FCGI_PARAMS, 1, NULL, 0, 0);
	rec(&in, FCGI_PARAMS, 1, "\x01\x01" "AB", 4, 0);
	fcgi_request_reset(&r);
	CHECK_INT_EQ(fcgi_feed(&r, (unsigned char *)in.data, in.len, &used, LIMIT, &out),
		     FCGI_FEED_BAD);
	fcgi_request_free(&r);
	buf_free(&in);
	buf_free(&out);
}

TEST(answer_records)
{
	struct buf out = {0};
	fcgi_put_answer(&out, 0x0102, "Status: 201 Created\r\n\r\n{}", 25);
	REQUIRE(out.len == 8 + 25 + 8 + 16);
	const unsigned char *o = (const unsigned char *)out.data;
	CHECK_INT_EQ(o[1], FCGI_STDOUT);
	CHECK_INT_EQ(o[2] << 8 | o[3], 0x0102);
	CHECK_INT_EQ(o[4] << 8 | o[5], 25);
	CHECK_INT_EQ(o[33 + 1], FCGI_STDOUT);
	CHECK_INT_EQ(o[33 + 4] << 8 | o[33 + 5], 0);
	CHECK_INT_EQ(o[41 + 1], FCGI_END_REQUEST);
	CHECK_INT_EQ(o[41 + 8 + 4], FCGI_REQUEST_COMPLETE);

	/* More than a record holds is split. */
	size_t big = 70000;
	char *data = malloc(big);
	REQUIRE(data != NULL);
	memset(data, 'd', big);
	buf_reset(&out);
	fcgi_put_answer(&out, 1, data, big);
	o = (const unsigned char *)out.data;
	CHECK_INT_EQ(o[4] << 8 | o[5], 65535);
	const unsigned char *second = o + 8 + 65535;
	CHECK_INT_EQ(second[1], FCGI_STDOUT);
	CHECK_INT_EQ(second[4] << 8 | second[5], (int)(big - 65535));
	CHECK_UINT_EQ(out.len, 8 + 65535 + 8 + (big - 65535) + 8 + 16);
	free(data);
	buf_free(&out);
}

