/*
 * POST /api/messages/{id}/forward {chat_ids}: copies of a message in 1 to
 * 10 of the caller's chats (message_forward(), schema/functions/messages.sql).
 */
#include "db.h"
#include "messages.h"
#include "reply.h"
#include "sqlparam.h"

#define FORWARD_CHATS_MAX 10

enum { FORWARD_CHAT_IDS, FORWARD__MAX };
static const struct field_spec forward_fields[FORWARD__MAX] = {
	[FORWARD_CHAT_IDS] = {"chat_ids", FIELD_ID_ARRAY, FIELD_REQUIRED, 1, FORWARD_CHATS_MAX, NULL},
};

void handle_forward(struct http_req *req)
{
	DB_STMT(forward_message, 6,
		"SELECT status, body, event_id "
		"FROM message_forward(live_session_user($1, $6), $2, $3::bigint[], "
		"$4::float8, $5::float8)");
	if (!http_require_user(req))
		return;
	struct field_value f[FORWARD__MAX];
	if (!http_parse_body(req, MESSAGES_BODY_LIMIT, forward_fields, FORWARD__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN], rate[SQLPARAM_INT_LEN], burst[SQLPARAM_INT_LEN];
	send_limit_params(rate, burst);
	const char *params[] = {
		sqlparam_int(uid, req->user_id), req->path_str[0],
		sqlparam_int_array(req->arena, f[FORWARD_CHAT_IDS].ids, f[FORWARD_CHAT_IDS].nids),
		rate, burst,
				http_session_param(req)};
	reply_send(req, db_exec(&forward_message, params));
}
