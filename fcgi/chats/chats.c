/*
 * The chat list, creating direct and group chats, reading and renaming one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chats.h"
#include "db.h"
#include "log.h"
#include "pagecache.h"
#include "reply.h"
#include "sqlparam.h"

/*
 * GET /api/chats. A worker keeps the list it last rendered for each user
 * (shared/pagecache.h), stamped with chat_list_stamp() and the URL period
 * (avatars and files carry signed URLs). One statement reads the current
 * stamp and renders only when it differs from the kept one, in one snapshot:
 * the stamp sent back is that of the body sent back, and a kept body is
 * answered only when the database has just said it is current.
 */
void handle_list_chats(struct http_req *req)
{
	DB_STMT(list_chats, 4,
		"SELECT s, p, CASE WHEN (s, p) IS DISTINCT FROM ($3::bigint, $4::bigint) "
		"THEN (chat_list(u)).body::text END "
		"FROM live_session_user($1, $2) u, chat_list_stamp(u) s, file_url_period() p");
	if (!http_require_user(req))
		return;
	char key[32];
	snprintf(key, sizeof key, "chats:%lld", (long long)req->user_id);
	struct cached_page kept;
	bool have = page_cache_get(key, &kept);
	char uid[SQLPARAM_INT_LEN], version[SQLPARAM_INT_LEN], period[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req),
				have ? sqlparam_int(version, kept.stamp.version) : NULL,
				have ? sqlparam_int(period, kept.stamp.period) : NULL};
	PGresult *res = db_exec(&list_chats, params);
	if (!db_ok(res) || PQntuples(res) != 1 || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1) ||
	    (!have && PQgetisnull(res, 0, 2))) {
		if (db_ok(res))
			log_error("GET /api/chats: the list statement returned no stamp or no list");
		reply_db_problem(req, res);
		return;
	}
	if (PQgetisnull(res, 0, 2)) {
		/* Current: the statement rendered nothing because the stamp
		 * was the kept one. */
		http_send_json(req, 200, kept.body, kept.len);
		PQclear(res);
		return;
	}
	struct page_stamp now = {strtoll(PQgetvalue(res, 0, 0), NULL, 10),
				 strtoll(PQgetvalue(res, 0, 1), NULL, 10)};
	const char *body = PQgetvalue(res, 0, 2);
	size_t len = (size_t)PQgetlength(res, 0, 2);
	page_cache_put(key, now, body, len);
	http_send_json(req, 200, body, len);
	PQclear(res);
}

static const char *check_chat_type(const char *s, size_t len)
{
	if ((len == 6 && !memcmp(s, "direct", 6)) || (len == 5 && !memcmp(s, "group", 5)))
		return NULL;
	return "must be \"direct\" or \"group\"";
}

enum { NEW_TYPE, NEW_USER_ID, NEW_TITLE, NEW_MEMBER_IDS, NEW__MAX };
static const struct field_spec new_chat_fields[NEW__MAX] = {
	[NEW_TYPE] = {"type", FIELD_STRING, FIELD_REQUIRED, 1, 16, check_chat_type},
	[NEW_USER_ID] = {"user_id", FIELD_ID, 0, 0, 0, NULL},
	[NEW_TITLE] = {"title", FIELD_STRING, FIELD_TRIM | FIELD_NAME, 1, 128, NULL},
	/* The creator may be in the list or not: up to 1000 ids either way
	 * (the database checks the count without the creator). */
	[NEW_MEMBER_IDS] = {"member_ids", FIELD_ID_ARRAY, 0, 0, 1000, NULL},
};

static void create_direct(struct http_req *req, const struct field_value *f)
{
	DB_STMT(create_direct_chat, 3,
		"SELECT status, body, event_id "
		"FROM chat_create_direct(live_session_user($1, $3), $2)");
	struct field_errors errs = {0};
	if (!f[NEW_USER_ID].present)
		field_errors_add(&errs, "user_id", "is required for a direct chat");
	else if (f[NEW_USER_ID].num == req->user_id)
		field_errors_add(&errs, "user_id", "must be another user than yourself");
	if (errs.count) {
		http_problem_fields(req, &errs);
		field_errors_free(&errs);
		return;
	}
	char uid[SQLPARAM_INT_LEN], other[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), sqlparam_int(other, f[NEW_USER_ID].num),
				http_session_param(req)};
	reply_send(req, db_exec(&create_direct_chat, params));
}

static void create_group(struct http_req *req, const struct field_value *f)
{
	DB_STMT(create_group_chat, 4,
		"SELECT status, body, event_id "
		"FROM chat_create_group(live_session_user($1, $4), $2, $3::bigint[])");
	if (!f[NEW_TITLE].present) {
		struct field_errors errs = {0};
		field_errors_add(&errs, "title", "is required for a group");
		http_problem_fields(req, &errs);
		field_errors_free(&errs);
		return;
	}
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), f[NEW_TITLE].str,
				sqlparam_int_array(req->arena, f[NEW_MEMBER_IDS].ids, f[NEW_MEMBER_IDS].nids),
				http_session_param(req)};
	reply_send(req, db_exec(&create_group_chat, params));
}

void handle_create_chat(struct http_req *req)
{
	if (!http_require_user(req))
		return;
	struct field_value f[NEW__MAX];
	if (!http_parse_body(req, CHATS_BODY_LIMIT, new_chat_fields, NEW__MAX, f))
		return;
	if (!strcmp(f[NEW_TYPE].str, "direct"))
		create_direct(req, f);
	else
		create_group(req, f);
}

void handle_get_chat(struct http_req *req)
{
	DB_STMT(get_chat, 3,
		"SELECT status, body, event_id "
		"FROM chat_get(live_session_user($1, $3), $2)");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0],
				http_session_param(req)};
	reply_send(req, db_exec(&get_chat, params));
}

enum { PATCH_TITLE, PATCH__MAX };
static const struct field_spec patch_chat_fields[PATCH__MAX] = {
	[PATCH_TITLE] = {"title", FIELD_STRING, FIELD_REQUIRED | FIELD_TRIM | FIELD_NAME, 1, 128,
			NULL},
};

void handle_update_chat(struct http_req *req)
{
	DB_STMT(rename_chat, 4,
		"SELECT status, body, event_id "
		"FROM chat_rename(live_session_user($1, $4), $2, $3)");
	if (!http_require_user(req))
		return;
	struct field_value f[PATCH__MAX];
	if (!http_parse_body(req, CHATS_BODY_LIMIT, patch_chat_fields, PATCH__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0], f[PATCH_TITLE].str,
				http_session_param(req)};
	reply_send(req, db_exec(&rename_chat, params));
}

void handle_delete_chat(struct http_req *req)
{
	DB_STMT(delete_chat, 3,
		"SELECT status, body, event_id "
		"FROM chat_delete(live_session_user($1, $3), $2)");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0],
				http_session_param(req)};
	reply_send(req, db_exec(&delete_chat, params));
}
