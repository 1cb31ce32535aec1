/*
 * The administrators' API (API.md "Administration"): /api/admin/users,
 * their status and role, their messages, the reports queue, the stats and
 * the audit log. One statement each; the rules, the audit and who may are
 * schema/functions/admin.sql's, shared with msgrctl. Every statement
 * passes its caller through admin_require(), so a plain user gets 403
 * admin_only on every route before any id is looked at.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "reply.h"
#include "sqlparam.h"
#include "storage.h"

#define ADMIN_BODY_LIMIT 8192
/* Files purged after each call of a deletion of messages; the files
 * program's sweep takes any more (they are marked deleted already). */
#define ADMIN_PURGE_LIMIT 1000

static const char *check_status(const char *s, size_t len)
{
	(void)len;
	return strcmp(s, "active") && strcmp(s, "banned") ? "must be active or banned" : NULL;
}

/* The list also shows the deleted accounts (account.sql), which no PATCH
 * can make: they keep their row, and an administrator may look for one. */
static const char *check_status_filter(const char *s, size_t len)
{
	return strcmp(s, "deleted") ? check_status(s, len) : NULL;
}

static const char *check_role(const char *s, size_t len)
{
	(void)len;
	return strcmp(s, "user") && strcmp(s, "admin") ? "must be user or admin" : NULL;
}

static const char *check_report_filter(const char *s, size_t len)
{
	(void)len;
	return strcmp(s, "open") && strcmp(s, "resolved") && strcmp(s, "dismissed")
		       ? "must be open, resolved or dismissed"
		       : NULL;
}

static const char *check_report_status(const char *s, size_t len)
{
	(void)len;
	return strcmp(s, "resolved") && strcmp(s, "dismissed") ? "must be resolved or dismissed"
							       : NULL;
}

enum { USERS_Q, USERS_STATUS, USERS_LIMIT, USERS_BEFORE, USERS__MAX };
static const struct field_spec users_fields[USERS__MAX] = {
	[USERS_Q] = {"q", FIELD_STRING, FIELD_TRIM, 1, 254, NULL},
	[USERS_STATUS] = {"status", FIELD_STRING, 0, 1, 16, check_status_filter},
	[USERS_LIMIT] = {"limit", FIELD_INT, 0, 1, 100, NULL},
	[USERS_BEFORE] = {"before", FIELD_ID, 0, 0, 0, NULL},
};

