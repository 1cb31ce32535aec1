#include "fcgi_wire.h"

#include <fastcgi.h>
#include <string.h>

/* More parameter bytes than any web server sends (nginx's default limit on
 * all request headers is 32 KiB): beyond, the peer is not one. */
#define FCGI_PARAMS_MAX (1024 * 1024)

static void put_record(struct buf *out, int type, uint16_t id, const void *content, size_t len)
{
	unsigned char head[FCGI_HEADER_LEN] = {
		FCGI_VERSION_1, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
		(unsigned char)(len >> 8), (unsigned char)len, 0, 0,
	};
	buf_append(out, head, sizeof head);
	if (len)
		buf_append(out, content, len);
}

static void put_end_request(struct buf *out, uint16_t id, int protocol_status)
{
	unsigned char body[8] = {0, 0, 0, 0, (unsigned char)protocol_status, 0, 0, 0};
	put_record(out, FCGI_END_REQUEST, id, body, sizeof body);
}

void fcgi_put_answer(struct buf *out, uint16_t id, const char *data, size_t len)
{
	while (len) {
		size_t n = len < FCGI_MAX_LENGTH ? len : FCGI_MAX_LENGTH;
		put_record(out, FCGI_STDOUT, id, data, n);
		data += n;
		len -= n;
	}
	put_record(out, FCGI_STDOUT, id, NULL, 0);
	put_end_request(out, id, FCGI_REQUEST_COMPLETE);
}

/* A record of the management kind (request id 0): GET_VALUES gets an
 * empty result (the defaults hold), any other type is unknown. */
static void take_management(int type, struct buf *out)
{
	if (type == FCGI_GET_VALUES) {
		put_record(out, FCGI_GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID, NULL, 0);
		return;
	}
	unsigned char body[8] = {(unsigned char)type};
	put_record(out, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID, body, sizeof body);
}

static enum fcgi_feed_result take_begin(struct fcgi_request *r, uint16_t id,
					const unsigned char *c, size_t len, struct buf *out)
{
	if (len != 8)
		return FCGI_FEED_BAD;
	if (r->id == id)
		return FCGI_FEED_BAD;
	if (r->id) {
		put_end_request(out, id, FCGI_CANT_MPX_CONN);
		return FCGI_FEED_MORE;
	}
	if ((c[0] << 8 | c[1]) != FCGI_RESPONDER) {
		put_end_request(out, id, FCGI_UNKNOWN_ROLE);
		return FCGI_FEED_MORE;
	}
	r->id = id;
	r->keep_conn = (c[2] & FCGI_KEEP_CONN) != 0;
	return FCGI_FEED_MORE;
}

static enum fcgi_feed_result take_stream(struct fcgi_request *r, int type, const unsigned char *c,
					 size_t len, size_t stdin_limit)
{
	if (type == FCGI_PARAMS) {
		if (r->params_done || r->params.len + len > FCGI_PARAMS_MAX)
			return FCGI_FEED_BAD;
		if (len == 0)
			r->params_done = true;
		else
			buf_append(&r->params, c, len);
		return buf_status(&r->params) == MSGR_OK ? FCGI_FEED_MORE : FCGI_FEED_BAD;
	}
	if (r->stdin_done)
		return FCGI_FEED_BAD;
	if (len == 0) {
		r->stdin_done = true;
	} else if (r->stdin_overflow || r->stdin.len + len > stdin_limit) {
		r->stdin_overflow = true;
	} else {
		buf_append(&r->stdin, c, len);
	}
	return buf_status(&r->stdin) == MSGR_OK ? FCGI_FEED_MORE : FCGI_FEED_BAD;
}

/* One record of type for request id with content c (len bytes). */
static enum fcgi_feed_result take_record(struct fcgi_request *r, int type, uint16_t id,
					 const unsigned char *c, size_t len, size_t stdin_limit,
					 struct buf *out)
{
	if (id == FCGI_NULL_REQUEST_ID) {
		take_management(type, out);
		return FCGI_FEED_MORE;
	}
	switch (type) {
	case FCGI_BEGIN_REQUEST:
		return take_begin(r, id, c, len, out);
	case FCGI_ABORT_REQUEST:
		if (id == r->id) {
			put_end_request(out, id, FCGI_REQUEST_COMPLETE);
			fcgi_request_reset(r);
		}
		return FCGI_FEED_MORE;
	case FCGI_PARAMS:
	case FCGI_STDIN:
		/* The records of a request refused above are dropped. */
		return id == r->id ? take_stream(r, type, c, len, stdin_limit) : FCGI_FEED_MORE;
	case FCGI_DATA:
		return FCGI_FEED_MORE; /* the filter role's, which was refused */
	default:
		return FCGI_FEED_BAD; /* what only an application sends */
	}
}

