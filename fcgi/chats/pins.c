/*
 * A member's view of a chat: pinned messages (PUT and DELETE
 * /api/chats/{id}/pins/{message_id}) and the caller's own settings (PATCH
 * /api/chats/{id}/settings {muted_until?, notify?}).
 */
#include <string.h>

#include "chats.h"
#include "db.h"
#include "reply.h"
#include "sqlparam.h"

static void pin(struct http_req *req, bool on)
{
	DB_STMT(pin_message, 5,
		"SELECT status, body, event_id "
		"FROM chat_pin(live_session_user($1, $5), $2, $3, $4::boolean)");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0], req->path_str[1],
				on ? "t" : "f",
				http_session_param(req)};
	reply_send(req, db_exec(&pin_message, params));
}

void handle_pin(struct http_req *req)
{
	pin(req, true);
}

void handle_unpin(struct http_req *req)
{
	pin(req, false);
}

enum { SET_MUTED_UNTIL, SET_NOTIFY, SET__MAX };
static const struct field_spec settings_fields[SET__MAX] = {
	[SET_MUTED_UNTIL] = {"muted_until", FIELD_STRING, FIELD_NULLABLE, 20, 40, valid_rfc3339},
	[SET_NOTIFY] = {"notify", FIELD_STRING, 0, 3, 8, valid_notify_level},
};

void handle_chat_settings(struct http_req *req)
{
	DB_STMT(chat_settings, 6,
		"SELECT status, body, event_id "
		"FROM chat_settings(live_session_user($1, $6), $2, $3, $4::boolean, $5)");
	if (!http_require_user(req))
		return;
	struct field_value f[SET__MAX];
	if (!http_parse_body(req, CHATS_BODY_LIMIT, settings_fields, SET__MAX, f))
		return;
	const struct field_value *mute = &f[SET_MUTED_UNTIL];
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0],
				mute->present && !mute->is_null ? mute->str : NULL,
				mute->present && mute->is_null ? "t" : "f",
				f[SET_NOTIFY].present ? f[SET_NOTIFY].str : NULL,
				http_session_param(req)};
	reply_send(req, db_exec(&chat_settings, params));
}
