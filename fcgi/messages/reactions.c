/*
 * PUT and DELETE /api/messages/{id}/reactions/{emoji}: the caller's
 * reaction, idempotently. The router percent-decodes the emoji segment.
 * GET /api/messages/{id}/reactions: who reacted.
 */
#include <stdint.h>
#include <string.h>

#include "db.h"
#include "messages.h"
#include "reply.h"
#include "sqlparam.h"
#include "utf8.h"

#define EMOJI_MAX_BYTES 32

/* NULL when s is an acceptable reaction: 1 to 32 bytes of UTF-8 without
 * white space or control characters. */
static const char *emoji_check(const char *s, size_t len)
{
	if (len == 0 || len > EMOJI_MAX_BYTES)
		return "must be 1 to 32 bytes of UTF-8";
	if (!utf8_valid(s, len) || utf8_has_nul(s, len))
		return "must be valid UTF-8";
	if (utf8_has_control(s, len))
		return "must not contain control characters";
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		i += utf8_decode(s + i, len - i, &cp);
		if (utf8_is_space(cp))
			return "must not contain spaces";
	}
	return NULL;
}

static void react(struct http_req *req, bool add)
{
	DB_STMT(react_message, 7,
		"SELECT status, body, event_id "
		"FROM message_react(live_session_user($1, $5), $2, $3, $4::boolean, $6::float8, "
		"$7::float8)");
	if (!http_require_user(req))
		return;
	const char *msg = emoji_check(req->path_str[1], req->path_len[1]);
	if (msg) {
		struct field_errors errs = {0};
		field_errors_add(&errs, "emoji", msg);
		http_problem_fields(req, &errs);
		field_errors_free(&errs);
		return;
	}
	char uid[SQLPARAM_INT_LEN], rate[SQLPARAM_INT_LEN], burst[SQLPARAM_INT_LEN];
	send_limit_params(rate, burst);
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0], req->path_str[1],
				add ? "t" : "f", http_session_param(req), rate, burst};
	reply_send(req, db_exec(&react_message, params));
}

void handle_react(struct http_req *req)
{
	react(req, true);
}

void handle_unreact(struct http_req *req)
{
	react(req, false);
}

void handle_reactors(struct http_req *req)
{
	DB_STMT(list_reactors, 3,
		"SELECT status, body, event_id "
		"FROM message_reactors(live_session_user($1, $3), $2)");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0],
				http_session_param(req)};
	reply_send(req, db_exec(&list_reactors, params));
}
