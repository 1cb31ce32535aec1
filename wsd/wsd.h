/*
 * wsd.h - the realtime daemon's private header: its state and how its
 * modules call each other (as lws keeps private-lib-*.h beside its public
 * headers).
 *
 *   main.c     arguments, configuration, the lws context, signals, shutdown
 *   pg.c       asynchronous PostgreSQL connections adopted into the loop
 *   feed.c     the event outbox: the process-wide delivered-up-to cursor,
 *              gap handling for late commits, LISTEN msgr_events
 *   hub.c      users and chats known to this process, memberships kept
 *              from the event stream, fan-out to sessions, presence, typing
 *   session.c  one WebSocket connection: auth, replay, queue, client frames
 *   ack.c      delivered markers, batched
 *   event.c    reading and encoding stored events
 *   map.c, msg.c  an id hash map, shared outgoing frames
 *
 * Everything runs on the one lws service thread.
 */
#ifndef WSD_WSD_H
#define WSD_WSD_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "map.h"
#include "msg.h"
#include "pg.h"

/* Settings (MSGR_WSD_*, see main.c for the defaults). */
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
	bool stopping; /* SIGTERM: closing connections */
};
extern struct wsd W;

/* The connection that runs the queries of user_id (always the same one, so
 * that one user's statements keep their order). */
struct pg_conn *wsd_conn_for(int64_t user_id);
uint64_t wsd_now_ms(void); /* monotonic */

/* ---- feed.c ----------------------------------------------------------- */

/* Starts the LISTEN/poll connection. */
bool feed_start(void);
void feed_stop(void);
/* True once the start-up cursor is established (sessions wait for it). */
bool feed_live(void);
/* Every event with an id <= this is final and has been dispatched. */
int64_t feed_cursor(void);
/* Asks for a poll soon (after this process wrote events itself). */
void feed_poke(void);

/* ---- hub.c ------------------------------------------------------------ */

struct session;

enum user_state {
	USER_WAITING, /* the feed is not live yet */
	USER_LOADING, /* its memberships are being read */
	USER_READY,
};

/* A membership change seen while the user's memberships were loading. */
struct transition {
	int64_t id;
	int64_t chat_id;
	bool join;
};

/* A user with at least one connection here. Lifetime: from its first
 * authenticated session to the end of its last. */
struct user {
	int64_t id;
	enum user_state state;
	struct lws_dll2_owner sessions;
	int64_t *chats; /* sorted: the chats it is a member of (when READY) */
	uint32_t nchats, capchats;
	uint32_t mark; /* fan-out de-duplication */
	uint64_t gen;   /* tells this user object from an earlier one */
	bool announced; /* its presence row is written: online everywhere */
	/* while LOADING */
	int64_t load_from;
	struct transition *log;
	uint32_t nlog, caplog;
	struct pg_query *load_q;
};

bool hub_init(void);
void hub_stop(void); /* timers off: before lws_context_destroy() */
void hub_free(void);
/* Adds s to its user (created, loaded and announced online when new);
 * session_user_ready() follows once both are done. Returns false when out
 * of memory. */
bool hub_attach(struct session *s, int64_t user_id);
/* Removes s from its user; the last one takes the user offline. */
void hub_detach(struct session *s);
bool hub_is_member(const struct user *u, int64_t chat_id);
/* The feed's events, in id order, each exactly once. */
void hub_dispatch(const struct event *ev);
/* The feed became live: load the users that waited for it. */
void hub_feed_live(void);
/* Typing from a local session (checked: u is a member). */
void hub_typing(struct user *u, int64_t chat_id);
/* A notification on msgr_wsd (typing and presence from any process). */
void hub_bus(const char *payload);
/* Instance bookkeeping: registration at start, heartbeat, deregistration. */
void hub_instance_start(void);
void hub_instance_stop(void (*done)(void));
unsigned hub_users(void);

/* ---- session.c -------------------------------------------------------- */

enum session_state {
	SESSION_AUTH,   /* waiting for the auth frame */
	SESSION_WAIT,   /* authenticated; the user's memberships are loading */
	SESSION_REPLAY, /* "ready" sent; catching up from the table */
	SESSION_LIVE,   /* caught up; gets events as the feed dispatches them */
};

struct replay;

/* One WebSocket connection: lws's per-session data. Lifetime: from
 * LWS_CALLBACK_ESTABLISHED to LWS_CALLBACK_CLOSED (lws frees it). */
struct session {
	struct lws *wsi;
	struct user *user;          /* once authenticated */
	struct lws_dll2 user_link;  /* in user->sessions */
	struct lws_dll2 list_link;  /* in the auth-pending or the authenticated list */
	struct replay *replay;      /* SESSION_REPLAY only */
	struct pg_query *query;     /* the one query in flight for it, if any */
	struct msg **q;             /* the outgoing ring, NULL when empty */
	uint32_t qhead, qlen, qcap;
	uint32_t qbytes;
	char *rx; /* a message being reassembled from fragments */
	uint32_t rxlen;
	int64_t pos;   /* every stream event <= pos was sent or is not for it */
	int64_t since; /* as the client asked (has_since) */
	uint64_t deadline_ms; /* SESSION_AUTH: auth frame, SESSION_WAIT: ready */
	time_t token_exp;     /* the access token's exp: closed with 4401 then */
	uint64_t typing_window_ms;
	uint16_t typing_count;
	uint32_t last_rx_s;   /* monotonic seconds of the last frame or pong */
	uint16_t close_code; /* non-zero: close with it at the next writeable */
	const char *close_reason;
	uint8_t state;
	bool has_since;
	bool paused;    /* replay waits for the queue to drain */
	bool ping_due;  /* send a ping at the next writeable */
	bool ping_sent; /* and wait for any frame or pong */
};


int session_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len);
/* The user's memberships are known: answer "ready" and start the replay. */
void session_user_ready(struct session *s);
/* A live event for the session's user (with a stream id, or 0 for
 * ephemeral frames). Takes no reference of its own: it adds one. */
void session_deliver(struct session *s, int64_t id, struct msg *m);
bool session_is_live(const struct session *s);
/* Closes with code (RFC 6455 section 7.4) at the next writeable; reason is
 * a static string. */
void session_close(struct session *s, uint16_t code, const char *reason);
/* Closes more sessions with 1001 (shutting down), so that at most max are
 * closing at a time; returns how many it closed. In slices: lws keeps the
 * timers of the close handshake in one sorted list, where each new one
 * walks all the others, so closing all at once costs O(connections^2). */
unsigned session_close_all(unsigned max);
unsigned session_count(void);
void session_sweep(void); /* auth deadlines; called every second */
struct session *session_of_link(struct lws_dll2 *link);

/* ---- ack.c ------------------------------------------------------------ */

void ack_add(int64_t user_id, int64_t chat_id, int64_t message_id);
void ack_flush_now(void);
void ack_free(void);

#endif
