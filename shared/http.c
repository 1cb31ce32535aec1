#include "http.h"

#include <ctype.h>
#include <fcgiapp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "json.h"
#include "log.h"
#include "token.h"
#include "utf8.h"

#define HTTP_MAX_HEADER_NAME 64

static FCGX_Request *fcgx(struct http_req *req)
{
	return req->fcgx;
}

const char *http_param(struct http_req *req, const char *name)
{
	return req->envp ? FCGX_GetParam(name, req->envp) : NULL;
}

bool http_request_id_valid(const char *id)
{
	if (!id)
		return false;
	size_t n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
	return n >= 1 && n <= HTTP_REQUEST_ID_MAX && !id[n];
}

void http_req_begin(struct http_req *req, struct arena *arena, char **envp)
{
	buf_reset(&req->extra_headers);
	struct buf keep = req->extra_headers;
	*req = (struct http_req){.arena = arena, .envp = envp, .extra_headers = keep};
	const char *method = http_param(req, "REQUEST_METHOD");
	const char *uri = http_param(req, "REQUEST_URI");
	const char *addr = http_param(req, "REMOTE_ADDR");
	req->method = method ? method : "GET";
	uri = uri ? uri : "/";
	const char *q = strchr(uri, '?');
	req->path = q ? arena_strndup(arena, uri, (size_t)(q - uri)) : uri;
	req->query = q ? q + 1 : "";
	req->remote_addr = addr ? addr : "";
	const char *request_id = http_param(req, "HTTP_X_REQUEST_ID");
	req->request_id = http_request_id_valid(request_id) ? request_id : NULL;
}

const char *http_header(struct http_req *req, const char *name)
{
	/* CGI names: Content-Type and Content-Length have no HTTP_ prefix
	 * (RFC 3875 section 4.1), the others are HTTP_ plus the upper-cased
	 * name with '-' as '_'. */
	if (!strcasecmp(name, "Content-Type"))
		return http_param(req, "CONTENT_TYPE");
	if (!strcasecmp(name, "Content-Length"))
		return http_param(req, "CONTENT_LENGTH");
	char cgi[5 + HTTP_MAX_HEADER_NAME + 1] = "HTTP_";
	size_t n = strlen(name);
	if (n > HTTP_MAX_HEADER_NAME)
		return NULL;
	for (size_t i = 0; i < n; i++)
		cgi[5 + i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
	cgi[5 + n] = '\0';
	return http_param(req, cgi);
}

bool http_query(struct http_req *req, const char *name, const char **value, size_t *len)
{
	const char *q = req->query;
	size_t name_len = strlen(name);
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t pair_len = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', pair_len);
		size_t key_len = eq ? (size_t)(eq - q) : pair_len;
		if (key_len == name_len && !memcmp(q, name, name_len)) {
			const char *raw = eq ? eq + 1 : q + pair_len;
			size_t raw_len = eq ? pair_len - key_len - 1 : 0;
			char *v = valid_percent_decode(req->arena, raw, raw_len, true, len);
			if (!v)
				return false;
			*value = v;
			return true;
		}
		q += pair_len + (amp ? 1 : 0);
	}
	return false;
}

/* Answers 422 when errs holds any error; frees errs. Returns whether the
 * fields were all valid. */
static bool answer_field_errors(struct http_req *req, struct field_errors *errs)
{
	bool valid = errs->count == 0;
	if (!valid)
		http_problem_fields(req, errs);
	field_errors_free(errs);
	return valid;
}

bool http_parse_query(struct http_req *req, const struct field_spec *specs, size_t n,
		      struct field_value *out)
{
	struct field_errors errs = {0};
	valid_form(req->arena, req->query, strlen(req->query), specs, n, out, &errs);
	return answer_field_errors(req, &errs);
}

