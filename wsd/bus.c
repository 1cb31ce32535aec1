/*
 * bus.c - typing and presence between wsd processes, on msgr_wsd, and the
 * login sessions that ended (wsd_notify_revoked(), schema/functions/wsd.sql).
 */
#include "bus.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout.h"
#include "json.h"
#include "buf.h"
#include "log.h"
#include "pg.h"
#include "session.h"
#include "user.h"
#include "wsd.h"

void bus_typing(struct user *u, int64_t chat_id)
{
	fanout_typing(u->id, chat_id);
	struct buf payload = {0};
	buf_puts(&payload, "{\"t\":\"typing\",\"w\":");
	buf_json_str(&payload, W.wsd_id, strlen(W.wsd_id));
	buf_printf(&payload, ",\"u\":%" PRId64 ",\"c\":%" PRId64 "}", u->id, chat_id);
	const char *params[] = {buf_cstr(&payload)};
	struct pg_conn *c = wsd_conn_for(u->id);
	PG_STMT(notify_stmt, "SELECT pg_notify('msgr_wsd', $1)");
	if (buf_status(&payload) == MSGR_OK && pg_conn_ready(c) && pg_conn_queued(c) < 64)
		pg_exec(c, &notify_stmt, 1, params, pg_log_failure, "typing notify");
	buf_free(&payload);
}

/* A presence change whose chat list did not fit the notification. */
struct presence_lookup {
	int64_t user_id;
	bool online;
	char last_seen[40];
};

static void lookup_done(void *arg, const PGresult *res)
{
	struct presence_lookup *p = arg;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("presence of user %" PRId64 ": could not read chats: %s", p->user_id,
			  PQresultErrorMessage(res));
		free(p);
		return;
	}
	int rows = PQntuples(res);
	int64_t *chats = malloc(((size_t)rows + 1) * sizeof *chats);
	size_t n = 0;
	for (int r = 0; chats && r < rows; r++)
		if (parse_i64(PQgetvalue(res, r, 0), (size_t)PQgetlength(res, r, 0), &chats[n]))
			n++;
	if (chats)
		fanout_presence(p->user_id, p->online, p->last_seen, chats, n);
	free(chats);
	free(p);
}

static void lookup(int64_t user_id, bool online, const char *last_seen)
{
	struct presence_lookup *p = calloc(1, sizeof *p);
	if (!p)
		return;
	p->user_id = user_id;
	p->online = online;
	if (last_seen)
		snprintf(p->last_seen, sizeof p->last_seen, "%s", last_seen);
	char uid[24];
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	const char *params[] = {uid};
	if (!pg_query(wsd_conn_for(user_id),
		      "SELECT chat_id FROM chat_members WHERE user_id = $1::bigint", 1, params,
		      lookup_done, p))
		free(p);
}

static int64_t json_id(struct json_object *obj, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_int64(v);
}

static void on_presence(struct json_object *root)
{
	int64_t user_id = json_id(root, "u");
	struct json_object *on, *ts, *chats;
	if (user_id <= 0 || !json_object_object_get_ex(root, "on", &on))
		return;
	bool online = json_object_get_boolean(on);
	const char *last_seen = json_object_object_get_ex(root, "ts", &ts) &&
					json_object_is_type(ts, json_type_string)
				? json_object_get_string(ts)
				: NULL;
	if (json_object_object_get_ex(root, "chats", &chats) &&
	    json_object_is_type(chats, json_type_array)) {
		size_t n = json_object_array_length(chats);
		int64_t *ids = malloc((n + 1) * sizeof *ids);
		if (!ids)
			return;
		for (size_t i = 0; i < n; i++)
			ids[i] = json_object_get_int64(json_object_array_get_idx(chats, i));
		fanout_presence(user_id, online, last_seen, ids, n);
		free(ids);
		return;
	}
	/* Unless no one here could care. */
	if (user_count())
		lookup(user_id, online, last_seen);
}

static void on_typing(struct json_object *root)
{
	struct json_object *w;
	/* Our own typing was delivered here already. */
	if (json_object_object_get_ex(root, "w", &w) &&
	    !strcmp(json_object_get_string(w), W.wsd_id))
		return;
	int64_t user_id = json_id(root, "u"), chat_id = json_id(root, "c");
	if (user_id > 0 && chat_id > 0)
		fanout_typing(user_id, chat_id);
}

/* {"t":"revoke","u":user,"s":[sid,...]}: those sessions' connections close
 * with 4401. */
static void on_revoke(struct json_object *root)
{
	int64_t user_id = json_id(root, "u");
	struct json_object *sids;
	struct user *u = user_id > 0 ? user_find(user_id) : NULL;
	if (!u || !json_object_object_get_ex(root, "s", &sids) ||
	    !json_object_is_type(sids, json_type_array))
		return;
	size_t n = json_object_array_length(sids);
	int64_t *ids = malloc((n + 1) * sizeof *ids);
	if (!ids) {
		/* Not knowing which, every connection of the user goes: they
		 * come back with their tokens, checked. */
		user_close(u, CLOSE_BAD_TOKEN, "session revoked");
		return;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = json_object_get_int64(json_object_array_get_idx(sids, i));
	user_revoke(u, ids, n);
	free(ids);
}

void bus_receive(const char *payload)
{
	struct json_object *root = json_read(payload, strlen(payload));
	struct json_object *t;
	if (!root || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "t", &t))
		goto done;
	const char *type = json_object_get_string(t);
	if (!strcmp(type, "typing"))
		on_typing(root);
	else if (!strcmp(type, "presence"))
		on_presence(root);
	else if (!strcmp(type, "revoke"))
		on_revoke(root);
done:
	json_object_put(root);
}
