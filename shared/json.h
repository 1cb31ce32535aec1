/*
 * json.h - the one JSON reader: REST request bodies (http.c) and the
 * frames WebSocket clients send (wsd) are read by json_read(), so the
 * same text is accepted or refused the same way wherever it arrives.
 *
 * It is json-c's tokener in strict mode, plus what json-c 0.16 gets wrong
 * in that mode, refused before json-c sees the text:
 *  - single-quoted strings ({'type':'ping'}): JSON (RFC 8259 section 7)
 *    has only double-quoted ones;
 *  - NaN, Infinity and -Infinity, which are no JSON numbers (section 6);
 *  - control characters (below U+0020) inside strings, which must be
 *    escaped (section 7);
 *  - a \u escape of half a surrogate pair, which json-c turns into U+FFFD
 *    (RFC 8259 section 8.2 leaves such strings to the parser): the text
 *    stored would not be the text sent.
 * And one thing json-c 0.16 misreads is read right: a whole surrogate pair
 * whose code point ends in what looks like a surrogate (U+1D800 to
 * U+1DFFF, U+2D800 to U+2DFFF...), which json-c also turns into U+FFFD,
 * is handed to it as the UTF-8 it stands for.
 * The whole input must be one JSON text: white space (RFC 8259 section 2:
 * space, tab, line feed, carriage return) may follow it, nothing else.
 * Nesting deeper than JSON_READ_DEPTH is refused (json-c recurses).
 *
 * Strings are NOT checked for UTF-8 here: API.md answers invalid UTF-8 in
 * a field with 422 naming that field, so the field's validator (valid.h)
 * checks it, and wsd compares the strings it reads with known ASCII ones.
 */
#ifndef MSGR_JSON_H
#define MSGR_JSON_H

#include <json-c/json.h>
#include <stddef.h>

#define JSON_READ_DEPTH 32

/* The JSON text data[0..len), or NULL when it is not exactly one JSON text
 * by the rules above. Returns a new reference the caller json_object_put()s.
 * data need not be NUL-terminated. */
struct json_object *json_read(const char *data, size_t len);

#endif
