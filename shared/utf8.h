/*
 * utf8.h - UTF-8 (RFC 3629): the one decoder, validation and measurement,
 * and the one list of Unicode white space.
 *
 * Everything here that reads UTF-8 reads it through utf8_decode(), so that
 * "well-formed" means the same wherever it is asked: no overlong forms (C0
 * AF is not '/'), no surrogates (ED A0 80 is U+D800, which UTF-8 may not
 * carry), nothing above U+10FFFF, no sequence cut short. A decoder of our
 * own rather than mbrtowc(): the C library's answer depends on the locale,
 * and some accept surrogates.
 */
#ifndef MSGR_UTF8_H
#define MSGR_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the code point at s (len > 0 bytes there) into *cp and returns
 * the length of its sequence, 1 to 4; returns 0, leaving *cp unspecified,
 * when the bytes at s do not begin a well-formed sequence (RFC 3629 section
 * 4). A caller that goes on after an ill-formed sequence steps one byte. */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);
/* Writes cp (a scalar value: at most U+10FFFF, no surrogate) as UTF-8 at
 * out; returns its length, 1 to 4. */
size_t utf8_encode(uint32_t cp, char out[4]);
/* The index of the first byte of the sequence that holds byte i of s: i
 * stepped back over continuation bytes, but not below 0. Cutting valid
 * UTF-8 at the index returned never splits a character. */
size_t utf8_char_start(const char *s, size_t i);

/* True when the len bytes at s are well-formed UTF-8. NUL bytes are
 * well-formed here; callers that cannot take them check utf8_has_nul(). */
bool utf8_valid(const char *s, size_t len);
/* The number of code points in valid UTF-8. */
size_t utf8_count(const char *s, size_t len);
bool utf8_has_nul(const char *s, size_t len);
/* True for a C0 control (below U+0020), DEL or a C1 control (U+0080 to
 * U+009F). */
bool utf8_is_control(uint32_t cp);
/* True when valid UTF-8 s contains a control character (utf8_is_control()). */
bool utf8_has_control(const char *s, size_t len);

/* True for a bidirectional formatting character (Unicode's Bidi_Control
 * but for nothing else): the embeddings and overrides U+202A to U+202E,
 * the isolates U+2066 to U+2069, and the marks U+200E, U+200F and U+061C.
 * In a name they reorder what follows them, up to the end of the
 * paragraph: "alice" + U+202E + "gnp.exe" shows as "aliceexe.png", and a
 * name can be made to look like another's (issue 18). */
bool utf8_is_bidi_control(uint32_t cp);
/* True when valid UTF-8 s contains one (utf8_is_bidi_control()). */
bool utf8_has_bidi_control(const char *s, size_t len);

/* True for Unicode White_Space (PropList.txt): tab to carriage return,
 * space, U+0085, U+00A0, U+1680, U+2000 to U+200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000. The one list: trimming, blank messages and reactions all
 * ask it. */
bool utf8_is_space(uint32_t cp);
/* Narrows [*s, *s + *len) to drop leading and trailing white space
 * (utf8_is_space()) and byte order marks (U+FEFF, which editors and
 * clipboards put at the start of text and which shows as nothing). An
 * ill-formed sequence ends the trimming at its end of the text. */
void utf8_trim(const char **s, size_t *len);

#endif
