/*
 * PUT and DELETE /api/messages/{id}/reactions/{emoji}: the caller's
 * reaction, idempotently. The router percent-decodes the emoji segment.
 */
#include <stdint.h>
#include <string.h>

#include "db.h"
#include "messages.h"
#include "reply.h"
#include "sqlparam.h"
#include "utf8.h"

#define EMOJI_MAX_BYTES 32

/* Decodes the code point at s (valid UTF-8) and returns its length. */
static size_t decode(const unsigned char *s, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] < 0xe0) {
		*cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
		return 2;
	}
	if (s[0] < 0xf0) {
		*cp = (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
		return 3;
	}
	*cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
	      (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
	return 4;
}

/* Unicode White_Space (PropList.txt) outside the C0 and C1 controls. */
static bool is_space(uint32_t cp)
{
	return cp == 0x20 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

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
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		i += decode(p + i, &cp);
		if (is_space(cp))
			return "must not contain spaces";
	}
	return NULL;
}

static void react(struct http_req *req, bool add)
{
	DB_STMT(react_message, 4,
		"SELECT status, body, event_id FROM message_react($1, $2, $3, $4::boolean)");
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
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), req->path_str[0], req->path_str[1],
				add ? "t" : "f"};
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
