/*
 * test_utf8.c - the UTF-8 decoder and encoder, validation, counting, white
 * space and trimming (shared/utf8.c).
 */
#include "utf8.c"

#include "unit.h"

#define S(lit) (lit), sizeof(lit) - 1

/* utf8_decode() of the literal: its length, and *cp when well-formed. */
static size_t dec(const char *s, size_t len, uint32_t *cp)
{
	*cp = 0xFFFFFFFF;
	return utf8_decode(s, len, cp);
}

TEST(decode_each_length)
{
	uint32_t cp;
	CHECK_UINT_EQ(dec(S("A"), &cp), 1);
	CHECK_UINT_EQ(cp, 0x41);
	CHECK_UINT_EQ(dec(S("\0"), &cp), 1);
	CHECK_UINT_EQ(cp, 0);
	CHECK_UINT_EQ(dec(S("\x7f"), &cp), 1);
	CHECK_UINT_EQ(dec(S("\xc2\x80"), &cp), 2); /* the smallest of each length */
	CHECK_UINT_EQ(cp, 0x80);
	CHECK_UINT_EQ(dec(S("\xdf\xbf"), &cp), 2); /* and the largest */
	CHECK_UINT_EQ(cp, 0x7FF);
	CHECK_UINT_EQ(dec(S("\xe0\xa0\x80"), &cp), 3);
	CHECK_UINT_EQ(cp, 0x800);
	CHECK_UINT_EQ(dec(S("\xed\x9f\xbf"), &cp), 3); /* just below the surrogates */
	CHECK_UINT_EQ(cp, 0xD7FF);
	CHECK_UINT_EQ(dec(S("\xee\x80\x80"), &cp), 3); /* just above */
	CHECK_UINT_EQ(cp, 0xE000);
	CHECK_UINT_EQ(dec(S("\xef\xbf\xbf"), &cp), 3);
	CHECK_UINT_EQ(cp, 0xFFFF);
	CHECK_UINT_EQ(dec(S("\xf0\x90\x80\x80"), &cp), 4);
	CHECK_UINT_EQ(cp, 0x10000);
	CHECK_UINT_EQ(dec(S("\xf0\x9f\x8e\x89"), &cp), 4);
	CHECK_UINT_EQ(cp, 0x1F389);
	CHECK_UINT_EQ(dec(S("\xf4\x8f\xbf\xbf"), &cp), 4);
	CHECK_UINT_EQ(cp, 0x10FFFF);
	/* Only the first sequence is read. */
	CHECK_UINT_EQ(dec(S("\xc3\xa9\xc3\xa9"), &cp), 2);
	CHECK_UINT_EQ(cp, 0xE9);
}

