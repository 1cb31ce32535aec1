/*
 * fuzz_multipart.c - libFuzzer harness for shared/multipart.c.
 *
 * Input: byte 0 picks the options, byte 1 tunes the chunking, the rest is a
 * body for the boundary "AaB03x".
 *	bits 0-1 of byte 0: chunking: whole, byte by byte, fixed size
 *	         (byte 1 + 1), or pseudo-random sizes seeded by byte 1
 *	bit 2:   small limits instead of the defaults
 *	bits 3-4: a callback aborts: never, at the k-th part_begin, part_end
 *	         or part_data, where k is bits 5-7 plus 1
 * The body is parsed whole and then cut as chosen, each chunk in its own
 * allocation; both runs must agree on the result, the detail and a hash of
 * every event and byte (an abort on data depends on the cutting, so then only
 * the invariants are checked). Data that does not point into the current
 * chunk must be a prefix of the delimiter, the only bytes the parser holds.
 *
 * The whole input is also given to mp_boundary_from_content_type(); a
 * boundary it accepts must make a parser that reads a small body with it.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -I shared \
 *	tests/fuzz/fuzz_multipart.c shared/multipart.c shared/err.c shared/buf.c \
 *	-o /tmp/fm && /tmp/fm tests/fuzz/corpus/fuzz_multipart
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

#define FUZZ_BOUNDARY "AaB03x"
#define FUZZ_DELIM "\r\n--" FUZZ_BOUNDARY

struct run {
	uint64_t hash; /* FNV-1a over events and data */
	const char *chunk;
	size_t chunk_len;
	bool in_part;
	unsigned nbegin, ndata, nend;
	int abort_kind; /* 0 none, 1 begin, 2 end, 3 data */
	unsigned abort_at;
	bool aborted;
	unsigned events_after_stop;
	bool stopped;
};

static void hash(struct run *r, const void *data, size_t len)
{
	const unsigned char *s = data;

	for (size_t i = 0; i < len; i++) {
		r->hash ^= s[i];
		r->hash *= 0x100000001b3ull;
	}
}

/* The promise of struct mp_part about its strings. */
static void check_string(const char *s, size_t len)
{
	if (!s || s[len] != '\0')
		abort();
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			abort();
}

static enum msgr_err maybe_abort(struct run *r, int kind, unsigned count)
{
	if (r->abort_kind == kind && count == r->abort_at) {
		r->aborted = true;
		r->stopped = true;
		return MSGR_ERR_IO;
	}
	return MSGR_OK;
}

static enum msgr_err on_begin(void *ctx, const struct mp_part *part)
{
	struct run *r = ctx;

	if (r->stopped || r->in_part || part->index != r->nbegin || part->name_len == 0)
		abort();
	check_string(part->name, part->name_len);
	if (part->filename)
		check_string(part->filename, part->filename_len);
	if (part->content_type)
		check_string(part->content_type, part->content_type_len);
	r->in_part = true;
	hash(r, "B", 1);
	hash(r, part->name, part->name_len + 1);
	if (part->filename)
		hash(r, part->filename, part->filename_len + 1);
	hash(r, "|", 1);
	if (part->content_type)
		hash(r, part->content_type, part->content_type_len + 1);
	return maybe_abort(r, 1, ++r->nbegin);
}

static enum msgr_err on_data(void *ctx, const struct mp_part *part, const char *data,
			     size_t len)
{
	struct run *r = ctx;

	(void)part;
	if (r->stopped || !r->in_part || len == 0)
		abort();
	if (!r->chunk || data < r->chunk || data + len > r->chunk + r->chunk_len) {
		/* Held bytes re-emitted from the parser's copy of the
		 * delimiter. */
		if (len >= sizeof FUZZ_DELIM - 1 || memcmp(data, FUZZ_DELIM, len) != 0)
			abort();
	}
	hash(r, data, len);
	return maybe_abort(r, 3, ++r->ndata);
}

static enum msgr_err on_end(void *ctx, const struct mp_part *part)
{
	struct run *r = ctx;

	(void)part;
	if (r->stopped || !r->in_part)
		abort();
	r->in_part = false;
	hash(r, "E", 1);
	return maybe_abort(r, 2, ++r->nend);
}

static const struct mp_callbacks callbacks = {on_begin, on_data, on_end};

/* The size of the next chunk: 0 means the rest. */
static size_t next_chunk(int mode, unsigned *seed, unsigned param)
{
	switch (mode) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return param + 1;
	default:
		*seed = *seed * 1103515245u + 12345u;
		return 1 + (*seed >> 16) % (param % 64 + 1);
	}
}

