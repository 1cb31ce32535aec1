/*
 * session.c - one WebSocket connection (API.md "Realtime").
 *
 *   AUTH    the first frame must be {"type":"auth","token":...,"since":N?}
 *           within auth_timeout_ms; a bad token closes with 4401
 *   WAIT    the user's memberships are loading (hub.c)
 *   REPLAY  "ready" was sent; stored events after since are read from the
 *           table up to the feed cursor of the moment, in rounds, until a
 *           round ends at the current cursor
 *   LIVE    the feed's events as it dispatches them
 *
 * An access token ends: a connection lives as long as its token, then is
 * closed with 4401 (the client renews the token and resumes with since).
 * An "auth" frame on an authenticated connection with a newer token of the
 * same user extends it, so that a client that renews in time is never
 * closed. Without this, a connection opened before a logout or a ban would
 * keep receiving for as long as it stayed open.
 *
 * Hand-over without gap or duplicate: a replay round reads (pos, to] with
 * to = the feed cursor when the round starts; when its last page is
 * processed, either the cursor is still to (then the session turns LIVE in
 * the same callback: the feed dispatches only ids > to from then on) or it
 * moved, and another round reads (to, cursor]. Live events are not queued
 * during the replay: the rounds read them from the table.
 *
 * Who may see what during a replay: the round starts from the user's
 * memberships as of to (kept by hub.c), reads the user's own membership
 * events in (pos, to] and undoes them to get the memberships as of pos,
 * then walks the events in id order applying the same rule as the live
 * fan-out (a join includes its own event, a removal includes its own event
 * and ends the chat).
 *
 * Writes happen only in LWS_CALLBACK_SERVER_WRITEABLE, one frame per
 * callback. The queue holds shared frames (msg.c). A live connection more
 * than queue_max_msgs frames or queue_max_bytes behind is closed with 4008
 * and resumes with since; a replay reads its next page only when the queue
 * has drained below REPLAY_LOW, so it never runs into that limit.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "json.h"
#include "log.h"
#include "token.h"
#include "wsd.h"

#define REPLAY_LOW 32 /* queued frames under which the next page is read */
#define CLOSE_WAIT_S 5 /* a closing connection that cannot be written to */
#define SNDBUF_BYTES (64 * 1024)

/* Close codes (RFC 6455 section 7.4; 4000-4999 are ours). */
#define CLOSE_GOING_AWAY 1001
#define CLOSE_UNSUPPORTED 1003
#define CLOSE_TOO_BIG 1009
#define CLOSE_INTERNAL 1011
#define CLOSE_TRY_AGAIN 1013
#define CLOSE_BAD_REQUEST 4400
#define CLOSE_BAD_TOKEN 4401
#define CLOSE_AUTH_TIMEOUT 4408
#define CLOSE_LAGGING 4008

/* A membership at the start of a replay round. */
struct rstate {
	int64_t chat_id;
	bool member;
};

/* A replay round of one session. Lifetime: SESSION_REPLAY. */
struct replay {
	int64_t to;        /* the round reads (session pos, to] */
	int64_t page_from; /* the next page starts after this id */
	bool first;        /* the first round also checks retention */
	int64_t *snap;     /* the user's chats as of to */
	uint32_t nsnap;
	struct rstate *chats; /* sorted by chat id */
	uint32_t nchats;
	struct transition *trans; /* the user's membership events, by id */
	uint32_t ntrans;
	char *chat_param; /* the chats to read, as a SQL array literal */
};

static struct {
	struct lws_dll2_owner pending; /* SESSION_AUTH, oldest deadline first */
	struct lws_dll2_owner others;  /* authenticated, or closing */
	unsigned closing;              /* close asked, not yet closed */
	struct buf frame;
} S;

PG_STMT(trans_stmt,
	"SELECT (SELECT coalesce(max(upto), 0) FROM events_pruned) > $1::bigint,"
	" t.id, t.chat_id, t.kind"
	" FROM (SELECT 1) AS one LEFT JOIN LATERAL ("
	"  SELECT id, chat_id, kind FROM events"
	"  WHERE id > $1::bigint AND id <= $2::bigint"
	"  AND kind IN ('chat.created', 'member.added', 'member.removed')"
	"  AND wsd_event_users(kind, payload) @> ARRAY[$3::bigint]) AS t ON true"
	" ORDER BY t.id");

