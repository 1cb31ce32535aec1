/*
 * Blocking users: PUT and DELETE /api/users/{id}/block (idempotent), GET
 * /api/users/me/blocks. What a block refuses (403 blocked) is checked where
 * it matters, in schema/functions/chats.sql and messages.sql.
 */
#include "auth.h"
#include "db.h"
#include "reply.h"
#include "sqlparam.h"

static void block(struct http_req *req, bool on)
{
	DB_STMT(block_user, 4,
		"SELECT status, body, event_id "
		"FROM user_block(live_session_user($1, $4), $2, $3::boolean)");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0], on ? "t" : "f",
				http_session_param(req)};
	reply_send(req, db_exec(&block_user, params));
}

void handle_block(struct http_req *req)
{
	block(req, true);
}

void handle_unblock(struct http_req *req)
{
	block(req, false);
}

void handle_list_blocks(struct http_req *req)
{
	DB_STMT(list_blocks, 2,
		"SELECT status, body, event_id "
		"FROM user_blocks_list(live_session_user($1, $2))");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req)};
	reply_send(req, db_exec(&list_blocks, params));
}
