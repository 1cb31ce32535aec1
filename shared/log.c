#include "log.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static const char *log_program = "msgr";
/* getpid() is a system call, and every request logs a line. */
static pid_t log_pid;
static bool log_json;

/* A request's fields, for its JSON line. */
struct log_req {
	const char *method, *path, *request_id;
	int status;
	double millis;
	int64_t user_id;
};

static void note_pid(void)
{
	log_pid = getpid();
}

void log_init(const char *program)
{
	log_program = program;
	note_pid();
	pthread_atfork(NULL, NULL, note_pid);
	/* Line-buffered so that lines from several workers do not interleave. */
	setvbuf(stderr, NULL, _IOLBF, 0);
	const char *format = getenv("MSGR_LOG_FORMAT");
	if (format && *format && strcmp(format, "text") && strcmp(format, "json")) {
		log_error("invalid MSGR_LOG_FORMAT \"%s\": expected text or json", format);
		exit(78); /* EX_CONFIG, as config_int() */
	}
	log_json = format && !strcmp(format, "json");
}

void log_process_name(char *buf, size_t len)
{
	snprintf(buf, len, "%s[%d]", log_program, (int)(log_pid ? log_pid : getpid()));
}

/* Appends s to line (cap bytes, *used so far) as the inside of a JSON
 * string: quotes, backslashes and control characters escaped. Stops
 * before cap, whole escapes only. */
static void put_json(char *line, size_t cap, size_t *used, const char *s)
{
	size_t n = *used;
	for (const unsigned char *p = (const unsigned char *)s; *p && n + 7 < cap; p++) {
		if (*p == '"' || *p == '\\') {
			line[n++] = '\\';
			line[n++] = (char)*p;
		} else if (*p == '\n') {
			line[n++] = '\\';
			line[n++] = 'n';
		} else if (*p < 0x20 || *p == 0x7f) {
			n += (size_t)snprintf(line + n, cap - n, "\\u%04x", *p);
		} else {
			line[n++] = (char)*p;
		}
	}
	*used = n;
}

/* Appends printf output to line, cut at cap (the line is cut, not lost). */
static void put_fmt(char *line, size_t cap, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void put_fmt(char *line, size_t cap, size_t *used, const char *fmt, ...)
{
	if (*used >= cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + *used, cap - *used, fmt, ap);
	va_end(ap);
	if (m > 0)
		*used = *used + (size_t)m < cap ? *used + (size_t)m : cap - 1;
}

/* Builds the line for msg into line (cap bytes); returns its length, the
 * newline included. */
static size_t format_line(char *line, size_t cap, const char *stamp, const char *level,
			  const char *msg, const struct log_req *r)
{
	size_t n = 0;
	int pid = (int)(log_pid ? log_pid : getpid());
	if (!log_json) {
		put_fmt(line, cap - 1, &n, "%s %s[%d] %s: %s", stamp, log_program, pid, level, msg);
		line[n++] = '\n';
		return n;
	}
	/* The tail must fit whatever the message took: it is kept back. */
	size_t body = cap - 512;
	put_fmt(line, body, &n, "{\"time\":\"%s\",\"level\":\"%s\",\"program\":\"", stamp, level);
	put_json(line, body, &n, log_program);
	put_fmt(line, body, &n, "\",\"pid\":%d,\"msg\":\"", pid);
	put_json(line, body, &n, msg);
	put_fmt(line, cap, &n, "\"");
	if (r) {
		put_fmt(line, cap, &n, ",\"method\":\"");
		put_json(line, cap - 256, &n, r->method);
		put_fmt(line, cap, &n, "\",\"path\":\"");
		put_json(line, cap - 200, &n, r->path);
		put_fmt(line, cap, &n, "\",\"status\":%d,\"duration_ms\":%.1f,\"user_id\":%" PRId64,
			r->status, r->millis, r->user_id);
		if (r->request_id) {
			put_fmt(line, cap, &n, ",\"request_id\":\"");
			put_json(line, cap - 8, &n, r->request_id);
			put_fmt(line, cap, &n, "\"");
		}
	}
	put_fmt(line, cap - 1, &n, "}");
	line[n++] = '\n';
	return n;
}

static void emit(const char *level, const char *msg, const struct log_req *r)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char stamp[40];
	size_t s = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + s, sizeof stamp - s, ".%03dZ", (int)(tv.tv_usec / 1000));
	char line[LOG_LINE_MAX];
	size_t used = format_line(line, sizeof line, stamp, level, msg, r);
	/* One write per line keeps lines whole across processes. */
	fwrite(line, 1, used, stderr);
	fflush(stderr);
}

static void log_line(const char *level, const char *fmt, va_list ap)
{
	char msg[2048];
	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		return;
	emit(level, msg, NULL);
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line("info", fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line("error", fmt, ap);
	va_end(ap);
}

void log_request(const char *method, const char *path, int status, double millis,
		 int64_t user_id, const char *request_id)
{
	struct log_req r = {method, path, request_id, status, millis, user_id};
	char msg[2048];
	snprintf(msg, sizeof msg, "%s %s %d %.1fms user=%" PRId64 "%s%s", method, path, status,
		 millis, user_id, request_id ? " request_id=" : "", request_id ? request_id : "");
	emit("info", msg, &r);
}

double log_ms_since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}
