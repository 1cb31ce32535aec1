#include "hex.h"

static void encode(char *out, const unsigned char *in, size_t len, const char digits[16])
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void hex_encode(char *out, const void *in, size_t len)
{
	encode(out, in, len, "0123456789abcdef");
}

void hex_encode_upper(char *out, const void *in, size_t len)
{
	encode(out, in, len, "0123456789ABCDEF");
}

bool hex_decode(void *out, const char *in, size_t len)
{
	unsigned char *o = out;
	for (size_t i = 0; i < len; i++) {
		int hi = hex_digit_value((unsigned char)in[2 * i]);
		int lo = hex_digit_value((unsigned char)in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		o[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}
