/*
 * The export of a user's data (API.md "Your data and your language"):
 * POST, GET and DELETE /api/users/me/export, and the builder that makes the
 * archives, export_run(), the files master's periodic job (main.c).
 *
 * Why here: the archive is a stored file like an upload (storage.h: the
 * directory or the object store, so any host can serve it), and this
 * program is the one that links the storage code. Its master already runs
 * a periodic job in a child of its own, under an advisory lock that makes
 * one run at a time across hosts (srv_periodic_lock()): so at most one
 * builder runs anywhere, and a row it finds 'running' is a run that died
 * (export_recover(), functions/export.sql).
 *
 * The archive (zipw.h, a streamed stored ZIP) is written into a temporary
 * file of the storage directory (unnamed where the file system allows:
 * a builder killed mid-way leaves nothing), read from the database a page
 * at a time and from storage a chunk at a time, so the builder's memory
 * stays flat however large the account:
 *	profile.json		GET /api/users/me's User, with "settings"
 *	chats.json		GET /api/chats's answer
 *	messages/<chat>.json	every message the user can see, oldest first,
 *				as GET /api/chats/{id}/messages shows them
 *	files/<id>-<name>	the files of those messages
 *	index.html		the same to read offline: no script, text
 *				escaped, links to the files above
 * Then its files row is committed (the export still 'running'), the bytes
 * published under their key, and only then is the export 'ready' (event
 * export.ready to the user's sockets, and a mail): no reader ever sees a
 * half-written archive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "files.h"
#include "log.h"
#include "reply.h"
#include "sqlparam.h"
#include "storage.h"
#include "zipw.h"

/* Messages and files are read this many at a time. */
#define EXPORT_PAGE 500
#define EXPORT_CHAT_PAGE 200

/* ---- the requests ---------------------------------------------------------- */

/* Answers stmt's api_reply row, run with the caller and their session. */
static void reply_caller(struct http_req *req, struct db_stmt *stmt)
{
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req)};
	reply_send(req, db_exec(stmt, params));
}

void handle_export_request(struct http_req *req)
{
	DB_STMT(export_request, 2,
		"SELECT status, body, event_id FROM export_request(live_session_user($1, $2))");
	reply_caller(req, &export_request);
}

void handle_export_get(struct http_req *req)
{
	DB_STMT(export_get, 2,
		"SELECT status, body, event_id FROM export_get(live_session_user($1, $2))");
	reply_caller(req, &export_get);
}

void handle_export_discard(struct http_req *req)
{
	DB_STMT(export_discard, 2,
		"SELECT unnest(export_discard(live_session_user($1, $2)))");
	if (!http_require_user(req))
		return;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req)};
	PGresult *res = db_exec(&export_discard, params);
	if (!db_ok(res)) {
		reply_db_problem(req, res);
		return;
	}
	http_send(req, 204, NULL, NULL, 0);
	/* After the commit, as every removal (storage.h). */
	for (int i = 0; i < PQntuples(res); i++)
		(void)storage_purge(0, strtoll(PQgetvalue(res, i, 0), NULL, 10), 1);
	PQclear(res);
}

/* ---- the builder ----------------------------------------------------------- */

struct build {
	int64_t id, user;
	char uid[SQLPARAM_INT_LEN];
	struct zipw *zip;
	time_t now;
	long long files, file_bytes;
};

static enum msgr_err put(struct build *b, const char *s, size_t len)
{
	return zipw_write(b->zip, s, len);
}

static enum msgr_err put_str(struct build *b, const char *s)
{
	return put(b, s, strlen(s));
}

static enum msgr_err zip_sink(void *arg, const void *data, size_t len)
{
	struct build *b = arg;
	b->file_bytes += (long long)len;
	return zipw_write(b->zip, data, len);
}

/* A statement of one text value (profile.json, chats.json, the head of
 * index.html) as a whole entry, or appended to the open one (name NULL). */
