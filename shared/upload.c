#include "upload.h"

#include <errno.h>
#include <inttypes.h>
#include <magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "multipart.h"
#include "reply.h"
#include "sqlparam.h"
#include "utf8.h"
#include "valid.h"

/* The body is read this much at a time, into a static buffer: the only
 * memory an upload needs beside the parser's fixed state. */
#define UPLOAD_CHUNK (64 * 1024)
/* Long enough for a Content-Disposition with a 255-byte name written as
 * filename* (three bytes per byte). */
#define UPLOAD_HEADER_LINE 4096
#define UPLOAD_DEFAULT_FILE_SIZE (25L * 1024 * 1024)
#define UPLOAD_DEFAULT_FILES 10
#define UPLOAD_DEFAULT_QUOTA_MB 2048

static magic_t magic_cookie;

int upload_init(void)
{
	if (!magic_cookie) {
		magic_cookie = magic_open(MAGIC_MIME_TYPE);
		if (!magic_cookie) {
			log_error("could not open libmagic: %s", strerror(errno));
			return -1;
		}
		if (magic_load(magic_cookie, NULL) != 0) {
			log_error("could not load the libmagic database: %s",
				  magic_error(magic_cookie));
			magic_close(magic_cookie);
			magic_cookie = NULL;
			return -1;
		}
		/* libmagic looks at no more than it is given; say so, so that
		 * no test of its own reads further. */
		size_t max = UPLOAD_MAGIC_BYTES;
		(void)magic_setparam(magic_cookie, MAGIC_PARAM_BYTES_MAX, &max);
	}
	return storage_init() == MSGR_OK ? 0 : -1;
}

uint64_t upload_max_file_size(void)
{
	return (uint64_t)config_int("MSGR_MAX_FILE_SIZE", UPLOAD_DEFAULT_FILE_SIZE, 1,
				    1024L * 1024 * 1024);
}

size_t upload_max_files(void)
{
	return (size_t)config_int("MSGR_MAX_FILES", UPLOAD_DEFAULT_FILES, 1, 100);
}

uint64_t upload_user_quota(void)
{
	/* At most 1 PiB: the bytes then still fit a bigint with room to add. */
	return (uint64_t)config_int("MSGR_USER_QUOTA_MB", UPLOAD_DEFAULT_QUOTA_MB, 0,
				    1L << 30) * 1024 * 1024;
}

const char *upload_quota_param(char buf[SQLPARAM_INT_LEN])
{
	uint64_t q = upload_user_quota();
	return q ? sqlparam_int(buf, (int64_t)q) : NULL;
}

/* ---- names ----------------------------------------------------------------- */

/* Code points a name never keeps: controls (C0, DEL, C1), and the
 * invisible ones that reorder or hide text ("evil\u202Etxt.exe"). */
static bool dropped_code_point(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0xfeff;
}

const char *upload_clean_name(struct arena *a, const char *s, size_t len, size_t *out_len)
{
	/* The last path segment only. */
	for (size_t i = len; i > 0; i--) {
		if (s[i - 1] == '/' || s[i - 1] == '\\') {
			s += i;
			len -= i;
			break;
		}
	}
	/* Each input byte becomes at most three (U+FFFD). */
	char *out = arena_alloc(a, 3 * len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t l = utf8_decode(s + i, len - i, &cp);
		if (l == 0) {
			memcpy(out + n, "\xef\xbf\xbd", 3);
			n += 3;
			i++;
			continue;
		}
		if (!dropped_code_point(cp)) {
			memcpy(out + n, s + i, l);
			n += l;
		}
		i += l;
	}
	/* Then the quotes, so that no "%22" is left to read a second time. */
	size_t w = 0;
	for (size_t r = 0; r < n; w++) {
		if (n - r >= 3 && out[r] == '%' && out[r + 1] == '2' && out[r + 2] == '2') {
			out[w] = '"';
			r += 3;
		} else {
			out[w] = out[r++];
		}
	}
	n = w;
	const char *t = out;
	utf8_trim(&t, &n);
	if (n > UPLOAD_NAME_MAX) {
		/* Keep a short extension: "long…name.pdf" stays a PDF. */
		size_t ext = 0;
		for (size_t j = n; j > 1 && n - j < 16; j--) {
			if (t[j - 1] == '.') {
				ext = n - (j - 1);
				break;
			}
		}
		size_t base = utf8_char_start(t, UPLOAD_NAME_MAX - ext);
		char *cut = arena_alloc(a, base + ext + 1);
		memcpy(cut, t, base);
		memcpy(cut + base, t + n - ext, ext);
		t = cut;
		n = base + ext;
		utf8_trim(&t, &n);
	}
	if (n == 0 || (n == 1 && t[0] == '.') || (n == 2 && t[0] == '.' && t[1] == '.')) {
		t = "file";
		n = 4;
	}
	*out_len = n;
	return arena_strndup(a, t, n);
}

