#include "utf8.h"

#include <stdint.h>
#include <string.h>

/* Decodes one code point of well-formed UTF-8 at s (len > 0 bytes left);
 * returns its length in bytes, or 0 when the sequence is ill-formed
 * (RFC 3629 section 4: no overlongs, no surrogates, at most U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t n;
	uint32_t min;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		min = 0x80;
		*cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		min = 0x800;
		*cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		min = 0x10000;
		*cp = c & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3F);
	}
	if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
		return 0;
	return n;
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		uint32_t cp;
		size_t n = utf8_decode(p + i, len - i, &cp);
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
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			count++;
	return count;
}

bool utf8_has_nul(const char *s, size_t len)
{
	return memchr(s, '\0', len) != NULL;
}

bool utf8_has_control(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7F)
			return true;
		/* C1 controls U+0080..U+009F are C2 80..C2 9F. */
		if (p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)
			return true;
	}
	return false;
}

static bool is_space(uint32_t cp)
{
	return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 ||
	       cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

void utf8_trim(const char **s, size_t *len)
{
	const unsigned char *p = (const unsigned char *)*s;
	size_t start = 0, end = *len;
	while (start < end) {
		uint32_t cp;
		size_t n = utf8_decode(p + start, end - start, &cp);
		if (!n || !is_space(cp))
			break;
		start += n;
	}
	while (end > start) {
		/* Step back to the first byte of the last code point. */
		size_t i = end - 1;
		while (i > start && (p[i] & 0xC0) == 0x80)
			i--;
		uint32_t cp;
		size_t n = utf8_decode(p + i, end - i, &cp);
		if (!n || n != end - i || !is_space(cp))
			break;
		end = i;
	}
	*s += start;
	*len = end - start;
}