static enum msgr_err put_value(struct build *b, const char *name, struct db_stmt *stmt,
			       const char **params)
{
	PGresult *res = db_exec(stmt, params);
	enum msgr_err err = MSGR_ERR_DB;
	if (db_ok(res) && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		err = name ? zipw_begin(b->zip, name, b->now) : MSGR_OK;
		if (err == MSGR_OK)
			err = put(b, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	} else {
		log_error("export %lld: %s", (long long)b->id,
			  res ? PQresultErrorMessage(res) : "no database");
	}
	PQclear(res);
	return err;
}

/* One row of a page of a keyset-paged export statement. */
typedef enum msgr_err (*row_fn)(struct build *b, PGresult *res, int row, void *arg);

/* Every row of stmt, page rows at a time, to fn. The statement takes the
 * user, then chat when it is nonzero, then the key to start after and the
 * page size; its column 0 is the key (rows never loaded whole: memory
 * stays flat however large the account). what names it in the log. */
static enum msgr_err each_row(struct build *b, struct db_stmt *stmt, int64_t chat, int page,
			      row_fn fn, void *arg, const char *what)
{
	char c[SQLPARAM_INT_LEN], a[SQLPARAM_INT_LEN], lim[SQLPARAM_INT_LEN];
	int64_t after = 0;
	for (;;) {
		const char *params[4] = {b->uid};
		int k = 1;
		if (chat)
			params[k++] = sqlparam_int(c, chat);
		params[k++] = sqlparam_int(a, after);
		params[k] = sqlparam_int(lim, page);
		PGresult *res = db_exec(stmt, params);
		if (!db_ok(res)) {
			log_error("export %lld: %s: %s", (long long)b->id, what,
				  res ? PQresultErrorMessage(res) : "no database");
			PQclear(res);
			return MSGR_ERR_DB;
		}
		int n = PQntuples(res);
		enum msgr_err err = MSGR_OK;
		for (int i = 0; i < n && err == MSGR_OK; i++) {
			after = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			err = fn(b, res, i, arg);
		}
		PQclear(res);
		if (err != MSGR_OK || n < page)
			return err;
	}
}

/* Column col of export_messages() (1: JSON, 2: HTML), each after sep but
 * the first. */
struct message_text {
	int col;
	const char *sep;
	bool first;
};

static enum msgr_err message_row(struct build *b, PGresult *res, int row, void *arg)
{
	struct message_text *m = arg;
	enum msgr_err err = m->first ? MSGR_OK : put_str(b, m->sep);
	m->first = false;
	if (err == MSGR_OK)
		err = put(b, PQgetvalue(res, row, m->col), (size_t)PQgetlength(res, row, m->col));
	return err;
}

/* Every message of chat the user sees, as message_text says. */
static enum msgr_err put_messages(struct build *b, int64_t chat, int col, const char *sep)
{
	DB_STMT(export_messages, 4, "SELECT id, json, html FROM export_messages($1, $2, $3, $4)");
	struct message_text m = {col, sep, true};
	return each_row(b, &export_messages, chat, EXPORT_PAGE, message_row, &m, "messages");
}

struct per_chat {
	enum msgr_err (*fn)(struct build *, int64_t);
};

static enum msgr_err chat_row(struct build *b, PGresult *res, int row, void *arg)
{
	const struct per_chat *p = arg;
	return p->fn(b, strtoll(PQgetvalue(res, row, 0), NULL, 10));
}

/* For each chat of the archive, fn. */
static enum msgr_err each_chat(struct build *b, enum msgr_err (*fn)(struct build *, int64_t))
{
	DB_STMT(export_chats, 3, "SELECT export_chat_ids($1, $2, $3)");
	struct per_chat p = {fn};
	return each_row(b, &export_chats, 0, EXPORT_CHAT_PAGE, chat_row, &p, "chats");
}

static enum msgr_err chat_json(struct build *b, int64_t chat)
{
	char name[64];
	snprintf(name, sizeof name, "messages/%lld.json", (long long)chat);
	enum msgr_err err = zipw_begin(b->zip, name, b->now);
	if (err == MSGR_OK)
		err = put_str(b, "[");
	if (err == MSGR_OK)
		err = put_messages(b, chat, 1, ",\n");
	if (err == MSGR_OK)
		err = put_str(b, "]\n");
	return err;
}

static enum msgr_err chat_html(struct build *b, int64_t chat)
{
	DB_STMT(export_html_chat, 2, "SELECT export_html_chat($2, $1)");
	char c[SQLPARAM_INT_LEN];
	const char *params[] = {b->uid, sqlparam_int(c, chat)};
	enum msgr_err err = put_value(b, NULL, &export_html_chat, params);
	if (err == MSGR_OK)
		err = put_messages(b, chat, 2, "\n");
	return err;
}

/* files/<id>-<name>: the bytes of every file of the messages. */
static enum msgr_err file_row(struct build *b, PGresult *res, int row, void *arg)
{
	(void)arg;
	enum msgr_err err = zipw_begin(b->zip, PQgetvalue(res, row, 2), b->now);
	if (err == MSGR_OK)
		err = storage_read(PQgetvalue(res, row, 1), zip_sink, b);
	if (err == MSGR_OK)
		b->files++;
	return err;
}

static enum msgr_err put_files(struct build *b)
{
	DB_STMT(export_files, 3, "SELECT id, storage_key, path FROM export_files($1, $2, $3)");
	return each_row(b, &export_files, 0, EXPORT_PAGE, file_row, NULL, "files");
}

/* The archive of export b into the open file fd. */
static enum msgr_err write_archive(struct build *b, int fd)
{
	DB_STMT(export_profile, 1, "SELECT export_profile($1)::text");
	DB_STMT(export_chat_list, 1, "SELECT (chat_list($1)).body::text");
	DB_STMT(export_html_head, 1, "SELECT export_html_head($1)");
	const char *params[] = {b->uid};
	enum msgr_err err = zipw_open(fd, &b->zip);
	if (err != MSGR_OK)
		return err;
	if ((err = put_value(b, "profile.json", &export_profile, params)) == MSGR_OK &&
	    (err = put_value(b, "chats.json", &export_chat_list, params)) == MSGR_OK &&
	    (err = each_chat(b, chat_json)) == MSGR_OK && (err = put_files(b)) == MSGR_OK &&
	    (err = put_value(b, "index.html", &export_html_head, params)) == MSGR_OK &&
	    (err = each_chat(b, chat_html)) == MSGR_OK &&
	    (err = put_str(b, "</body></html>\n")) == MSGR_OK) {
		err = zipw_finish(b->zip);
		b->zip = NULL;
		return err;
	}
	zipw_free(b->zip);
	b->zip = NULL;
	return err;
}

/* The peak of this process's resident memory (VmHWM), in kB; -1 unknown.
 * Logged with each export: the builder's memory must stay flat whatever
 * the account's size (tests/integration/test_export.py reads it). */
static long peak_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return -1;
	char line[256];
	long kb = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void record_failure(struct build *b, const char *why)
{
	DB_STMT(export_failed, 2, "SELECT export_failed($1, $2)");
	char id[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(id, b->id), why};
	PQclear(db_exec(&export_failed, params));
	log_error("export %lld of user %lld failed: %s", (long long)b->id, (long long)b->user, why);
}

/* Builds export id of user, start to end. */
static void build(int64_t id, int64_t user)
{
	DB_STMT(export_stored, 3, "SELECT export_stored($1, $2, $3)");
	DB_STMT(export_ready, 2, "SELECT export_ready($1, rtrim($2, '/'))");
	struct build b = {.id = id, .user = user, .now = time(NULL)};
	sqlparam_int(b.uid, user);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char key[STORAGE_KEY_LEN + 1];
	int fd = -1;
	if (storage_new_key(key) != MSGR_OK || storage_create_temp(key, &fd) != MSGR_OK) {
		record_failure(&b, "could not create the archive's file");
		return;
	}
	enum msgr_err err = write_archive(&b, fd);
	struct stat st;
	if (err == MSGR_OK && (err = storage_sync(fd)) == MSGR_OK && fstat(fd, &st) != 0)
		err = MSGR_ERR_IO;
	if (err != MSGR_OK) {
		storage_remove_temp(key, fd);
		record_failure(&b, msgr_strerror(err));
		return;
	}
	char eid[SQLPARAM_INT_LEN], size[SQLPARAM_INT_LEN];
	const char *stored_params[] = {sqlparam_int(eid, id), key, sqlparam_int(size, st.st_size)};
	PGresult *res = db_exec(&export_stored, stored_params);
	if (!db_ok(res) || PQgetisnull(res, 0, 0)) {
		/* Discarded meanwhile, or the account deleted: nobody wants it. */
		if (!db_ok(res))
			log_error("export %lld: %s", (long long)id,
				  res ? PQresultErrorMessage(res) : "no database");
		PQclear(res);
		storage_remove_temp(key, fd);
		return;
	}
	int64_t file_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	const char *keys[] = {key};
	if (storage_publish(keys, &fd, 1) != MSGR_OK) {
		/* export_failed() marks its row deleted (a crash before it:
		 * export_recover() at the next run). */
		record_failure(&b, "could not store the archive");
		return;
	}
	const char *ready_params[] = {eid, config_str("MSGR_PUBLIC_URL", "http://localhost:8080")};
	res = db_exec(&export_ready, ready_params);
	if (!db_ok(res)) {
		log_error("export %lld: %s", (long long)id, res ? PQresultErrorMessage(res) : "no database");
		PQclear(res);
		return;
	}
	/* wsd hears of the event at once, as of every other. */
	if (!PQgetisnull(res, 0, 0))
		db_notify_events(PQgetvalue(res, 0, 0));
	PQclear(res);
	/* The user's older archive, if any, was marked deleted by
	 * export_ready(). */
	(void)storage_purge(0, 0, 100);
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("export %lld of user %lld ready: file %lld, %lld bytes, %lld files (%lld bytes) "
		 "in %.1f s; peak memory %ld kB",
		 (long long)id, (long long)user, (long long)file_id, (long long)st.st_size, b.files,
		 b.file_bytes, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
		 peak_rss_kb());
}

void export_run(void)
{
	DB_STMT(export_recover, 0, "SELECT export_recover()");
	DB_STMT(export_claim, 0, "SELECT id, user_id FROM export_claim()");
	DB_STMT(export_expire, 0, "SELECT export_expire()");
	PGresult *res = db_exec(&export_recover, NULL);
	if (db_ok(res) && strcmp(PQgetvalue(res, 0, 0), "0"))
		log_info("%s exports whose builder stopped are to be made again",
			 PQgetvalue(res, 0, 0));
	PQclear(res);
	for (;;) {
		res = db_exec(&export_claim, NULL);
		if (!db_ok(res) || PQntuples(res) != 1) {
			PQclear(res);
			break;
		}
		int64_t id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		int64_t user = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		PQclear(res);
		build(id, user);
	}
	res = db_exec(&export_expire, NULL);
	if (db_ok(res) && strcmp(PQgetvalue(res, 0, 0), "0")) {
		log_info("%s exports expired", PQgetvalue(res, 0, 0));
		while (storage_purge(0, 0, 100) > 0)
			;
	}
	PQclear(res);
}