/* ---- receiving -------------------------------------------------------------- */

struct receive {
	struct http_req *req;
	const struct upload_opts *opts;
	struct upload *up;
	struct upload_file *file;   /* the file being written, or NULL */
	bool empty_filename;        /* its part said filename="" */
	struct upload_field *field; /* the plain field being read, or NULL */
	char *field_data;
	size_t field_len;
	size_t head_len; /* bytes of the current file in head[] */
	bool quota;      /* the caller has a storage quota: */
	uint64_t room;   /* what it leaves for this request's files */
	uint64_t stored; /* the bytes of this request's files so far */
	/* The problem a callback chose when it stopped the parser. */
	int status;
	const char *code;
	const char *bad_field; /* for a 422 */
	char detail[200];
};

/* The first bytes of the current file, for libmagic. */
static char head[UPLOAD_MAGIC_BYTES];

static enum msgr_err stop(struct receive *rc, int status, const char *code, enum msgr_err err,
			  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum msgr_err stop(struct receive *rc, int status, const char *code, enum msgr_err err,
			  const char *fmt, ...)
{
	rc->status = status;
	rc->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rc->detail, sizeof rc->detail, fmt, ap);
	va_end(ap);
	return err;
}

/* A failed write or create: a full disk is 507, the rest 500. */
static enum msgr_err storage_failed(struct receive *rc, int errnum)
{
	if (errnum == ENOSPC || errnum == EDQUOT)
		return stop(rc, 507, "insufficient_storage", MSGR_ERR_IO,
			    "the server has no room for this upload");
	return stop(rc, 500, "storage_failed", MSGR_ERR_IO, "the upload could not be stored");
}

static enum msgr_err quota_exceeded(struct receive *rc)
{
	return stop(rc, 413, "quota_exceeded", MSGR_ERR_LIMIT,
		    "your files may take at most %" PRIu64 " bytes of storage; %" PRIu64
		    " are left",
		    upload_user_quota(), rc->room);
}

/*
 * Reads what the caller's quota leaves (rc->room) and refuses a body that
 * says it is longer, before reading it. Returns false when it answered.
 */
static bool check_quota(struct receive *rc)
{
	DB_STMT(storage_used, 2, "SELECT user_storage_bytes(live_session_user($1, $2))");
	struct http_req *req = rc->req;
	uint64_t quota = upload_user_quota();
	if (!quota || req->user_id <= 0)
		return true;
	char uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(uid, req->user_id), http_session_param(req)};
	PGresult *res = db_exec(&storage_used, params);
	if (!db_ok(res)) {
		http_discard_body(req);
		reply_db_problem(req, res);
		return false;
	}
	uint64_t used = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	rc->quota = true;
	rc->room = used < quota ? quota - used : 0;
	const char *cl = http_param(req, "CONTENT_LENGTH");
	if (cl && *cl && strtoull(cl, NULL, 10) > rc->room) {
		http_discard_body(req);
		(void)quota_exceeded(rc);
		http_problem(req, 413, rc->code, "%s", rc->detail);
		return false;
	}
	return true;
}

static bool is_file_part(const struct mp_part *part)
{
	return part->name_len == 4 && !memcmp(part->name, "file", 4);
}

static enum msgr_err on_begin(void *ctx, const struct mp_part *part)
{
	struct receive *rc = ctx;
	if (is_file_part(part)) {
		struct upload *up = rc->up;
		if (up->nfiles == rc->opts->max_files)
			return stop(rc, 413, "too_many_files", MSGR_ERR_LIMIT,
				    "a request may carry at most %zu file%s", rc->opts->max_files,
				    rc->opts->max_files == 1 ? "" : "s");
		struct upload_file *f = &up->files[up->nfiles];
		*f = (struct upload_file){.fd = -1};
		if (storage_new_key(f->key) != MSGR_OK)
			return storage_failed(rc, 0);
		if (storage_create_temp(f->key, &f->fd) != MSGR_OK)
			return storage_failed(rc, errno);
		up->nfiles++; /* from now on upload_discard() removes it */
		rc->file = f;
		rc->empty_filename = part->filename && part->filename_len == 0;
		f->name = upload_clean_name(rc->req->arena, part->filename ? part->filename : "",
					    part->filename ? part->filename_len : 0, &f->name_len);
		rc->head_len = 0;
		return MSGR_OK;
	}
	if (part->filename) {
		rc->bad_field = arena_strndup(rc->req->arena, part->name, part->name_len);
		return stop(rc, 422, "validation_failed", MSGR_ERR_MALFORMED,
			    "files go in parts named \"file\"");
	}
	for (size_t i = 0; i < rc->opts->nfields; i++) {
		struct upload_field *fl = &rc->opts->fields[i];
		if (fl->present || strlen(fl->name) != part->name_len ||
		    memcmp(fl->name, part->name, part->name_len))
			continue;
		rc->field = fl;
		rc->field_data = arena_alloc(rc->req->arena, fl->max_bytes + 1);
		rc->field_len = 0;
		break;
	}
	return MSGR_OK;
}