PG_STMT(page_stmt,
	"SELECT id, chat_id, kind, payload::text FROM events"
	" WHERE chat_id = ANY ($1::bigint[]) AND id > $2::bigint AND id <= $3::bigint"
	" ORDER BY id LIMIT $4::int");

unsigned session_count(void)
{
	return S.pending.count + S.others.count;
}

bool session_is_live(const struct session *s)
{
	return s->state == SESSION_LIVE;
}

static void list_remove(struct lws_dll2 *d)
{
	if (!lws_dll2_is_detached(d))
		lws_dll2_remove(d);
}

/* Asks for the connection to be closed with code at the next writeable;
 * what was queued is dropped. */
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

/* Queues a frame of its own for s (the text in S.frame). */
static void send_frame(struct session *s)
{
	if (buf_status(&S.frame) != MSGR_OK) {
		session_close(s, CLOSE_INTERNAL, "out of memory");
		return;
	}
	struct msg *m = msg_new(buf_cstr(&S.frame), S.frame.len);
	if (!m || !queue_push(s, m))
		session_close(s, CLOSE_INTERNAL, "out of memory");
	msg_unref(m);
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
		log_info("user %" PRId64 ": connection %u frames behind: closing it", s->user->id,
			 s->qlen);
		queue_clear(s);
		session_close(s, CLOSE_LAGGING, "lagging, resume with since");
		return;
	}
	if (!queue_push(s, m))
		session_close(s, CLOSE_INTERNAL, "out of memory");
}

/* ---- replay ----------------------------------------------------------- */

static void replay_free(struct replay *r)
{
	if (!r)
		return;
	free(r->snap);
	free(r->chats);
	free(r->trans);
	free(r->chat_param);
	free(r);
}

static void go_live(struct session *s)
{
	replay_free(s->replay);
	s->replay = NULL;
	s->paused = false;
	s->state = SESSION_LIVE;
}

static void trans_done(void *arg, const PGresult *res);
static void page_done(void *arg, const PGresult *res);

/* Starts a round from s->pos to the current cursor, or turns live. */
static void round_start(struct session *s, bool first)
{
	int64_t to = feed_cursor();
	if (s->pos >= to) {
		go_live(s);
		return;
	}
	struct replay *r = calloc(1, sizeof *r);
	struct user *u = s->user;
	if (!r || !(r->snap = malloc(((size_t)u->nchats + 1) * sizeof *r->snap))) {
		free(r);
		session_close(s, CLOSE_INTERNAL, "out of memory");
		return;
	}
	memcpy(r->snap, u->chats, (size_t)u->nchats * sizeof *r->snap);
	r->nsnap = u->nchats;
	r->to = to;
	r->first = first;
	replay_free(s->replay);
	s->replay = r;
	char from_s[24], to_s[24], uid[24];
	snprintf(from_s, sizeof from_s, "%" PRId64, s->pos);
	snprintf(to_s, sizeof to_s, "%" PRId64, to);
	snprintf(uid, sizeof uid, "%" PRId64, u->id);
	const char *params[] = {from_s, to_s, uid};
	s->query = pg_exec(wsd_conn_for(u->id), &trans_stmt, 3, params, trans_done, s);
	if (!s->query)
		session_close(s, CLOSE_INTERNAL, "out of memory");
}

static void next_page(struct session *s)
{
	struct replay *r = s->replay;
	char from_s[24], to_s[24], limit[24];
	snprintf(from_s, sizeof from_s, "%" PRId64, r->page_from);
	snprintf(to_s, sizeof to_s, "%" PRId64, r->to);
	snprintf(limit, sizeof limit, "%ld", W.cfg.replay_page);
	const char *params[] = {r->chat_param, from_s, to_s, limit};
	s->query = pg_exec(wsd_conn_for(s->user->id), &page_stmt, 4, params, page_done, s);
	if (!s->query)
		session_close(s, CLOSE_INTERNAL, "out of memory");
}

static void round_done(struct session *s)
{
	if (s->replay->to > s->pos)
		s->pos = s->replay->to;
	replay_free(s->replay);
	s->replay = NULL;
	round_start(s, false);
}

static int cmp_rstate(const void *a, const void *b)
{
	int64_t x = ((const struct rstate *)a)->chat_id, y = ((const struct rstate *)b)->chat_id;
	return (x > y) - (x < y);
}

static struct rstate *find_chat(struct replay *r, int64_t chat_id)
{
	struct rstate key = {chat_id, false};
	return bsearch(&key, r->chats, r->nchats, sizeof key, cmp_rstate);
}

