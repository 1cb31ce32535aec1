/*
 * utf8.h - UTF-8 validation and measurement (RFC 3629), and the hex digits
 * that percent-encoded bytes are written with.
 */
#ifndef MSGR_UTF8_H
#define MSGR_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when the len bytes at s are well-formed UTF-8: no overlong forms, no
 * surrogates, nothing above U+10FFFF. NUL bytes are well-formed here; callers
 * that cannot take them check utf8_has_nul(). */
bool utf8_valid(const char *s, size_t len);
/* The number of code points in valid UTF-8. */
size_t utf8_count(const char *s, size_t len);
bool utf8_has_nul(const char *s, size_t len);
/* True when s contains a C0 or C1 control character or DEL. */
bool utf8_has_control(const char *s, size_t len);
/* Narrows [*s, *s + *len) to drop leading and trailing Unicode white space
 * (ASCII spaces, tabs, newlines, U+00A0, U+2000..U+200A, U+3000 ...). */
void utf8_trim(const char **s, size_t *len);

/* The value of an ASCII hex digit of either case, or -1 for any other byte:
 * percent-encoding (RFC 3986 section 2.1) allows both cases. */
static inline int hex_digit_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
