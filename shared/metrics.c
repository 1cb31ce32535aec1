/*
 * metrics.c - the shared counters file and its text rendering (metrics.h).
 *
 * Histograms keep one count per bucket (not cumulative), the last bucket
 * for what is above every bound, and the sum in the bucket unit
 * (microseconds, or items): one add to the bucket and one to the sum per
 * observation. The renderer makes them cumulative and takes _count from
 * the buckets it read, so _count and le="+Inf" always agree even though
 * the file changes while it is read.
 */
#define _GNU_SOURCE
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define METRICS_MAGIC 0x6d736772u /* "msgr" */
#define METRICS_VERSION 1u
#define METRICS_ROUTES 40
#define METRICS_BUCKETS 12 /* bounds; one more bucket above them */
#define METRICS_SUFFIX ".metrics"

struct metrics_hist {
	uint64_t bucket[METRICS_BUCKETS + 1];
	uint64_t sum;
};

/* Statuses counted one by one; any other goes to "other". */
static const int metrics_statuses[] = {200, 201, 204, 206, 304, 400, 401, 403, 404, 405, 409,
				       410, 413, 415, 422, 429, 500, 502, 503, 504, 507};
#define METRICS_NSTATUS (sizeof metrics_statuses / sizeof metrics_statuses[0])

struct metrics_route {
	char method[8];
	char pattern[56];
	uint64_t status[METRICS_NSTATUS + 1];
	struct metrics_hist seconds; /* microseconds */
};

/* The file. Fixed layout: the exporter is the same build as the writers
 * (a file of another layout is skipped, by its size and version). */
struct metrics_file {
	uint32_t magic;
	uint32_t version;
	uint32_t size;
	uint32_t nroutes; /* route[nroutes]: requests no route matched */
	char program[16];
	struct metrics_route route[METRICS_ROUTES + 1];
	uint64_t db_errors;
	int64_t websockets;
	uint64_t events_sent;
	struct metrics_hist delivery_lag; /* microseconds */
	struct metrics_hist batch[METRICS_BATCH__MAX];
	uint64_t replica_reads[2]; /* by the primary [0], by the replica [1] */
};

/* Seconds, in microseconds: request durations and delivery lags. */
static const uint64_t bounds_us[METRICS_BUCKETS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
};
static const uint64_t bounds_items[METRICS_BUCKETS] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048,
};

static struct {
	struct metrics_file *map; /* NULL: not open, updates do nothing */
	int fd;
	char path[4096];
} M = {.fd = -1};

/* ---- updates ------------------------------------------------------------------ */

