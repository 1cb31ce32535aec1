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

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* NULL when s has the form of an RFC 3339 date-time (section 5.6):
 * YYYY-MM-DDTHH:MM:SS, optional fraction, then Z or an offset. Whether the
 * date exists is the database's check. */
static const char *check_timestamp(const char *s, size_t len)
{
	static const char *const bad = "must be an RFC 3339 timestamp";
	if (len < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) ||
	    s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
		return bad;
	size_t i = 19;
	if (s[i] == '.') {
		size_t start = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || i - start > 9)
			return bad;
	}
	if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z'))
		return NULL;
	if (i + 6 == len && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2) &&
	    s[i + 3] == ':' && digits(s + i + 4, 2))
		return NULL;
	return bad;
}

enum { SET_MUTED_UNTIL, SET_NOTIFY, SET__MAX };
static const struct field_spec settings_fields[SET__MAX] = {
	[SET_MUTED_UNTIL] = {"muted_until", FIELD_STRING, FIELD_NULLABLE, 20, 40, check_timestamp},
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
