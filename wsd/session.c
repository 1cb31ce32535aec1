/*
 * session.c - one WebSocket connection (API.md "Realtime").
 *
 *   AUTH    the first frame must be {"type":"auth","token":...,"since":N?}
 *           within auth_timeout_ms; a bad token closes with 4401
 *   WAIT    the user's memberships are loading and its presence is being
 *           written (user.h)
 *   REPLAY  "ready" was sent; stored events after since are read from the
 *           table (replay.c)
 *   LIVE    the feed's events as it dispatches them (fanout.c)
 *
 * A login session ends (API.md "Sessions take effect at once"): the
 * connection knows the sid of the token it authenticated with, and is
 * closed with 4401 when the session is revoked. Two ways, so that neither
 * a revocation while this process was down nor one while it is up is
 * missed: each connection asks whether its session is live as it
 * authenticates (session_live(), before "ready": a revoked token never
 * sees an event, and a resume is a new connection, so it is asked again),
 * and the revoking transaction tells every process on msgr_wsd
 * (wsd_notify_revoked(), bus.c), which closes that session's connections
 * at once. The connection is attached to its user before it asks, so a
 * revocation that commits while the question is on its way is heard too.
 * A notification sent while this process was not listening (its database
 * connection lost) is lost: once LISTEN holds again, every connection asks
 * again (session_recheck_all()).
 *
 * An access token ends: a connection lives as long as its token, then is
 * closed with 4401 (the client renews the token and resumes with since).
 * An "auth" frame on an authenticated connection with a newer token of the
 * same user extends it, so that a client that renews in time is never
 * closed. Without this, a connection opened before a logout or a ban would
 * keep receiving for as long as it stayed open.
 *
 * Client frames are read by frame.c into a validated struct first; the
 * functions here only act on valid ones.
 *
 * Writes happen only in LWS_CALLBACK_SERVER_WRITEABLE, one frame per
 * callback. The queue holds shared frames (msg.c). A live connection more
 * than queue_max_msgs frames or queue_max_bytes behind is closed with 4008
 * and resumes with since; a replay paces itself by the queue (replay.h),
 * so it never runs into that limit.
 */
#include "session.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "ack.h"
#include "bus.h"
#include "feed.h"
#include "frame.h"
#include "http.h"
#include "buf.h"
#include "log.h"
#include "metrics.h"
#include "members.h"
#include "pg.h"
#include "replay.h"
#include "token.h"
#include "user.h"
#include "wsd.h"

#define CLOSE_WAIT_S 5 /* a closing connection that cannot be written to */
#define SNDBUF_BYTES (64 * 1024)

enum session_state {
	SESSION_AUTH,   /* waiting for the auth frame */
	SESSION_WAIT,   /* authenticated; the user is not ready yet */
	SESSION_REPLAY, /* "ready" sent; catching up from the table */
	SESSION_LIVE,   /* caught up; gets events as the feed dispatches them */
};

/* One WebSocket connection: lws's per-session data. Lifetime: from
 * LWS_CALLBACK_ESTABLISHED to LWS_CALLBACK_CLOSED (lws frees it). */
struct session {
	struct lws *wsi;
	struct user_link link;     /* link.user once authenticated */
	struct lws_dll2 list_link; /* in the auth-pending or the authenticated list */
	struct replay *replay;     /* SESSION_REPLAY only */
	struct msg **q;            /* the outgoing ring, NULL when empty */
	uint32_t qhead, qlen, qcap;
	uint32_t qbytes;
	char *rx; /* a message being reassembled from fragments */
	uint32_t rxlen;
	int64_t pos;          /* LIVE: every stream event <= pos was sent or is not for it */
	int64_t since;        /* as the client asked (has_since) */
	uint64_t deadline_ms; /* SESSION_AUTH: auth frame, SESSION_WAIT: ready */
	time_t token_exp;     /* the access token's exp: closed with 4401 then */
	int64_t sid;          /* the token's login session; 0: a token without sid */
	/* Whether sid is live, while it is asked (sid_pending): "ready"
	 * waits for the answer. */
	struct pg_query *sid_check;
	uint64_t typing_window_ms;
	uint16_t typing_count;
	uint32_t last_rx_s;  /* monotonic seconds of the last frame or pong */
	uint16_t close_code; /* non-zero: close with it at the next writeable */
	const char *close_reason;
	uint8_t state;
	bool has_since;
	bool sid_pending;
	bool ping_due;  /* send a ping at the next writeable */
	bool ping_sent; /* and wait for any frame or pong */
	/* The handshake's X-Request-Id (nginx's, API.md "Operations"), for the
	 * log lines about this connection; "" when none. */
	char request_id[HTTP_REQUEST_ID_MAX + 1];
};

