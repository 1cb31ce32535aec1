#include "json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
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

/* json-c 0.16 decodes a surrogate pair, then takes the low 16 bits of the
 * code point for a surrogate of their own: U+1D800 to U+1DFFF, U+2D800 to
 * U+2DFFF (CJK Extension F) and the like come out as U+FFFD. */
static uint32_t pair_code_point(int high, int low)
{
	return 0x10000 + (((uint32_t)high - 0xD800) << 10) + ((uint32_t)low - 0xDC00);
}

static bool json_c_misdecodes_pair(int high, int low)
{
	return (pair_code_point(high, low) & 0xF800) == 0xD800;
}

enum json_scan { JSON_SCAN_OK, JSON_SCAN_REFUSE, JSON_SCAN_REWRITE_PAIRS };

/* JSON_SCAN_REFUSE when s holds a single-quoted string, NaN or Infinity, a
 * control character inside a string, or half a surrogate pair (see
 * json.h): outside strings, no JSON token has a quote mark or a capital
 * letter. JSON_SCAN_REWRITE_PAIRS when it holds a pair json-c misdecodes
 * (json_c_misdecodes_pair()). Other malformations are left to json-c,
 * which refuses them. */
static enum json_scan json_scan(const char *s, size_t len)
{
	enum json_scan found = JSON_SCAN_OK;
	int high = 0;
	bool in_string = false;
	bool want_low = false; /* the last escape was a high surrogate */
	for (size_t i = 0; i < len; i++) {
		if (!in_string) {
			if (s[i] == '\'' || s[i] == 'N' || s[i] == 'I')
				return JSON_SCAN_REFUSE;
			in_string = s[i] == '"';
			continue;
		}
		if ((unsigned char)s[i] < 0x20)
			return JSON_SCAN_REFUSE;
		if (s[i] != '\\') {
			if (want_low)
				return JSON_SCAN_REFUSE;
			in_string = s[i] != '"';
			continue;
		}
		if (++i >= len)
			return found;
		if (s[i] != 'u') {
			if (want_low)
				return JSON_SCAN_REFUSE;
			continue;
		}
		int v = hex4_at(s, len, i + 1);
		if (v < 0)
			return found;
		i += 4;
		bool low = v >= 0xDC00 && v <= 0xDFFF;
		if (low != want_low)
			return JSON_SCAN_REFUSE;
		if (low && json_c_misdecodes_pair(high, v))
			found = JSON_SCAN_REWRITE_PAIRS;
		want_low = v >= 0xD800 && v <= 0xDBFF;
		high = v;
	}
	return found;
}

/* A copy of s (which json_scan() found whole) whose pairs that json-c
 * misdecodes are written as the UTF-8 they stand for, which json-c takes
 * as it is; the caller frees it. Only \u escapes inside strings change:
 * the same walk as json_scan(). */
static char *json_rewrite_pairs(const char *s, size_t len, size_t *out_len)
{
	char *out = malloc(len ? len : 1);
	if (!out)
		return NULL;
	size_t n = 0;
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		if (!in_string || s[i] != '\\') {
			if (!in_string)
				in_string = s[i] == '"';
			else
				in_string = s[i] != '"';
			out[n++] = s[i];
			continue;
		}
		int high = i + 1 < len && s[i + 1] == 'u' ? hex4_at(s, len, i + 2) : -1;
		int low = high >= 0xD800 && high <= 0xDBFF && i + 12 <= len && s[i + 6] == '\\' &&
				  s[i + 7] == 'u'
			      ? hex4_at(s, len, i + 8)
			      : -1;
		if (low >= 0xDC00 && low <= 0xDFFF && json_c_misdecodes_pair(high, low)) {
			n += utf8_encode(pair_code_point(high, low), out + n);
			i += 11;
			continue;
		}
		/* Any other escape: its backslash and the character after it. */
		out[n++] = s[i++];
		if (i < len)
			out[n++] = s[i];
	}
	*out_len = n;
	return out;
}

/* json-c's strict tokener over exactly one JSON text. */
static struct json_object *json_read_strict(const char *data, size_t len)
{
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

struct json_object *json_read(const char *data, size_t len)
{
	if (len > INT32_MAX)
		return NULL;
	char *rewritten = NULL;
	switch (json_scan(data, len)) {
	case JSON_SCAN_REFUSE:
		return NULL;
	case JSON_SCAN_REWRITE_PAIRS:
		rewritten = json_rewrite_pairs(data, len, &len);
		if (!rewritten)
			return NULL;
		data = rewritten;
		break;
	case JSON_SCAN_OK:
		break;
	}
	struct json_object *obj = json_read_strict(data, len);
	free(rewritten);
	return obj;
}
