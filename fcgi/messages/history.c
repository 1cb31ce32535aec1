/*
 * GET /api/chats/{id}/messages?before=&after=&limit=: keyset pages of a
 * chat's history in ascending id order.
 *
 * The process that serves a read keeps the pages it rendered
 * (shared/pagecache.h) stamped with the chat's version and the URL period
 * (schema/migrations/006_page_versions.sql). A request for a kept page costs one index
 * lookup that checks the caller is a member and reads the current stamp;
 * only a changed page is rendered again. Pages showing reactions differ by
 * viewer (their "me"), so those are kept per viewer; the others are shared
 * by all members.
 *
 * With a read replica (db.h), renders go there when they can: the stamp,
 * read on the primary, is the version the client must see (a snapshot that
 * sees version N sees every change up to N, the client's own last write
 * among them, as it committed before this read began). A render on the
 * replica showing an older version, or anything but a page, is not
 * answered: the primary renders instead, at once (no waiting for the
 * replica: a stale read costs what it costs without one).
 *
 * The event loop (history_loop.c) serves reads with these steps, checking the
 * stamps of many reads in one statement; a worker serves them one by one
 * (handle_history).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "messages.h"
#include "metrics.h"
#include "reply.h"
#include "sqlparam.h"

#define HISTORY_LIMIT_DEFAULT 50

enum { HIST_BEFORE, HIST_AFTER, HIST_LIMIT, HIST__MAX };
static const struct field_spec history_fields[HIST__MAX] = {
	[HIST_BEFORE] = {"before", FIELD_ID, 0, 0, 0, NULL},
	/* after=0: from the first message on. */
	[HIST_AFTER] = {"after", FIELD_INT, 0, 0, INT64_MAX, NULL},
	[HIST_LIMIT] = {"limit", FIELD_INT, 0, 1, 100, NULL},
};

bool history_read(struct http_req *req, struct history_query *q)
{
	if (!http_require_user(req))
		return false;
	struct field_value f[HIST__MAX];
	if (!http_parse_query(req, history_fields, HIST__MAX, f))
		return false;
	if (f[HIST_BEFORE].present && f[HIST_AFTER].present) {
		struct field_errors errs = {0};
		field_errors_add(&errs, "after", "cannot be combined with before");
		http_problem_fields(req, &errs);
		field_errors_free(&errs);
		return false;
	}
	int64_t before = f[HIST_BEFORE].present ? f[HIST_BEFORE].num : -1;
	int64_t after = f[HIST_AFTER].present ? f[HIST_AFTER].num : -1;
	int64_t limit = f[HIST_LIMIT].present ? f[HIST_LIMIT].num : HISTORY_LIMIT_DEFAULT;
	q->has_before = f[HIST_BEFORE].present;
	q->has_after = f[HIST_AFTER].present;
	sqlparam_int(q->uid, req->user_id);
	q->sid = http_session_param(req);
	sqlparam_int(q->chat, req->path_id[0]);
	sqlparam_int(q->before, before);
	sqlparam_int(q->after, after);
	sqlparam_int(q->limit, limit);
	snprintf(q->shared_key, sizeof q->shared_key, "%s/%s/%s/%s", q->chat, q->before, q->after,
		 q->limit);
	snprintf(q->own_key, sizeof q->own_key, "%s/%s", q->shared_key, q->uid);
	return true;
}

void history_params(const struct history_query *q, const char *params[HISTORY_NPARAMS])
{
	params[0] = q->uid;
	params[1] = q->chat;
	params[2] = q->has_before ? q->before : NULL;
	params[3] = q->has_after ? q->after : NULL;
	params[4] = q->limit;
	params[5] = q->sid;
}

bool history_kept(const struct history_query *q, struct cached_page *page)
{
	return page_cache_get(q->shared_key, page) || page_cache_get(q->own_key, page);
}

bool history_stamp_of(const PGresult *res, int row, int col, struct page_stamp *stamp)
{
	if (PQgetisnull(res, row, col) || PQgetisnull(res, row, col + 1))
		return false;
	stamp->version = strtoll(PQgetvalue(res, row, col), NULL, 10);
	stamp->period = strtoll(PQgetvalue(res, row, col + 1), NULL, 10);
	return true;
}

bool history_answer_kept(struct http_req *req, const struct history_query *q,
			 struct page_stamp now)
{
	struct cached_page page;
	if (!history_kept(q, &page) || now.version != page.stamp.version ||
	    now.period != page.stamp.period)
		return false;
	http_send_json(req, 200, page.body, page.len);
	return true;
}

static void keep(const PGresult *res, const struct history_query *q)
{
	struct page_stamp stamp;
	if (!db_ok(res) || PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "200") ||
	    PQgetisnull(res, 0, 1) || !history_stamp_of(res, 0, 3, &stamp))
		return;
	const char *body = PQgetvalue(res, 0, 1);
	/* jsonb prints keys as "key": and escapes quotes in strings, so this
	 * finds the "me" of a reaction and nothing a user wrote. */
	bool per_viewer = strstr(body, "\"me\": ") != NULL;
	page_cache_remove(per_viewer ? q->shared_key : q->own_key);
	page_cache_put(per_viewer ? q->own_key : q->shared_key, stamp, body,
		       (size_t)PQgetlength(res, 0, 1));
}

void history_answer_render(struct http_req *req, const struct history_query *q, PGresult *res)
{
	keep(res, q);
	reply_send(req, res);
}

bool history_replica_current(const PGresult *res, struct page_stamp need)
{
	struct page_stamp seen;
	/* Anything but a page (a member the replica does not know yet, a
	 * session it still thinks live...) is the primary's to answer. */
	return db_ok(res) && PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "200") &&
	       !PQgetisnull(res, 0, 1) && history_stamp_of(res, 0, 3, &seen) &&
	       seen.version >= need.version;
}

/* The worker's read: the stamp of a kept page, then the render when it is
 * not current. With a replica, the stamp is read on the primary for every
 * read: it is the version the replica's render must show. */
void handle_history(struct http_req *req)
{
	DB_STMT(page_stamp, 3, HISTORY_STAMP_SQL);
	DB_STMT(history, HISTORY_NPARAMS, HISTORY_RENDER_SQL);
	DB_STMT(replica_history, HISTORY_NPARAMS, HISTORY_RENDER_SQL);
	struct history_query q;
	if (!history_read(req, &q))
		return;
	struct cached_page page;
	struct page_stamp now;
	bool stamped = false;
	if (history_kept(&q, &page) || db_replica_configured()) {
		const char *params[] = {q.uid, q.chat, q.sid};
		PGresult *res = db_exec(&page_stamp, params);
		/* Not a member, a session ended, or no answer: the render
		 * says why. */
		stamped = db_ok(res) && PQntuples(res) == 1 && history_stamp_of(res, 0, 0, &now);
		bool answered = stamped && history_answer_kept(req, &q, now);
		PQclear(res);
		if (answered)
			return;
	}
	const char *params[HISTORY_NPARAMS];
	history_params(&q, params);
	if (stamped && db_replica_configured()) {
		PGresult *res = db_exec_replica(&replica_history, params);
		bool current = history_replica_current(res, now);
		metrics_replica_read(current);
		if (current) {
			history_answer_render(req, &q, res);
			return;
		}
		PQclear(res);
	}
	history_answer_render(req, &q, db_exec(&history, params));
}