static inline void add(uint64_t *p, uint64_t n)
{
	__atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

static void observe(struct metrics_hist *h, const uint64_t *bounds, uint64_t v)
{
	size_t i = 0;
	while (i < METRICS_BUCKETS && v > bounds[i])
		i++;
	add(&h->bucket[i], 1);
	add(&h->sum, v);
}

static size_t status_slot(int status)
{
	for (size_t i = 0; i < METRICS_NSTATUS; i++)
		if (metrics_statuses[i] == status)
			return i;
	return METRICS_NSTATUS;
}

void metrics_request(size_t route, int status, double seconds)
{
	struct metrics_file *f = M.map;
	if (!f)
		return;
	if (route > f->nroutes)
		route = f->nroutes;
	struct metrics_route *r = &f->route[route];
	add(&r->status[status_slot(status)], 1);
	observe(&r->seconds, bounds_us, seconds > 0 ? (uint64_t)(seconds * 1e6) : 0);
}

void metrics_db_error(void)
{
	if (M.map)
		add(&M.map->db_errors, 1);
}

void metrics_replica_read(bool on_replica)
{
	if (M.map)
		add(&M.map->replica_reads[on_replica], 1);
}

void metrics_batch(enum metrics_batch kind, unsigned n)
{
	if (M.map && kind < METRICS_BATCH__MAX)
		observe(&M.map->batch[kind], bounds_items, n);
}

void metrics_websockets(int delta)
{
	if (M.map)
		__atomic_fetch_add(&M.map->websockets, (int64_t)delta, __ATOMIC_RELAXED);
}

void metrics_event_sent(int64_t created_us)
{
	if (!M.map)
		return;
	add(&M.map->events_sent, 1);
	if (created_us <= 0)
		return;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t lag = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000 - created_us;
	/* Clocks of two machines (the database's and ours) may disagree a
	 * little: a negative lag is no lag. */
	observe(&M.map->delivery_lag, bounds_us, lag > 0 ? (uint64_t)lag : 0);
}

/* ---- the file ------------------------------------------------------------------ */

static void copy_name(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

enum msgr_err metrics_open(const char *dir, const char *program, const struct http_route *routes,
			   size_t nroutes)
{
	char mdir[4096], tmp[4096];
	struct metrics_file *f = MAP_FAILED;
	int fd = -1;
	if (nroutes > METRICS_ROUTES) {
		log_error("metrics: %zu routes, at most %d are counted", nroutes, METRICS_ROUTES);
		return MSGR_ERR_LIMIT;
	}
	int n = snprintf(mdir, sizeof mdir, "%s/metrics", dir);
	int m = snprintf(M.path, sizeof M.path, "%s/%s" METRICS_SUFFIX, mdir, program);
	int t = snprintf(tmp, sizeof tmp, "%s/.%s.%d.tmp", mdir, program, (int)getpid());
	if (n < 0 || m < 0 || t < 0 || (size_t)m >= sizeof M.path || (size_t)t >= sizeof tmp) {
		log_error("metrics: the directory \"%s\" is too long", dir);
		return MSGR_ERR_CONFIG;
	}
	/* The group's too: nginx's group shares the run directory. */
	if (mkdir(mdir, 0770) != 0 && errno != EEXIST)
		goto fail;
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || ftruncate(fd, sizeof *f) != 0 || flock(fd, LOCK_SH) != 0)
		goto fail;
	f = mmap(NULL, sizeof *f, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (f == MAP_FAILED)
		goto fail;
	f->magic = METRICS_MAGIC;
	f->version = METRICS_VERSION;
	f->size = sizeof *f;
	f->nroutes = (uint32_t)nroutes;
	copy_name(f->program, sizeof f->program, program);
	for (size_t i = 0; i < nroutes; i++) {
		copy_name(f->route[i].method, sizeof f->route[i].method, routes[i].method);
		copy_name(f->route[i].pattern, sizeof f->route[i].pattern, routes[i].pattern);
	}
	if (rename(tmp, M.path) != 0)
		goto fail;
	M.map = f;
	M.fd = fd; /* kept open: the family's flock */
	return MSGR_OK;
fail:
	log_error("metrics: could not make \"%s\": %s (no metrics from %s)", M.path, strerror(errno),
		  program);
	if (f != MAP_FAILED)
		munmap(f, sizeof *f);
	if (fd >= 0) {
		unlink(tmp);
		close(fd);
	}
	M.path[0] = '\0';
	return MSGR_ERR_IO;
}

void metrics_remove(void)
{
	if (!M.map)
		return;
	unlink(M.path);
	munmap(M.map, sizeof *M.map);
	close(M.fd);
	M.map = NULL;
	M.fd = -1;
}

/* ---- rendering ----------------------------------------------------------------- */

/* Reads a live file (one its family still holds) into f; false for a
 * stale or foreign one. */
static bool read_live(int dirfd, const char *name, struct metrics_file *f)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	bool ok = false;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		flock(fd, LOCK_UN); /* nobody holds it: its family is gone */
	} else if (errno == EWOULDBLOCK) {
		ok = read(fd, f, sizeof *f) == (ssize_t)sizeof *f && f->magic == METRICS_MAGIC &&
		     f->version == METRICS_VERSION && f->size == sizeof *f &&
		     f->nroutes <= METRICS_ROUTES;
	}
	close(fd);
	if (!ok)
		return false;
	f->program[sizeof f->program - 1] = '\0';
	for (uint32_t i = 0; i < f->nroutes; i++) {
		f->route[i].method[sizeof f->route[i].method - 1] = '\0';
		f->route[i].pattern[sizeof f->route[i].pattern - 1] = '\0';
	}
	f->route[f->nroutes].method[0] = f->route[f->nroutes].pattern[0] = '\0';
	return true;
}

