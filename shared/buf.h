/*
 * buf.h - one growable byte buffer.
 *
 * Always NUL-terminated once anything was appended. Failure is sticky: after
 * an allocation fails every append is a no-op and buf_status() reports it, so
 * a caller builds a whole string and checks once at the end (as redis sds and
 * libpq's PQExpBuffer do). A zeroed struct buf is a valid empty buffer.
 */
#ifndef MSGR_BUF_H
#define MSGR_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	bool failed;
};

void buf_free(struct buf *b);
/* Empties the buffer but keeps its memory for reuse. */
void buf_reset(struct buf *b);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Appends data as a quoted JSON string (RFC 8259 section 7). The bytes are
 * expected to be valid UTF-8; control characters are escaped. */
void buf_json_str(struct buf *b, const char *data, size_t len);
/* Appends data as an element of a PostgreSQL array literal: double-quoted,
 * with '"' and '\\' escaped. The bytes must not hold a NUL. */
void buf_pg_array_str(struct buf *b, const char *data, size_t len);
/* The contents, or "" for an empty buffer; never NULL. */
const char *buf_cstr(const struct buf *b);
enum msgr_err buf_status(const struct buf *b) MSGR_WUR;

#endif
