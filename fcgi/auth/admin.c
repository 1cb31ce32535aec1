/*
 * The administrators' API (API.md "Administration"): /api/admin/users,
 * their status and role, their messages, the reports queue, the stats and
 * the audit log. One statement each; the rules, the audit and who may are
 * schema/functions/admin.sql's, shared with msgrctl. Every statement
 * passes its caller through admin_require(), so a plain user gets 403
 * admin_only on every route before any id is looked at.
 */
#include <string.h>

#include "auth.h"
#include "db.h"
#include "reply.h"
#include "sqlparam.h"

#define ADMIN_BODY_LIMIT 8192

static const char *check_status(const char *s, size_t len)
{
	(void)len;
	return strcmp(s, "active") && strcmp(s, "banned") ? "must be active or banned" : NULL;
}

static const char *check_role(const char *s, size_t len)
{
	(void)len;
	return strcmp(s, "user") && strcmp(s, "admin") ? "must be user or admin" : NULL;
}

enum { PATCH_STATUS, PATCH_ROLE, PATCH__MAX };
static const struct field_spec patch_fields[PATCH__MAX] = {
	[PATCH_STATUS] = {"status", FIELD_STRING, 0, 1, 16, check_status},
	[PATCH_ROLE] = {"role", FIELD_STRING, 0, 1, 16, check_role},
};

void handle_admin_update_user(struct http_req *req)
{
	DB_STMT(admin_update_user, 5,
		"SELECT status, body, event_id "
		"FROM admin_user_update(admin_require(live_session_user($1, $2)), NULL, $3, $4, $5)");
	if (!http_require_user(req))
		return;
	struct field_value f[PATCH__MAX];
	if (!http_parse_body(req, ADMIN_BODY_LIMIT, patch_fields, PATCH__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req),
				req->path_str[0],
				f[PATCH_STATUS].present ? f[PATCH_STATUS].str : NULL,
				f[PATCH_ROLE].present ? f[PATCH_ROLE].str : NULL};
	reply_send(req, db_exec(&admin_update_user, params));
}