bool http_read_body(struct http_req *req, size_t limit)
{
	if (req->body)
		return true;
	const char *cl = http_param(req, "CONTENT_LENGTH");
	size_t declared = 0;
	if (cl && *cl) {
		char *end;
		unsigned long long v = strtoull(cl, &end, 10);
		if (*end || cl[0] == '-') {
			http_problem(req, 400, "bad_request", "the Content-Length header is malformed");
			return false;
		}
		if (v > limit) {
			http_problem(req, 413, "body_too_large",
				     "the request body is larger than %zu bytes", limit);
			return false;
		}
		declared = (size_t)v;
	}
	char *body = arena_alloc(req->arena, declared + 1);
	long got = declared ? http_read_some(req, body, declared) : 0;
	if (got < 0 || (size_t)got != declared) {
		http_problem(req, 400, "body_truncated", "the request body ended early");
		return false;
	}
	body[got] = '\0';
	req->body = body;
	req->body_len = (size_t)got;
	return true;
}

/* http_read_some() of a request read whole. */
static long read_held(struct http_held *held, char *buf, size_t cap)
{
	size_t n = held->body_len - held->body_read;
	if (n > cap)
		n = cap;
	if (n)
		memcpy(buf, held->body + held->body_read, n);
	held->body_read += n;
	return (long)n;
}

long http_read_some(struct http_req *req, char *buf, size_t cap)
{
	if (!req->fcgx)
		return read_held(&req->held, buf, cap);
	FCGX_Stream *in = fcgx(req)->in;
	int n = FCGX_GetStr(buf, cap > INT_MAX ? INT_MAX : (int)cap, in);
	if (n < 0 || (n == 0 && FCGX_GetError(in)))
		return -1;
	return n;
}

void http_discard_body(struct http_req *req)
{
	static char sink[16 * 1024];
	while (http_read_some(req, sink, sizeof sink) > 0)
		;
}

/* True when the media type of a Content-Type value (before any
 * parameters) is type, case-insensitively (RFC 9110 section 8.3.1). */
static bool media_type_is(const char *value, const char *type)
{
	if (!value)
		return false;
	while (*value == ' ' || *value == '\t')
		value++;
	size_t n = strlen(type);
	if (strncasecmp(value, type, n))
		return false;
	const char *rest = value + n;
	while (*rest == ' ' || *rest == '\t')
		rest++;
	return *rest == '\0' || *rest == ';';
}

bool http_parse_body(struct http_req *req, size_t limit, const struct field_spec *specs,
		     size_t n, struct field_value *out)
{
	if (!http_read_body(req, limit))
		return false;
	const char *ct = http_header(req, "Content-Type");
	struct field_errors errs = {0};
	if (media_type_is(ct, "application/x-www-form-urlencoded")) {
		valid_form(req->arena, req->body, req->body_len, specs, n, out, &errs);
	} else if (media_type_is(ct, "application/json") || (req->body_len == 0 && !ct)) {
		json_object *obj = req->body_len ? json_read(req->body, req->body_len)
						 : json_object_new_object();
		if (!obj) {
			http_problem(req, 400, "malformed_json", "the request body is not valid JSON");
			return false;
		}
		if (!json_object_is_type(obj, json_type_object)) {
			json_object_put(obj);
			http_problem(req, 400, "malformed_json",
				     "the request body must be a JSON object");
			return false;
		}
		valid_json_object(req->arena, obj, specs, n, out, &errs);
		json_object_put(obj);
	} else {
		http_problem(req, 415, "unsupported_media_type",
			     "send the body as application/json");
		return false;
	}
	return answer_field_errors(req, &errs);
}

const char *http_session_param(const struct http_req *req)
{
	return req->session_id > 0 ? req->session_param : NULL;
}

