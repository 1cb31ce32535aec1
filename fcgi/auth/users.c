/*
 * Profiles: the caller's own, anybody's by id, search; and the health check.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "db.h"
#include "reply.h"
#include "sqlparam.h"

#define PROFILE_BODY_LIMIT 8192

/* Answers the single JSON value in the first row, or 404 with code when
 * there is no row. */
static void send_row_or_404(struct http_req *req, PGresult *res, const char *code,
			    const char *detail)
{
	if (!db_ok(res)) {
		reply_db_problem(req, res);
		return;
	}
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
		http_problem(req, 404, code, "%s", detail);
	else
		http_send_json(req, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
}

void handle_health(struct http_req *req)
{
	DB_STMT(health, 0, "SELECT 1");
	PGresult *res = db_exec(&health, NULL);
	if (db_ok(res)) {
		static const char ok[] = "{\"status\":\"ok\"}";
		http_send_json(req, 200, ok, sizeof ok - 1);
		PQclear(res);
		return;
	}
	PQclear(res);
	http_problem(req, 503, "database_unavailable", "the database does not answer");
}

void handle_me(struct http_req *req)
{
	DB_STMT(get_me, 2,
		"SELECT user_json(u, true) FROM users u WHERE u.id = live_session_user($1, $2)");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req)};
	send_row_or_404(req, db_exec(&get_me, params), "user_not_found",
			"the account of this token no longer exists");
}

enum { ME_DISPLAY_NAME, ME_ABOUT, ME__MAX };
static const struct field_spec me_fields[ME__MAX] = {
	[ME_DISPLAY_NAME] = {"display_name", FIELD_STRING, FIELD_TRIM | FIELD_NAME, 1, 64, NULL},
	/* About may span lines, so control characters (newlines) stay. */
	[ME_ABOUT] = {"about", FIELD_STRING, FIELD_TRIM | FIELD_RAW, 0, 500, NULL},
};

void handle_update_me(struct http_req *req)
{
	DB_STMT(update_me, 4,
		"UPDATE users SET display_name = coalesce($2, display_name), "
		"about = coalesce($3, about) WHERE id = live_session_user($1, $4) "
		"RETURNING user_json(users, true)");
	if (!http_require_user(req))
		return;
	struct field_value f[ME__MAX];
	if (!http_parse_body(req, PROFILE_BODY_LIMIT, me_fields, ME__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id),
				f[ME_DISPLAY_NAME].present ? f[ME_DISPLAY_NAME].str : NULL,
				f[ME_ABOUT].present ? f[ME_ABOUT].str : NULL, http_session_param(req)};
	send_row_or_404(req, db_exec(&update_me, params), "user_not_found",
			"the account of this token no longer exists");
}

enum { SEARCH_Q, SEARCH_LIMIT, SEARCH__MAX };
static const struct field_spec search_fields[SEARCH__MAX] = {
	[SEARCH_Q] = {"q", FIELD_STRING, FIELD_REQUIRED | FIELD_TRIM, 1, 64, NULL},
	[SEARCH_LIMIT] = {"limit", FIELD_INT, 0, 1, 50, NULL},
};

/* user_search() (schema/functions/auth.sql) after the session's check.
 * Prepared on the primary and on the replica: two statements (db.h). */
#define SEARCH_USERS_SQL "SELECT user_search(live_session_user($1, $4), $2, $3::int)"

void handle_search_users(struct http_req *req)
{
	DB_STMT(search_users, 4, SEARCH_USERS_SQL);
	DB_STMT(replica_search_users, 4, SEARCH_USERS_SQL);
	if (!http_require_user(req))
		return;
	struct field_value f[SEARCH__MAX];
	if (!http_parse_query(req, search_fields, SEARCH__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN], limit[SQLPARAM_INT_LEN];
	const char *params[] = {
		sqlparam_int(uid, req->user_id), f[SEARCH_Q].str,
		sqlparam_int(limit, f[SEARCH_LIMIT].present ? f[SEARCH_LIMIT].num : 20),
		http_session_param(req)};
	send_row_or_404(req, db_exec_read(&search_users, &replica_search_users, params), "not_found",
			"no result");
}

void handle_get_user(struct http_req *req)
{
	/* The check has no column: a one-time filter, run once before the
	 * lookup. */
	DB_STMT(get_user, 3,
		"SELECT user_json(u) FROM users u "
		"WHERE u.id = $1 AND live_session_user($2, $3) IS NOT NULL");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {req->path_str[0], sqlparam_int(uid, req->user_id),
				http_session_param(req)};
	send_row_or_404(req, db_exec(&get_user, params), "user_not_found", "no such user");
}