/* A label value (text format: backslash, quote and newline escaped). */
static void put_label(struct buf *out, const char *name, const char *value)
{
	buf_printf(out, "%s=\"", name);
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"')
			buf_putc(out, '\\');
		if (*p == '\n')
			buf_puts(out, "\\n");
		else
			buf_putc(out, *p);
	}
	buf_putc(out, '"');
}

static void put_head(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The labels of a request series, without the braces. */
static void put_route_labels(struct buf *out, const struct metrics_file *f, uint32_t i)
{
	put_label(out, "program", f->program);
	buf_putc(out, ',');
	put_label(out, "method", f->route[i].method);
	buf_putc(out, ',');
	put_label(out, "route", i < f->nroutes ? f->route[i].pattern : "unmatched");
}

/* A histogram's series: labels is what goes before le (may be ""). */
static void put_hist(struct buf *out, const char *name, const char *labels,
		     const struct metrics_hist *h, const uint64_t *bounds, double unit)
{
	const char *sep = *labels ? "," : "";
	uint64_t total = 0;
	for (size_t i = 0; i <= METRICS_BUCKETS; i++) {
		total += h->bucket[i];
		if (i < METRICS_BUCKETS)
			buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
				   (double)bounds[i] / unit, (unsigned long long)total);
	}
	buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
		   (unsigned long long)total);
	buf_printf(out, "%s_sum{%s} %.15g\n", name, labels, (double)h->sum / unit);
	buf_printf(out, "%s_count{%s} %llu\n", name, labels, (unsigned long long)total);
}

static uint64_t hist_count(const struct metrics_hist *h)
{
	uint64_t n = 0;
	for (size_t i = 0; i <= METRICS_BUCKETS; i++)
		n += h->bucket[i];
	return n;
}

static void render_requests(struct buf *out, const struct metrics_file *fs, size_t n)
{
	put_head(out, "msgr_http_requests_total", "counter",
		 "Requests answered by the programs, by route (the route table's pattern) and status.");
	for (size_t k = 0; k < n; k++) {
		for (uint32_t i = 0; i <= fs[k].nroutes; i++) {
			for (size_t s = 0; s <= METRICS_NSTATUS; s++) {
				if (!fs[k].route[i].status[s])
					continue;
				buf_puts(out, "msgr_http_requests_total{");
				put_route_labels(out, &fs[k], i);
				if (s < METRICS_NSTATUS)
					buf_printf(out, ",status=\"%d\"} ", metrics_statuses[s]);
				else
					buf_puts(out, ",status=\"other\"} ");
				buf_printf(out, "%llu\n", (unsigned long long)fs[k].route[i].status[s]);
			}
		}
	}
	put_head(out, "msgr_http_request_duration_seconds", "histogram",
		 "How long the programs took to answer, by route.");
	struct buf labels = {0};
	for (size_t k = 0; k < n; k++) {
		for (uint32_t i = 0; i <= fs[k].nroutes; i++) {
			if (!hist_count(&fs[k].route[i].seconds))
				continue;
			buf_reset(&labels);
			put_route_labels(&labels, &fs[k], i);
			put_hist(out, "msgr_http_request_duration_seconds", buf_cstr(&labels),
				 &fs[k].route[i].seconds, bounds_us, 1e6);
		}
	}
	buf_free(&labels);
}

