/*
 * GET /api/chats/{id}/messages?before=&after=&limit=: keyset pages of a
 * chat's history in ascending id order.
 *
 * A worker keeps the pages it rendered (shared/pagecache.h) stamped with
 * the chat's version and the URL period (schema/006_page_versions.sql).
 * A request for a kept page costs one index lookup that checks the caller
 * is a member and reads the current stamp; only a changed page is rendered
 * again. Pages showing reactions differ by viewer (their "me"), so those are
 * kept per viewer; the others are shared by all members.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "messages.h"
#include "pagecache.h"
#include "reply.h"

#define HISTORY_LIMIT_DEFAULT 50
#define PAGE_KEY_LEN 128

enum { HIST_BEFORE, HIST_AFTER, HIST_LIMIT, HIST__MAX };
static const struct field_spec history_fields[HIST__MAX] = {
	[HIST_BEFORE] = {"before", FIELD_ID, 0, 0, 0, NULL},
	/* after=0: from the first message on. */
	[HIST_AFTER] = {"after", FIELD_INT, 0, 0, INT64_MAX, NULL},
	[HIST_LIMIT] = {"limit", FIELD_INT, 0, 1, 100, NULL},
};

/* The keys of one page: shared by every member, and the viewer's own. */
struct page_keys {
	char shared[PAGE_KEY_LEN];
	char own[PAGE_KEY_LEN + REPLY_ID_LEN];
};

static void page_keys(struct page_keys *k, const char *chat, const struct field_value f[],
		      int64_t limit, int64_t viewer)
{
	int64_t before = f[HIST_BEFORE].present ? f[HIST_BEFORE].num : -1;
	int64_t after = f[HIST_AFTER].present ? f[HIST_AFTER].num : -1;
	snprintf(k->shared, sizeof k->shared, "%s/%lld/%lld/%lld", chat, (long long)before,
		 (long long)after, (long long)limit);
	snprintf(k->own, sizeof k->own, "%s/%lld", k->shared, (long long)viewer);
}

static bool stamp_of(PGresult *res, int col, struct page_stamp *stamp)
{
	if (PQgetisnull(res, 0, col) || PQgetisnull(res, 0, col + 1))
		return false;
	stamp->version = strtoll(PQgetvalue(res, 0, col), NULL, 10);
	stamp->period = strtoll(PQgetvalue(res, 0, col + 1), NULL, 10);
	return true;
}

/* Answers from the cache when the caller may read the chat and the kept
 * page is current. False when it did not answer. */
static bool answer_kept(struct http_req *req, const struct page_keys *k, const char *uid)
{
	DB_STMT(page_stamp, 2,
		"SELECT c.version, file_url_period() FROM chat_members m "
		"JOIN chats c ON c.id = m.chat_id WHERE m.chat_id = $2::bigint "
		"AND m.user_id = $1::bigint");
	struct cached_page page;
	if (!page_cache_get(k->shared, &page) && !page_cache_get(k->own, &page))
		return false;
	const char *params[] = {uid, req->path_str[0]};
	PGresult *res = db_exec(&page_stamp, params);
	struct page_stamp now;
	/* Not a member, or no answer: the render says why. */
	bool current = db_ok(res) && PQntuples(res) == 1 && stamp_of(res, 0, &now) &&
		       now.version == page.stamp.version && now.period == page.stamp.period;
	PQclear(res);
	if (current)
		http_send_json(req, 200, page.body, page.len);
	return current;
}

static void keep(PGresult *res, const struct page_keys *k)
{
	struct page_stamp stamp;
	if (!db_ok(res) || PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "200") ||
	    PQgetisnull(res, 0, 1) || !stamp_of(res, 3, &stamp))
		return;
	const char *body = PQgetvalue(res, 0, 1);
	/* jsonb prints keys as "key": and escapes quotes in strings, so this
	 * finds the "me" of a reaction and nothing a user wrote. */
	bool per_viewer = strstr(body, "\"me\": ") != NULL;
	page_cache_remove(per_viewer ? k->shared : k->own);
	page_cache_put(per_viewer ? k->own : k->shared, stamp, body,
		       (size_t)PQgetlength(res, 0, 1));
}

void handle_history(struct http_req *req)
{
	/* The stamp is read in the render's own snapshot. */
	DB_STMT(history, 5,
		"SELECT r.status, r.body, r.event_id, c.version, file_url_period() "
		"FROM chat_messages($1, $2, $3, $4, $5::int) r "
		"LEFT JOIN chats c ON c.id = $2::bigint");
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
	int64_t limit = f[HIST_LIMIT].present ? f[HIST_LIMIT].num : HISTORY_LIMIT_DEFAULT;
	char uid[REPLY_ID_LEN], before[REPLY_ID_LEN], after[REPLY_ID_LEN], lim[REPLY_ID_LEN];
	reply_id(uid, req->user_id);
	struct page_keys keys;
	page_keys(&keys, req->path_str[0], f, limit, req->user_id);
	if (answer_kept(req, &keys, uid))
		return;
	const char *params[] = {
		uid,
		req->path_str[0],
		f[HIST_BEFORE].present ? reply_id(before, f[HIST_BEFORE].num) : NULL,
		f[HIST_AFTER].present ? reply_id(after, f[HIST_AFTER].num) : NULL,
		reply_id(lim, limit),
	};
	PGresult *res = db_exec(&history, params);
	keep(res, &keys);
	reply_send(req, res);
}