static struct {
	struct lws_dll2_owner pending; /* SESSION_AUTH, oldest deadline first */
	struct lws_dll2_owner others;  /* authenticated, or closing */
	unsigned closing;              /* close asked, not yet closed */
	struct buf frame;
} S;

unsigned session_count(void)
{
	return S.pending.count + S.others.count;
}

uint32_t session_backlog(const struct session *s)
{
	return s->qlen;
}

static void list_remove(struct lws_dll2 *d)
{
	if (!lws_dll2_is_detached(d))
		lws_dll2_remove(d);
}

void session_close(struct session *s, uint16_t code, const char *reason)
{
	if (s->close_code)
		return;
	s->close_code = code;
	s->close_reason = reason;
	S.closing++;
	/* A peer that reads nothing never makes us writeable: the sweep
	 * drops it after CLOSE_WAIT_S. (Not lws_set_timeout(): lws keeps its
	 * timers in one sorted list, and thousands of closes at once would
	 * each walk it.) */
	s->deadline_ms = wsd_now_ms() + CLOSE_WAIT_S * 1000;
	list_remove(&s->list_link);
	lws_dll2_add_tail(&s->list_link, &S.others);
	lws_callback_on_writable(s->wsi);
}

/* ---- the outgoing queue ----------------------------------------------- */

static void queue_clear(struct session *s)
{
	for (uint32_t i = 0; i < s->qlen; i++)
		msg_unref(s->q[(s->qhead + i) % s->qcap]);
	free(s->q);
	s->q = NULL;
	s->qhead = s->qlen = s->qcap = s->qbytes = 0;
}

static bool queue_push(struct session *s, struct msg *m)
{
	if (s->qlen == s->qcap) {
		uint32_t cap = s->qcap ? s->qcap * 2 : 8;
		struct msg **q = malloc(cap * sizeof *q);
		if (!q)
			return false;
		for (uint32_t i = 0; i < s->qlen; i++)
			q[i] = s->q[(s->qhead + i) % s->qcap];
		free(s->q);
		s->q = q;
		s->qcap = cap;
		s->qhead = 0;
	}
	s->q[(s->qhead + s->qlen) % s->qcap] = msg_ref(m);
	s->qlen++;
	s->qbytes += (uint32_t)msg_cost(m);
	if (s->qlen == 1)
		lws_callback_on_writable(s->wsi);
	return true;
}

bool session_send(struct session *s, const char *text, size_t len)
{
	struct msg *m = msg_new(text, len);
	if (!m || !queue_push(s, m))
		session_close(s, CLOSE_INTERNAL, "out of memory");
	msg_unref(m);
	return !s->close_code;
}

/* Queues the frame in S.frame. */
static void send_frame(struct session *s)
{
	if (buf_status(&S.frame) != MSGR_OK)
		session_close(s, CLOSE_INTERNAL, "out of memory");
	else
		session_send(s, buf_cstr(&S.frame), S.frame.len);
}

/* An answer to a client frame (pong, error): a client that sends and
 * never reads is cut off like any other lagging one. */
static void send_reply(struct session *s)
{
	if (s->qlen >= (uint32_t)W.cfg.queue_max_msgs) {
		queue_clear(s);
		session_close(s, CLOSE_LAGGING, "lagging, resume with since");
		return;
	}
	send_frame(s);
}

