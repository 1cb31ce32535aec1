/*
 * PATCH /api/messages/{id} {text}: the sender edits; DELETE: the sender or
 * the group's owner deletes (softly; the files go from storage).
 */
#include "db.h"
#include "messages.h"
#include "reply.h"
#include "sqlparam.h"
#include "storage.h"

/* The most files of one message to unlink right after its deletion; the
 * periodic sweep takes any others. */
#define DELETE_PURGE_LIMIT 64

enum { EDIT_TEXT, EDIT__MAX };
static const struct field_spec edit_fields[EDIT__MAX] = {
	[EDIT_TEXT] = {"text", FIELD_STRING, FIELD_REQUIRED | FIELD_RAW, 0, MESSAGE_TEXT_MAX,
		       message_text_check},
};

void handle_edit(struct http_req *req)
{
	DB_STMT(edit_message, 7,
		"SELECT status, body, event_id "
		"FROM message_edit(live_session_user($1, $5), $2, $3, $4::boolean, $6::float8, "
		"$7::float8)");
	if (!http_require_user(req))
		return;
	struct field_value f[EDIT__MAX];
	if (!http_parse_body(req, MESSAGES_BODY_LIMIT, edit_fields, EDIT__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN], rate[SQLPARAM_INT_LEN], burst[SQLPARAM_INT_LEN];
	send_limit_params(rate, burst);
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0], f[EDIT_TEXT].str,
				message_text_blank(f[EDIT_TEXT].str, f[EDIT_TEXT].len) ? "t" : "f",
				http_session_param(req), rate, burst};
	reply_send(req, db_exec(&edit_message, params));
}

void handle_delete(struct http_req *req)
{
	DB_STMT(delete_message, 3,
		"SELECT status, body, event_id "
		"FROM message_delete(live_session_user($1, $3), $2)");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0],
				http_session_param(req)};
	if (reply_send(req, db_exec(&delete_message, params)) == 204)
		/* The deletion marked the message's files; their bytes go now. */
		(void)storage_purge(req->path_id[0], 0, DELETE_PURGE_LIMIT);
}
