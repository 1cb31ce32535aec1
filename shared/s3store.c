/*
 * s3store.c - stored files in an S3-compatible object store (see s3store.h).
 */
#include "s3store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "arena.h"
#include "config.h"
#include "log.h"
#include "s3sign.h"
#include "valid.h"

/* Connecting and the whole of a request: an upload of the largest file
 * over a slow link must fit (MSGR_S3_TIMEOUT). */
#define S3_CONNECT_TIMEOUT 10L
#define S3_DOWNLOAD_EXPIRES 60u
#define S3_KEY_MAX 256

static bool bucket_name_valid(const char *s, size_t len)
{
	/* S3's rules for new buckets: 3 to 63 of a-z 0-9 . -, beginning and
	 * ending with a letter or digit. */
	if (len < 3 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && ((c != '.' && c != '-') || i == 0 || i == len - 1))
			return false;
	}
	return true;
}

static bool endpoint_valid(const char *s)
{
	const char *rest = strncmp(s, "http://", 7) == 0    ? s + 7
			   : strncmp(s, "https://", 8) == 0 ? s + 8
							    : NULL;
	return rest && *rest && !strpbrk(rest, "/?#@ \t\r\n\\\"'");
}

enum msgr_err s3store_parse_url(const char *url, struct s3store_conf *conf, const char **why)
{
	memset(conf, 0, sizeof *conf);
	*why = NULL;
	if (strncmp(url, "s3://", 5) != 0) {
		*why = "does not begin with s3://";
		return MSGR_ERR_MALFORMED;
	}
	const char *bucket = url + 5;
	size_t blen = strcspn(bucket, "?/");
	if (!bucket_name_valid(bucket, blen)) {
		*why = "the bucket name is not one S3 takes (3 to 63 of a-z 0-9 . -)";
		return MSGR_ERR_MALFORMED;
	}
	memcpy(conf->bucket, bucket, blen);
	const char *q = bucket + blen;
	if (*q == '/' && (q[1] == '\0' || q[1] == '?'))
		q++;
	if (*q != '\0' && *q != '?') {
		*why = "has a path after the bucket (keys have no prefix)";
		return MSGR_ERR_MALFORMED;
	}
	struct arena *a = arena_new();
	if (!a)
		return MSGR_ERR_NOMEM;
	char endpoint[sizeof conf->endpoint] = "";
	bool path_style = false, seen[3] = {false, false, false};
	enum msgr_err err = MSGR_OK;
	if (*q == '?')
		q++;
	while (*q && err == MSGR_OK) {
		size_t plen = strcspn(q, "&");
		const char *eq = memchr(q, '=', plen);
		size_t nlen = eq ? (size_t)(eq - q) : plen;
		size_t vlen = eq ? plen - nlen - 1 : 0, dlen = 0;
		char *value = valid_percent_decode(a, eq ? eq + 1 : "", vlen, false, &dlen);
		int which = nlen == 8 && !memcmp(q, "endpoint", 8)     ? 0
			    : nlen == 6 && !memcmp(q, "region", 6)     ? 1
			    : nlen == 10 && !memcmp(q, "path_style", 10) ? 2
									 : -1;
		if (which < 0) {
			*why = "has an unknown parameter (endpoint, region, path_style)";
			err = MSGR_ERR_MALFORMED;
		} else if (seen[which]) {
			*why = "repeats a parameter";
			err = MSGR_ERR_MALFORMED;
		} else if (!value || strlen(value) != dlen) {
			*why = "has a parameter that is not percent-encoded text";
			err = MSGR_ERR_MALFORMED;
		} else if (which == 0) {
			while (dlen && value[dlen - 1] == '/')
				value[--dlen] = '\0';
			if (dlen >= sizeof endpoint || !endpoint_valid(value)) {
				*why = "endpoint is not http(s)://HOST[:PORT]";
				err = MSGR_ERR_MALFORMED;
			} else {
				memcpy(endpoint, value, dlen + 1);
			}
		} else if (which == 1) {
			bool ok = dlen > 0 && dlen < sizeof conf->region;
			for (size_t i = 0; ok && i < dlen; i++)
				ok = (value[i] >= 'a' && value[i] <= 'z') ||
				     (value[i] >= '0' && value[i] <= '9') || value[i] == '-';
			if (!ok) {
				*why = "region is not a region name (a-z 0-9 -)";
				err = MSGR_ERR_MALFORMED;
			} else {
				memcpy(conf->region, value, dlen + 1);
			}
		} else if (!strcmp(value, "1") || !strcmp(value, "0")) {
			path_style = value[0] == '1';
		} else {
			*why = "path_style is not 0 or 1";
			err = MSGR_ERR_MALFORMED;
		}
		if (which >= 0)
			seen[which] = true;
		q += plen;
		if (*q == '&')
			q++;
	}
	arena_free(a);
	if (err != MSGR_OK)
		return err;
	if (!conf->region[0])
		strcpy(conf->region, "us-east-1");
	if (!endpoint[0])
		snprintf(endpoint, sizeof endpoint, "https://s3.%s.amazonaws.com", conf->region);
	if (path_style) {
		memcpy(conf->endpoint, endpoint, sizeof endpoint);
		snprintf(conf->base_path, sizeof conf->base_path, "/%s", conf->bucket);
		return MSGR_OK;
	}
	/* Virtual-hosted style: the bucket is the first label of the host. */
	const char *host = strstr(endpoint, "://") + 3;
	if (strchr(conf->bucket, '.')) {
		*why = "a bucket name with dots needs path_style=1 (TLS names have one label)";
		return MSGR_ERR_MALFORMED;
	}
	int n = snprintf(conf->endpoint, sizeof conf->endpoint, "%.*s%s.%s",
			 (int)(host - endpoint), endpoint, conf->bucket, host);
	if (n < 0 || (size_t)n >= sizeof conf->endpoint) {
		*why = "endpoint is too long";
		return MSGR_ERR_MALFORMED;
	}
	return MSGR_OK;
}