TEST(decode_refuses_ill_formed)
{
	uint32_t cp;
	/* overlong forms */
	CHECK_UINT_EQ(dec(S("\xc0\xaf"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xc1\xbf"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xe0\x80\xaf"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xe0\x9f\xbf"), &cp), 0); /* U+07FF in three bytes */
	CHECK_UINT_EQ(dec(S("\xf0\x80\x80\xaf"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xf0\x8f\xbf\xbf"), &cp), 0); /* U+FFFF in four bytes */
	/* surrogates */
	CHECK_UINT_EQ(dec(S("\xed\xa0\x80"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xed\xaf\xbf"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xed\xb0\x80"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xed\xbf\xbf"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xed\xa0\xbd\xed\xb8\x82"), &cp), 0); /* CESU-8 pair */
	/* above U+10FFFF */
	CHECK_UINT_EQ(dec(S("\xf4\x90\x80\x80"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xf7\xbf\xbf\xbf"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xf8\x88\x80\x80\x80"), &cp), 0); /* five bytes */
	CHECK_UINT_EQ(dec(S("\xfc\x84\x80\x80\x80\x80"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xfe"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xff"), &cp), 0);
	/* truncated: the length given ends the sequence, whatever follows */
	CHECK_UINT_EQ(dec("\xc3\xa9", 1, &cp), 0);
	CHECK_UINT_EQ(dec("\xe2\x82\xac", 2, &cp), 0);
	CHECK_UINT_EQ(dec("\xf0\x9f\x8e\x89", 3, &cp), 0);
	CHECK_UINT_EQ(dec(S("\xe2\x82"), &cp), 0);
	/* a lone or misplaced continuation byte */
	CHECK_UINT_EQ(dec(S("\x80"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xbf"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xe2\x28\xa1"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xe2\x82\x41"), &cp), 0);
	CHECK_UINT_EQ(dec(S("\xc3\xc3\xa9"), &cp), 0);
}

/* Every scalar value encodes to the sequence the decoder reads back as it,
 * and every lead byte of each length is matched by exactly the values of
 * that length (the decoder and encoder cannot drift apart). */
TEST(encode_decode_round_trip_every_scalar_value)
{
	size_t bad = 0;
	for (uint32_t v = 0; v <= 0x10FFFF; v++) {
		if (v >= 0xD800 && v <= 0xDFFF)
			continue;
		char u[4];
		size_t n = utf8_encode(v, u);
		size_t want = v < 0x80 ? 1 : v < 0x800 ? 2 : v < 0x10000 ? 3 : 4;
		uint32_t cp;
		if (n != want || utf8_decode(u, n, &cp) != n || cp != v || !utf8_valid(u, n) ||
		    utf8_count(u, n) != 1 || (n > 1 && utf8_decode(u, n - 1, &cp) != 0))
			bad++;
	}
	CHECK_UINT_EQ(bad, 0);
}

/* Every two-byte input: well-formed exactly when it is a character of two
 * bytes, or two of one. */
TEST(decode_every_two_bytes)
{
	size_t bad = 0;
	for (unsigned a = 0; a < 256; a++) {
		for (unsigned b = 0; b < 256; b++) {
			char s[2] = {(char)a, (char)b};
			uint32_t cp;
			size_t n = utf8_decode(s, 2, &cp);
			size_t want = a < 0x80 ? 1 : (a >= 0xC2 && a <= 0xDF && (b & 0xC0) == 0x80) ? 2 : 0;
			if (n != want || (n == 2 && cp != ((a & 0x1Fu) << 6 | (b & 0x3Fu))))
				bad++;
		}
	}
	CHECK_UINT_EQ(bad, 0);
}

TEST(char_start)
{
	const char *s = "a\xc3\xa9\xf0\x9f\x8e\x89";
	CHECK_UINT_EQ(utf8_char_start(s, 0), 0);
	CHECK_UINT_EQ(utf8_char_start(s, 1), 1);
	CHECK_UINT_EQ(utf8_char_start(s, 2), 1);
	CHECK_UINT_EQ(utf8_char_start(s, 3), 3);
	CHECK_UINT_EQ(utf8_char_start(s, 6), 3);
	CHECK_UINT_EQ(utf8_char_start("\x80\x80", 1), 0); /* never below 0 */
}

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

TEST(bidi_controls)
{
	static const uint32_t bidi[] = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066,
					0x2067, 0x2068, 0x2069, 0x200E, 0x200F, 0x061C};
	for (size_t i = 0; i < sizeof bidi / sizeof bidi[0]; i++) {
		char b[8] = "a";
		size_t n = 1 + utf8_encode(bidi[i], b + 1);
		b[n++] = 'z';
		CHECK(utf8_is_bidi_control(bidi[i]));
		CHECK(utf8_has_bidi_control(b, n));
	}
	/* Their neighbours are letters, spaces or other formats: not these. */
	static const uint32_t not_bidi[] = {0x2029, 0x202F, 0x2065, 0x206A, 0x200D,
					    0x2010, 0x061B, 0x061D, 0x05D0, 0x0627};
	for (size_t i = 0; i < sizeof not_bidi / sizeof not_bidi[0]; i++)
		CHECK(!utf8_is_bidi_control(not_bidi[i]));
	CHECK(!utf8_has_bidi_control(S("שלום עולם مرحبا привет")));
	CHECK(utf8_has_bidi_control(S("alice\xe2\x80\xaegnp.exe")));
	CHECK(utf8_has_bidi_control(S("\xe2\xe2\x80\xaegnp"))); /* after an ill-formed byte */
	CHECK(!utf8_has_bidi_control(S("\xe2\x80")));
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
	CHECK(utf8_has_control(S("\xc2\x80")));
	CHECK(utf8_has_control(S("\xc2\x9f")));
	CHECK(utf8_has_control(S("\xe2\xc2\x85"))); /* after an ill-formed byte */
	CHECK(utf8_has_control(S("\xe2\x82\x0a")));
	CHECK(!utf8_has_control(S("\x85")));         /* a byte, not U+0085 */
	CHECK(utf8_is_control(0) && utf8_is_control(0x1F) && utf8_is_control(0x7F));
	CHECK(utf8_is_control(0x80) && utf8_is_control(0x9F));
	CHECK(!utf8_is_control(' ') && !utf8_is_control(0xA0) && !utf8_is_control(0x200B));
}

TEST(white_space_is_unicode_white_space)
{
	/* PropList.txt's White_Space, all 25 of them, and nothing else. */
	static const uint32_t space[] = {0x09,   0x0A,   0x0B,   0x0C,   0x0D,
					 0x20,   0x85,   0xA0,   0x1680, 0x2000,
					 0x2001, 0x2002, 0x2003, 0x2004, 0x2005,
					 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
					 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
	size_t n = 0;
	for (uint32_t v = 0; v <= 0x10FFFF; v++)
		n += utf8_is_space(v);
	CHECK_UINT_EQ(n, sizeof space / sizeof space[0]);
	for (size_t i = 0; i < sizeof space / sizeof space[0]; i++)
		CHECK(utf8_is_space(space[i]));
	CHECK(!utf8_is_space(0x200B)); /* zero width space: Cf, not White_Space */
	CHECK(!utf8_is_space(0xFEFF));
	CHECK(!utf8_is_space(0x180E)); /* Mongolian vowel separator: no more since 6.3 */
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
	check_trim(S("\xef\xbb\xbf" "bom\xef\xbb\xbf"), "bom"); /* U+FEFF */
	check_trim(S("\xc2\x85x\xe1\x9a\x80"), "x");            /* U+0085, U+1680 */
	check_trim(S("\xe2\x80\x8bz"), "\xe2\x80\x8bz");         /* U+200B stays */
	check_trim(S("\x80 a \x80"), "\x80 a \x80");
}