static enum msgr_err write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return MSGR_ERR_IO;
		}
		data += n;
		len -= (size_t)n;
	}
	return MSGR_OK;
}

static enum msgr_err on_data(void *ctx, const struct mp_part *part, const char *data,
			     size_t len)
{
	struct receive *rc = ctx;
	if (rc->file) {
		struct upload_file *f = rc->file;
		if (len > rc->opts->max_file_size - f->size)
			return stop(rc, 413, "file_too_large", MSGR_ERR_TOO_LARGE,
				    "a file may have at most %" PRIu64 " bytes",
				    rc->opts->max_file_size);
		if (rc->quota && len > rc->room - rc->stored)
			return quota_exceeded(rc);
		rc->stored += len;
		f->size += len;
		if (rc->head_len < sizeof head) {
			size_t take = sizeof head - rc->head_len;
			take = take < len ? take : len;
			memcpy(head + rc->head_len, data, take);
			rc->head_len += take;
		}
		if (write_all(f->fd, data, len) != MSGR_OK) {
			int e = errno;
			log_error("could not write upload %s: %s", f->key, strerror(e));
			return storage_failed(rc, e);
		}
		return MSGR_OK;
	}
	if (rc->field) {
		if (len > rc->field->max_bytes - rc->field_len) {
			rc->bad_field = rc->field->name;
			return stop(rc, 422, "validation_failed", MSGR_ERR_TOO_LARGE,
				    "is longer than %zu bytes", rc->field->max_bytes);
		}
		memcpy(rc->field_data + rc->field_len, data, len);
		rc->field_len += len;
	}
	(void)part;
	return MSGR_OK;
}

/* The detected type, when it is a plain "type/subtype" token pair that can
 * go into a header as it is; application/octet-stream otherwise. */
static const char *detect_mime(struct arena *a, size_t len)
{
	const char *m = magic_buffer(magic_cookie, head, len);
	if (!m)
		return "application/octet-stream";
	size_t n = strlen(m), slashes = 0;
	for (size_t i = 0; i < n; i++) {
		char c = m[i];
		if (c == '/')
			slashes++;
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			   (c >= 'A' && c <= 'Z') || strchr("!#$&^_.+-", c)))
			return "application/octet-stream";
	}
	if (slashes != 1 || n > 127 || m[0] == '/' || m[n - 1] == '/')
		return "application/octet-stream";
	return arena_strndup(a, m, n);
}

static enum msgr_err on_end(void *ctx, const struct mp_part *part)
{
	struct receive *rc = ctx;
	(void)part;
	if (rc->file) {
		struct upload *up = rc->up;
		struct upload_file *f = rc->file;
		rc->file = NULL;
		if (storage_sync(f->fd) != MSGR_OK)
			return storage_failed(rc, errno);
		if (rc->empty_filename && f->size == 0) {
			/* A file input left empty: no file. */
			storage_remove_temp(f->key, f->fd);
			f->fd = -1;
			up->nfiles--;
			return MSGR_OK;
		}
		f->mime = detect_mime(rc->req->arena, rc->head_len);
		return MSGR_OK;
	}
	if (rc->field) {
		rc->field_data[rc->field_len] = '\0';
		rc->field->value = rc->field_data;
		rc->field->len = rc->field_len;
		rc->field->present = true;
		rc->field = NULL;
	}
	return MSGR_OK;
}

/* Answers the problem of a failed parse. */
static void answer_failure(struct receive *rc, struct mp_parser *p, enum msgr_err err)
{
	struct http_req *req = rc->req;
	if (rc->status == 422 && rc->bad_field) {
		struct field_errors errs = {0};
		field_errors_add(&errs, rc->bad_field, rc->detail);
		http_problem_fields(req, &errs);
		field_errors_free(&errs);
	} else if (rc->status) {
		http_problem(req, rc->status, rc->code, "%s", rc->detail);
	} else {
		int status = mp_error_status(err);
		const char *detail = p ? mp_error_detail(p) : "";
		const char *code = status == 413   ? "multipart_limit"
				   : status == 415 ? "unsupported_encoding"
				   : status == 400 ? "malformed_multipart"
						   : "internal_error";
		if (status == 500) {
			log_error("multipart upload failed: %s", msgr_strerror(err));
			detail = "the upload could not be read";
		}
		http_problem(req, status, code, "the multipart body is not acceptable: %s",
			     *detail ? detail : msgr_strerror(err));
	}
}

