/*
 * log.h - one line per event on stderr, which the stack sends to var/log/.
 *
 * Lines start with an RFC 3339 UTC time and the program name. Never pass a
 * token, a password or a query string to these functions.
 */
#ifndef MSGR_LOG_H
#define MSGR_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

void log_init(const char *program);
/* "program[pid]", as the lines name this process: for the other places
 * that name it, such as its database sessions' application_name. */
void log_process_name(char *buf, size_t len);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The request line: method, path (without query), status, duration, user
 * (0 when anonymous). */
void log_request(const char *method, const char *path, int status,
		 double millis, int64_t user_id);
/* Milliseconds since start (CLOCK_MONOTONIC), for log_request(). */
double log_ms_since(const struct timespec *start);

#endif
