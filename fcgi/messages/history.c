/*
 * GET /api/chats/{id}/messages?before=&after=&limit=: keyset pages of a
 * chat's history in ascending id order.
 */
#include <stdint.h>

#include "db.h"
#include "messages.h"
#include "reply.h"

#define HISTORY_LIMIT_DEFAULT 50

enum { HIST_BEFORE, HIST_AFTER, HIST_LIMIT, HIST__MAX };
static const struct field_spec history_fields[HIST__MAX] = {
	[HIST_BEFORE] = {"before", FIELD_ID, 0, 0, 0, NULL},
	/* after=0: from the first message on. */
	[HIST_AFTER] = {"after", FIELD_INT, 0, 0, INT64_MAX, NULL},
	[HIST_LIMIT] = {"limit", FIELD_INT, 0, 1, 100, NULL},
};

void handle_history(struct http_req *req)
{
	DB_STMT(history, 5,
		"SELECT status, body, event_id FROM chat_messages($1, $2, $3, $4, $5::int)");
	if (!http_require_user(req))
		return;
	struct field_value f[HIST__MAX];
	if (!http_parse_query(req, history_fields, HIST__MAX, f))
		return;
	if (f[HIST_BEFORE].present && f[HIST_AFTER].present) {
		struct field_errors errs = {0};
		field_errors_add(&errs, "after", "cannot be combined with before");
		http_problem_fields(req, &errs);
		field_errors_free(&errs);
		return;
	}
	char uid[REPLY_ID_LEN], before[REPLY_ID_LEN], after[REPLY_ID_LEN], limit[REPLY_ID_LEN];
	const char *params[] = {
		reply_id(uid, req->user_id),
		req->path_str[0],
		f[HIST_BEFORE].present ? reply_id(before, f[HIST_BEFORE].num) : NULL,
		f[HIST_AFTER].present ? reply_id(after, f[HIST_AFTER].num) : NULL,
		reply_id(limit, f[HIST_LIMIT].present ? f[HIST_LIMIT].num : HISTORY_LIMIT_DEFAULT),
	};
	reply_send(req, db_exec(&history, params));
}
