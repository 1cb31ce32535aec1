/*
 * wsd.h - the realtime daemon's process state and settings. Each module
 * has its own header with its contract and the lifetime of its state:
 *
 *   main.c      the start, the loop and the exit, in that order
 *   settings.c  arguments and MSGR_WSD_* settings into W
 *   context.c   the lws context and its two vhosts (WebSocket, database)
 *   lifecycle.c signals, the once-a-second tick, the stop sequence
 *   pg.c        asynchronous PostgreSQL connections adopted into the loop
 *   feed.c      the event outbox in id order: the delivered-up-to cursor,
 *               gap horizons for late commits, LISTEN
 *   user.c      the users with a connection here, and their sessions
 *   members.c   who is in which chat, kept from the event stream
 *   fanout.c    events, typing and presence to the sessions they concern
 *   presence.c  user_presence rows, and this process as an instance
 *   bus.c       msgr_wsd: typing and presence between processes
 *   session.c   one WebSocket connection: auth, queue, close codes
 *   frame.c     client frames read into validated structs (no I/O)
 *   replay.c    the stored events after since, paged from the table
 *   ack.c       delivered markers, batched
 *   event.c     reading and encoding stored events
 *   map.c, msg.c  an id hash map, shared outgoing frames
 *
 * Everything runs on the one lws service thread.
 */
#ifndef WSD_WSD_H
#define WSD_WSD_H

#include <stdbool.h>
#include <stdint.h>

struct lws_context;
struct lws_vhost;
struct pg_conn;

/* Settings (MSGR_WSD_*, see settings.c for the defaults). */
struct wsd_config {
	long auth_timeout_ms;   /* the first frame must come within this */
	long ready_timeout_ms;  /* "ready" must be possible within this (database) */
	long queue_max_msgs;    /* a live connection further behind is cut off */
	long queue_max_bytes;
	long replay_page;       /* events per replay query */
	long poll_ms;           /* the safety-net poll of the events table */
	long gap_poll_ms;       /* the poll while a gap is open */
	long typing_burst;      /* typing frames a connection may send ... */
	long typing_window_ms;  /* ... per this window */
	long ack_flush_ms;      /* delivered markers are written this often */
	long heartbeat_secs;    /* the instance heartbeat */
	long dead_secs;         /* an instance silent this long is gone */
	long ping_secs;         /* a connection silent this long is pinged */
	long hangup_secs;       /* and dropped when silent this long */
	long work_conns;        /* database connections for per-user queries */
	long max_frame;         /* incoming frames over this close with 1009 */
	long max_per_user;      /* authenticated connections of one user here (0: any) */
};

/* The process. Lifetime: main(). */
struct wsd {
	struct lws_context *context;
	struct lws_vhost *vhost;    /* the listening WebSocket vhost */
	struct lws_vhost *pg_vhost; /* where database sockets are adopted */
	char *wsd_id;               /* this process in user_presence */
	char *conninfo;
	struct pg_conn **work; /* per-user queries, presence, acks */
	unsigned nwork;
	char **origins; /* MSGR_ALLOWED_ORIGINS, split */
	unsigned norigins;
	struct wsd_config cfg;
	bool event_lib; /* libev runs the loop (else lws's poll()) */
	bool stopping;  /* SIGTERM: closing connections */
};
extern struct wsd W;

/* The connection that runs the queries of user_id (always the same one, so
 * that one user's statements keep their order). */
struct pg_conn *wsd_conn_for(int64_t user_id);
uint64_t wsd_now_ms(void); /* monotonic */

#endif
