/*
 * GET /api/files/{id}: who may read a file, and the headers nginx sends
 * the bytes with. The bytes never pass through this program: the answer is
 * "X-Accel-Redirect: <MESSENGER_FILES_URI><storage key>" and nginx serves
 * the file (ranges, conditional requests, sendfile). nginx's configuration
 * says where its internal location is (messenger-fastcgi.conf): under the
 * prefix the app is mounted under, which this program never knows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "files.h"
#include "hex.h"
#include "log.h"
#include "reply.h"
#include "s3store.h"
#include "sqlparam.h"
#include "storage.h"
#include "token.h"
#include "utf8.h"

/* Signed URLs carry exp (seconds since the epoch) and sig, the hex
 * HMAC-SHA256 of "id:exp" with the server secret (file_url() in SQL). */
#define SIG_HEX_LEN (2 * TOKEN_HASH_LEN)
#define EXP_MAX_DIGITS 12

enum msgr_err files_check_signature(struct http_req *req, int64_t id, long long now)
{
	const char *exp, *sig;
	size_t exp_len, sig_len;
	if (!http_query(req, "exp", &exp, &exp_len) || !http_query(req, "sig", &sig, &sig_len))
		return MSGR_ERR_CRYPTO;
	if (exp_len == 0 || exp_len > EXP_MAX_DIGITS || sig_len != SIG_HEX_LEN ||
	    (exp[0] == '0'))
		return MSGR_ERR_CRYPTO;
	long long e = 0;
	for (size_t i = 0; i < exp_len; i++) {
		if (exp[i] < '0' || exp[i] > '9')
			return MSGR_ERR_CRYPTO;
		e = e * 10 + (exp[i] - '0');
	}
	char msg[64], want[SIG_HEX_LEN + 1];
	int n = snprintf(msg, sizeof msg, "%lld:%lld", (long long)id, e);
	token_hmac_hex(msg, (size_t)n, want);
	if (!token_equal(want, sig, SIG_HEX_LEN))
		return MSGR_ERR_CRYPTO;
	return e > now ? MSGR_OK : MSGR_ERR_EXPIRED;
}

bool files_inline_type(const char *mime)
{
	static const char *const shown[] = {"image/png", "image/jpeg", "image/gif", "image/webp"};
	for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++)
		if (!strcmp(mime, shown[i]))
			return true;
	return false;
}

/* RFC 5987 section 3.2.1: attr-char, what an ext-value holds unescaped. */
static bool is_attr_char(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL;
}

const char *files_disposition(struct arena *a, bool inline_, const char *name, size_t len)
{
	struct buf b = {0};
	buf_puts(&b, inline_ ? "inline" : "attachment");
	/* The fallback for clients without filename* (RFC 6266 section 4.3):
	 * printable ASCII only, with '_' for every other character and for the
	 * quote, backslash and percent sign, which clients read differently. */
	buf_puts(&b, "; filename=\"");
	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t n = utf8_decode(name + i, len - i, &c);
		if (n == 0)
			c = 0, n = 1; /* not UTF-8 (the database keeps only UTF-8) */
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '%')
			buf_putc(&b, '_');
		else
			buf_putc(&b, (char)c);
		i += n;
	}
	buf_puts(&b, "\"; filename*=UTF-8''");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (is_attr_char(c)) {
			buf_putc(&b, (char)c);
		} else {
			char esc[4] = "%";
			hex_encode_upper(esc + 1, &c, 1);
			buf_append(&b, esc, 3);
		}
	}
	const char *out = buf_status(&b) == MSGR_OK ? arena_strndup(a, b.data, b.len)
						    : (inline_ ? "inline" : "attachment");
	buf_free(&b);
	return out;
}

