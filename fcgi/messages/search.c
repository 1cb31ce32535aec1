/*
 * GET /api/search/messages?q=&chat_id=&before=&limit=: full-text search
 * over the caller's chats, newest first. before (a message id) pages on to
 * older hits. With a read replica it may answer (db_exec_read()).
 */
#include "db.h"
#include "messages.h"
#include "reply.h"
#include "sqlparam.h"

#define SEARCH_LIMIT_DEFAULT 20

/* Prepared on the primary and on the replica: two statements (db.h). */
#define SEARCH_SQL \
	"SELECT status, body, event_id " \
	"FROM search_messages(live_session_user($1, $6), $2, $3, $4, $5::int)"

enum { SEARCH_Q, SEARCH_CHAT_ID, SEARCH_BEFORE, SEARCH_LIMIT, SEARCH__MAX };
static const struct field_spec search_fields[SEARCH__MAX] = {
	[SEARCH_Q] = {"q", FIELD_STRING, FIELD_REQUIRED | FIELD_TRIM, 1, 256, NULL},
	[SEARCH_CHAT_ID] = {"chat_id", FIELD_ID, 0, 0, 0, NULL},
	[SEARCH_BEFORE] = {"before", FIELD_ID, 0, 0, 0, NULL},
	[SEARCH_LIMIT] = {"limit", FIELD_INT, 0, 1, 100, NULL},
};

void handle_search(struct http_req *req)
{
	DB_STMT(search, 6, SEARCH_SQL);
	DB_STMT(replica_search, 6, SEARCH_SQL);
	if (!http_require_user(req))
		return;
	struct field_value f[SEARCH__MAX];
	if (!http_parse_query(req, search_fields, SEARCH__MAX, f))
		return;
	char uid[SQLPARAM_INT_LEN], chat[SQLPARAM_INT_LEN], before[SQLPARAM_INT_LEN], limit[SQLPARAM_INT_LEN];
	const char *params[] = {
		sqlparam_int(uid, req->user_id),
		f[SEARCH_Q].str,
		f[SEARCH_CHAT_ID].present ? sqlparam_int(chat, f[SEARCH_CHAT_ID].num) : NULL,
		f[SEARCH_BEFORE].present ? sqlparam_int(before, f[SEARCH_BEFORE].num) : NULL,
		sqlparam_int(limit,
			 f[SEARCH_LIMIT].present ? f[SEARCH_LIMIT].num : SEARCH_LIMIT_DEFAULT),
		http_session_param(req),
	};
	/* No stamp says which chats' versions a search shows: the replica
	 * must have replayed everything (db.h). */
	reply_send(req, db_exec_read(&search, &replica_search, params));
}
