/*
 * test_message_input.c - the checks of message text and reaction emoji in
 * the messages program (fcgi/messages/text.c, fcgi/messages/reactions.c).
 */
#include "../../fcgi/messages/reactions.c"
#include "../../fcgi/messages/text.c"

#include "unit.h"

#define S(lit) (lit), sizeof(lit) - 1

TEST(emoji_accepted)
{
	CHECK(emoji_check(S("👍")) == NULL);
	CHECK(emoji_check(S("👍🏽")) == NULL);
	CHECK(emoji_check(S("❤️")) == NULL);
	CHECK(emoji_check(S("👩‍👩‍👧‍👦")) == NULL); /* ZWJ sequence, 25 bytes */
	CHECK(emoji_check(S("+1")) == NULL);
	CHECK(emoji_check(S("x")) == NULL);
	CHECK(emoji_check(S("12345678901234567890123456789012")) == NULL);
	CHECK(emoji_check(S("🎉🎉🎉🎉🎉🎉🎉🎉")) == NULL); /* 32 bytes */
}

TEST(emoji_refused)
{
	CHECK(emoji_check(S("")) != NULL);
	CHECK(emoji_check(S("123456789012345678901234567890123")) != NULL); /* 33 bytes */
	CHECK(emoji_check(S("🎉🎉🎉🎉🎉🎉🎉🎉x")) != NULL);
	CHECK(emoji_check(S(" ")) != NULL);
	CHECK(emoji_check(S("a b")) != NULL);
	CHECK(emoji_check(S("👍 ")) != NULL);
	CHECK(emoji_check(S("\xc2\xa0")) != NULL);     /* U+00A0 */
	CHECK(emoji_check(S("\xe2\x80\x83")) != NULL); /* U+2003 em space */
	CHECK(emoji_check(S("\xe3\x80\x80")) != NULL); /* U+3000 */
	CHECK(emoji_check(S("\xe2\x80\xa8")) != NULL); /* U+2028 */
	CHECK(emoji_check(S("a\tb")) != NULL);
	CHECK(emoji_check(S("a\nb")) != NULL);
	CHECK(emoji_check(S("\x7f")) != NULL);
	CHECK(emoji_check(S("\xc2\x85")) != NULL); /* U+0085, C1 */
	CHECK(emoji_check(S("a\0b")) != NULL);
	CHECK(emoji_check(S("\xff")) != NULL);
	CHECK(emoji_check(S("\xc0\xaf")) != NULL);
	CHECK(emoji_check(S("\xed\xa0\x80")) != NULL);
	CHECK(emoji_check(S("\xf0\x9f\x91")) != NULL); /* truncated */
}

TEST(decode_code_points)
{
	uint32_t cp;
	CHECK_UINT_EQ(decode((const unsigned char *)"A", &cp), 1);
	CHECK_UINT_EQ(cp, 0x41);
	CHECK_UINT_EQ(decode((const unsigned char *)"\xc2\xa0", &cp), 2);
	CHECK_UINT_EQ(cp, 0xa0);
	CHECK_UINT_EQ(decode((const unsigned char *)"\xe3\x80\x80", &cp), 3);
	CHECK_UINT_EQ(cp, 0x3000);
	CHECK_UINT_EQ(decode((const unsigned char *)"\xf0\x9f\x8e\x89", &cp), 4);
	CHECK_UINT_EQ(cp, 0x1f389);
}

TEST(text_controls)
{
	CHECK(message_text_check(S("plain text")) == NULL);
	CHECK(message_text_check(S("lines\nand\ttabs\r\n")) == NULL);
	CHECK(message_text_check(S("Привет 🎉")) == NULL);
	CHECK(message_text_check(S("\xc2\xa0 no-break space")) == NULL);
	CHECK(message_text_check(S("")) == NULL);
	CHECK(message_text_check(S("bell\x07")) != NULL);
	CHECK(message_text_check(S("esc\x1b[31m")) != NULL);
	CHECK(message_text_check(S("del\x7f")) != NULL);
	CHECK(message_text_check(S("c1\xc2\x80")) != NULL);
	CHECK(message_text_check(S("c1\xc2\x9f")) != NULL);
	CHECK(message_text_check(S("\xc2\xa9 is fine")) == NULL);
}

TEST(text_blank)
{
	CHECK(message_text_blank(S("")));
	CHECK(message_text_blank(S(" \t\r\n")));
	CHECK(message_text_blank(S("\xc2\xa0\xe3\x80\x80")));
	CHECK(!message_text_blank(S(" x ")));
	CHECK(!message_text_blank(S("🎉")));
}
