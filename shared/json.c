#include "json.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hex.h"
#include "utf8.h"

/* The value of the four hex digits at s[i], or -1. */
static int hex4_at(const char *s, size_t len, size_t i)
{
	if (len < 4 || i > len - 4)
		return -1;
	int v = 0;
	for (size_t k = 0; k < 4; k++) {
		int d = hex_digit_value((unsigned char)s[i + k]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* True when s holds a single-quoted string, NaN or Infinity, a control
 * character inside a string, or half a surrogate pair (see json.h):
 * outside strings, no JSON token has a quote mark or a capital letter.
 * Other malformations are left to json-c, which refuses them. */
static bool json_c_would_misread(const char *s, size_t len)
{
	bool in_string = false;
	bool want_low = false; /* the last escape was a high surrogate */
	for (size_t i = 0; i < len; i++) {
		if (!in_string) {
			if (s[i] == '\'' || s[i] == 'N' || s[i] == 'I')
				return true;
			in_string = s[i] == '"';
			continue;
		}
		if ((unsigned char)s[i] < 0x20)
			return true;
		if (s[i] != '\\') {
			if (want_low)
				return true;
			in_string = s[i] != '"';
			continue;
		}
		if (++i >= len)
			return false;
		if (s[i] != 'u') {
			if (want_low)
				return true;
			continue;
		}
		int v = hex4_at(s, len, i + 1);
		if (v < 0)
			return false;
		i += 4;
		bool low = v >= 0xDC00 && v <= 0xDFFF;
		if (low != want_low)
			return true;
		want_low = v >= 0xD800 && v <= 0xDBFF;
	}
	return false;
}

struct json_object *json_read(const char *data, size_t len)
{
	if (len > INT32_MAX || json_c_would_misread(data, len))
		return NULL;
	json_tokener *tok = json_tokener_new_ex(JSON_READ_DEPTH);
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	json_object *obj = json_tokener_parse_ex(tok, data, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue && len > 0) {
		/* A number that ends the text ("7") might go on: a NUL ends it,
		 * as json-c's own json_tokener_parse() ends every text. */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	json_tokener_free(tok);
	if (jerr != json_tokener_success || !obj) {
		json_object_put(obj);
		return NULL;
	}
	while (end < len && memchr(" \t\r\n", data[end], 4))
		end++;
	if (end != len) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}
