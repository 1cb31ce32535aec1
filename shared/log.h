/*
 * log.h - one line per event on stderr, which the stack sends to var/log/
 * (journald under systemd).
 *
 * Text lines (the default) start with an RFC 3339 UTC time and the
 * program name. MSGR_LOG_FORMAT=json makes each line one JSON object
 * instead, {"time", "level", "program", "pid", "msg"}, and a request's
 * line adds "method", "path", "status", "duration_ms", "user_id" and
 * "request_id", for log collectors that read fields rather than text.
 * Never pass a token, a password or a query string to these functions.
 */
#ifndef MSGR_LOG_H
#define MSGR_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Reads MSGR_LOG_FORMAT (text or json; anything else is fatal, 78). */
void log_init(const char *program);
/* "program[pid]", as the lines name this process: for the other places
 * that name it, such as its database sessions' application_name. */
void log_process_name(char *buf, size_t len);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The request line: method, path (without query), status, duration, user
 * (0 when anonymous), and nginx's X-Request-Id (NULL when none). */
void log_request(const char *method, const char *path, int status, double millis,
		 int64_t user_id, const char *request_id);
/* Milliseconds since start (CLOCK_MONOTONIC), for log_request(). */
double log_ms_since(const struct timespec *start);

#endif
