/*
 * test_mailer_message.c - an outbox row as a message (mailer/message.c):
 * subjects as RFC 2047 words that never split a character, addresses.
 */
#include "../../mailer/message.c"

#include "unit.h"

TEST(ascii_subject_as_it_is)
{
	struct buf b = {0};
	REQUIRE(mail_encode_subject(&b, "Your reset link") == MSGR_OK);
	CHECK_STR_EQ(buf_cstr(&b), "Your reset link");
	buf_free(&b);
}

TEST(encoded_when_it_could_be_read_as_a_word_or_breaks_a_line)
{
	struct buf b = {0};
	REQUIRE(mail_encode_subject(&b, "a =?x?B?eA==?=") == MSGR_OK);
	CHECK_STR_EQ(buf_cstr(&b), "=?UTF-8?B?YSA9P3g/Qj9lQT09Pz0=?=");
	buf_reset(&b);
	REQUIRE(mail_encode_subject(&b, "a\r\nBcc: x") == MSGR_OK);
	CHECK_STR_EQ(buf_cstr(&b), "=?UTF-8?B?YSAgQmNjOiB4?=");
	buf_free(&b);
}

/* 38 ASCII bytes and a 4-byte emoji: the first word (39 bytes) would end
 * inside it, so it ends before it and the emoji starts the second. */
TEST(words_end_on_character_boundaries)
{
	struct buf b = {0};
	REQUIRE(mail_encode_subject(&b, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xf0\x9f\x98\x80 ok") == MSGR_OK);
	const char *s = buf_cstr(&b);
	const char *fold = strstr(s, "?=\r\n =?UTF-8?B?");
	REQUIRE(fold != NULL);
	/* 38 bytes are base64 "...YWE=" (52 characters with padding). */
	CHECK_UINT_EQ((size_t)(fold - s), strlen("=?UTF-8?B?") + 52);
	CHECK_STR_EQ(fold + strlen("?=\r\n =?UTF-8?B?"), "8J+YgCBvaw==?=");
	buf_free(&b);
}

TEST(address_of_a_from_line)
{
	char out[64];
	REQUIRE(mail_address("Messenger <noreply@example.org>", out, sizeof out));
	CHECK_STR_EQ(out, "noreply@example.org");
	REQUIRE(mail_address("a@b.c", out, sizeof out));
	CHECK_STR_EQ(out, "a@b.c");
	CHECK(!mail_address("Nobody <>", out, sizeof out));
	CHECK(!mail_address("", out, sizeof out));
}
