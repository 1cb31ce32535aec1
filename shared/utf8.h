/*
 * utf8.h - UTF-8 validation and measurement (RFC 3629).
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

#endif