static void send_error(struct session *s, const char *code, const char *detail)
{
	buf_reset(&S.frame);
	buf_puts(&S.frame, "{\"type\":\"error\",\"code\":");
	buf_json_str(&S.frame, code, strlen(code));
	buf_puts(&S.frame, ",\"detail\":");
	buf_json_str(&S.frame, detail, strlen(detail));
	buf_putc(&S.frame, '}');
	send_reply(s);
}

void session_deliver(struct session *s, int64_t id, struct msg *m)
{
	if (s->close_code)
		return;
	if (id) {
		if (s->state != SESSION_LIVE || id <= s->pos)
			return;
		s->pos = id;
	} else if (s->state < SESSION_REPLAY) {
		return;
	}
	if (s->qlen >= (uint32_t)W.cfg.queue_max_msgs ||
	    s->qbytes + msg_cost(m) > (size_t)W.cfg.queue_max_bytes) {
		if (!id)
			return; /* typing and presence may be dropped */
		log_info("user %" PRId64 ": connection %u frames behind: closing it"
			 " (request_id=%s)",
			 s->link.user->id, s->qlen, s->request_id);
		queue_clear(s);
		session_close(s, CLOSE_LAGGING, "lagging, resume with since");
		return;
	}
	if (!queue_push(s, m))
		session_close(s, CLOSE_INTERNAL, "out of memory");
}

/* ---- ready, replay, live ---------------------------------------------- */

void session_caught_up(struct session *s, int64_t pos)
{
	replay_free(s->replay);
	s->replay = NULL;
	s->pos = pos;
	s->state = SESSION_LIVE;
}

void session_user_ready(struct session *s)
{
	if (s->state != SESSION_WAIT || s->close_code || s->sid_pending)
		return;
	int64_t cursor = feed_cursor();
	buf_reset(&S.frame);
	buf_printf(&S.frame,
		   "{\"type\":\"ready\",\"user_id\":%" PRId64 ",\"last_event_id\":%" PRId64 "}",
		   s->link.user->id, cursor);
	send_frame(s);
	s->state = SESSION_REPLAY;
	if (!s->has_since || s->since >= cursor) {
		/* Nothing to replay: live from since (a client may come from a
		 * process that is ahead of this one) or from now. */
		session_caught_up(s, s->has_since ? s->since : cursor);
		return;
	}
	s->replay = replay_new(s, s->link.user, s->since);
	if (!s->replay) {
		session_close(s, CLOSE_INTERNAL, "out of memory");
		return;
	}
	replay_start(s->replay);
}

/* ---- client frames ---------------------------------------------------- */

/* Closes the connection now with code (the handshake of a connection that
 * is not authenticated); returns -1 for lws. */
static int refuse(struct session *s, uint16_t code, const char *reason)
{
	lws_close_reason(s->wsi, (enum lws_close_status)code, (unsigned char *)reason,
			 strlen(reason));
	return -1;
}

/* The answer to whether the session's sid is live: not, and it closes with
 * 4401; live, and it gets "ready" once its user is. */
static void sid_checked(void *arg, const PGresult *res)
{
	struct session *s = arg;
	s->sid_check = NULL;
	s->sid_pending = false;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		log_error("could not check login session %" PRId64 ": %s (request_id=%s)", s->sid,
			  PQresultErrorMessage(res), s->request_id);
		session_close(s, CLOSE_INTERNAL, "could not check the session");
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t")) {
		log_info("auth refused: session %" PRId64 " ended (request_id=%s)", s->sid,
			 s->request_id);
		session_close(s, CLOSE_BAD_TOKEN, "session revoked");
		return;
	}
	user_check_ready(s->link.user);
}

/* Asks whether the session's sid is live (a token without sid has nothing
 * to ask); false when out of memory. */
static bool sid_check_start(struct session *s)
{
	PG_STMT(live_stmt, "SELECT session_live($1::bigint, $2::bigint)");
	if (!s->sid)
		return true;
	char uid[24], sid[24];
	snprintf(uid, sizeof uid, "%" PRId64, s->link.user->id);
	snprintf(sid, sizeof sid, "%" PRId64, s->sid);
	const char *params[] = {uid, sid};
	s->sid_check = pg_exec(wsd_conn_for(s->link.user->id), &live_stmt, 2, params, sid_checked, s);
	return s->sid_check != NULL;
}

