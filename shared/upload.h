/*
 * upload.h - a multipart/form-data request body streamed into storage.
 *
 * upload_receive() reads the body in fixed chunks, feeds the multipart
 * parser (multipart.h) and writes every part named "file" to a temporary
 * file of the storage directory (storage.h), so memory does not grow with
 * the size of the files. Each file is synced and closed when its part ends;
 * its MIME type comes from its first bytes (libmagic), its name is cleaned
 * (upload_clean_name) and its storage key is drawn by the server.
 *
 * Nothing is visible until the caller has put the rows in the files table
 * (files_add() in SQL, with the arrays of upload_sql_arrays()) and then
 * called upload_publish(), which renames the temporary files to their keys.
 * On any failure the caller calls upload_discard(), which removes what is
 * on disk, temporary or published: a failed request stores nothing.
 *
 * Everything is allocated in the request's arena. The files' descriptors
 * stay open until upload_publish() or upload_discard(), one of which the
 * caller must call after a successful upload_receive(): a file is unnamed
 * until published (storage.h), so a worker that dies meanwhile leaves
 * nothing on disk.
 */
#ifndef MSGR_UPLOAD_H
#define MSGR_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "http.h"
#include "sqlparam.h"
#include "storage.h"

/* The most bytes of a stored name (UTF-8). */
#define UPLOAD_NAME_MAX 255
/* How many first bytes of a file libmagic looks at. */
#define UPLOAD_MAGIC_BYTES (64 * 1024)

struct upload_file {
	char key[STORAGE_KEY_LEN + 1];
	int fd; /* open from its part until upload_publish() or upload_discard() */
	const char *name; /* cleaned, NUL-terminated */
	size_t name_len;
	uint64_t size;
	const char *mime; /* detected from the content */
};

/* A plain (non-file) field the caller wants; others are skipped. */
struct upload_field {
	const char *name; /* in */
	size_t max_bytes; /* in: over this the request is answered 422 */
	bool present;     /* out: the first occurrence wins */
	const char *value; /* out: NUL-terminated, not validated (may hold NUL) */
	size_t len;
};

struct upload_opts {
	size_t max_files;       /* parts named "file"; over is 413 */
	uint64_t max_file_size; /* bytes per file; over is 413 */
	struct upload_field *fields; /* may be NULL */
	size_t nfields;
};

struct upload {
	struct upload_file *files; /* nfiles of them */
	size_t nfiles;
	bool published;
};

/* Opens libmagic (once per process; later calls do nothing) and the
 * storage directory. For a program's init_worker: returns 0 or -1. */
int upload_init(void);

/* The limits from the configuration: MSGR_MAX_FILE_SIZE (bytes, default
 * 25 MiB) and MSGR_MAX_FILES (default 10). */
uint64_t upload_max_file_size(void);
size_t upload_max_files(void);
/* The storage quota of each user, MSGR_USER_QUOTA_MB (default 2048 MiB), in
 * bytes; 0 when it is off (MSGR_USER_QUOTA_MB=0). */
uint64_t upload_user_quota(void);
/* The quota as files_add()'s p_quota parameter: buf, or NULL when off. */
const char *upload_quota_param(char buf[SQLPARAM_INT_LEN]);

/*
 * Receives the request body into *up as described above. An empty file
 * input (a part with filename="" and no bytes, as browsers send) is not a
 * file. On failure answers the problem itself - 415 (not multipart), 400
 * (malformed), 413 (a limit), 422 (a field too long, a file part under
 * another name), 500 or 507 (storage) - with nothing left on disk, and
 * returns false. Zero files is not a failure here.
 *
 * For a signed-in caller (req->user_id) under a quota, the caller's storage
 * (user_storage_bytes() in SQL) is read first: a body whose Content-Length
 * alone would take it over the quota is answered 413 quota_exceeded before
 * any of it is stored, and one without a length is stopped there as soon
 * as its files' bytes do. The multipart framing counts in the first check
 * (a few hundred bytes), not in the second. files_add() checks again at
 * the commit, where concurrent uploads of one user are serialised.
 */
bool upload_receive(struct http_req *req, const struct upload_opts *opts, struct upload *up);

/* Renames the files to their keys: after their rows are committed. */
enum msgr_err upload_publish(struct upload *up) MSGR_WUR;

/* Removes the files of up from disk, whatever their state. */
void upload_discard(struct upload *up);

/*
 * PostgreSQL array literals of the files' names, sizes, MIME types and
 * storage keys, in order, as text parameters for files_add(): out[0..3].
 * Allocated in a.
 */
void upload_sql_arrays(struct arena *a, const struct upload *up, const char *out[4]);

/*
 * Makes a client's file name safe to store and to show (a new arena
 * string): only the last path segment (after '/' or '\'), "%22" read as '"'
 * (how browsers send a quote, RFC 7578 section 4.2), without control
 * characters, bidirectional overrides or invalid UTF-8 (replaced by
 * U+FFFD), trimmed, at most UPLOAD_NAME_MAX bytes cut at a character
 * boundary (keeping a short extension), and "file" when nothing is left.
 */
const char *upload_clean_name(struct arena *a, const char *s, size_t len, size_t *out_len);

#endif
