/*
 * test_message_input.c - the checks of message text and reaction emoji in
 * the messages program (fcgi/messages/text.c, fcgi/messages/reactions.c).
 */
#include "../../fcgi/messages/reactions.c"
#include "../../fcgi/messages/text.c"

#include "unit.h"

/* reactions.c passes the send limit (main.c's settings) to the database. */
struct messages_config messages_config;

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

TEST(emoji_white_space_is_the_shared_list)
{
	/* White space refused is utf8_is_space(); U+FEFF, which trimming
	 * drops, is no white space and stays a possible reaction. */
	CHECK(emoji_check(S("\xe1\x9a\x80")) != NULL); /* U+1680 */
	CHECK(emoji_check(S("\xe2\x81\x9f")) != NULL); /* U+205F */
	CHECK(emoji_check(S("\xef\xbb\xbf")) == NULL); /* U+FEFF */
	CHECK(emoji_check(S("\xe2\x80\x8b")) == NULL); /* U+200B is no space */
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
	CHECK(message_text_check(S("\xc2\xa0\xc2\x85")) != NULL); /* U+0085 after U+00A0 */
}

TEST(text_blank)
{
	CHECK(message_text_blank(S("")));
	CHECK(message_text_blank(S(" \t\r\n")));
	CHECK(message_text_blank(S("\xc2\xa0\xe3\x80\x80")));
	CHECK(!message_text_blank(S(" x ")));
	CHECK(!message_text_blank(S("🎉")));
	CHECK(message_text_blank(S("\xef\xbb\xbf\xe2\x80\xaf"))); /* U+FEFF, U+202F */
}
