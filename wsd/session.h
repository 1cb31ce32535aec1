/*
 * session.h - one WebSocket connection (API.md "Realtime"): its states,
 * its bounded outgoing queue, its close codes.
 *
 * State: struct session is lws's per-session data (lws allocates and frees
 * it); it lives from LWS_CALLBACK_ESTABLISHED to LWS_CALLBACK_CLOSED. The
 * module also keeps the lists of sessions waiting for their auth frame and
 * of the others, for the once-a-second sweep.
 */
#ifndef WSD_SESSION_H
#define WSD_SESSION_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/* Close codes (RFC 6455 section 7.4; 4000-4999 are ours; README
 * "Realtime" lists what a client does with each). */
enum {
	CLOSE_GOING_AWAY = 1001,
	CLOSE_UNSUPPORTED = 1003,
	CLOSE_TOO_BIG = 1009,
	CLOSE_INTERNAL = 1011,
	CLOSE_TRY_AGAIN = 1013,
	CLOSE_BAD_REQUEST = 4400,
	CLOSE_BAD_TOKEN = 4401,
	CLOSE_AUTH_TIMEOUT = 4408,
	CLOSE_TOO_MANY = 4429,
	CLOSE_LAGGING = 4008,
};

struct session;

/* The protocol list of the WebSocket vhost ("msgr", then the terminator). */
extern const struct lws_protocols session_protocols[];

/* The user's memberships and presence are there: answer "ready" and catch
 * up (replay.h) or go live. */
void session_user_ready(struct session *s);
/* A live frame for the session's user: with a stream id (queued only when
 * live and past the session's position; a full queue closes with 4008), or
 * 0 for ephemeral frames (dropped by a full queue). Adds its own
 * reference to m. */
void session_deliver(struct session *s, int64_t id, struct msg *m);
/* Asks again, for every authenticated connection with a sid, whether its
 * login session is live (after msgr_wsd was not listened to for a while);
 * those that are not close with 4401. */
void session_recheck_all(void);
/* Closes the session with 4401 when its token's login session is one of
 * the n sids (revoked: bus.c). */
void session_revoke(struct session *s, const int64_t *sids, size_t n);
/* Closes with code at the next writeable, dropping what is queued; reason
 * is a static string. */
void session_close(struct session *s, uint16_t code, const char *reason);
/* Closes more sessions with 1001 (shutting down), so that at most max are
 * closing at a time; returns how many it closed. In slices: lws keeps the
 * timers of the close handshake in one sorted list, where each new one
 * walks all the others, so closing all at once costs O(connections^2). */
unsigned session_close_all(unsigned max);
unsigned session_count(void);
/* Deadlines, token expiry and pings; called every second. */
void session_sweep(void);

/* ---- for replay.c ---- */

/* Queues a frame of the session's own (len bytes of text, copied).
 * Returns false when the session is closing (then nothing more should be
 * sent). */
bool session_send(struct session *s, const char *text, size_t len);
/* Frames queued and not yet written. */
uint32_t session_backlog(const struct session *s);
/* The replay caught up to pos: the session turns live from there, and its
 * replay is freed (the caller's last use of it). */
void session_caught_up(struct session *s, int64_t pos);

#endif
