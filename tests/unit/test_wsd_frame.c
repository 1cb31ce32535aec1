/* wsd/frame.c: client frames read into struct frame (API.md "Realtime"). */
#include "../../wsd/frame.c"
#include "unit.h"

/* Parses the NUL-terminated text s; the caller releases. */
static struct frame parse(const char *s)
{
	struct frame f;
	frame_parse(&f, s, strlen(s));
	return f;
}

/* The type the text parses as, and whether its fields are valid. */
static enum frame_type type_of_text(const char *s, bool *valid)
{
	struct frame f = parse(s);
	enum frame_type t = f.type;
	*valid = !f.detail;
	frame_release(&f);
	return t;
}

/* Every one of the n texts parses as type, with valid fields or not, and
 * (for auth) with since_state since. */
static void expect_all(const char *const *texts, size_t n, enum frame_type type, bool valid,
		       enum frame_since since)
{
	for (size_t i = 0; i < n; i++) {
		struct frame f = parse(texts[i]);
		bool ok = f.type == type && !f.detail == valid &&
			  (type != FRAME_AUTH || f.since_state == since);
		if (!ok)
			fprintf(stderr, "unexpected: %s\n", texts[i]);
		CHECK(ok);
		frame_release(&f);
	}
}

#define EXPECT_ALL(texts, ...) expect_all(texts, sizeof texts / sizeof *texts, __VA_ARGS__)

TEST(auth_with_since)
{
	struct frame f = parse("{\"type\":\"auth\",\"token\":\"abc.def\",\"since\":12}");
	CHECK(f.type == FRAME_AUTH);
	CHECK(!f.detail);
	REQUIRE(f.token);
	CHECK_STR_EQ(f.token, "abc.def");
	CHECK_UINT_EQ(f.token_len, 7);
	CHECK(f.since_state == SINCE_SET);
	CHECK_INT_EQ(f.since, 12);
	frame_release(&f);
}

TEST(auth_since_is_optional_and_may_be_null_or_zero)
{
	struct frame f = parse("{\"type\":\"auth\",\"token\":\"t\"}");
	CHECK(f.since_state == SINCE_NONE);
	frame_release(&f);
	f = parse("{\"type\":\"auth\",\"token\":\"t\",\"since\":null}");
	CHECK(f.since_state == SINCE_NONE);
	frame_release(&f);
	f = parse("{\"since\":0,\"token\":\"t\",\"type\":\"auth\"}");
	CHECK(f.since_state == SINCE_SET);
	CHECK_INT_EQ(f.since, 0);
	frame_release(&f);
}

/* A bad since does not make the auth frame invalid: the first auth closes
 * with 4400 on it, a renewal ignores it. */
TEST(auth_with_a_bad_since)
{
	static const char *const bad[] = {
		"{\"type\":\"auth\",\"token\":\"t\",\"since\":\"yesterday\"}",
		"{\"type\":\"auth\",\"token\":\"t\",\"since\":-1}",
		"{\"type\":\"auth\",\"token\":\"t\",\"since\":1.5}",
		"{\"type\":\"auth\",\"token\":\"t\",\"since\":9223372036854775807}",
		"{\"type\":\"auth\",\"token\":\"t\",\"since\":99999999999999999999}",
		"{\"type\":\"auth\",\"token\":\"t\",\"since\":[1]}",
	};
	EXPECT_ALL(bad, FRAME_AUTH, true, SINCE_BAD);
}

TEST(auth_needs_a_string_token)
{
	bool valid;
	CHECK(type_of_text("{\"type\":\"auth\"}", &valid) == FRAME_AUTH && !valid);
	CHECK(type_of_text("{\"type\":\"auth\",\"token\":5}", &valid) == FRAME_AUTH && !valid);
	CHECK(type_of_text("{\"type\":\"auth\",\"token\":null}", &valid) == FRAME_AUTH && !valid);
	/* An empty token is a token (that token_verify_access() refuses). */
	CHECK(type_of_text("{\"type\":\"auth\",\"token\":\"\"}", &valid) == FRAME_AUTH && valid);
}