void session_recheck_all(void)
{
	unsigned asked = 0;
	/* Safe: a close moves the session to the list's tail. */
	lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&S.others)) {
		struct session *s = lws_container_of(d, struct session, list_link);
		/* A check in flight was sent after the connection came back. */
		if (s->sid && s->link.user && !s->close_code && !s->sid_check) {
			if (!sid_check_start(s))
				session_close(s, CLOSE_INTERNAL, "out of memory");
			asked++;
		}
	}
	lws_end_foreach_dll_safe(d, d1);
	if (asked)
		log_info("asked again whether the login sessions of %u connections are live", asked);
}

void session_revoke(struct session *s, const int64_t *sids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s->sid && sids[i] == s->sid) {
			session_close(s, CLOSE_BAD_TOKEN, "session revoked");
			return;
		}
	}
}

/* The first frame: a valid auth, or the connection closes. */
static int on_first_frame(struct session *s, const struct frame *f)
{
	int64_t user_id;
	if (f->type != FRAME_AUTH)
		return refuse(s, CLOSE_BAD_REQUEST, "expected auth");
	if (!f->token || token_verify_access(f->token, time(NULL), &user_id, &s->token_exp,
					     &s->sid) != MSGR_OK) {
		log_info("auth refused: bad token (request_id=%s)", s->request_id);
		return refuse(s, CLOSE_BAD_TOKEN, "invalid token");
	}
	if (f->since_state == SINCE_BAD)
		return refuse(s, CLOSE_BAD_REQUEST, "since must be an event id");
	/* Counted in this process only (README "Realtime"): the presence
	 * rows say which processes a user is on, not how many connections,
	 * and a count there would cost a database write per connection. */
	struct user *u = user_find(user_id);
	if (W.cfg.max_per_user && u && u->sessions.count >= (uint32_t)W.cfg.max_per_user) {
		log_info("auth refused: user %" PRId64 " has %u connections already (request_id=%s)",
			 user_id, u->sessions.count, s->request_id);
		return refuse(s, CLOSE_TOO_MANY, "too many connections");
	}
	s->has_since = f->since_state == SINCE_SET;
	s->since = f->since;
	list_remove(&s->list_link);
	lws_dll2_add_tail(&s->list_link, &S.others);
	s->state = SESSION_WAIT;
	s->deadline_ms = wsd_now_ms() + (uint64_t)W.cfg.ready_timeout_ms;
	/* Marked as asking before the attach, which may send "ready" at once;
	 * attached before asking, so that a revocation heard meanwhile finds
	 * it (session_revoke()). */
	s->sid_pending = s->sid != 0;
	if (!user_attach(&s->link, user_id) || !sid_check_start(s))
		return refuse(s, CLOSE_INTERNAL, "out of memory");
	return 0;
}

/* A renewed token on an authenticated connection: the same user's and
 * login session's, and valid, moves the connection's end to its expiry;
 * anything else is an error frame and changes nothing. A connection made
 * with a token without sid takes the sid of its renewed token (which a
 * refresh of a live session just issued). */
static void on_reauth(struct session *s, const struct frame *f)
{
	int64_t user_id, sid;
	time_t exp;
	if (!f->token ||
	    token_verify_access(f->token, time(NULL), &user_id, &exp, &sid) != MSGR_OK ||
	    !s->link.user || user_id != s->link.user->id || (s->sid && sid != s->sid)) {
		send_error(s, "invalid_token",
			   "a renewed token must be valid and the same login session's");
		return;
	}
	if (!s->sid)
		s->sid = sid;
	if (exp > s->token_exp)
		s->token_exp = exp;
}

static bool typing_allowed(struct session *s)
{
	uint64_t now = wsd_now_ms();
	if (now - s->typing_window_ms >= (uint64_t)W.cfg.typing_window_ms) {
		s->typing_window_ms = now;
		s->typing_count = 0;
	}
	if (s->typing_count >= W.cfg.typing_burst)
		return false;
	s->typing_count++;
	return true;
}

