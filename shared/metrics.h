/*
 * metrics.h - counters and histograms for /metrics (Prometheus text
 * format), kept by many processes and read by one.
 *
 * A program is a family of processes (a FastCGI master, its workers and
 * companion; wsd alone), and any of them may answer a request. So the
 * counts do not live in one process's memory: the family's first process
 * (the master, before it forks) makes a file of fixed layout,
 * RUN_DIR/metrics/PROGRAM.metrics, and maps it shared; its children
 * inherit the mapping, and every update is one relaxed atomic add into it
 * (no system call, no lock: the request paths stay as cheap as they were).
 * The exporter (auth's GET /metrics) reads every file of the directory and
 * renders them, a label program="..." telling them apart.
 *
 * Stale files: the file is made under a temporary name and renamed over
 * the last one, so a restarted program starts from zero (counters that
 * reset, which Prometheus expects of a restart) and a process of the old
 * family still running writes into the old, unlinked file, never into the
 * new counts. The family holds a shared flock() on the file for as long as
 * any of its processes lives (the descriptor is inherited); the exporter
 * skips a file nobody holds, so a program killed outright, and not started
 * again, leaves no stale gauge behind. A clean stop removes the file.
 *
 * Every update function does nothing before metrics_open() or when it
 * failed: metrics are never a reason not to serve.
 */
#ifndef MSGR_METRICS_H
#define MSGR_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "http.h"

/* The histograms of the companion's batches (fcgi/messages). */
enum metrics_batch { METRICS_BATCH_SEND, METRICS_BATCH_HISTORY, METRICS_BATCH__MAX };

/* Makes this process family's file in dir/metrics (created if needed) and
 * maps it; routes is the program's route table (its patterns label the
 * request counts; NULL and 0 for none). Call before forking. Logged on
 * failure, after which the updates do nothing. */
enum msgr_err metrics_open(const char *dir, const char *program, const struct http_route *routes,
			   size_t nroutes) MSGR_WUR;
/* At a clean stop of the family (its master): removes the file. */
void metrics_remove(void);

/* A request answered: route is its index in the table given to
 * metrics_open(), or the table's length when no route matched. */
void metrics_request(size_t route, int status, double seconds);
/* A statement that failed, or could not be sent (the database away). */
void metrics_db_error(void);
/* A read that could go to the read replica (db.h) was answered there, or
 * (false) by the primary: the replica behind, or away. */
void metrics_replica_read(bool on_replica);
/* The companion wrote a batch of n requests. */
void metrics_batch(enum metrics_batch kind, unsigned n);
/* wsd: a WebSocket connection opened (+1) or closed (-1). */
void metrics_websockets(int delta);
/* wsd: an event's frame was sent to a client; created_us is when the
 * event was written (microseconds since the epoch), for the delivery lag,
 * or 0 (an event replayed from the table: its lag says nothing). */
void metrics_event_sent(int64_t created_us);

/* Appends the text format of every live file in dir/metrics to out. */
enum msgr_err metrics_render(const char *dir, struct buf *out) MSGR_WUR;

#endif