TEST(ping_typing_ack)
{
	struct frame f = parse("{\"type\":\"ping\"}");
	CHECK(f.type == FRAME_PING && !f.detail);
	frame_release(&f);
	f = parse(" {\"type\":\"typing\",\"chat_id\":42} \n");
	CHECK(f.type == FRAME_TYPING && !f.detail);
	CHECK_INT_EQ(f.chat_id, 42);
	frame_release(&f);
	f = parse("{\"type\":\"ack\",\"chat_id\":3,\"message_id\":9,\"extra\":[1,2]}");
	CHECK(f.type == FRAME_ACK && !f.detail);
	CHECK_INT_EQ(f.chat_id, 3);
	CHECK_INT_EQ(f.message_id, 9);
	frame_release(&f);
}

TEST(ids_must_be_positive_integers)
{
	static const char *const typing[] = {
		"{\"type\":\"typing\"}",
		"{\"type\":\"typing\",\"chat_id\":\"x\"}",
		"{\"type\":\"typing\",\"chat_id\":0}",
		"{\"type\":\"typing\",\"chat_id\":-4}",
		"{\"type\":\"typing\",\"chat_id\":4.0}",
		"{\"type\":\"typing\",\"chat_id\":9223372036854775807}",
		"{\"type\":\"typing\",\"chat_id\":123456789012345678901234}",
	};
	static const char *const ack[] = {
		"{\"type\":\"ack\",\"chat_id\":1}",
		"{\"type\":\"ack\",\"message_id\":1}",
		"{\"type\":\"ack\",\"chat_id\":1,\"message_id\":true}",
		"{\"type\":\"ack\",\"chat_id\":0,\"message_id\":1}",
	};
	EXPECT_ALL(typing, FRAME_TYPING, false, SINCE_NONE);
	EXPECT_ALL(ack, FRAME_ACK, false, SINCE_NONE);
}

TEST(unknown_types)
{
	bool valid;
	CHECK(type_of_text("{\"type\":\"dance\"}", &valid) == FRAME_UNKNOWN);
	CHECK(type_of_text("{\"type\":\"PING\"}", &valid) == FRAME_UNKNOWN);
	CHECK(type_of_text("{\"type\":\"\"}", &valid) == FRAME_UNKNOWN);
	/* The whole name counts, not up to a NUL inside it. */
	CHECK(type_of_text("{\"type\":\"ping\\u0000x\"}", &valid) == FRAME_UNKNOWN);
	CHECK(type_of_text("{\"type\":\"pin\"}", &valid) == FRAME_UNKNOWN);
}

/* What REST's reader refuses is refused here the same way. */
TEST(malformed_frames_are_bad)
{
	static const char *const bad[] = {
		"",
		"this is not json",
		"[1, 2]",
		"\"ping\"",
		"{}",
		"{\"type\":5}",
		"{\"type\":null}",
		"{'type':'ping'}",
		"{\"type\":'ping'}",
		"{\"type\":\"ping\"} x",
		"{\"type\":\"ping\"}{\"type\":\"ping\"}",
		"{\"type\":\"ping\",\"n\":NaN}",
		"{\"type\":\"ping\",\"n\":Infinity}",
		"{\"type\":\"pi\x01ng\"}",
		"{\"type\":\"ping\",\"s\":\"\\ud800\"}",
		"{\"type\":\"ping\"",
	};
	EXPECT_ALL(bad, FRAME_BAD, false, SINCE_NONE);
}

TEST(data_need_not_be_nul_terminated)
{
	const char text[] = "{\"type\":\"ping\"}garbage";
	struct frame f;
	frame_parse(&f, text, 15);
	CHECK(f.type == FRAME_PING);
	frame_release(&f);
	frame_parse(&f, text, 14);
	CHECK(f.type == FRAME_BAD);
	frame_release(&f);
}
