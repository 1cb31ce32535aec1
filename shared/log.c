#include "log.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "msgr";
/* getpid() is a system call, and every request logs a line. */
static pid_t log_pid;

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
}

void log_process_name(char *buf, size_t len)
{
	snprintf(buf, len, "%s[%d]", log_program, (int)(log_pid ? log_pid : getpid()));
}

static void log_line(const char *level, const char *fmt, va_list ap)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char stamp[32];
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	char line[2048];
	int n = snprintf(line, sizeof line, "%s.%03dZ %s[%d] %s: ", stamp, (int)(tv.tv_usec / 1000),
			 log_program, (int)(log_pid ? log_pid : getpid()), level);
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	size_t used = (size_t)n + (size_t)m;
	if (used > sizeof line - 2)
		used = sizeof line - 2;
	line[used++] = '\n';
	/* One write per line keeps lines whole across processes. */
	fwrite(line, 1, used, stderr);
	fflush(stderr);
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
		 int64_t user_id)
{
	log_info("%s %s %d %.1fms user=%" PRId64, method, path, status, millis, user_id);
}

double log_ms_since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}