bool http_require_user(struct http_req *req)
{
	const char *auth = http_header(req, "Authorization");
	if (auth && !strncasecmp(auth, "Bearer ", 7)) {
		const char *token = auth + 7;
		while (*token == ' ')
			token++;
		int64_t uid, sid;
		if (token_verify_access(token, time(NULL), &uid, NULL, &sid) == MSGR_OK) {
			req->user_id = uid;
			req->session_id = sid;
			if (sid > 0)
				snprintf(req->session_param, sizeof req->session_param, "%lld",
					 (long long)sid);
			else
				req->session_param[0] = '\0';
			return true;
		}
		http_add_header(req, "WWW-Authenticate",
				"Bearer error=\"invalid_token\"");
		http_problem(req, 401, "invalid_token",
			     "the access token is malformed, expired or forged");
		return false;
	}
	http_add_header(req, "WWW-Authenticate", "Bearer");
	http_problem(req, 401, "unauthenticated", "this endpoint needs a Bearer access token");
	return false;
}

void http_add_header(struct http_req *req, const char *name, const char *value)
{
	buf_printf(&req->extra_headers, "%s: %s\r\n", name, value);
}

const char *http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	default: return "Unknown";
	}
}

static void put_answer(struct http_req *req, const char *data, size_t len)
{
	if (req->fcgx)
		FCGX_PutStr(data, (int)len, fcgx(req)->out);
	else if (req->held.answer)
		buf_append(req->held.answer, data, len);
}

void http_send(struct http_req *req, int status, const char *content_type, const char *body,
	       size_t len)
{
	if (req->status) {
		log_error("%s %s answered twice (%d, then %d)", req->method, req->path, req->status,
			  status);
		return;
	}
	req->status = status;
	const char *extra = buf_cstr(&req->extra_headers);
	/* Built with our own printf: libfcgi's FCGX_FPrintF does not know %zu. */
	struct buf head = {0};
	buf_printf(&head, "Status: %d %s\r\n", status, http_status_text(status));
	if (content_type)
		buf_printf(&head, "Content-Type: %s\r\nContent-Length: %zu\r\n", content_type, len);
	/* API answers carry tokens and private data: no shared caches. */
	if (!strstr(extra, "Cache-Control:"))
		buf_puts(&head, "Cache-Control: no-store\r\n");
	buf_append(&head, extra, req->extra_headers.len);
	buf_puts(&head, "\r\n");
	if (buf_status(&head) == MSGR_OK)
		put_answer(req, head.data, head.len);
	buf_free(&head);
	if (body && len)
		put_answer(req, body, len);
}

void http_send_json(struct http_req *req, int status, const char *json, size_t len)
{
	http_send(req, status, "application/json", json, len);
}

void http_no_content(struct http_req *req)
{
	http_send(req, 204, NULL, NULL, 0);
}

/* The problem document; extra is a member (name: JSON value) or NULL. */
static void send_problem(struct http_req *req, int status, const char *code, const char *detail,
			 const char *name, const char *extra)
{
	struct buf b = {0};
	const char *title = http_status_text(status);
	buf_puts(&b, "{\"type\":\"about:blank\",\"title\":");
	buf_json_str(&b, title, strlen(title));
	buf_printf(&b, ",\"status\":%d,\"detail\":", status);
	buf_json_str(&b, detail, strlen(detail));
	buf_puts(&b, ",\"code\":");
	buf_json_str(&b, code, strlen(code));
	if (req->request_id) {
		buf_puts(&b, ",\"request_id\":");
		buf_json_str(&b, req->request_id, strlen(req->request_id));
	}
	if (extra) {
		buf_putc(&b, ',');
		buf_json_str(&b, name, strlen(name));
		buf_putc(&b, ':');
		buf_puts(&b, extra);
	}
	buf_putc(&b, '}');
	if (buf_status(&b) == MSGR_OK)
		http_send(req, status, "application/problem+json", b.data, b.len);
	else
		http_send(req, 500, "application/problem+json", "{}", 2);
	buf_free(&b);
}

