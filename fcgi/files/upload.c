/*
 * POST /api/files: one or more parts "file", streamed to storage; the
 * uploads belong to the caller and are not attached to anything yet.
 * GET /api/files/limits: what this server accepts, so that a client
 * refuses a file before its bytes travel (www/js/ui/composer.js).
 */
#include "db.h"
#include "files.h"
#include "reply.h"
#include "sqlparam.h"
#include "upload.h"

PGresult *files_store_rows(struct http_req *req, struct db_stmt *stmt, struct upload *up)
{
	char uid[SQLPARAM_INT_LEN], quota[SQLPARAM_INT_LEN];
	const char *arrays[4];
	upload_sql_arrays(req->arena, up, arrays);
	const char *params[] = {sqlparam_int(uid, req->user_id), arrays[0], arrays[1], arrays[2],
				arrays[3], http_session_param(req), upload_quota_param(quota)};
	PGresult *res = db_exec(stmt, params);
	if (!db_ok(res)) {
		/* Without their rows the files would be orphans on disk. */
		upload_discard(up);
		reply_db_problem(req, res);
		return NULL;
	}
	return res;
}

void handle_upload(struct http_req *req)
{
	DB_STMT(add_files, 7,
		"SELECT jsonb_build_object('files', jsonb_agg(file_json(f) ORDER BY f.id)), "
		"array_agg(f.id)::text "
		"FROM files_add(live_session_user($1, $6), 'upload', $2, $3, $4, $5, $7::bigint) f");
	if (!http_require_user(req)) {
		http_discard_body(req);
		return;
	}
	struct upload_opts opts = {
		.max_files = upload_max_files(),
		.max_file_size = upload_max_file_size(),
	};
	struct upload up;
	if (!upload_receive(req, &opts, &up))
		return;
	if (up.nfiles == 0) {
		struct field_errors errs = {0};
		field_errors_add(&errs, "file", "send at least one file in a part named \"file\"");
		http_problem_fields(req, &errs);
		field_errors_free(&errs);
		return;
	}
	PGresult *res = files_store_rows(req, &add_files, &up);
	if (!res)
		return;
	if (upload_publish(&up) != MSGR_OK) {
		files_drop(req, PQgetvalue(res, 0, 1));
		upload_discard(&up);
		PQclear(res);
		http_problem(req, 500, "storage_failed", "the upload could not be stored");
		return;
	}
	http_send_json(req, 201, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
}

/* The limits are the configuration's (upload.h), read where the uploads
 * read them; the caller's storage is counted as files_add() counts it. */
void handle_upload_limits(struct http_req *req)
{
	DB_STMT(upload_limits, 5,
		"SELECT 200, jsonb_build_object('max_file_size', $3::bigint, 'max_files', $4::int, "
		"'quota_bytes', $5::bigint, "
		"'used_bytes', user_storage_bytes(live_session_user($1, $2))), NULL::bigint");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN], size[SQLPARAM_INT_LEN], count[SQLPARAM_INT_LEN],
		quota[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req),
				sqlparam_int(size, (int64_t)upload_max_file_size()),
				sqlparam_int(count, (int64_t)upload_max_files()), upload_quota_param(quota)};
	reply_send(req, db_exec(&upload_limits, params));
}
