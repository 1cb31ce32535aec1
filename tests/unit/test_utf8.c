/*
 * test_utf8.c - UTF-8 validation, counting and trimming (shared/utf8.c).
 */
#include "utf8.c"

#include "unit.h"

#define S(lit) (lit), sizeof(lit) - 1

TEST(valid_ascii_and_multibyte)
{
	CHECK(utf8_valid(S("")));
	CHECK(utf8_valid(S("hello")));
	CHECK(utf8_valid(S("привет")));
	CHECK(utf8_valid(S("日本語")));
	CHECK(utf8_valid(S("🙂👍🏽")));
	CHECK(utf8_valid(S("\xf4\x8f\xbf\xbf"))); /* U+10FFFF */
	CHECK(utf8_valid(S("a\0b")));             /* NUL is well-formed */
}

TEST(invalid_sequences)
{
	CHECK(!utf8_valid(S("\x80")));             /* lone continuation */
	CHECK(!utf8_valid(S("\xc3")));             /* truncated */
	CHECK(!utf8_valid(S("\xc0\xaf")));         /* overlong '/' */
	CHECK(!utf8_valid(S("\xc1\xbf")));         /* overlong */
	CHECK(!utf8_valid(S("\xe0\x80\xaf")));     /* overlong 3-byte */
	CHECK(!utf8_valid(S("\xf0\x80\x80\xaf"))); /* overlong 4-byte */
	CHECK(!utf8_valid(S("\xed\xa0\x80")));     /* surrogate U+D800 */
	CHECK(!utf8_valid(S("\xed\xbf\xbf")));     /* surrogate U+DFFF */
	CHECK(!utf8_valid(S("\xf4\x90\x80\x80"))); /* above U+10FFFF */
	CHECK(!utf8_valid(S("\xf5\x80\x80\x80")));
	CHECK(!utf8_valid(S("\xff")));
	CHECK(!utf8_valid(S("\xe2\x82")));         /* truncated euro sign */
	CHECK(!utf8_valid(S("ok\xe2\x28\xa1")));   /* bad continuation */
}

TEST(count_code_points)
{
	CHECK_UINT_EQ(utf8_count(S("")), 0);
	CHECK_UINT_EQ(utf8_count(S("abc")), 3);
	CHECK_UINT_EQ(utf8_count(S("привет")), 6);
	CHECK_UINT_EQ(utf8_count(S("🙂🙂")), 2);
	CHECK_UINT_EQ(utf8_count(S("a€b")), 3);
}

TEST(nul_and_control)
{
	CHECK(utf8_has_nul(S("a\0b")));
	CHECK(!utf8_has_nul(S("ab")));
	CHECK(utf8_has_control(S("a\nb")));
	CHECK(utf8_has_control(S("a\x7f")));
	CHECK(utf8_has_control(S("a\xc2\x85")));  /* U+0085 NEL, a C1 control */
	CHECK(!utf8_has_control(S("a\xc2\xa0"))); /* U+00A0 is not */
	CHECK(!utf8_has_control(S("привет 🙂")));
}

static void check_trim(const char *in, size_t len, const char *want)
{
	const char *s = in;
	size_t n = len;
	utf8_trim(&s, &n);
	CHECK_MEM_EQ(s, n, want, strlen(want));
}

TEST(trim)
{
	check_trim(S("  a b  "), "a b");
	check_trim(S("\t\n x\r\n"), "x");
	check_trim(S("\xc2\xa0name\xe3\x80\x80"), "name"); /* U+00A0, U+3000 */
	check_trim(S("\xe2\x80\x83y\xe2\x80\x8a"), "y");    /* U+2003, U+200A */
	check_trim(S("   "), "");
	check_trim(S(""), "");
	check_trim(S("é"), "é");
	check_trim(S(" \xc3"), "\xc3"); /* invalid tail stays for the validator */
}
