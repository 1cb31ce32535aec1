/*
 * The caller's own settings (API.md "Notifications"): GET and PATCH
 * /api/users/me/settings. What they are and their defaults:
 * schema/functions/settings.sql; the mailer's digest job reads them.
 */
#include "auth.h"
#include "db.h"
#include "reply.h"
#include "sqlparam.h"

#define SETTINGS_BODY_LIMIT 8192

void handle_get_settings(struct http_req *req)
{
	DB_STMT(get_settings, 2,
		"SELECT status, body, event_id FROM user_settings_get(live_session_user($1, $2))");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req)};
	reply_send(req, db_exec(&get_settings, params));
}

enum { SET_EMAIL_NOTIFICATIONS, SET_EMAIL_DELAY, SET__MAX };
static const struct field_spec settings_fields[SET__MAX] = {
	[SET_EMAIL_NOTIFICATIONS] = {"email_notifications", FIELD_STRING, 0, 3, 8,
				     valid_notify_level},
	[SET_EMAIL_DELAY] = {"email_delay_minutes", FIELD_INT, 0, 1, 1440, NULL},
};

void handle_update_settings(struct http_req *req)
{
	DB_STMT(update_settings, 4,
		"SELECT status, body, event_id "
		"FROM user_settings_update(live_session_user($1, $4), $2, $3::int)");
	if (!http_require_user(req))
		return;
	struct field_value f[SET__MAX];
	if (!http_parse_body(req, SETTINGS_BODY_LIMIT, settings_fields, SET__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN], delay[SQLPARAM_INT_LEN];
	const char *params[] = {
		sqlparam_int(uid, req->user_id),
		f[SET_EMAIL_NOTIFICATIONS].present ? f[SET_EMAIL_NOTIFICATIONS].str : NULL,
		f[SET_EMAIL_DELAY].present ? sqlparam_int(delay, f[SET_EMAIL_DELAY].num) : NULL,
		http_session_param(req)};
	reply_send(req, db_exec(&update_settings, params));
}
