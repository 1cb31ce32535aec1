/*
 * replay.h - catching a session up from the events table: the stored
 * events after the client's since that its user may see, in id order, up
 * to the feed cursor, then a hand-over to the live stream without gap or
 * duplicate (replay.c argues why).
 *
 * A replay reads one page at a time, and the next one only once the
 * session's queue has drained below REPLAY_LOW frames, so it never runs
 * into the queue's limit however far behind the client is.
 *
 * It calls back into its session: session_send() for each frame,
 * session_close() when it fails (1011), and session_caught_up() once, as
 * the last thing it does (which frees it). Events older than the retained
 * history give {"type":"reset"} and a hand-over at the current cursor.
 *
 * State: a struct replay per catching-up session, from replay_new() to
 * session_caught_up() or replay_free(); at most one query in flight.
 */
#ifndef WSD_REPLAY_H
#define WSD_REPLAY_H

#include <stdint.h>

struct replay;
struct session;
struct user;

/* A replay of the events after from for s, whose user is u. Returns NULL
 * when out of memory. Nothing happens until replay_start(). */
struct replay *replay_new(struct session *s, struct user *u, int64_t from);
/* Starts reading (or hands over at once when there is nothing to read). */
void replay_start(struct replay *r);
/* The session wrote a frame: a replay that paused for its queue reads on. */
void replay_writeable(struct replay *r);
/* Cancels the query in flight and frees r. Accepts NULL. */
void replay_free(struct replay *r);

#endif