static int cmp_trans(const void *a, const void *b)
{
	int64_t x = ((const struct transition *)a)->id, y = ((const struct transition *)b)->id;
	return (x > y) - (x < y);
}

static bool snap_has(const struct replay *r, int64_t chat_id)
{
	uint32_t lo = 0, hi = r->nsnap;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (r->snap[mid] < chat_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->nsnap && r->snap[lo] == chat_id;
}

/* From the user's membership events in (pos, to], the memberships as of
 * pos and the chats worth reading. */
static bool plan_round(struct replay *r, const PGresult *res)
{
	int rows = PQntuples(res);
	r->trans = malloc(((size_t)rows + 1) * sizeof *r->trans);
	r->chats = malloc(((size_t)rows + r->nsnap + 1) * sizeof *r->chats);
	if (!r->trans || !r->chats)
		return false;
	for (int i = 0; i < rows; i++) {
		struct transition t;
		if (PQgetisnull(res, i, 1) ||
		    !parse_i64(PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1), &t.id) ||
		    !parse_i64(PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2), &t.chat_id))
			continue;
		t.join = event_joins(event_kind_of(PQgetvalue(res, i, 3)));
		r->trans[r->ntrans++] = t;
	}
	qsort(r->trans, r->ntrans, sizeof *r->trans, cmp_trans);
	for (uint32_t i = 0; i < r->nsnap; i++)
		r->chats[r->nchats++] = (struct rstate){r->snap[i], true};
	for (uint32_t i = 0; i < r->ntrans; i++)
		if (!snap_has(r, r->trans[i].chat_id))
			r->chats[r->nchats++] = (struct rstate){r->trans[i].chat_id, false};
	qsort(r->chats, r->nchats, sizeof *r->chats, cmp_rstate);
	uint32_t n = 0;
	for (uint32_t i = 0; i < r->nchats; i++)
		if (!n || r->chats[n - 1].chat_id != r->chats[i].chat_id)
			r->chats[n++] = r->chats[i];
	r->nchats = n;
	/* Undo: the first event of a chat in the range tells the state
	 * before it. Mark handled chats by walking the events in id order. */
	bool *seen = calloc((size_t)r->nchats + 1, sizeof *seen);
	if (!seen)
		return false;
	for (uint32_t i = 0; i < r->ntrans; i++) {
		struct rstate *c = find_chat(r, r->trans[i].chat_id);
		size_t k = (size_t)(c - r->chats);
		if (seen[k])
			continue;
		seen[k] = true;
		c->member = !r->trans[i].join;
	}
	struct buf p = {0};
	buf_putc(&p, '{');
	bool any = false;
	for (uint32_t i = 0; i < r->nchats; i++) {
		if (!r->chats[i].member && !seen[i])
			continue; /* never a member in the range */
		buf_printf(&p, "%s%" PRId64, any ? "," : "", r->chats[i].chat_id);
		any = true;
	}
	buf_putc(&p, '}');
	free(seen);
	if (buf_status(&p) != MSGR_OK) {
		buf_free(&p);
		return false;
	}
	r->chat_param = any ? p.data : NULL;
	if (!any)
		buf_free(&p);
	return true;
}

static void trans_done(void *arg, const PGresult *res)
{
	struct session *s = arg;
	struct replay *r = s->replay;
	s->query = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1) {
		log_error("user %" PRId64 ": replay failed: %s", s->user->id,
			  PQresultErrorMessage(res));
		session_close(s, CLOSE_INTERNAL, "replay failed, try again");
		return;
	}
	if (r->first && !strcmp(PQgetvalue(res, 0, 0), "t")) {
		/* Events after since were pruned: the client refetches. */
		buf_reset(&S.frame);
		buf_puts(&S.frame, "{\"type\":\"reset\"}");
		send_frame(s);
		s->pos = feed_cursor();
		go_live(s);
		return;
	}
	if (!plan_round(r, res)) {
		session_close(s, CLOSE_INTERNAL, "out of memory");
		return;
	}
	if (!r->chat_param) {
		round_done(s);
		return;
	}
	r->page_from = s->pos;
	next_page(s);
}

