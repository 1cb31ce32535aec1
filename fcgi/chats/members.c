/*
 * Group membership: the owner adds members; the owner removes anyone and a
 * member removes itself (leaves); the owner hands the group to a member.
 */
#include "chats.h"
#include "db.h"
#include "reply.h"
#include "sqlparam.h"

enum { ADD_USER_ID, ADD__MAX };
static const struct field_spec add_member_fields[ADD__MAX] = {
	[ADD_USER_ID] = {"user_id", FIELD_ID, FIELD_REQUIRED, 0, 0, NULL},
};

void handle_add_member(struct http_req *req)
{
	DB_STMT(add_member, 4,
		"SELECT status, body, event_id "
		"FROM chat_add_member(live_session_user($1, $4), $2, $3)");
	if (!http_require_user(req))
		return;
	struct field_value f[ADD__MAX];
	if (!http_parse_body(req, CHATS_BODY_LIMIT, add_member_fields, ADD__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN], member[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0],
				sqlparam_int(member, f[ADD_USER_ID].num),
				http_session_param(req)};
	reply_send(req, db_exec(&add_member, params));
}

void handle_remove_member(struct http_req *req)
{
	DB_STMT(remove_member, 4,
		"SELECT status, body, event_id "
		"FROM chat_remove_member(live_session_user($1, $4), $2, $3)");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0], req->path_str[1],
				http_session_param(req)};
	reply_send(req, db_exec(&remove_member, params));
}

enum { OWNER_USER_ID, OWNER__MAX };
static const struct field_spec owner_fields[OWNER__MAX] = {
	[OWNER_USER_ID] = {"user_id", FIELD_ID, FIELD_REQUIRED, 0, 0, NULL},
};

void handle_set_owner(struct http_req *req)
{
	DB_STMT(set_owner, 4,
		"SELECT status, body, event_id "
		"FROM chat_set_owner(live_session_user($1, $4), $2, $3)");
	if (!http_require_user(req))
		return;
	struct field_value f[OWNER__MAX];
	if (!http_parse_body(req, CHATS_BODY_LIMIT, owner_fields, OWNER__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN], heir[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0],
				sqlparam_int(heir, f[OWNER_USER_ID].num),
				http_session_param(req)};
	reply_send(req, db_exec(&set_owner, params));
}