/* ---- the process's store ------------------------------------------------ */

static int state = -1; /* -1 unread, 0 disk, 1 object store */
static struct s3store_conf conf;
static char *access_key, *secret_key;
static long request_timeout;
static curl_off_t part_size;
static CURL *curl;

static char *read_credentials_line(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);
	if (n <= 0) {
		free(line);
		return NULL;
	}
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static void load_credentials(void)
{
	const char *file = config_str("MSGR_S3_CREDENTIALS_FILE", NULL);
	if (file && *file) {
		FILE *f = fopen(file, "re");
		if (!f) {
			log_error("MSGR_S3_CREDENTIALS_FILE \"%s\": %s", file, strerror(errno));
			exit(1);
		}
		access_key = read_credentials_line(f);
		secret_key = read_credentials_line(f);
		fclose(f);
	} else {
		const char *ak = config_str("MSGR_S3_ACCESS_KEY", NULL);
		const char *sk = config_str("MSGR_S3_SECRET_KEY", NULL);
		access_key = ak ? strdup(ak) : NULL;
		secret_key = sk ? strdup(sk) : NULL;
	}
	if (!access_key || !*access_key || !secret_key || !*secret_key ||
	    strlen(secret_key) > S3SIGN_MAX_SECRET || strpbrk(access_key, ":/ ")) {
		log_error("MSGR_STORAGE_URL names an object store: set MSGR_S3_ACCESS_KEY and "
			  "MSGR_S3_SECRET_KEY, or MSGR_S3_CREDENTIALS_FILE (access key on the "
			  "first line, secret key on the second)");
		exit(1);
	}
}

