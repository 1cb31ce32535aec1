/*
 * PUT and DELETE /api/users/me/avatar: the caller's picture, one png, jpeg,
 * gif or webp image by content, at most 5 MiB. The replaced picture is
 * removed from storage after the commit.
 *
 * A new picture is stored (its row committed, then its bytes published
 * under their key, as every stored file: shared/storage.h) before the user
 * points at it: the commit that makes the user point at it also tells
 * everyone who shares a chat with them (user.updated, a trigger), and
 * their browsers load the picture at once. Pointing at it in the same
 * transaction as its row had them ask for bytes not published yet (404).
 */
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "files.h"
#include "reply.h"
#include "sqlparam.h"
#include "storage.h"
#include "upload.h"

#define AVATAR_MAX_SIZE (5 * 1024 * 1024)

/* Answers the user in the first column and purges the replaced file whose
 * id is in the second (NULL when there was none). Takes res. */
static void send_user_and_purge(struct http_req *req, PGresult *res)
{
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		http_problem(req, 404, "user_not_found", "the account of this token no longer exists");
		return;
	}
	int64_t old = PQgetisnull(res, 0, 1) ? 0 : strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	http_send_json(req, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
	if (old > 0)
		(void)storage_purge(0, old, 1);
}

void handle_put_avatar(struct http_req *req)
{
	DB_STMT(add_avatar, 7,
		"SELECT f.id FROM files_add(live_session_user($1, $6), 'avatar', $2, $3, $4, $5, "
		"$7::bigint) f");
	DB_STMT(use_avatar, 3,
		"SELECT a.usr, a.old_file_id FROM avatar_use(live_session_user($1, $3), $2) a");
	if (!http_require_user(req)) {
		http_discard_body(req);
		return;
	}
	struct upload_opts opts = {.max_files = 1, .max_file_size = AVATAR_MAX_SIZE};
	struct upload up;
	if (!upload_receive(req, &opts, &up))
		return;
	if (up.nfiles == 0) {
		struct field_errors errs = {0};
		field_errors_add(&errs, "file", "send the picture in a part named \"file\"");
		http_problem_fields(req, &errs);
		field_errors_free(&errs);
		return;
	}
	if (!files_inline_type(up.files[0].mime)) {
		upload_discard(&up);
		http_problem(req, 415, "unsupported_file_type",
			     "an avatar must be a png, jpeg, gif or webp image, not %s",
			     up.files[0].mime);
		return;
	}
	PGresult *res = files_store_rows(req, &add_avatar, &up);
	if (!res)
		return;
	const char *file_id = arena_printf(req->arena, "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	const char *file_ids = arena_printf(req->arena, "{%s}", file_id);
	if (!*file_id || upload_publish(&up) != MSGR_OK) {
		if (*file_id)
			files_drop(req, file_ids);
		upload_discard(&up);
		http_problem(req, 500, "storage_failed", "the picture could not be stored");
		return;
	}
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), file_id, http_session_param(req)};
	res = db_exec(&use_avatar, params);
	if (!db_ok(res)) {
		files_drop(req, file_ids);
		reply_db_problem(req, res);
		return;
	}
	send_user_and_purge(req, res);
}

void handle_delete_avatar(struct http_req *req)
{
	DB_STMT(clear_avatar, 2,
		"SELECT a.usr, a.old_file_id FROM clear_avatar(live_session_user($1, $2)) a");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req)};
	PGresult *res = db_exec(&clear_avatar, params);
	if (!db_ok(res)) {
		reply_db_problem(req, res);
		return;
	}
	send_user_and_purge(req, res);
}

void files_drop(struct http_req *req, const char *ids_literal)
{
	DB_STMT(drop_files, 1, "SELECT files_drop($1::bigint[])");
	(void)req;
	const char *params[] = {ids_literal};
	PGresult *res = db_exec(&drop_files, params);
	PQclear(res);
	(void)storage_purge(0, 0, 100);
}
