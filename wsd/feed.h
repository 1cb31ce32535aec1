/*
 * feed.h - the event outbox read in id order, each event exactly once, with
 * nothing lost to late commits (feed.c argues why).
 *
 * The feed owns one database connection: it LISTENs on msgr_events (a hint
 * to poll now) and on msgr_wsd (the channel between wsd processes, handed
 * on as it is), and polls the events table. What it reads goes out through
 * the callbacks given to feed_start(), never into another module directly,
 * so that it can be driven by a test with callbacks of its own.
 *
 * State: one per process, from feed_start() to feed_stop(). The cursor
 * only grows.
 */
#ifndef WSD_FEED_H
#define WSD_FEED_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"

struct feed_ops {
	/* An event, in id order, each exactly once; ev and what it points
	 * to are borrowed for the call. */
	void (*event)(void *arg, const struct event *ev);
	/* The feed became live (once): feed_cursor() is final from now on. */
	void (*live)(void *arg);
	/* A notification on msgr_wsd (payload borrowed for the call). */
	void (*bus)(void *arg, const char *payload);
	/* LISTEN msgr_wsd holds again after the connection was lost: what
	 * was notified meanwhile is lost, and must be asked again. */
	void (*relisten)(void *arg);
};

/* Starts the LISTEN/poll connection; ops (not copied: static) are called
 * back with arg. Returns false when out of memory. */
bool feed_start(const struct feed_ops *ops, void *arg);
/* Stops the timer and frees the connection: before lws_context_destroy(). */
void feed_stop(void);
/* True once the start-up cursor is established (sessions wait for it). */
bool feed_live(void);
/* Every event with an id <= this is final and has been dispatched. */
int64_t feed_cursor(void);
/* Asks for a poll soon (after this process wrote events itself). */
void feed_poke(void);

#endif