/* Parses body as mode says; returns the result and fills r and detail. */
static enum msgr_err parse(const uint8_t *body, size_t len, int mode, unsigned param,
			   const struct mp_limits *lim, int abort_kind, unsigned abort_at,
			   struct run *r, char *detail, size_t detail_size)
{
	struct mp_parser *p;
	enum msgr_err err;
	unsigned seed = param;
	size_t at = 0;
	int status;

	memset(r, 0, sizeof *r);
	r->hash = 0xcbf29ce484222325ull;
	r->abort_kind = abort_kind;
	r->abort_at = abort_at;
	if (mp_parser_new(FUZZ_BOUNDARY, sizeof FUZZ_BOUNDARY - 1, lim, &callbacks, r, &p) !=
	    MSGR_OK)
		abort();
	err = MSGR_OK;
	while (at < len && err == MSGR_OK) {
		size_t n = next_chunk(mode, &seed, param);
		char *chunk;

		if (n == 0 || n > len - at)
			n = len - at;
		chunk = malloc(n);
		if (!chunk)
			abort();
		memcpy(chunk, body + at, n);
		r->chunk = chunk;
		r->chunk_len = n;
		err = mp_feed(p, chunk, n);
		r->chunk = NULL;
		free(chunk);
		at += n;
	}
	if (err == MSGR_OK)
		err = mp_finish(p);
	/* Errors are sticky and stop the callbacks. */
	if (err != MSGR_OK) {
		r->stopped = true;
		if (mp_feed(p, "\r\n--" FUZZ_BOUNDARY "\r\n", 12) != err || mp_finish(p) != err)
			abort();
		if (mp_aborted(p) != r->aborted || !*mp_error_detail(p))
			abort();
	} else if (*mp_error_detail(p) || mp_aborted(p)) {
		abort();
	}
	status = mp_error_status(err);
	if (status != 200 && status != 400 && status != 413 && status != 415 && status != 500)
		abort();
	snprintf(detail, detail_size, "%s", mp_error_detail(p));
	mp_parser_free(p);
	return err;
}

/* A boundary taken from a Content-Type must be usable. */
static void fuzz_content_type(const uint8_t *data, size_t size)
{
	const char *b = NULL;
	size_t blen = 0;
	struct mp_parser *p;
	char body[256];
	int n;

	if (mp_boundary_from_content_type((const char *)data, size, &b, &blen) != MSGR_OK) {
		if (b || blen)
			abort();
		return;
	}
	if (b < (const char *)data || blen < 1 || blen > 70 ||
	    b + blen > (const char *)data + size)
		abort();
	if (mp_parser_new(b, blen, NULL, NULL, NULL, &p) != MSGR_OK)
		abort();
	n = snprintf(body, sizeof body,
		     "--%.*s\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--%.*s--",
		     (int)blen, b, (int)blen, b);
	if (n < 0 || (size_t)n >= sizeof body)
		abort();
	if (mp_feed(p, body, (size_t)n) != MSGR_OK || mp_finish(p) != MSGR_OK)
		abort();
	mp_parser_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mp_limits small = {
		.max_header_line = 40,
		.max_headers = 3,
		.max_parts = 3,
		.max_header_bytes = 200,
	};
	struct run whole, cut;
	char whole_detail[256], cut_detail[256];
	enum msgr_err e1, e2;
	int mode, abort_kind;
	unsigned param, abort_at;
	const struct mp_limits *lim;

	fuzz_content_type(data, size);
	if (size < 2)
		return 0;
	mode = data[0] & 3;
	lim = data[0] & 4 ? &small : NULL;
	abort_kind = (data[0] >> 3) & 3;
	abort_at = (unsigned)(data[0] >> 5) + 1;
	param = data[1];

	e1 = parse(data + 2, size - 2, 0, 0, lim, abort_kind, abort_at, &whole, whole_detail,
		   sizeof whole_detail);
	e2 = parse(data + 2, size - 2, mode, param, lim, abort_kind, abort_at, &cut, cut_detail,
		   sizeof cut_detail);
	if (abort_kind == 3)
		return 0;
	if (e1 != e2 || whole.hash != cut.hash || whole.nbegin != cut.nbegin ||
	    whole.nend != cut.nend || strcmp(whole_detail, cut_detail) != 0) {
		fprintf(stderr, "whole: %d \"%s\"; cut (mode %d): %d \"%s\"\n", e1, whole_detail,
			mode, e2, cut_detail);
		abort();
	}
	return 0;
}