/* A frame on an authenticated connection: errors are answered with an
 * error frame, and the connection stays. */
static void on_frame(struct session *s, const struct frame *f)
{
	struct user *u = s->link.user;
	if (f->type == FRAME_AUTH) {
		on_reauth(s, f);
	} else if (f->type == FRAME_UNKNOWN) {
		send_error(s, "unknown_type", "unknown frame type");
	} else if (f->detail) {
		send_error(s, "bad_frame", f->detail);
	} else if (f->type == FRAME_PING) {
		buf_reset(&S.frame);
		buf_puts(&S.frame, "{\"type\":\"pong\"}");
		send_reply(s);
	} else if (!members_has(u, f->chat_id)) {
		send_error(s, "chat_not_found", "you are not a member of this chat");
	} else if (f->type == FRAME_TYPING) {
		if (typing_allowed(s))
			bus_typing(u, f->chat_id);
	} else if (f->type == FRAME_ACK) {
		ack_add(u->id, f->chat_id, f->message_id);
	}
}

static int on_message(struct session *s, const char *data, size_t len)
{
	struct frame f;
	int rc = 0;
	frame_parse(&f, data, len);
	if (s->state == SESSION_AUTH)
		rc = on_first_frame(s, &f);
	else
		on_frame(s, &f);
	frame_release(&f);
	return rc;
}

/* Reassembles fragments (RFC 6455 section 5.4) up to max_frame bytes. */
static int on_receive(struct session *s, const char *in, size_t len)
{
	if (lws_frame_is_binary(s->wsi))
		return refuse(s, CLOSE_UNSUPPORTED, "text frames only");
	size_t remaining = lws_remaining_packet_payload(s->wsi);
	bool complete = lws_is_final_fragment(s->wsi) && !remaining;
	if ((size_t)s->rxlen + len + remaining > (size_t)W.cfg.max_frame)
		return refuse(s, CLOSE_TOO_BIG, "frame too large");
	if (!s->rxlen && complete)
		return on_message(s, in, len);
	if (!s->rx && !(s->rx = malloc((size_t)W.cfg.max_frame)))
		return -1;
	memcpy(s->rx + s->rxlen, in, len);
	s->rxlen += (uint32_t)len;
	if (!complete)
		return 0;
	int rc = on_message(s, s->rx, s->rxlen);
	free(s->rx);
	s->rx = NULL;
	s->rxlen = 0;
	return rc;
}

/* ---- writing ---------------------------------------------------------- */

static int on_writeable(struct session *s)
{
	if (s->close_code) {
		const char *r = s->close_reason ? s->close_reason : "";
		lws_close_reason(s->wsi, (enum lws_close_status)s->close_code, (unsigned char *)r,
				 strlen(r));
		return -1;
	}
	if (s->ping_due) {
		/* Not empty: lws 4.1 does not report a pong without payload. */
		unsigned char ping[LWS_PRE + 4] = {[LWS_PRE] = 'w', 's', 'd', '!'};
		s->ping_due = false;
		s->ping_sent = true;
		if (lws_write(s->wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 0)
			return -1;
		if (s->qlen)
			lws_callback_on_writable(s->wsi);
		return 0;
	}
	if (!s->qlen)
		return 0;
	struct msg *m = s->q[s->qhead];
	s->qhead = (s->qhead + 1) % s->qcap;
	s->qlen--;
	s->qbytes -= (uint32_t)msg_cost(m);
	int n = lws_write(s->wsi, msg_payload(m), m->len, LWS_WRITE_TEXT);
	bool ok = n >= (int)m->len;
	if (ok && m->event)
		metrics_event_sent(m->event_us);
	msg_unref(m);
	if (!ok)
		return -1;
	if (s->qlen) {
		lws_callback_on_writable(s->wsi);
	} else {
		/* An idle connection keeps no ring. */
		free(s->q);
		s->q = NULL;
		s->qhead = s->qcap = 0;
	}
	if (s->replay)
		replay_writeable(s->replay);
	return 0;
}

/* ---- lifecycle -------------------------------------------------------- */

/* The handshake's X-Request-Id into out, "" when there is none or it is
 * not one nginx's map lets through. Only while the headers are there: up
 * to LWS_CALLBACK_ESTABLISHED. */
static void read_request_id(struct lws *wsi, char out[HTTP_REQUEST_ID_MAX + 1])
{
	static const char name[] = "x-request-id:";
	if (lws_hdr_custom_copy(wsi, out, HTTP_REQUEST_ID_MAX + 1, name, (int)sizeof name - 1) <= 0 ||
	    !http_request_id_valid(out))
		out[0] = '\0';
}

static bool origin_allowed(struct lws *wsi, const char *request_id)
{
	int len = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
	if (len <= 0)
		return true; /* not a browser: Origin is a browser's promise */
	char origin[256];
	if (len >= (int)sizeof origin || lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) != len)
		return false;
	for (unsigned i = 0; i < W.norigins; i++)
		if (!strcmp(origin, W.origins[i]))
			return true;
	log_info("handshake refused: origin \"%.*s\" is not allowed (request_id=%s)", len, origin,
		 request_id);
	return false;
}