enum fcgi_feed_result fcgi_feed(struct fcgi_request *r, const unsigned char *data, size_t len,
				size_t *used, size_t stdin_limit, struct buf *out)
{
	size_t pos = 0;
	enum fcgi_feed_result result = FCGI_FEED_MORE;
	while (result == FCGI_FEED_MORE && len - pos >= FCGI_HEADER_LEN) {
		const unsigned char *h = data + pos;
		if (h[0] != FCGI_VERSION_1) {
			result = FCGI_FEED_BAD;
			break;
		}
		size_t content_len = (size_t)(h[4] << 8 | h[5]);
		size_t record_len = FCGI_HEADER_LEN + content_len + h[6];
		if (len - pos < record_len)
			break;
		pos += record_len;
		result = take_record(r, h[1], (uint16_t)(h[2] << 8 | h[3]), h + FCGI_HEADER_LEN,
				     content_len, stdin_limit, out);
		if (result == FCGI_FEED_MORE && r->id && r->params_done && r->stdin_done)
			result = FCGI_FEED_READY;
	}
	*used = pos;
	return result;
}

/* Reads a name-value pair's length at *p (1 byte, or 4 with the top bit
 * set), within end; false when it does not fit. */
static bool read_pair_len(const unsigned char **p, const unsigned char *end, size_t *len)
{
	if (*p >= end)
		return false;
	if (!(**p & 0x80)) {
		*len = *(*p)++;
		return true;
	}
	if (end - *p < 4)
		return false;
	const unsigned char *b = *p;
	*len = (size_t)(b[0] & 0x7f) << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
	*p += 4;
	return true;
}

/* Walks the pairs; with envp, fills it. Returns how many, or -1 when they
 * do not add up or cannot be C strings. */
static long walk_pairs(const struct fcgi_request *r, struct arena *arena, char **envp)
{
	if (!r->params.len)
		return 0;
	const unsigned char *p = (const unsigned char *)r->params.data;
	const unsigned char *end = p + r->params.len;
	long n = 0;
	while (p < end) {
		size_t name_len, value_len;
		if (!read_pair_len(&p, end, &name_len) || !read_pair_len(&p, end, &value_len) ||
		    (size_t)(end - p) < name_len || (size_t)(end - p) - name_len < value_len)
			return -1;
		/* As "NAME=value" C strings, a NUL would cut a pair short and an
		 * '=' in a name would make another name of it. */
		if (memchr(p, '=', name_len) || memchr(p, '\0', name_len + value_len))
			return -1;
		if (envp) {
			char *s = arena_alloc(arena, name_len + 1 + value_len + 1);
			memcpy(s, p, name_len);
			s[name_len] = '=';
			memcpy(s + name_len + 1, p + name_len, value_len);
			s[name_len + 1 + value_len] = '\0';
			envp[n] = s;
		}
		p += name_len + value_len;
		n++;
	}
	return n;
}

char **fcgi_envp(const struct fcgi_request *r, struct arena *arena)
{
	long n = walk_pairs(r, NULL, NULL);
	if (n < 0)
		return NULL;
	char **envp = arena_alloc(arena, (size_t)(n + 1) * sizeof *envp);
	walk_pairs(r, arena, envp);
	envp[n] = NULL;
	return envp;
}

void fcgi_request_reset(struct fcgi_request *r)
{
	struct buf params = r->params, in = r->stdin;
	buf_reset(&params);
	buf_reset(&in);
	*r = (struct fcgi_request){.params = params, .stdin = in};
}

void fcgi_request_free(struct fcgi_request *r)
{
	buf_free(&r->params);
	buf_free(&r->stdin);
	*r = (struct fcgi_request){0};
}