bool s3store_enabled(void)
{
	if (state >= 0)
		return state == 1;
	const char *url = config_str("MSGR_STORAGE_URL", "");
	if (!*url) {
		/* The directory, MSGR_STORAGE_DIR, as before. */
		state = 0;
		return false;
	}
	const char *why = NULL;
	if (s3store_parse_url(url, &conf, &why) != MSGR_OK) {
		log_error("MSGR_STORAGE_URL: %s", why ? why : "out of memory");
		exit(1);
	}
	load_credentials();
	request_timeout = config_int("MSGR_S3_TIMEOUT", 300, 5, 24 * 3600);
	/* S3's parts are 5 MiB at least (but the last); a file up to one part
	 * goes in one PUT. */
	part_size = (curl_off_t)config_int("MSGR_S3_PART_MB", 16, 5, 5120) * 1024 * 1024;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("could not initialise libcurl");
		exit(1);
	}
	state = 1;
	return true;
}

/* One handle per process: its connections are kept alive between
 * requests. Reset before each request. */
static CURL *handle(void)
{
	if (!curl)
		curl = curl_easy_init();
	else
		curl_easy_reset(curl);
	return curl;
}

/* What an answer's body is kept for: the log of an error, or the XML of
 * a multipart upload's start and end. */
#define S3_REPLY_MAX 65536

static size_t keep_reply(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t len = size * n;
	if (b->len < S3_REPLY_MAX)
		buf_append(b, p, len < S3_REPLY_MAX - b->len ? len : S3_REPLY_MAX - b->len);
	return len;
}

/* The ETag header of a part's answer, quotes included, as the completion
 * names it. */
static size_t keep_etag(char *p, size_t size, size_t n, void *arg)
{
	struct buf *etag = arg;
	size_t len = size * n;
	if (len > 5 && !strncasecmp(p, "etag:", 5)) {
		const char *v = p + 5;
		const char *end = p + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		buf_reset(etag);
		buf_append(etag, v, (size_t)(end - v));
	}
	return len;
}

/* A request body: left bytes of fd from where it stands, or of mem. */
struct body {
	int fd;
	const char *mem;
	curl_off_t left;
};

static size_t read_body(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t want = size * n;
	if ((curl_off_t)want > b->left)
		want = (size_t)b->left;
	if (want == 0)
		return 0;
	if (b->mem) {
		memcpy(p, b->mem, want);
		b->mem += want;
		b->left -= (curl_off_t)want;
		return want;
	}
	ssize_t got;
	do
		got = read(b->fd, p, want);
	while (got < 0 && errno == EINTR);
	if (got <= 0) /* the temporary file shorter than it was: never send less */
		return CURL_READFUNC_ABORT;
	b->left -= got;
	return (size_t)got;
}

/* Where a GET's body goes as it comes (s3store_get): the sink, once the
 * answer is a 200; an error answer's body goes to reply, for the log. */
struct get_sink {
	CURL *c;
	s3store_sink fn;
	void *arg;
	struct buf *reply;
	enum msgr_err err; /* the sink's, which stopped the transfer */
};

static size_t write_sink(char *p, size_t size, size_t n, void *arg)
{
	struct get_sink *s = arg;
	size_t len = size * n;
	long status = 0;
	curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		return keep_reply(p, size, n, s->reply);
	s->err = s->fn(s->arg, p, len);
	return s->err == MSGR_OK ? len : 0; /* 0 aborts the transfer */
}

/* Sends one request for key (query: "" or "name=value&...", already in
 * SigV4's canonical order and encoding, which libcurl 7.88 signs as it is
 * given); returns the HTTP status, or -1 when it could not be sent
 * (logged). reply and etag, when not NULL, receive the answer's body and
 * ETag; sink, when not NULL, a 200's body instead of reply. */
