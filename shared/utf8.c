#include "utf8.h"

#include <string.h>

static bool is_continuation(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

size_t utf8_decode(const char *str, size_t len, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t n;
	uint32_t min, v;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2, min = 0x80, v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3, min = 0x800, v = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4, min = 0x10000, v = c & 0x07;
	} else {
		return 0; /* a continuation byte, C0, C1 (always overlong) or F5..FF */
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if (!is_continuation(s[i]))
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

size_t utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t utf8_char_start(const char *s, size_t i)
{
	while (i > 0 && is_continuation((unsigned char)s[i]))
		i--;
	return i;
}

bool utf8_valid(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		/* ASCII needs no decoding: most text is mostly ASCII. */
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		uint32_t cp;
		size_t n = utf8_decode(s + i, len - i, &cp);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

size_t utf8_count(const char *s, size_t len)
{
	size_t count = 0;
	for (size_t i = 0; i < len; i++)
		if (!is_continuation((unsigned char)s[i]))
			count++;
	return count;
}

bool utf8_has_nul(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

bool utf8_is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

/* True when a well-formed code point of s is one that is_one() takes; an
 * ill-formed byte is stepped over. */
static bool has_cp(const char *s, size_t len, bool (*is_one)(uint32_t cp))
{
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_decode(s + i, len - i, &cp);
		if (n && is_one(cp))
			return true;
		i += n ? n : 1;
	}
	return false;
}

bool utf8_has_control(const char *s, size_t len)
{
	return has_cp(s, len, utf8_is_control);
}

bool utf8_is_bidi_control(uint32_t cp)
{
	return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E ||
	       cp == 0x200F || cp == 0x061C;
}

bool utf8_has_bidi_control(const char *s, size_t len)
{
	return has_cp(s, len, utf8_is_bidi_control);
}

bool utf8_is_space(uint32_t cp)
{
	return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 ||
	       cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static bool is_trimmed(uint32_t cp)
{
	return utf8_is_space(cp) || cp == 0xFEFF;
}

void utf8_trim(const char **s, size_t *len)
{
	const char *p = *s;
	size_t start = 0, end = *len;
	while (start < end) {
		uint32_t cp;
		size_t n = utf8_decode(p + start, end - start, &cp);
		if (!n || !is_trimmed(cp))
			break;
		start += n;
	}
	while (end > start) {
		size_t i = start + utf8_char_start(p + start, end - 1 - start);
		uint32_t cp;
		size_t n = utf8_decode(p + i, end - i, &cp);
		if (!n || n != end - i || !is_trimmed(cp))
			break;
		end = i;
	}
	*s += start;
	*len = end - start;
}