void handle_download(struct http_req *req)
{
	const char *files_uri = http_param(req, "MESSENGER_FILES_URI");
	if (!files_uri || files_uri[0] != '/') {
		log_error("download: nginx passes no MESSENGER_FILES_URI; render its snippets "
			  "again (scripts/render-nginx.sh) and reload it");
		http_problem(req, 500, "server_misconfigured",
			     "the server cannot send files: its nginx configuration is out of date");
		return;
	}
	/* A signed URL is a credential of its own: without a bearer token,
	 * user 0 and no session to check. */
	DB_STMT(find_file, 4,
		"SELECT storage_key, mime, name "
		"FROM file_for_download($1, live_session_user($2, $4), $3::boolean)");
	int64_t id = req->path_id[0];
	long long now = (long long)time(NULL);
	bool has_sig = strstr(req->query, "sig=") != NULL;
	enum msgr_err sig = has_sig ? files_check_signature(req, id, now) : MSGR_ERR_CRYPTO;
	if (sig != MSGR_OK && http_header(req, "Authorization")) {
		if (!http_require_user(req))
			return;
	} else if (sig == MSGR_ERR_EXPIRED) {
		http_problem(req, 403, "url_expired",
			     "this link has expired; fetch the file again for a fresh url");
		return;
	}
	char fid[SQLPARAM_INT_LEN], uid[SQLPARAM_INT_LEN];
	const char *params[] = {sqlparam_int(fid, id), sqlparam_int(uid, req->user_id),
				sig == MSGR_OK ? "true" : "false", http_session_param(req)};
	PGresult *res = db_exec(&find_file, params);
	if (!db_ok(res)) {
		reply_db_problem(req, res);
		return;
	}
	if (PQntuples(res) != 1 || !storage_key_valid(PQgetvalue(res, 0, 0),
						       (size_t)PQgetlength(res, 0, 0))) {
		PQclear(res);
		http_problem(req, 404, "file_not_found", "there is no such file");
		return;
	}
	const char *key = PQgetvalue(res, 0, 0);
	const char *mime = PQgetvalue(res, 0, 1);
	const char *name = PQgetvalue(res, 0, 2);
	bool show = files_inline_type(mime);
	const char *disposition =
		files_disposition(req->arena, show, name, (size_t)PQgetlength(res, 0, 2));
	/* A signed URL names one file until it expires: a browser may keep it
	 * that long, shared caches never (the URL is a credential). */
	const char *cache_control = "private, no-cache";
	if (sig == MSGR_OK) {
		long long exp = 0;
		const char *e;
		size_t elen;
		if (http_query(req, "exp", &e, &elen))
			exp = strtoll(e, NULL, 10);
		cache_control = arena_printf(req->arena, "private, max-age=%lld", exp - now);
	}
	if (s3store_enabled()) {
		/* nginx proxies a presigned GET of the object from its internal
		 * location (messenger-locations.conf, MESSENGER_S3_URI): same
		 * origin, the bucket stays private, and the store answers with
		 * the type, disposition and caching signed into the URL. */
		const char *s3_uri = http_param(req, "MESSENGER_S3_URI");
		struct buf target = {0};
		if (!s3_uri || s3_uri[0] != '/' ||
		    s3store_download_target(&target, strcmp(req->method, "HEAD") ? "GET" : "HEAD",
					    key, mime, disposition, cache_control) != MSGR_OK) {
			buf_free(&target);
			PQclear(res);
			log_error("download: no MESSENGER_S3_URI from nginx, or no presigned URL");
			http_problem(req, 500, "server_misconfigured",
				     "the server cannot send files: its nginx configuration is out of date");
			return;
		}
		http_add_header(req, "X-Accel-Redirect",
				arena_printf(req->arena, "%s%s", s3_uri, buf_cstr(&target)));
		/* Unused by that location, but http_send() then adds no
		 * "Cache-Control: no-store" of its own, which would survive the
		 * redirect beside the store's. */
		http_add_header(req, "X-Messenger-Cache-Control", cache_control);
		buf_free(&target);
		PQclear(res);
		http_send(req, 200, NULL, NULL, 0);
		return;
	}
	http_add_header(req, "X-Accel-Redirect", arena_printf(req->arena, "%s%s", files_uri, key));
	http_add_header(req, "Content-Type", mime);
	/* Not as Content-Disposition and Cache-Control: nginx would keep those
	 * on its own error answer for the file (a problem document saved under
	 * the file's name, kept as long as the file). Its location sets them
	 * from these on the bytes only (messenger-locations.conf). */
	http_add_header(req, "X-Messenger-Disposition", disposition);
	http_add_header(req, "X-Messenger-Cache-Control", cache_control);
	PQclear(res);
	http_send(req, 200, NULL, NULL, 0);
}