void handle_admin_users(struct http_req *req)
{
	/* The check has no column: a one-time filter, run before the list. */
	DB_STMT(admin_users, 6,
		"SELECT status, body, event_id FROM admin_users_list($3, $4, $5::int, $6) "
		"WHERE admin_require(live_session_user($1, $2)) IS NOT NULL");
	if (!http_require_user(req))
		return;
	struct field_value f[USERS__MAX];
	if (!http_parse_query(req, users_fields, USERS__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN], limit[SQLPARAM_INT_LEN], before[SQLPARAM_INT_LEN];
	const char *params[] = {
		sqlparam_int(uid, req->user_id), http_session_param(req),
		f[USERS_Q].present ? f[USERS_Q].str : NULL,
		f[USERS_STATUS].present ? f[USERS_STATUS].str : NULL,
		sqlparam_int(limit, f[USERS_LIMIT].present ? f[USERS_LIMIT].num : 50),
		f[USERS_BEFORE].present ? sqlparam_int(before, f[USERS_BEFORE].num) : NULL};
	reply_send(req, db_exec(&admin_users, params));
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

enum { DEL_SINCE, DEL__MAX };
static const struct field_spec delete_fields[DEL__MAX] = {
	[DEL_SINCE] = {"since", FIELD_STRING, 0, 20, 40, valid_rfc3339},
};

/*
 * Soft-deletes in calls of admin_user_messages_delete(), a transaction and
 * at most 500 messages each (admin.sql says why), until one deletes none.
 * Each call wakes wsd for its events and has its files purged after its
 * commit. A call that fails is answered as its error: those before it stay
 * deleted, and the same request again deletes the rest.
 *
 * No call starts after MSGR_ADMIN_DELETE_SECS (default 20): the answer then
 * says "has_more" and the client asks again. Without the bound a user with
 * some 40,000 messages outlasted nginx's wait (fastcgi_read_timeout, a
 * minute), whose 504 told the administrator nothing of what was done.
 */
void handle_admin_delete_messages(struct http_req *req)
{
	DB_STMT(admin_delete_messages, 4,
		"SELECT r.status, r.body, r.event_id, (r.body->>'deleted')::int "
		"FROM admin_user_messages_delete(admin_require(live_session_user($1, $2)), NULL, $3, $4) r");
	if (!http_require_user(req))
		return;
	struct field_value f[DEL__MAX];
	if (!http_parse_query(req, delete_fields, DEL__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req),
				req->path_str[0], f[DEL_SINCE].present ? f[DEL_SINCE].str : NULL};
	double budget_ms = 1e3 * (double)config_int("MSGR_ADMIN_DELETE_SECS", 20, 0, 50);
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	long total = 0, n;
	bool more;
	do {
		PGresult *res = db_exec(&admin_delete_messages, params);
		if (!db_ok(res)) {
			reply_db_problem(req, res);
			return;
		}
		n = strtol(PQgetvalue(res, 0, 3), NULL, 10);
		if (!PQgetisnull(res, 0, 2))
			db_notify_events(PQgetvalue(res, 0, 2));
		PQclear(res);
		total += n;
		/* The call marked its messages' files; their bytes go now (the
		 * files program's sweep takes what this leaves). */
		if (n > 0)
			(void)storage_purge(0, 0, ADMIN_PURGE_LIMIT);
		more = n > 0 && log_ms_since(&start) >= budget_ms;
	} while (n > 0 && !more);
	char body[64];
	int len = snprintf(body, sizeof body, "{\"deleted\":%ld,\"has_more\":%s}", total,
			   more ? "true" : "false");
	http_send_json(req, 200, body, (size_t)len);
}

enum { REPORTS_STATUS, REPORTS__MAX };
static const struct field_spec reports_fields[REPORTS__MAX] = {
	[REPORTS_STATUS] = {"status", FIELD_STRING, 0, 1, 16, check_report_filter},
};

void handle_admin_reports(struct http_req *req)
{
	DB_STMT(admin_reports, 3,
		"SELECT status, body, event_id FROM admin_reports_list($3) "
		"WHERE admin_require(live_session_user($1, $2)) IS NOT NULL");
	if (!http_require_user(req))
		return;
	struct field_value f[REPORTS__MAX];
	if (!http_parse_query(req, reports_fields, REPORTS__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req),
				f[REPORTS_STATUS].present ? f[REPORTS_STATUS].str : NULL};
	reply_send(req, db_exec(&admin_reports, params));
}

enum { REPORT_STATUS, REPORT__MAX };
static const struct field_spec report_fields[REPORT__MAX] = {
	[REPORT_STATUS] = {"status", FIELD_STRING, FIELD_REQUIRED, 1, 16, check_report_status},
};

void handle_admin_update_report(struct http_req *req)
{
	DB_STMT(admin_update_report, 4,
		"SELECT status, body, event_id "
		"FROM admin_report_update(admin_require(live_session_user($1, $2)), NULL, $3, $4)");
	if (!http_require_user(req))
		return;
	struct field_value f[REPORT__MAX];
	if (!http_parse_body(req, ADMIN_BODY_LIMIT, report_fields, REPORT__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req),
				req->path_str[0], f[REPORT_STATUS].str};
	reply_send(req, db_exec(&admin_update_report, params));
}

void handle_admin_stats(struct http_req *req)
{
	DB_STMT(admin_stats, 2,
		"SELECT 200, admin_stats(), NULL "
		"WHERE admin_require(live_session_user($1, $2)) IS NOT NULL");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req)};
	reply_send(req, db_exec(&admin_stats, params));
}

enum { AUDIT_LIMIT, AUDIT_BEFORE, AUDIT__MAX };
static const struct field_spec audit_fields[AUDIT__MAX] = {
	[AUDIT_LIMIT] = {"limit", FIELD_INT, 0, 1, 100, NULL},
	[AUDIT_BEFORE] = {"before", FIELD_ID, 0, 0, 0, NULL},
};

void handle_admin_audit(struct http_req *req)
{
	DB_STMT(admin_audit, 4,
		"SELECT status, body, event_id FROM admin_audit_list($3::int, $4) "
		"WHERE admin_require(live_session_user($1, $2)) IS NOT NULL");
	if (!http_require_user(req))
		return;
	struct field_value f[AUDIT__MAX];
	if (!http_parse_query(req, audit_fields, AUDIT__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN], limit[SQLPARAM_INT_LEN], before[SQLPARAM_INT_LEN];
	const char *params[] = {
		sqlparam_int(uid, req->user_id), http_session_param(req),
		sqlparam_int(limit, f[AUDIT_LIMIT].present ? f[AUDIT_LIMIT].num : 50),
		f[AUDIT_BEFORE].present ? sqlparam_int(before, f[AUDIT_BEFORE].num) : NULL};
	reply_send(req, db_exec(&admin_audit, params));
}