static void page_done(void *arg, const PGresult *res)
{
	struct session *s = arg;
	struct replay *r = s->replay;
	s->query = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("user %" PRId64 ": replay failed: %s", s->user->id,
			  PQresultErrorMessage(res));
		session_close(s, CLOSE_INTERNAL, "replay failed, try again");
		return;
	}
	int rows = PQntuples(res);
	for (int i = 0; i < rows; i++) {
		struct event ev;
		if (!parse_i64(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), &ev.id) ||
		    !parse_i64(PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1), &ev.chat_id))
			continue;
		r->page_from = ev.id;
		struct rstate *c = find_chat(r, ev.chat_id);
		if (!c)
			continue;
		struct transition key = {.id = ev.id};
		struct transition *t =
			bsearch(&key, r->trans, r->ntrans, sizeof key, cmp_trans);
		bool deliver = c->member;
		if (t && t->join)
			deliver = c->member = true;
		else if (t)
			c->member = false;
		if (!deliver)
			continue;
		ev.kind = PQgetvalue(res, i, 2);
		ev.payload = PQgetvalue(res, i, 3);
		ev.payload_len = (size_t)PQgetlength(res, i, 3);
		ev.type = event_kind_of(ev.kind);
		buf_reset(&S.frame);
		event_encode(&ev, &S.frame);
		send_frame(s);
		if (s->close_code)
			return;
	}
	if (rows < W.cfg.replay_page) {
		round_done(s);
		return;
	}
	if (s->qlen > REPLAY_LOW)
		s->paused = true; /* SERVER_WRITEABLE reads on */
	else
		next_page(s);
}

void session_user_ready(struct session *s)
{
	if (s->state != SESSION_WAIT || s->close_code)
		return;
	int64_t cursor = feed_cursor();
	buf_reset(&S.frame);
	buf_printf(&S.frame, "{\"type\":\"ready\",\"user_id\":%" PRId64 ",\"last_event_id\":%" PRId64 "}",
		   s->user->id, cursor);
	send_frame(s);
	s->state = SESSION_REPLAY;
	if (!s->has_since || s->since >= cursor) {
		/* Nothing to replay: live from since (a client may come from a
		 * process that is ahead of this one) or from now. */
		s->pos = s->has_since ? s->since : cursor;
		go_live(s);
		return;
	}
	s->pos = s->since;
	round_start(s, true);
}

/* ---- client frames ---------------------------------------------------- */

static bool get_id(struct json_object *obj, const char *key, int64_t *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return *out > 0 && *out < INT64_MAX;
}

/* The auth frame. Returns -1 when the connection must close now. */
static int on_auth(struct session *s, struct json_object *root, const char *type)
{
	if (strcmp(type, "auth")) {
		lws_close_reason(s->wsi, CLOSE_BAD_REQUEST, (unsigned char *)"expected auth", 13);
		return -1;
	}
	struct json_object *tok, *since;
	int64_t user_id;
	if (!json_object_object_get_ex(root, "token", &tok) ||
	    !json_object_is_type(tok, json_type_string) ||
	    token_verify_access(json_object_get_string(tok), time(NULL), &user_id,
				&s->token_exp) != MSGR_OK) {
		log_info("auth refused: bad token");
		lws_close_reason(s->wsi, CLOSE_BAD_TOKEN, (unsigned char *)"invalid token", 13);
		return -1;
	}
	if (json_object_object_get_ex(root, "since", &since) &&
	    !json_object_is_type(since, json_type_null)) {
		if (!json_object_is_type(since, json_type_int) || json_object_get_int64(since) < 0 ||
		    json_object_get_int64(since) == INT64_MAX) {
			lws_close_reason(s->wsi, CLOSE_BAD_REQUEST,
					 (unsigned char *)"since must be an event id", 25);
			return -1;
		}
		s->since = json_object_get_int64(since);
		s->has_since = true;
	}
	list_remove(&s->list_link);
	lws_dll2_add_tail(&s->list_link, &S.others);
	s->state = SESSION_WAIT;
	s->deadline_ms = wsd_now_ms() + (uint64_t)W.cfg.ready_timeout_ms;
	if (!hub_attach(s, user_id)) {
		lws_close_reason(s->wsi, CLOSE_INTERNAL, (unsigned char *)"out of memory", 13);
		return -1;
	}
	return 0;
}

/* A renewed token on an authenticated connection: the same user's, and
 * valid, moves the connection's end to its expiry; anything else is an
 * error frame and changes nothing. */