static void vproblem(struct http_req *req, int status, const char *code, const char *name,
		     const char *json, const char *detail_fmt, va_list ap)
{
	char detail[512];
	vsnprintf(detail, sizeof detail, detail_fmt, ap);
	send_problem(req, status, code, detail, name, json);
}

void http_problem(struct http_req *req, int status, const char *code, const char *detail_fmt,
		  ...)
{
	va_list ap;
	va_start(ap, detail_fmt);
	vproblem(req, status, code, NULL, NULL, detail_fmt, ap);
	va_end(ap);
}

void http_problem_with(struct http_req *req, int status, const char *code, const char *name,
		       const char *json, const char *detail_fmt, ...)
{
	va_list ap;
	va_start(ap, detail_fmt);
	vproblem(req, status, code, name, json, detail_fmt, ap);
	va_end(ap);
}

void http_problem_fields(struct http_req *req, const struct field_errors *errs)
{
	struct buf obj = {0};
	buf_putc(&obj, '{');
	buf_append(&obj, buf_cstr(&errs->json), errs->json.len);
	buf_putc(&obj, '}');
	send_problem(req, 422, "validation_failed", "some fields are invalid; see errors", "errors",
		     buf_status(&obj) == MSGR_OK ? buf_cstr(&obj) : "{}");
	buf_free(&obj);
}

/* Matches one pattern against the path; fills the captures on success. */
static bool route_match(struct http_req *req, const char *pattern, const char *path)
{
	int np = 0;
	while (*pattern && *path) {
		if (*pattern != '/' || *path != '/')
			return false;
		pattern++;
		path++;
		const char *pend = strchr(pattern, '/');
		size_t plen = pend ? (size_t)(pend - pattern) : strlen(pattern);
		const char *send = strchr(path, '/');
		size_t slen = send ? (size_t)(send - path) : strlen(path);
		if (plen >= 2 && pattern[0] == '{' && pattern[plen - 1] == '}') {
			if (slen == 0 || np == HTTP_MAX_PATH_PARAMS)
				return false;
			bool is_id = plen >= 4 && !memcmp(pattern + plen - 3, "id}", 3);
			req->path_id[np] = 0;
			if (is_id) {
				if (!valid_parse_id(path, slen, &req->path_id[np]))
					return false;
				req->path_str[np] = arena_strndup(req->arena, path, slen);
				req->path_len[np] = slen;
			} else {
				size_t dlen;
				char *d = valid_percent_decode(req->arena, path, slen, false, &dlen);
				if (!d)
					return false;
				req->path_str[np] = d;
				req->path_len[np] = dlen;
			}
			np++;
		} else if (plen != slen || memcmp(pattern, path, plen)) {
			return false;
		}
		pattern += plen;
		path += slen;
	}
	if (*pattern || *path)
		return false;
	req->npath = np;
	return true;
}

const struct http_route *http_route_find(struct http_req *req, const struct http_route *routes,
					 size_t n, bool loop_only)
{
	struct buf allow = {0};
	for (size_t i = 0; i < n; i++) {
		if ((loop_only && !routes[i].loop) || !route_match(req, routes[i].pattern, req->path))
			continue;
		if (!strcmp(routes[i].method, req->method)) {
			buf_free(&allow);
			return &routes[i];
		}
		if (allow.len)
			buf_puts(&allow, ", ");
		buf_puts(&allow, routes[i].method);
	}
	if (allow.len) {
		http_add_header(req, "Allow", buf_cstr(&allow));
		http_problem(req, 405, "method_not_allowed", "%s is not allowed here", req->method);
	} else {
		http_problem(req, 404, "not_found", "there is nothing at this path");
	}
	buf_free(&allow);
	return NULL;
}

const struct http_route *http_dispatch(struct http_req *req, const struct http_route *routes,
				       size_t n)
{
	const struct http_route *route = http_route_find(req, routes, n, false);
	if (route)
		route->handle(req);
	return route;
}