/*
 * Answers a handshake whose Origin is refused with a 403 problem document,
 * then has lws close the connection. Returning 1 from the filter alone
 * would drop the connection without a word: nginx then answers 502 (its
 * "not running" page), which tells a browser to retry a request that will
 * never succeed. The upgrade has not happened yet, so the connection still
 * speaks HTTP/1.1: the status line, the headers and the body go out in one
 * write (a few hundred bytes on a fresh socket, never partial), before lws
 * closes it.
 */
static int refuse_handshake(struct lws *wsi, const char *request_id)
{
	char body[320];
	int body_len = snprintf(body, sizeof body,
				"{\"type\":\"about:blank\",\"title\":\"Forbidden\",\"status\":403,"
				"\"code\":\"origin_not_allowed\",\"detail\":\"this page's origin may "
				"not open the realtime connection (MSGR_ALLOWED_ORIGINS)\"%s%s%s}",
				*request_id ? ",\"request_id\":\"" : "", request_id,
				*request_id ? "\"" : "");
	unsigned char buf[LWS_PRE + 1024];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
	if (body_len < 0 || (size_t)body_len >= sizeof body ||
	    lws_add_http_common_headers(wsi, HTTP_STATUS_FORBIDDEN, "application/problem+json",
					(lws_filepos_t)body_len, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
					 &p, end) ||
	    lws_finalize_http_header(wsi, &p, end) || end - p < body_len)
		return 1;
	memcpy(p, body, (size_t)body_len);
	p += body_len;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) != (int)(p - start))
		log_info("handshake refused: could not send the 403");
	return 1; /* lws closes the connection */
}

static uint32_t now_s(void)
{
	return (uint32_t)(wsd_now_ms() / 1000);
}

static void on_established(struct session *s, struct lws *wsi)
{
	memset(s, 0, sizeof *s);
	s->wsi = wsi;
	s->link.session = s;
	s->last_rx_s = now_s();
	s->state = SESSION_AUTH;
	s->deadline_ms = wsd_now_ms() + (uint64_t)W.cfg.auth_timeout_ms;
	read_request_id(wsi, s->request_id);
	lws_dll2_add_tail(&s->list_link, &S.pending);
	metrics_websockets(1);
	/* lws sized the send buffer to the receive buffer (1 KiB): events are
	 * larger than that. */
	int sndbuf = SNDBUF_BYTES;
	setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	if (W.stopping)
		session_close(s, CLOSE_GOING_AWAY, "server shutting down");
}

static void on_closed(struct session *s)
{
	metrics_websockets(-1);
	if (s->close_code)
		S.closing--;
	list_remove(&s->list_link);
	replay_free(s->replay);
	s->replay = NULL;
	if (s->sid_check)
		pg_query_cancel(s->sid_check);
	s->sid_check = NULL;
	user_detach(&s->link);
	queue_clear(s);
	free(s->rx);
	s->rx = NULL;
	s->wsi = NULL;
}