static long request_to(const char *method, const char *key, const char *query, struct body *body,
		       struct buf *reply, struct buf *etag, struct get_sink *sink)
{
	CURL *c = handle();
	if (!c) {
		log_error("s3: could not create a libcurl handle");
		return -1;
	}
	struct buf url = {0}, userpwd = {0}, provider = {0}, own_reply = {0};
	if (!reply)
		reply = &own_reply;
	buf_printf(&url, "%s%s/%s%s%s", conf.endpoint, conf.base_path, key, *query ? "?" : "",
		   query);
	buf_printf(&userpwd, "%s:%s", access_key, secret_key);
	buf_printf(&provider, "aws:amz:%s:s3", conf.region);
	struct curl_slist *h = NULL;
	/* libcurl 7.88 signs x-amz-content-sha256 only when told: the body is
	 * streamed, not hashed first (the store checks it by Content-Length
	 * and TCP; TLS covers it in transit where the endpoint is https). */
	h = curl_slist_append(h, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	if (h)
		h = curl_slist_append(h, body && body->mem ? "Content-Type: application/xml"
							   : "Content-Type: application/octet-stream");
	long status = -1;
	if (buf_status(&url) != MSGR_OK || buf_status(&userpwd) != MSGR_OK ||
	    buf_status(&provider) != MSGR_OK || !h)
		goto out;
	curl_easy_setopt(c, CURLOPT_URL, buf_cstr(&url));
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, buf_cstr(&provider));
	curl_easy_setopt(c, CURLOPT_USERPWD, buf_cstr(&userpwd));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, S3_CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, request_timeout);
	if (sink) {
		sink->c = c;
		sink->reply = reply;
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_sink);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
	} else {
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_reply);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
	}
	if (etag) {
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keep_etag);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, etag);
	}
	if (body) {
		/* PUT by CURLOPT_UPLOAD, POST with the same streamed body. */
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
		curl_easy_setopt(c, CURLOPT_READDATA, body);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, body->left);
	} else if (!strcmp(method, "POST")) {
		/* A multipart upload's start: a POST with an empty body. */
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (strcmp(method, body ? "PUT" : "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		if (!(sink && sink->err != MSGR_OK)) /* the sink's own failure is its caller's to tell */
			log_error("s3: %s %s: %s", method, key, curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300 && status != 404)
		log_error("s3: %s %s: HTTP %ld %.*s", method, key, status,
			  (int)(reply->len < 512 ? reply->len : 512), reply->data ? reply->data : "");
out:
	curl_slist_free_all(h);
	buf_free(&url);
	if (userpwd.data)
		memset(userpwd.data, 0, userpwd.len);
	buf_free(&userpwd);
	buf_free(&provider);
	buf_free(&own_reply);
	return status;
}

static long request(const char *method, const char *key, const char *query, struct body *body,
		    struct buf *reply, struct buf *etag)
{
	return request_to(method, key, query, body, reply, etag, NULL);
}

/* The text of the first <name>...</name> of xml, or false. */
static bool xml_text(const char *xml, const char *name, struct buf *out)
{
	char open[64], close[64];
	snprintf(open, sizeof open, "<%s>", name);
	snprintf(close, sizeof close, "</%s>", name);
	const char *a = xml ? strstr(xml, open) : NULL;
	const char *b = a ? strstr(a, close) : NULL;
	if (!b)
		return false;
	a += strlen(open);
	buf_append(out, a, (size_t)(b - a));
	return buf_status(out) == MSGR_OK && b > a;
}

/* A file larger than one part: a multipart upload of its parts, completed
 * only when every part is in, so that the object appears whole or not at
 * all; aborted on any failure, so that no parts are left to pay for. */
static enum msgr_err put_multipart(const char *key, int fd, curl_off_t size, curl_off_t part)
{
	struct buf reply = {0}, id = {0}, enc_id = {0}, query = {0}, etag = {0}, done = {0};
	enum msgr_err err = MSGR_ERR_IO;
	long status = request("POST", key, "uploads=", NULL, &reply, NULL);
	if (status != 200 || !xml_text(buf_cstr(&reply), "UploadId", &id)) {
		log_error("s3: POST %s?uploads: no UploadId (HTTP %ld)", key, status);
		goto out;
	}
	s3sign_uri_encode(&enc_id, id.data, id.len, false);
	buf_puts(&done, "<CompleteMultipartUpload>");
	int number = 0;
	for (curl_off_t off = 0; off < size; off += part) {
		struct body b = {.fd = fd, .left = size - off < part ? size - off : part};
		buf_reset(&query);
		buf_reset(&etag);
		buf_printf(&query, "partNumber=%d&uploadId=%s", ++number, buf_cstr(&enc_id));
		if (buf_status(&query) != MSGR_OK ||
		    request("PUT", key, buf_cstr(&query), &b, NULL, &etag) != 200 || etag.len == 0)
			goto abort;
		buf_printf(&done, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", number,
			   buf_cstr(&etag));
	}
	buf_puts(&done, "</CompleteMultipartUpload>");
	if (buf_status(&done) != MSGR_OK)
		goto abort;
	buf_reset(&query);
	buf_printf(&query, "uploadId=%s", buf_cstr(&enc_id));
	buf_reset(&reply);
	struct body xml = {.fd = -1, .mem = done.data, .left = (curl_off_t)done.len};
	/* S3 may answer 200 and still report an error in the body. */
	if (buf_status(&query) == MSGR_OK &&
	    request("POST", key, buf_cstr(&query), &xml, &reply, NULL) == 200 &&
	    !strstr(buf_cstr(&reply) ? buf_cstr(&reply) : "", "<Error>")) {
		err = MSGR_OK;
		goto out;
	}
abort:
	buf_reset(&query);
	buf_printf(&query, "uploadId=%s", buf_cstr(&enc_id));
	if (buf_status(&query) == MSGR_OK)
		(void)request("DELETE", key, buf_cstr(&query), NULL, NULL, NULL);
out:
	buf_free(&reply);
	buf_free(&id);
	buf_free(&enc_id);
	buf_free(&query);
	buf_free(&etag);
	buf_free(&done);
	return err;
}

enum msgr_err s3store_put_fd(const char *key, int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
		log_error("s3: could not read upload %s: %s", key, strerror(errno));
		return MSGR_ERR_IO;
	}
	if ((curl_off_t)st.st_size > part_size)
		return put_multipart(key, fd, (curl_off_t)st.st_size, part_size);
	struct body b = {.fd = fd, .left = (curl_off_t)st.st_size};
	return request("PUT", key, "", &b, NULL, NULL) == 200 ? MSGR_OK : MSGR_ERR_IO;
}

enum msgr_err s3store_get(const char *key, s3store_sink sink, void *arg)
{
	struct get_sink s = {.fn = sink, .arg = arg, .err = MSGR_OK};
	long status = request_to("GET", key, "", NULL, NULL, NULL, &s);
	if (s.err != MSGR_OK)
		return s.err;
	return status == 200 ? MSGR_OK : MSGR_ERR_IO;
}

enum msgr_err s3store_delete(const char *key)
{
	long status = request("DELETE", key, "", NULL, NULL, NULL);
	return status == 204 || status == 200 || status == 404 ? MSGR_OK : MSGR_ERR_IO;
}

enum msgr_err s3store_download_target(struct buf *out, const char *method, const char *key,
				      const char *mime, const char *disposition,
				      const char *cache_control)
{
	struct buf path = {0}, url = {0};
	buf_printf(&path, "%s/%s", conf.base_path, key);
	enum msgr_err err = buf_status(&path);
	if (err != MSGR_OK)
		goto out;
	const struct s3sign_pair q[] = {
		{"response-cache-control", cache_control},
		{"response-content-disposition", disposition},
		{"response-content-type", mime},
	};
	struct s3sign_presign p = {
		.method = method,
		.endpoint = conf.endpoint,
		.path = buf_cstr(&path),
		.query = q,
		.nquery = sizeof q / sizeof *q,
		.access_key = access_key,
		.secret_key = secret_key,
		.region = conf.region,
		.service = "s3",
		.now = time(NULL),
		.expires = S3_DOWNLOAD_EXPIRES,
	};
	if ((err = s3sign_presign(&url, &p, NULL)) != MSGR_OK)
		goto out;
	/* "http://HOST/..." -> "http/HOST/...": the scheme and host become
	 * path segments of the internal location, which proxies to them. */
	const char *u = buf_cstr(&url);
	const char *sep = strstr(u, "://");
	buf_printf(out, "%.*s/%s", (int)(sep - u), u, sep + 3);
	err = buf_status(out);
out:
	buf_free(&path);
	buf_free(&url);
	return err;
}