bool upload_receive(struct http_req *req, const struct upload_opts *opts, struct upload *up)
{
	static char chunk[UPLOAD_CHUNK];
	*up = (struct upload){0};
	for (size_t i = 0; i < opts->nfields; i++) {
		opts->fields[i].present = false;
		opts->fields[i].value = NULL;
		opts->fields[i].len = 0;
	}
	const char *ct = http_header(req, "Content-Type");
	const char *b;
	size_t blen;
	enum msgr_err err = ct ? mp_boundary_from_content_type(ct, strlen(ct), &b, &blen)
			       : MSGR_ERR_UNSUPPORTED;
	if (err != MSGR_OK) {
		http_discard_body(req);
		if (err == MSGR_ERR_UNSUPPORTED)
			http_problem(req, 415, "unsupported_media_type",
				     "send the files as multipart/form-data");
		else
			http_problem(req, 400, "malformed_multipart",
				     "the multipart/form-data Content-Type has no usable boundary");
		return false;
	}
	if (upload_init() != 0) {
		http_discard_body(req);
		http_problem(req, 500, "storage_failed", "the upload could not be stored");
		return false;
	}
	up->files = arena_alloc(req->arena, (opts->max_files ? opts->max_files : 1) *
						    sizeof *up->files);
	struct receive rc = {.req = req, .opts = opts, .up = up};
	if (!check_quota(&rc))
		return false;
	static const struct mp_callbacks cb = {on_begin, on_data, on_end};
	struct mp_limits lim = {
		.max_header_line = UPLOAD_HEADER_LINE,
		.max_parts = opts->max_files + opts->nfields + 8,
	};
	struct mp_parser *p = NULL;
	err = mp_parser_new(b, blen, &lim, &cb, &rc, &p);
	bool read_failed = false;
	if (err == MSGR_OK) {
		long n;
		do {
			n = http_read_some(req, chunk, sizeof chunk);
			if (n < 0)
				read_failed = true;
			else if (n > 0)
				err = mp_feed(p, chunk, (size_t)n);
		} while (err == MSGR_OK && n == (long)sizeof chunk);
		if (err == MSGR_OK && !read_failed)
			err = mp_finish(p);
	}
	if (err == MSGR_OK && !read_failed) {
		mp_parser_free(p);
		return true;
	}
	upload_discard(up);
	http_discard_body(req);
	if (read_failed && err == MSGR_OK)
		http_problem(req, 400, "body_truncated", "the request body ended early");
	else
		answer_failure(&rc, p, err);
	mp_parser_free(p);
	return false;
}

enum msgr_err upload_publish(struct upload *up)
{
	const char *keys[up->nfiles ? up->nfiles : 1];
	int fds[up->nfiles ? up->nfiles : 1];
	for (size_t i = 0; i < up->nfiles; i++) {
		keys[i] = up->files[i].key;
		fds[i] = up->files[i].fd;
		up->files[i].fd = -1; /* storage_publish() closes them */
	}
	enum msgr_err err = storage_publish(keys, fds, up->nfiles);
	/* Even a partly failed publish leaves some files under their keys. */
	up->published = true;
	return err;
}

void upload_discard(struct upload *up)
{
	for (size_t i = 0; i < up->nfiles; i++) {
		storage_remove_temp(up->files[i].key, up->files[i].fd);
		up->files[i].fd = -1;
		if (up->published)
			storage_remove(up->files[i].key);
	}
	up->nfiles = 0;
}

void upload_sql_arrays(struct arena *a, const struct upload *up, const char *out[4])
{
	struct buf b[4] = {{0}};
	for (int k = 0; k < 4; k++)
		buf_putc(&b[k], '{');
	for (size_t i = 0; i < up->nfiles; i++) {
		const struct upload_file *f = &up->files[i];
		if (i)
			for (int k = 0; k < 4; k++)
				buf_putc(&b[k], ',');
		buf_pg_array_str(&b[0], f->name, f->name_len);
		buf_printf(&b[1], "%" PRIu64, f->size);
		buf_pg_array_str(&b[2], f->mime, strlen(f->mime));
		buf_pg_array_str(&b[3], f->key, strlen(f->key));
	}
	for (int k = 0; k < 4; k++) {
		buf_putc(&b[k], '}');
		/* An allocation failure leaves "{" and the query fails cleanly. */
		out[k] = arena_strndup(a, buf_cstr(&b[k]), b[k].len);
		buf_free(&b[k]);
	}
}
