/*
 * The end of an account (API.md "Your data and your language"): DELETE
 * /api/users/me {password} and DELETE /api/admin/users/{id}. What goes
 * and what stays is account_delete()'s (schema/functions/account.sql);
 * here the password is checked (scrypt is the C side's) and, after the
 * commit, the bytes of the files it marked deleted are unlinked.
 */
#include "auth.h"
#include "db.h"
#include "reply.h"
#include "sqlparam.h"
#include "storage.h"

#define ACCOUNT_BODY_LIMIT 8192
/* Files purged after a deletion, in this request; the files program's
 * sweep takes any more (they are marked deleted already). */
#define ACCOUNT_PURGE_LIMIT 1000

/* Answers the deletion's reply and, once it committed, purges its files. */
static void answer_and_purge(struct http_req *req, PGresult *res)
{
	if (reply_send(req, res) == 204)
		(void)storage_purge(0, 0, ACCOUNT_PURGE_LIMIT);
}

enum { DEL_PASSWORD, DEL__MAX };
static const struct field_spec delete_fields[DEL__MAX] = {
	[DEL_PASSWORD] = {"password", FIELD_STRING, FIELD_REQUIRED | FIELD_RAW, 1, PASSWORD_MAX, NULL},
};

/* Two statements, as for a password change: the hash to check
 * (caller_password_check()), then the deletion, made only if the hash is
 * still the one checked. */
void handle_delete_me(struct http_req *req)
{
	DB_STMT(delete_me, 3,
		"SELECT status, body, event_id FROM account_delete_self(live_session_user($1, $2), $3)");
	if (!http_require_user(req))
		return;
	struct field_value f[DEL__MAX];
	if (!http_parse_body(req, ACCOUNT_BODY_LIMIT, delete_fields, DEL__MAX, f))
		return;
	const char *hash = caller_password_check(req, f[DEL_PASSWORD].str);
	if (!hash)
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req), hash};
	answer_and_purge(req, db_exec(&delete_me, params));
}

void handle_admin_delete_user(struct http_req *req)
{
	DB_STMT(admin_delete_user, 3,
		"SELECT status, body, event_id "
		"FROM admin_user_delete(admin_require(live_session_user($1, $2)), NULL, $3)");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req),
				req->path_str[0]};
	answer_and_purge(req, db_exec(&admin_delete_user, params));
}
