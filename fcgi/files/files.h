/*
 * files.h - the files program's handlers (API.md "Files" and the avatar
 * rows of "Auth and users").
 */
#ifndef MSGR_FILES_H
#define MSGR_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "http.h"

struct db_stmt;
struct upload;

/* upload.c */
void handle_upload(struct http_req *req);
void handle_upload_limits(struct http_req *req);
/* Puts the rows of up's files in the database with stmt (files_add() or a
 * function built on it), whose parameters are the caller's id, the four
 * arrays of upload_sql_arrays(), the caller's session and the storage quota
 * (upload_quota_param()). Returns the result (the caller PQclear()s
 * it); on failure answers the problem, removes the files from disk and
 * returns NULL. */
PGresult *files_store_rows(struct http_req *req, struct db_stmt *stmt, struct upload *up);

/* download.c */
void handle_download(struct http_req *req);
/* Builds a Content-Disposition value (RFC 6266) for a stored name: inline
 * or attachment, an ASCII filename fallback and filename* (RFC 5987) with
 * the UTF-8 name. Returns a new arena string. */
const char *files_disposition(struct arena *a, bool inline_, const char *name, size_t len);
/* True for the types shown inline: png, jpeg, gif and webp images. */
bool files_inline_type(const char *mime);
/* Checks the exp and sig query parameters of a signed file URL for id at
 * time now: MSGR_OK, MSGR_ERR_EXPIRED, or MSGR_ERR_CRYPTO (absent, malformed
 * or forged). */
enum msgr_err files_check_signature(struct http_req *req, int64_t id, long long now);

/* avatar.c */
void handle_put_avatar(struct http_req *req);
void handle_delete_avatar(struct http_req *req);

/* export.c: POST, GET and DELETE /api/users/me/export, and the builder,
 * run by the master's periodic job under its lock. */
void handle_export_request(struct http_req *req);
void handle_export_get(struct http_req *req);
void handle_export_discard(struct http_req *req);
void export_run(void);

/* Marks the rows of the given ids deleted and purges them: for files whose
 * rows were committed but whose bytes could not be published. */
void files_drop(struct http_req *req, const char *ids_literal);

#endif
