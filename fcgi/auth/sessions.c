/*
 * A user's login sessions (API.md "Sessions take effect at once"): GET
 * /api/auth/sessions, DELETE /api/auth/sessions/{id}, and POST
 * /api/users/me/password, which ends every other session. A session ends in
 * one place, sessions_end() (schema/functions/auth.sql), which also tells
 * wsd to close its sockets; every request's statement refuses an ended
 * session's tokens through live_session_user().
 */
#include "auth.h"
#include "db.h"
#include "reply.h"
#include "sqlparam.h"

#define SESSIONS_BODY_LIMIT 8192

void handle_list_sessions(struct http_req *req)
{
	DB_STMT(list_sessions, 2,
		"SELECT status, body, event_id "
		"FROM sessions_list(live_session_user($1, $2), $2)");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req)};
	reply_send(req, db_exec(&list_sessions, params));
}

void handle_delete_session(struct http_req *req)
{
	DB_STMT(delete_session, 3,
		"SELECT status, body, event_id "
		"FROM session_delete(live_session_user($1, $3), $2)");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0],
				http_session_param(req)};
	reply_send(req, db_exec(&delete_session, params));
}

enum { PW_CURRENT, PW_NEW, PW__MAX };
static const struct field_spec password_fields[PW__MAX] = {
	[PW_CURRENT] = {"current_password", FIELD_STRING, FIELD_REQUIRED | FIELD_RAW, 1,
			PASSWORD_MAX, NULL},
	[PW_NEW] = {"new_password", FIELD_STRING, FIELD_REQUIRED | FIELD_RAW, PASSWORD_MIN,
		    PASSWORD_MAX, NULL},
};

const char *caller_password_check(struct http_req *req, const char *password)
{
	DB_STMT(password_of, 2,
		"SELECT password_hash FROM users WHERE id = live_session_user($1, $2)");
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req)};
	PGresult *res = db_exec(&password_of, params);
	if (!db_ok(res)) {
		reply_db_problem(req, res);
		return NULL;
	}
	const char *hash = PQntuples(res) == 1 ? arena_strndup(req->arena, PQgetvalue(res, 0, 0),
							       (size_t)PQgetlength(res, 0, 0))
					       : NULL;
	PQclear(res);
	/* No row: the account is gone; password_check(NULL) spends the same
	 * time and says no. */
	if (!password_check(hash, password) || !hash) {
		http_problem(req, 403, "invalid_credentials", "the current password is wrong");
		return NULL;
	}
	return hash;
}

/* Two statements, as the current password is checked here (scrypt is the
 * C side's): the hash to check, then the change, which is made only if the
 * hash is still the one checked (password_change()). */
void handle_change_password(struct http_req *req)
{
	DB_STMT(change_password, 4,
		"SELECT status, body, event_id "
		"FROM password_change(live_session_user($1, $2), $2, $3, $4)");
	if (!http_require_user(req))
		return;
	struct field_value f[PW__MAX];
	if (!http_parse_body(req, SESSIONS_BODY_LIMIT, password_fields, PW__MAX, f))
		return;
	const char *old_hash = caller_password_check(req, f[PW_CURRENT].str);
	if (!old_hash)
		return;
	const char *new_hash = password_hash(req->arena, f[PW_NEW].str);
	if (!new_hash) {
		http_problem(req, 500, "internal_error", "could not hash the password");
		return;
	}
	char uid[SQLPARAM_INT_LEN];
	const char *change_params[] = {sqlparam_int(uid, req->user_id), http_session_param(req),
				       old_hash, new_hash};
	reply_send(req, db_exec(&change_password, change_params));
}