/* RFC 6455 section 5.5.2: a connection silent for ping_secs gets a ping;
 * one silent for hangup_secs is dropped (a peer that went away without a
 * word: its close frame could not arrive anyway). */
static void keepalive(struct lws_dll2_owner *owner, uint64_t now_ms)
{
	uint32_t now = (uint32_t)(now_ms / 1000);
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(owner)) {
		struct session *s = lws_container_of(d, struct session, list_link);
		uint32_t idle = now - s->last_rx_s;
		if (s->close_code) {
			if (now_ms >= s->deadline_ms)
				lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		} else if (idle >= (uint32_t)W.cfg.hangup_secs) {
			lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		} else if (idle >= (uint32_t)W.cfg.ping_secs && !s->ping_sent && !s->ping_due) {
			s->ping_due = true;
			lws_callback_on_writable(s->wsi);
		}
	}
	lws_end_foreach_dll(d);
}

void session_sweep(void)
{
	uint64_t now = wsd_now_ms();
	keepalive(&S.others, now);
	lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&S.pending)) {
		struct session *s = lws_container_of(d, struct session, list_link);
		if (s->deadline_ms > now)
			break;
		session_close(s, CLOSE_AUTH_TIMEOUT, "no auth frame in time");
	}
	lws_end_foreach_dll_safe(d, d1);
	/* Sessions that cannot get ready (the database is away): the client
	 * retries later rather than wait without a word. And sessions whose
	 * token has expired. */
	time_t wall = time(NULL);
	lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&S.others)) {
		struct session *s = lws_container_of(d, struct session, list_link);
		bool open = !s->close_code;
		if (open && s->state == SESSION_WAIT && s->deadline_ms <= now)
			session_close(s, CLOSE_TRY_AGAIN, "not ready in time, try again later");
		else if (open && s->token_exp <= wall)
			session_close(s, CLOSE_BAD_TOKEN, "token expired");
	}
	lws_end_foreach_dll_safe(d, d1);
}

/* Closes up to max sessions of a list. session_close() moves a session to
 * the end of S.others, so the ones still open are always at the head. */
static unsigned close_some(struct lws_dll2_owner *owner, unsigned max)
{
	unsigned n = 0;
	while (n < max && lws_dll2_get_head(owner)) {
		struct session *s =
			lws_container_of(lws_dll2_get_head(owner), struct session, list_link);
		if (s->close_code)
			break;
		session_close(s, CLOSE_GOING_AWAY, "server shutting down");
		n++;
	}
	return n;
}

unsigned session_close_all(unsigned max)
{
	if (S.closing >= max)
		return 0; /* the last slice is still closing */
	max -= S.closing;
	unsigned n = close_some(&S.pending, max);
	return n + close_some(&S.others, max - n);
}

static int session_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	struct session *s = user;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		char request_id[HTTP_REQUEST_ID_MAX + 1];
		read_request_id(wsi, request_id);
		return origin_allowed(wsi, request_id) ? 0 : refuse_handshake(wsi, request_id);
	}
	case LWS_CALLBACK_ESTABLISHED:
		on_established(s, wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		s->last_rx_s = now_s();
		s->ping_sent = false;
		if (s->close_code)
			return 0;
		return on_receive(s, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		s->last_rx_s = now_s();
		s->ping_sent = false;
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return on_writeable(s);
	case LWS_CALLBACK_CLOSED:
		on_closed(s);
		return 0;
	case LWS_CALLBACK_PROTOCOL_DESTROY:
		buf_free(&S.frame);
		return 0;
	case LWS_CALLBACK_HTTP:
		/* Only WebSocket upgrades are served here. */
		if (lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST,
					   "a WebSocket endpoint: upgrade required"))
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols session_protocols[] = {
	{
		.name = "msgr",
		.callback = session_callback,
		.per_session_data_size = sizeof(struct session),
		/* Client frames are small (auth is the largest); bigger ones
		 * arrive in pieces and are reassembled up to max_frame. lws
		 * allocates this for every connection. */
		.rx_buffer_size = 1024,
		.tx_packet_size = 65536,
	},
	{0},
};
