/*
 * test_mailer_message.c - an outbox row as a message (mailer/message.c):
 * subjects and From display names as RFC 2047 words that never split a
 * character, addresses, the row's extra header fields.
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

TEST(extra_headers_written)
{
	struct buf b = {0};
	REQUIRE(mail_put_headers(&b, "{\"List-Unsubscribe\":\"<https://x.example/u?token=1.ab>\","
				     "\"List-Unsubscribe-Post\":\"List-Unsubscribe=One-Click\"}") ==
		MSGR_OK);
	CHECK_STR_EQ(buf_cstr(&b), "List-Unsubscribe: <https://x.example/u?token=1.ab>\r\n"
				   "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
	buf_reset(&b);
	REQUIRE(mail_put_headers(&b, "{}") == MSGR_OK);
	CHECK_STR_EQ(buf_cstr(&b), "");
	buf_free(&b);
}

/* Nothing is written for a refused object, not even its good members. */
TEST(extra_headers_refused)
{
	static const char *const bad[] = {
		"[]", "\"x\"", "{", "",
		"{\"X-Ok\":\"fine\",\"X-Bad\":\"a\\r\\nBcc: evil@example.org\"}",
		"{\"X-Bad\":\"a\\nb\"}",
		"{\"X-Bad\":\"caf\\u00e9\"}",
		"{\"X-Bad\":1}",
		"{\"X-Bad\":null}",
		"{\"Bad Name\":\"x\"}",
		"{\"Bad:Name\":\"x\"}",
		"{\"\":\"x\"}",
		"{\"bcc\":\"evil@example.org\"}",
		"{\"Subject\":\"again\"}",
		"{\"content-type\":\"text/html\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct buf b = {0};
		buf_puts(&b, "kept");
		CHECK(mail_put_headers(&b, bad[i]) == MSGR_ERR_MALFORMED);
		CHECK_STR_EQ(buf_cstr(&b), "kept");
		buf_free(&b);
	}
}

TEST(render_with_headers_and_refused_row)
{
	struct mail m = {.id = 5, .created = 1, .from = "Messenger <noreply@example.org>",
			 .domain = "example.org", .to = "a@example.org", .subject = "Hi",
			 .text = "t", .html = "<p>h</p>",
			 .headers = "{\"List-Unsubscribe\":\"<https://example.org/u>\"}"};
	struct buf b = {0};
	REQUIRE(mail_render(&b, &m, 0) == MSGR_OK);
	CHECK(strstr(buf_cstr(&b), "\r\nList-Unsubscribe: <https://example.org/u>\r\nMIME-Version: 1.0\r\n") != NULL);
	buf_reset(&b);
	m.headers = "{\"To\":\"other@example.org\"}";
	CHECK(mail_render(&b, &m, 0) == MSGR_ERR_MALFORMED);
	buf_free(&b);
}

TEST(from_display_name_encoded)
{
	struct buf b = {0};
	REQUIRE(mail_encode_from(&b, "Messenger <noreply@example.org>") == MSGR_OK);
	CHECK_STR_EQ(buf_cstr(&b), "Messenger <noreply@example.org>");
	buf_reset(&b);
	/* "Мессенджер" in UTF-8 is 20 bytes: one word. */
	REQUIRE(mail_encode_from(&b, "Мессенджер <noreply@example.org>") == MSGR_OK);
	CHECK_STR_EQ(buf_cstr(&b), "=?UTF-8?B?0JzQtdGB0YHQtdC90LTQttC10YA=?= <noreply@example.org>");
	buf_reset(&b);
	/* Quotes and spaces around the name go; the address stays. */
	REQUIRE(mail_encode_from(&b, " \"Мессенджер\"  <noreply@example.org>") == MSGR_OK);
	CHECK_STR_EQ(buf_cstr(&b), "=?UTF-8?B?0JzQtdGB0YHQtdC90LTQttC10YA=?= <noreply@example.org>");
	buf_free(&b);
}

TEST(render_encodes_the_from_name)
{
	struct mail m = {.id = 5, .created = 1, .from = "Чат <noreply@example.org>",
			 .domain = "example.org", .to = "a@example.org", .subject = "Hi",
			 .text = "t", .html = "<p>h</p>"};
	struct buf b = {0};
	REQUIRE(mail_render(&b, &m, 0) == MSGR_OK);
	CHECK(strstr(buf_cstr(&b), "\r\nFrom: =?UTF-8?B?0KfQsNGC?= <noreply@example.org>\r\n") != NULL);
	buf_free(&b);
}
