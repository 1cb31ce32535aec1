/*
 * test_hex.c - bytes as hex digits and back (shared/hex.c).
 */
#include "hex.c"

#include "unit.h"

TEST(encode_lower_and_upper)
{
	const unsigned char in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	char out[2 * sizeof in + 1];
	hex_encode(out, in, sizeof in);
	CHECK_STR_EQ(out, "00017f80abff");
	hex_encode_upper(out, in, sizeof in);
	CHECK_STR_EQ(out, "00017F80ABFF");
	hex_encode(out, in, 0);
	CHECK_STR_EQ(out, "");
}

TEST(decode_either_case)
{
	unsigned char out[4];
	REQUIRE(hex_decode(out, "00fF7fAb", 4));
	CHECK_UINT_EQ(out[0], 0x00);
	CHECK_UINT_EQ(out[1], 0xff);
	CHECK_UINT_EQ(out[2], 0x7f);
	CHECK_UINT_EQ(out[3], 0xab);
	CHECK(hex_decode(out, "", 0));
}

TEST(decode_refuses_what_is_no_digit)
{
	unsigned char out[1];
	CHECK(!hex_decode(out, "0g", 1));
	CHECK(!hex_decode(out, "g0", 1));
	CHECK(!hex_decode(out, "+1", 1)); /* strtol() would take it */
	CHECK(!hex_decode(out, " 1", 1));
	CHECK(!hex_decode(out, "1\0", 1));
	CHECK(!hex_decode(out, "\xc2\xb2", 1));
}

/* Every byte, both cases, there and back; every other character refused. */
TEST(every_byte_and_digit)
{
	size_t bad = 0;
	for (unsigned v = 0; v < 256; v++) {
		unsigned char b = (unsigned char)v, back = 0;
		char lo[3], up[3];
		hex_encode(lo, &b, 1);
		hex_encode_upper(up, &b, 1);
		if (!hex_decode(&back, lo, 1) || back != b || !hex_decode(&back, up, 1) || back != b)
			bad++;
		int want = v >= '0' && v <= '9'   ? (int)v - '0'
			   : v >= 'a' && v <= 'f' ? (int)v - 'a' + 10
			   : v >= 'A' && v <= 'F' ? (int)v - 'A' + 10
						  : -1;
		if (hex_digit_value(b) != want)
			bad++;
	}
	CHECK_UINT_EQ(bad, 0);
}
