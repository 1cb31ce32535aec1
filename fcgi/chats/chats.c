/*
 * The chat list, creating direct and group chats, reading and renaming one.
 */
#include <string.h>

#include "chats.h"
#include "db.h"
#include "reply.h"
#include "sqlparam.h"

void handle_list_chats(struct http_req *req)
{
	DB_STMT(list_chats, 2,
		"SELECT status, body, event_id "
		"FROM chat_list(live_session_user($1, $2))");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id),
				http_session_param(req)};
	reply_send(req, db_exec(&list_chats, params));
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
