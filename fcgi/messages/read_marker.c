/*
 * POST /api/chats/{id}/read {message_id}: the caller's read marker moves
 * forward (never back).
 */
#include "db.h"
#include "messages.h"
#include "reply.h"
#include "sqlparam.h"

#define READ_BODY_LIMIT 4096

enum { READ_MESSAGE_ID, READ__MAX };
static const struct field_spec read_fields[READ__MAX] = {
	[READ_MESSAGE_ID] = {"message_id", FIELD_ID, FIELD_REQUIRED, 0, 0, NULL},
};

void handle_read(struct http_req *req)
{
	DB_STMT(mark_read, 4,
		"SELECT status, body, event_id "
		"FROM chat_read(live_session_user($1, $4), $2, $3)");
	if (!http_require_user(req))
		return;
	struct field_value f[READ__MAX];
	if (!http_parse_body(req, READ_BODY_LIMIT, read_fields, READ__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN], mid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0],
				sqlparam_int(mid, f[READ_MESSAGE_ID].num),
				http_session_param(req)};
	reply_send(req, db_exec(&mark_read, params));
}