static void render_others(struct buf *out, const struct metrics_file *fs, size_t n)
{
	struct buf labels = {0};
	put_head(out, "msgr_database_errors_total", "counter",
		 "Statements that failed or could not reach the database, by program.");
	for (size_t k = 0; k < n; k++) {
		buf_puts(out, "msgr_database_errors_total{");
		put_label(out, "program", fs[k].program);
		buf_printf(out, "} %llu\n", (unsigned long long)fs[k].db_errors);
	}
	put_head(out, "msgr_replica_reads_total", "counter",
		 "Reads that could go to the read replica, by who answered them.");
	for (size_t k = 0; k < n; k++) {
		for (int on_replica = 0; on_replica < 2; on_replica++) {
			if (!fs[k].replica_reads[on_replica])
				continue;
			buf_puts(out, "msgr_replica_reads_total{");
			put_label(out, "program", fs[k].program);
			buf_putc(out, ',');
			put_label(out, "server", on_replica ? "replica" : "primary");
			buf_printf(out, "} %llu\n",
				   (unsigned long long)fs[k].replica_reads[on_replica]);
		}
	}
	/* The WebSocket series are a program's without a route table: wsd. */
	put_head(out, "msgr_websocket_connections", "gauge", "Open WebSocket connections.");
	for (size_t k = 0; k < n; k++) {
		if (fs[k].nroutes)
			continue;
		buf_puts(out, "msgr_websocket_connections{");
		put_label(out, "program", fs[k].program);
		buf_printf(out, "} %lld\n", (long long)fs[k].websockets);
	}
	put_head(out, "msgr_events_delivered_total", "counter",
		 "Event frames sent to WebSocket clients (live and replayed).");
	for (size_t k = 0; k < n; k++) {
		if (fs[k].nroutes)
			continue;
		buf_puts(out, "msgr_events_delivered_total{");
		put_label(out, "program", fs[k].program);
		buf_printf(out, "} %llu\n", (unsigned long long)fs[k].events_sent);
	}
	put_head(out, "msgr_event_delivery_lag_seconds", "histogram",
		 "From an event's creation in the database to its frame sent, live events only.");
	for (size_t k = 0; k < n; k++) {
		if (fs[k].nroutes)
			continue;
		buf_reset(&labels);
		put_label(&labels, "program", fs[k].program);
		put_hist(out, "msgr_event_delivery_lag_seconds", buf_cstr(&labels),
			 &fs[k].delivery_lag, bounds_us, 1e6);
	}
	static const char *const kinds[METRICS_BATCH__MAX] = {"send", "history"};
	put_head(out, "msgr_companion_batch_size", "histogram",
		 "Requests the messages companion wrote or checked in one statement.");
	for (size_t k = 0; k < n; k++) {
		for (int b = 0; b < METRICS_BATCH__MAX; b++) {
			if (!hist_count(&fs[k].batch[b]))
				continue;
			buf_reset(&labels);
			put_label(&labels, "program", fs[k].program);
			buf_putc(&labels, ',');
			put_label(&labels, "kind", kinds[b]);
			put_hist(out, "msgr_companion_batch_size", buf_cstr(&labels),
				 &fs[k].batch[b], bounds_items, 1);
		}
	}
	buf_free(&labels);
}

/* Renders the n files; each family of series once, as the format asks. */
static void render(struct buf *out, const struct metrics_file *fs, size_t n)
{
	render_requests(out, fs, n);
	render_others(out, fs, n);
}

static int by_program(const void *a, const void *b)
{
	return strcmp(((const struct metrics_file *)a)->program,
		      ((const struct metrics_file *)b)->program);
}

enum msgr_err metrics_render(const char *dir, struct buf *out)
{
	char mdir[4096];
	int len = snprintf(mdir, sizeof mdir, "%s/metrics", dir);
	if (len < 0 || (size_t)len >= sizeof mdir)
		return MSGR_ERR_CONFIG;
	DIR *d = opendir(mdir);
	if (!d) {
		/* No program has made its file yet: no series, still a valid
		 * answer. */
		render(out, NULL, 0);
		return buf_status(out);
	}
	struct metrics_file *fs = NULL;
	size_t n = 0, cap = 0;
	enum msgr_err err = MSGR_OK;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t nl = strlen(e->d_name), sl = strlen(METRICS_SUFFIX);
		if (e->d_name[0] == '.' || nl <= sl || strcmp(e->d_name + nl - sl, METRICS_SUFFIX))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct metrics_file *grown = realloc(fs, ncap * sizeof *fs);
			if (!grown) {
				err = MSGR_ERR_NOMEM;
				goto done;
			}
			fs = grown;
			cap = ncap;
		}
		if (read_live(dirfd(d), e->d_name, &fs[n]))
			n++;
	}
	if (n > 1)
		qsort(fs, n, sizeof *fs, by_program);
	render(out, fs, n);
	err = buf_status(out);
done:
	closedir(d);
	free(fs);
	return err;
}