static void on_reauth(struct session *s, struct json_object *root)
{
	struct json_object *tok;
	int64_t user_id;
	time_t exp;
	if (!json_object_object_get_ex(root, "token", &tok) ||
	    !json_object_is_type(tok, json_type_string) ||
	    token_verify_access(json_object_get_string(tok), time(NULL), &user_id, &exp) !=
		    MSGR_OK ||
	    !s->user || user_id != s->user->id) {
		send_error(s, "invalid_token", "a renewed token must be valid and the same user's");
		return;
	}
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

static int on_message(struct session *s, const char *data, size_t len)
{
	struct json_object *root = json_read(data, len);
	bool complete = root != NULL;
	struct json_object *t;
	int rc = 0;
	if (!complete || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "type", &t) || !json_object_is_type(t, json_type_string)) {
		if (s->state == SESSION_AUTH) {
			lws_close_reason(s->wsi, CLOSE_BAD_REQUEST, (unsigned char *)"expected auth",
					 13);
			rc = -1;
		} else {
			send_error(s, "bad_frame", "a frame is a JSON object with a \"type\"");
		}
		goto done;
	}
	const char *type = json_object_get_string(t);
	if (s->state == SESSION_AUTH) {
		rc = on_auth(s, root, type);
		goto done;
	}
	int64_t chat_id, message_id;
	if (!strcmp(type, "ping")) {
		buf_reset(&S.frame);
		buf_puts(&S.frame, "{\"type\":\"pong\"}");
		send_reply(s);
	} else if (!strcmp(type, "typing")) {
		if (!get_id(root, "chat_id", &chat_id))
			send_error(s, "bad_frame", "typing needs a chat_id");
		else if (!hub_is_member(s->user, chat_id))
			send_error(s, "chat_not_found", "you are not a member of this chat");
		else if (typing_allowed(s))
			hub_typing(s->user, chat_id);
	} else if (!strcmp(type, "ack")) {
		if (!get_id(root, "chat_id", &chat_id) || !get_id(root, "message_id", &message_id))
			send_error(s, "bad_frame", "ack needs a chat_id and a message_id");
		else if (!hub_is_member(s->user, chat_id))
			send_error(s, "chat_not_found", "you are not a member of this chat");
		else
			ack_add(s->user->id, chat_id, message_id);
	} else if (!strcmp(type, "auth")) {
		on_reauth(s, root);
	} else {
		send_error(s, "unknown_type", "unknown frame type");
	}
done:
	json_object_put(root);
	return rc;
}

/* Reassembles fragments (RFC 6455 section 5.4) up to max_frame bytes. */
static int on_receive(struct session *s, const char *in, size_t len)
{
	if (lws_frame_is_binary(s->wsi)) {
		lws_close_reason(s->wsi, CLOSE_UNSUPPORTED, (unsigned char *)"text frames only", 16);
		return -1;
	}
	size_t remaining = lws_remaining_packet_payload(s->wsi);
	bool complete = lws_is_final_fragment(s->wsi) && !remaining;
	if ((size_t)s->rxlen + len + remaining > (size_t)W.cfg.max_frame) {
		lws_close_reason(s->wsi, CLOSE_TOO_BIG, (unsigned char *)"frame too large", 15);
		return -1;
	}
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
	if (s->paused && s->qlen <= REPLAY_LOW && !s->query) {
		s->paused = false;
		next_page(s);
	}
	return 0;
}

/* ---- lifecycle -------------------------------------------------------- */

static bool origin_allowed(struct lws *wsi)
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
	log_info("handshake refused: origin \"%.*s\" is not allowed", len, origin);
	return false;
}

static uint32_t now_s(void)
{
	return (uint32_t)(wsd_now_ms() / 1000);
}

static void on_established(struct session *s, struct lws *wsi)
{
	memset(s, 0, sizeof *s);
	s->wsi = wsi;
	s->last_rx_s = now_s();
	s->state = SESSION_AUTH;
	s->deadline_ms = wsd_now_ms() + (uint64_t)W.cfg.auth_timeout_ms;
	lws_dll2_add_tail(&s->list_link, &S.pending);
	/* lws sized the send buffer to the receive buffer (1 KiB): events are
	 * larger than that. */
	int sndbuf = SNDBUF_BYTES;
	setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	if (W.stopping)
		session_close(s, CLOSE_GOING_AWAY, "server shutting down");
}

static void on_closed(struct session *s)
{
	if (s->close_code)
		S.closing--;
	list_remove(&s->list_link);
	pg_query_cancel(s->query);
	s->query = NULL;
	hub_detach(s);
	replay_free(s->replay);
	s->replay = NULL;
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

int session_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	struct session *s = user;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return origin_allowed(wsi) ? 0 : 1;
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
