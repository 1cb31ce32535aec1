/*
 * test_multipart.c - unit tests of shared/multipart.c.
 *
 * Includes the module's .c to reach its internals (as h2o's t/00unit does).
 * Self-contained for now: its own CHECK macros and main, which prints
 * "unit test_multipart: N passed, M failed" and fails when M > 0.
 *
 * Every body is parsed whole, cut in two at every point, byte by byte, cut
 * in three at every pair of points (or a random sample for long bodies) and
 * in random chunks. Each chunk is a separate allocation of its exact size,
 * so ASan catches a read past a chunk or a pointer kept into an old one. The
 * events (part begin, data, part end) are recorded as one transcript that
 * does not depend on where data was cut, and the transcript and the result
 * must be the same for every way of cutting.
 *
 * Build: gcc -std=gnu11 -Wall -Wextra -Werror -g -fsanitize=address,undefined \
 *	-I shared tests/unit/test_multipart.c -o /tmp/tm && /tmp/tm
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Counts the module's allocations, to show that parsing allocates nothing
 * after mp_parser_new(). */
static size_t n_allocs;
static bool fail_allocs; /* every allocation fails */

__attribute__((unused)) static void *count_malloc(size_t n)
{
	n_allocs++;
	return fail_allocs ? NULL : malloc(n);
}

static void *count_calloc(size_t n, size_t size)
{
	n_allocs++;
	return fail_allocs ? NULL : calloc(n, size);
}

__attribute__((unused)) static void *count_realloc(void *p, size_t n)
{
	n_allocs++;
	return fail_allocs ? NULL : realloc(p, n);
}

#define malloc count_malloc
#define calloc count_calloc
#define realloc count_realloc
#include "../../shared/multipart.c"
#undef malloc
#undef calloc
#undef realloc

#include "../../shared/err.c"

static int n_passed, n_failed;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (cond) {                                                           \
			n_passed++;                                                   \
		} else {                                                              \
			n_failed++;                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,        \
				__LINE__, #cond);                                     \
		}                                                                     \
	} while (0)

#define CHECK_ERR(got, want)                                                          \
	do {                                                                          \
		enum msgr_err got_ = (got), want_ = (want);                           \
		if (got_ == want_) {                                                  \
			n_passed++;                                                   \
		} else {                                                              \
			n_failed++;                                                   \
			fprintf(stderr, "%s:%d: %s is %d (%s), want %d (%s)\n",       \
				__FILE__, __LINE__, #got, got_, msgr_strerror(got_),  \
				want_, msgr_strerror(want_));                          \
		}                                                                     \
	} while (0)

/* Prints len bytes with C escapes. */
static void show(const char *label, const char *s, size_t len)
{
	fprintf(stderr, "  %s: \"", label);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			fputs("\\r", stderr);
		else if (c == '\n')
			fputs("\\n", stderr);
		else if (c == '"' || c == '\\')
			fprintf(stderr, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs("\"\n", stderr);
}

/* A small deterministic generator (xorshift64*), so failures reproduce. */
static unsigned long long rng_state = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (unsigned)((rng_state * 2685821657736338717ull) >> 33) % n;
}

/* ---- the recorder ---- */

#define REC_MAX (1 << 20)

struct rec {
	char out[REC_MAX]; /* the transcript */
	size_t len;
	const char *chunk; /* the chunk being fed */
	size_t chunk_len;
	struct mp_parser *p;
	size_t from_parser; /* data bytes handed over from the parser's memory */
	int events;
	bool in_part;
	bool bad;
	char why[160];
	/* Abort at the n-th event of a kind (1-based), 0 for never. */
	int abort_begin, abort_data, abort_end;
	enum msgr_err abort_err;
	bool did_abort;
	int nbegin, ndata, nend;
};

static struct rec R;

static void rec_put(const char *s, size_t len)
{
	if (len > REC_MAX - R.len) {
		R.bad = true;
		snprintf(R.why, sizeof R.why, "transcript overflow");
		return;
	}
	memcpy(R.out + R.len, s, len);
	R.len += len;
}

static void rec_bad(const char *why)
{
	if (!R.bad)
		snprintf(R.why, sizeof R.why, "%s", why);
	R.bad = true;
}

static enum msgr_err rec_abort(void)
{
	R.did_abort = true;
	return R.abort_err;
}

/* The promise of struct mp_part about its strings. */
static bool clean_string(const char *s, size_t len)
{
	if (!s || s[len] != '\0')
		return false;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return false;
	return true;
}

static enum msgr_err on_begin(void *ctx, const struct mp_part *part)
{
	(void)ctx;
	R.events++;
	if (R.in_part)
		rec_bad("part_begin inside a part");
	if (part != &R.p->part || (int)part->index != R.nbegin)
		rec_bad("part_begin with the wrong part");
	if (part->name_len == 0 || !clean_string(part->name, part->name_len))
		rec_bad("bad name");
	if (part->filename && !clean_string(part->filename, part->filename_len))
		rec_bad("bad filename");
	if (part->content_type && !clean_string(part->content_type, part->content_type_len))
		rec_bad("bad content type");
	R.in_part = true;
	rec_put("<", 1);
	rec_put(part->name, part->name_len);
	if (part->filename) {
		rec_put(" file=", 6);
		rec_put(part->filename, part->filename_len);
	}
	if (part->content_type) {
		rec_put(" ct=", 4);
		rec_put(part->content_type, part->content_type_len);
	}
	rec_put(">", 1);
	if (++R.nbegin == R.abort_begin)
		return rec_abort();
	return MSGR_OK;
}

static enum msgr_err on_data(void *ctx, const struct mp_part *part, const char *data,
			     size_t len)
{
	(void)ctx;
	R.events++;
	if (!R.in_part || part != &R.p->part)
		rec_bad("part_data outside a part");
	if (len == 0)
		rec_bad("part_data with len 0");
	if (data >= R.p->delim && data + len <= R.p->delim + R.p->delim_len)
		R.from_parser += len;
	else if (!R.chunk || data < R.chunk || data + len > R.chunk + R.chunk_len)
		rec_bad("part_data outside the chunk and the parser");
	rec_put(data, len);
	if (++R.ndata == R.abort_data)
		return rec_abort();
	return MSGR_OK;
}

static enum msgr_err on_end(void *ctx, const struct mp_part *part)
{
	(void)ctx;
	R.events++;
	if (!R.in_part || part != &R.p->part)
		rec_bad("part_end outside a part");
	R.in_part = false;
	rec_put("</>", 3);
	if (++R.nend == R.abort_end)
		return rec_abort();
	return MSGR_OK;
}

static const struct mp_callbacks rec_cb = {on_begin, on_data, on_end};

struct aborts {
	int begin, data, end;
	enum msgr_err err;
};

/*
 * Parses body with the chunks ending at cuts[0..ncuts) and then len; returns
 * the first error of mp_feed() or mp_finish(). Checks that errors are sticky
 * and stop the callbacks, and that details are well formed.
 */
static enum msgr_err drive(const struct mp_limits *lim, const char *b, const char *body,
			   size_t len, const size_t *cuts, size_t ncuts, const struct aborts *ab)
{
	struct mp_parser *p;
	enum msgr_err err;
	size_t prev = 0;

	R.len = 0;
	R.chunk = NULL;
	R.chunk_len = 0;
	R.p = NULL;
	R.from_parser = 0;
	R.events = R.nbegin = R.ndata = R.nend = 0;
	R.in_part = R.bad = R.did_abort = false;
	R.abort_begin = ab ? ab->begin : 0;
	R.abort_data = ab ? ab->data : 0;
	R.abort_end = ab ? ab->end : 0;
	R.abort_err = ab ? ab->err : MSGR_OK;
	if (mp_parser_new(b, strlen(b), lim, &rec_cb, &R, &p) != MSGR_OK) {
		rec_bad("mp_parser_new failed");
		return MSGR_ERR__MAX;
	}
	R.p = p;
	err = mp_feed(p, NULL, 0);
	for (size_t c = 0; c <= ncuts && err == MSGR_OK; c++) {
		size_t end = c < ncuts ? cuts[c] : len;
		size_t n = end - prev;
		char *chunk = malloc(n ? n : 1);

		memcpy(chunk, body + prev, n);
		R.chunk = chunk;
		R.chunk_len = n;
		err = mp_feed(p, chunk, n);
		free(chunk);
		R.chunk = NULL;
		prev = end;
	}
	if (err == MSGR_OK)
		err = mp_finish(p);
	if (err != MSGR_OK) {
		int events = R.events;
		const char *d = mp_error_detail(p);
		size_t dl = strlen(d);

		if (mp_feed(p, "\r\n", 2) != err || mp_finish(p) != err || R.events != events)
			rec_bad("error not sticky");
		if (dl == 0 || (d[0] >= 'A' && d[0] <= 'Z') || d[dl - 1] == '.')
			rec_bad("badly styled detail");
		if (mp_aborted(p) != R.did_abort)
			rec_bad("mp_aborted wrong");
	} else {
		if (*mp_error_detail(p) || mp_aborted(p))
			rec_bad("detail or aborted after success");
		/* The epilogue is ignored, whatever it holds. */
		if (mp_feed(p, "\r\n--x\n", 6) != MSGR_OK || mp_finish(p) != MSGR_OK)
			rec_bad("epilogue after mp_finish not ignored");
	}
	mp_parser_free(p);
	return err;
}

/* Did the last drive() give what was expected? Prints why not. */
static bool outcome_ok(const char *mode, const size_t *cuts, size_t ncuts, enum msgr_err err,
		       const char *expect, size_t expect_len, enum msgr_err want)
{
	if (err == want && R.len == expect_len && memcmp(R.out, expect, expect_len) == 0 &&
	    !R.bad)
		return true;
	fprintf(stderr, "  mode %s, cuts:", mode);
	for (size_t i = 0; i < ncuts; i++)
		fprintf(stderr, " %zu", cuts[i]);
	fprintf(stderr, "\n  result %d (%s), want %d (%s)%s%s\n", err, msgr_strerror(err), want,
		msgr_strerror(want), R.bad ? "; invariant: " : "", R.bad ? R.why : "");
	show("got ", R.out, R.len);
	show("want", expect, expect_len);
	return false;
}

/* Fewer ways of cutting, for the many random bodies. */
static bool light;

/*
 * Parses body in every way of cutting it and checks each gives expect and
 * want; one check per way. With ab, callbacks abort as it says (an abort on
 * data depends on the cutting, so only the result is compared then).
 */
static void run(int line, const struct mp_limits *lim, const char *b, const char *body,
		size_t len, const char *expect, size_t expect_len, enum msgr_err want,
		const struct aborts *ab)
{
	size_t cuts[3];
	enum msgr_err err;
	bool ok;
	bool data_abort = ab && ab->data;

#define OUTCOME(mode, c, nc)                                                             \
	(data_abort ? err == want && !R.bad                                              \
		    : outcome_ok(mode, c, nc, err, expect, expect_len, want))

	/* Whole: nothing can be held across chunks, so all data is zero-copy. */
	err = drive(lim, b, body, len, NULL, 0, ab);
	ok = OUTCOME("whole", NULL, 0);
	if (ok && R.from_parser != 0) {
		fprintf(stderr, "  whole: %zu bytes not zero-copy\n", R.from_parser);
		ok = false;
	}
	if (!ok)
		fprintf(stderr, "%s:%d: whole body failed\n", __FILE__, line);
	CHECK(ok);

	ok = true;
	for (size_t i = 0; i <= len && ok; i++) {
		cuts[0] = light ? rnd((unsigned)len + 1) : i;
		if (light && i >= 100)
			break;
		err = drive(lim, b, body, len, cuts, 1, ab);
		ok = OUTCOME("split", cuts, 1);
	}
	if (!ok)
		fprintf(stderr, "%s:%d: a split in two failed\n", __FILE__, line);
	CHECK(ok);

	{
		size_t *all = malloc((len ? len : 1) * sizeof *all);

		for (size_t i = 0; i < len; i++)
			all[i] = i;
		err = drive(lim, b, body, len, all, len, ab);
		ok = OUTCOME("byte by byte", NULL, 0);
		free(all);
	}
	if (!ok)
		fprintf(stderr, "%s:%d: byte by byte failed\n", __FILE__, line);
	CHECK(ok);

	ok = true;
	if (len <= 120 && !light) {
		for (size_t i = 0; i <= len && ok; i++)
			for (size_t j = i; j <= len && ok; j++) {
				cuts[0] = i;
				cuts[1] = j;
				err = drive(lim, b, body, len, cuts, 2, ab);
				ok = OUTCOME("three", cuts, 2);
			}
	} else {
		for (int k = 0; k < (light ? 100 : 2000) && ok; k++) {
			cuts[0] = rnd((unsigned)len + 1);
			cuts[1] = cuts[0] + rnd((unsigned)(len - cuts[0]) + 1);
			err = drive(lim, b, body, len, cuts, 2, ab);
			ok = OUTCOME("three", cuts, 2);
		}
	}
	if (!ok)
		fprintf(stderr, "%s:%d: a split in three failed\n", __FILE__, line);
	CHECK(ok);

	ok = true;
	for (int k = 0; k < (light ? 10 : 40) && ok; k++) {
		size_t *rc = malloc((len + 1) * sizeof *rc), n = 0, at = 0;

		for (;;) {
			at += 1 + rnd(k < 20 ? 5 : 80);
			if (at >= len)
				break;
			rc[n++] = at;
		}
		err = drive(lim, b, body, len, rc, n, ab);
		ok = OUTCOME("random", rc, n);
		free(rc);
	}
	if (!ok)
		fprintf(stderr, "%s:%d: random chunks failed\n", __FILE__, line);
	CHECK(ok);
#undef OUTCOME
}

/* String literals may hold NUL bytes, hence sizeof rather than strlen. */
#define RUN_L(lim, b, body, expect, want)                                                \
	run(__LINE__, lim, b, body, sizeof(body) - 1, expect, sizeof(expect) - 1, want, NULL)
#define RUN(body, expect, want) RUN_L(NULL, B, body, expect, want)
#define RUN_OK(body, expect) RUN(body, expect, MSGR_OK)
#define RUN_ERR(body, want) RUN(body, "", want)

#define B "AaB03x"
#define CRLF "\r\n"
#define DB "--" B CRLF
/* Content-Disposition up to its parameters. */
#define FD "Content-Disposition: form-data; "
#define CD(n) FD "name=\"" n "\"" CRLF
#define CLOSE CRLF "--" B "--" CRLF
#define NEXT CRLF "--" B CRLF

/* ---- valid bodies ---- */

static void test_simple(void)
{
	RUN_OK(DB CD("field1") CRLF "Joe Blow" CLOSE, "<field1>Joe Blow</>");
	/* RFC 7578 section 4 style: a field and a file. */
	RUN_OK(DB CD("submit-name") CRLF "Larry" NEXT
	       "Content-Disposition: form-data; name=\"files\"; filename=\"file1.txt\"" CRLF
	       "Content-Type: text/plain" CRLF CRLF "... contents of file1.txt ..." CLOSE,
	       "<submit-name>Larry</><files file=file1.txt ct=text/plain>"
	       "... contents of file1.txt ...</>");
	/* Without a final CRLF after the close delimiter. */
	RUN_OK(DB CD("a") CRLF "x" CRLF "--" B "--", "<a>x</>");
}

static void test_preamble_epilogue(void)
{
	RUN_OK("This is the preamble.  It is to be ignored" CRLF DB CD("a") CRLF "1" CLOSE
	       "This is the epilogue.  It is also to be ignored." CRLF,
	       "<a>1</>");
	/* A preamble that is just CRLF, and one with near-misses of the
	 * boundary: a CR without LF, a partial boundary, a boundary not at a
	 * line start. */
	RUN_OK(CRLF DB CD("a") CRLF "1" CLOSE, "<a>1</>");
	RUN_OK("x\r--" B "\r\n--AaB03" CRLF "y--" B CRLF "\n--" B CRLF "\r\r\n" DB CD("a") CRLF
	       "1" CLOSE,
	       "<a>1</>");
	/* Anything after the close delimiter, even what looks like a part. */
	RUN_OK(DB CD("a") CRLF "1" CLOSE DB CD("b") CRLF "2" CLOSE "--" B "junk\n\r",
	       "<a>1</>");
	RUN_OK(DB CD("a") CRLF "1" CRLF "--" B "--junk", "<a>1</>");
}

static void test_padding(void)
{
	/* RFC 2046 section 5.1.1: transport padding after a boundary. */
	RUN_OK("--" B " \t " CRLF CD("a") CRLF "1" CRLF "--" B "\t" CRLF CD("b") CRLF "2" CRLF
	       "--" B "--  \t" CRLF,
	       "<a>1</><b>2</>");
}

static void test_empty(void)
{
	/* No part at all. */
	RUN_OK("--" B "--" CRLF, "");
	RUN_OK("--" B "--", "");
	/* Empty bodies, alone and in a row. */
	RUN_OK(DB CD("a") CRLF CLOSE, "<a></>");
	RUN_OK(DB CD("a") CRLF NEXT CD("b") CRLF NEXT CD("c") CRLF "3" CLOSE,
	       "<a></><b></><c>3</>");
	/* A file input left empty: filename="" and no bytes. */
	RUN_OK(DB FD "name=\"f\"; filename=\"\"" CRLF
	       "Content-Type: application/octet-stream" CRLF CRLF CLOSE,
	       "<f file= ct=application/octet-stream></>");
}

static void test_body_crlf(void)
{
	/* "\r\n--" not followed by the boundary is data. */
	RUN_OK(DB CD("a") CRLF "line1" CRLF "--notboundary" CRLF "line3" CLOSE,
	       "<a>line1" CRLF "--notboundary" CRLF "line3</>");
	/* Prefixes of the delimiter, then something else. */
	RUN_OK(DB CD("a") CRLF "\r" CLOSE, "<a>\r</>");
	RUN_OK(DB CD("a") CRLF "\r\n" CLOSE, "<a>\r\n</>");
	RUN_OK(DB CD("a") CRLF "\r\n-" CLOSE, "<a>\r\n-</>");
	RUN_OK(DB CD("a") CRLF "\r\n--" CLOSE, "<a>\r\n--</>");
	RUN_OK(DB CD("a") CRLF "\r\n--AaB03" CLOSE, "<a>\r\n--AaB03</>");
	RUN_OK(DB CD("a") CRLF "\r\n--AaB03y" CLOSE, "<a>\r\n--AaB03y</>");
	RUN_OK(DB CD("a") CRLF "\r\n--aab03x" CLOSE, "<a>\r\n--aab03x</>");
	RUN_OK(DB CD("a") CRLF "\r\r\n\r\n-\r\n--\r\n--A\r" CLOSE,
	       "<a>\r\r\n\r\n-\r\n--\r\n--A\r</>");
	RUN_OK(DB CD("a") CRLF "\r\n--AaB\r\n--AaB03\r\n--" CLOSE,
	       "<a>\r\n--AaB\r\n--AaB03\r\n--</>");
	/* The boundary not at a line start, or after LF alone. */
	RUN_OK(DB CD("a") CRLF "x--" B "\n--" B "\r--" B " --" B CLOSE,
	       "<a>x--" B "\n--" B "\r--" B " --" B "</>");
	/* Lone CR and LF are data in a body. */
	RUN_OK(DB CD("a") CRLF "a\rb\nc\n\r" CLOSE, "<a>a\rb\nc\n\r</>");
	/* Binary data with NUL and high bytes. */
	RUN_OK(DB CD("a") CRLF "\0\xff\x80\r\0\n\xfe" CLOSE, "<a>\0\xff\x80\r\0\n\xfe</>");
	/* The part's headers can end right before the delimiter's CRLF. */
	RUN_OK(DB CD("a") CRLF CRLF CLOSE, "<a>\r\n</>");
}

static void test_boundaries(void)
{
	/* One character, a boundary made of dashes, the longest, one with a
	 * space and every other bchar. */
	RUN_L(NULL, "x", "--x\r\n" CD("a") "\r\nv\r\n--x--", "<a>v</>", MSGR_OK);
	RUN_L(NULL, "-", "---\r\n" CD("a") "\r\n-\r\n--\r\n---\r\n" CD("b") "\r\n\r\n-----",
	      "<a>-\r\n--</><b></>", MSGR_OK);
	RUN_L(NULL, "--", "----\r\n" CD("a") "\r\n---\r\n---x\r\n------", "<a>---\r\n---x</>",
	      MSGR_OK);
	RUN_L(NULL, "--", "----\r\n" CD("a") "\r\n---\r\n-----\r\n------", "<a>---",
	      MSGR_ERR_MALFORMED);
#define B70 "0123456789012345678901234567890123456789012345678901234567890123456789"
	RUN_L(NULL, B70, "--" B70 CRLF CD("a") CRLF "v\r\n--" B70 "--", "<a>v</>", MSGR_OK);
#define BODD "a'()+_,-./:=? z"
	RUN_L(NULL, BODD, "--" BODD CRLF CD("a") CRLF "v\r\n--" BODD "--", "<a>v</>", MSGR_OK);
	/* A realistic browser boundary. */
#define BWK "----WebKitFormBoundary7MA4YWxkTrZu0gW"
	RUN_L(NULL, BWK,
	      "--" BWK CRLF CD("a") CRLF "------WebKitFormBoundary7MA4YWxkTrZu0g" CRLF
	      "--" BWK "--" CRLF,
	      "<a>------WebKitFormBoundary7MA4YWxkTrZu0g</>", MSGR_OK);
}

static void test_headers(void)
{
	/* Case-insensitive names and type, no white space, extra white space,
	 * a trailing ";", OWS around "=", unknown parameters and headers. */
	RUN_OK(DB "CONTENT-DISPOSITION:FORM-DATA;NAME=abc" CRLF CRLF "1" CLOSE, "<abc>1</>");
	RUN_OK(DB "content-disposition: \t form-data ;  name = \"a b\" ; " CRLF CRLF "1" CLOSE,
	       "<a b>1</>");
	RUN_ERR(DB "content-disposition: form-data; name=a;; filename=b" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_OK(DB FD "foo=bar; name=a; baz=\"q;\\\"x\"" CRLF
	       "X-Custom: whatever: with colons" CRLF "X-Empty:" CRLF CRLF "1" CLOSE,
	       "<a>1</>");
	RUN_OK(DB CD("a") "Content-Type: text/plain; charset=utf-8  " CRLF CRLF "1" CLOSE,
	       "<a ct=text/plain; charset=utf-8>1</>");
	RUN_OK(DB "Content-Type:" CRLF CD("a") CRLF "1" CLOSE, "<a ct=>1</>");
	/* Content-Type before Content-Disposition. */
	RUN_OK(DB "Content-Type: image/png" CRLF
	       "Content-Disposition: form-data; filename=\"x.png\"; name=\"f\"" CRLF CRLF "1" CLOSE,
	       "<f file=x.png ct=image/png>1</>");
	/* The identity transfer encodings. */
	RUN_OK(DB CD("a") "Content-Transfer-Encoding: binary" CRLF CRLF "1" NEXT CD("b")
	       "content-transfer-encoding: 8BIT" CRLF CRLF "2" NEXT CD("c")
	       "Content-Transfer-Encoding: 7bit" CRLF CRLF "3" CLOSE,
	       "<a>1</><b>2</><c>3</>");
	/* Raw UTF-8 in a quoted filename, as browsers send it. */
	RUN_OK(DB FD "name=\"f\"; filename=\"\xd1\x84\xd0\xb0\xd0\xb9\xd0\xbb.txt\"" CRLF
	       CRLF "1" CLOSE,
	       "<f file=\xd1\x84\xd0\xb0\xd0\xb9\xd0\xbb.txt>1</>");
	/* A tab in a value is allowed; a plain filename is not percent-decoded. */
	RUN_OK(DB FD "name=\"a\tb\"; filename=\"%22q%22.txt\"" CRLF CRLF
	       "1" CLOSE,
	       "<a\tb file=%22q%22.txt>1</>");
}

static void test_quoted_string(void)
{
	RUN_OK(DB FD "name=\"a\\\"b\"; filename=\"c:\\\\dir\\\\x\\\".txt\"" CRLF
	       CRLF "1" CLOSE,
	       "<a\"b file=c:\\dir\\x\".txt>1</>");
	RUN_OK(DB FD "name=\"\\a\\;\"" CRLF CRLF "1" CLOSE,
	       "<a;>1</>");
	RUN_OK(DB FD "name=\"semi;colon\"" CRLF CRLF "1" CLOSE,
	       "<semi;colon>1</>");
	/* Unterminated, and ending in a backslash. */
	RUN_ERR(DB FD "name=\"abc" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=\"abc\\\"" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=\"abc\\" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
}

static void test_filename_ext(void)
{
	/* RFC 8187 section 3.2: UTF-8, case-insensitive charset, any language. */
	RUN_OK(DB FD "name=\"f\"; filename*=UTF-8''%e2%82%ac%20rates.txt" CRLF
	       CRLF "1" CLOSE,
	       "<f file=\xe2\x82\xac rates.txt>1</>");
	RUN_OK(DB FD "name=\"f\"; filename*=utf-8'en-US'a%2Fb%25!#$&+-.^_`|~" CRLF
	       CRLF "1" CLOSE,
	       "<f file=a/b%!#$&+-.^_`|~>1</>");
	/* filename* wins over filename, in either order. */
	RUN_OK(DB FD "name=\"f\"; filename=\"old.txt\"; filename*=UTF-8''new.txt" CRLF
	       CRLF "1" CLOSE,
	       "<f file=new.txt>1</>");
	RUN_OK(DB FD "name=\"f\"; FILENAME*=UTF-8''new.txt; filename=\"old.txt\"" CRLF
	       CRLF "1" CLOSE,
	       "<f file=new.txt>1</>");
	/* ISO-8859-1 becomes UTF-8. */
	RUN_OK(DB FD "name=\"f\"; filename*=iso-8859-1'en'%A3%20rates%ff" CRLF
	       CRLF "1" CLOSE,
	       "<f file=\xc2\xa3 rates\xc3\xbf>1</>");
	/* An empty ext-value. */
	RUN_OK(DB FD "name=\"f\"; filename*=UTF-8''" CRLF CRLF "1" CLOSE,
	       "<f file=>1</>");
	/* Another charset: filename stands in, or the part is refused. */
	RUN_OK(DB FD "name=\"f\"; filename*=koi8-r''%c6; filename=\"x\"" CRLF
	       CRLF "1" CLOSE,
	       "<f file=x>1</>");
	RUN_ERR(DB FD "name=\"f\"; filename*=koi8-r''%c6" CRLF CRLF
		"1" CLOSE,
		MSGR_ERR_UNSUPPORTED);
	/* Malformed: quoted, no charset, one quote, bad escapes, a character
	 * that is no attr-char, a control character, repeated. */
	RUN_ERR(DB FD "name=\"f\"; filename*=\"UTF-8''x\"" CRLF CRLF
		"1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=\"f\"; filename*=''x" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=\"f\"; filename*=UTF-8'x" CRLF CRLF
		"1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=\"f\"; filename*=UTF-8'e n'x" CRLF CRLF
		"1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=\"f\"; filename*=UTF-8''%G0" CRLF CRLF
		"1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=\"f\"; filename*=UTF-8''%4" CRLF CRLF
		"1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=\"f\"; filename*=UTF-8''a(b" CRLF CRLF
		"1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=\"f\"; filename*=UTF-8''a%00b" CRLF CRLF
		"1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=\"f\"; filename*=UTF-8''a%0D%0Ab" CRLF
		CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=\"f\"; filename*=UTF-8''a; filename*=UTF-8''b" CRLF
		CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
}

static void test_disposition_errors(void)
{
	/* No Content-Disposition, or no header at all. */
	RUN_ERR(DB "Content-Type: text/plain" CRLF CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR(DB CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	/* Not form-data. */
	RUN_ERR(DB "Content-Disposition: attachment; name=\"a\"" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB "Content-Disposition: form-data2; name=\"a\"" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB "Content-Disposition:" CRLF CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	/* No name, an empty one, a name without value. */
	RUN_ERR(DB "Content-Disposition: form-data" CRLF CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "filename=\"a\"" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=\"\"" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=; filename=a" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	/* Repeated parameters and headers. */
	RUN_ERR(DB FD "name=\"a\"; name=\"b\"" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=a; filename=x; Filename=y" CRLF CRLF
		"1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB CD("a") CD("a") CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR(DB CD("a") "Content-Type: a/b" CRLF "content-type: a/b" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB CD("a") "Content-Transfer-Encoding: binary" CRLF
		"Content-Transfer-Encoding: binary" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	/* Broken parameter syntax. */
	RUN_ERR(DB "Content-Disposition: form-data name=a" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "=a" CRLF CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=\"a\"x" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=a b" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	/* A transfer encoding that would need decoding. */
	RUN_ERR(DB CD("a") "Content-Transfer-Encoding: base64" CRLF CRLF "MQ==" CLOSE,
		MSGR_ERR_UNSUPPORTED);
	RUN_ERR(DB CD("a") "Content-Transfer-Encoding: quoted-printable" CRLF CRLF "1" CLOSE,
		MSGR_ERR_UNSUPPORTED);
	/* The part before the bad one was complete and is reported. */
	RUN(DB CD("a") CRLF "1" NEXT "Content-Disposition: inline" CRLF CRLF "2" CLOSE,
	    "<a>1</>", MSGR_ERR_MALFORMED);
}

static void test_header_syntax(void)
{
	/* Obsolete folding (RFC 9112 section 5.2), also of the first line. */
	RUN_ERR(DB "Content-Disposition: form-data;" CRLF " name=\"a\"" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB CD("a") "\tX: y" CRLF CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR(DB " " CD("a") CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	/* No colon, white space before it, an empty or bad name. */
	RUN_ERR(DB CD("a") "no colon here" CRLF CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR(DB "Content-Disposition : form-data; name=a" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB CD("a") ": value" CRLF CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR(DB CD("a") "Bad(name): value" CRLF CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR(DB CD("a") "Na\0me: value" CRLF CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	/* Control characters in a value. */
	RUN_ERR(DB FD "name=\"a\x01\"" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB CD("a") "X: a\0b" CRLF CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR(DB CD("a") "X: a\x7f" CRLF CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
}

static void test_line_endings(void)
{
	/* Bare LF is refused everywhere but in a body (see multipart.h). */
	RUN_ERR("--" B "\n" CD("a") CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR("--" B " \n" CD("a") CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=a\n\r\n1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR(DB CD("a") "\n1" CLOSE, MSGR_ERR_MALFORMED);
	/* A whole body with LF line endings never finds a delimiter. */
	RUN_ERR("--" B "\nContent-Disposition: form-data; name=a\n\n1\n--" B "--\n",
		MSGR_ERR_MALFORMED);
	/* CR without LF. */
	RUN_ERR("--" B "\r" CD("a") CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR("--" B "\rx" CRLF CD("a") CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR("--" B "\r\r\n" CD("a") CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR(DB FD "name=a\rX: y" CRLF CRLF "1" CLOSE,
		MSGR_ERR_MALFORMED);
	RUN_ERR(DB CD("a") "\r\r\n1" CLOSE, MSGR_ERR_MALFORMED);
}

static void test_near_boundary(void)
{
	/* RFC 2046 section 5.1.1: a line starting with the boundary is a
	 * delimiter; what follows it must be padding and CRLF or "--". */
	RUN(DB CD("a") CRLF "x" CRLF "--" B "X" CRLF "y" CLOSE, "<a>x", MSGR_ERR_MALFORMED);
	RUN(DB CD("a") CRLF "x" CRLF "--" B " X" CLOSE, "<a>x", MSGR_ERR_MALFORMED);
	RUN(DB CD("a") CRLF "x" CRLF "--" B "-x" CLOSE, "<a>x", MSGR_ERR_MALFORMED);
	RUN(DB CD("a") CRLF "x" CRLF "--" B "- -" CLOSE, "<a>x", MSGR_ERR_MALFORMED);
	RUN(DB CD("a") CRLF "x" CRLF "--" B "-- " CLOSE, "<a>x</>", MSGR_OK);
	RUN_ERR("--" B "X" CRLF CD("a") CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	RUN_ERR("preamble" CRLF "--" B "X" CRLF CD("a") CRLF "1" CLOSE, MSGR_ERR_MALFORMED);
	/* A second part ends the first one cleanly before the trouble. */
	RUN(DB CD("a") CRLF "x" NEXT CD("b") CRLF "y" CRLF "--" B "==" CRLF, "<a>x</><b>y",
	    MSGR_ERR_MALFORMED);
}

static void test_truncated(void)
{
	RUN_ERR("", MSGR_ERR_TRUNCATED);
	RUN_ERR("just a preamble" CRLF, MSGR_ERR_TRUNCATED);
	RUN_ERR("--" B, MSGR_ERR_TRUNCATED);
	RUN_ERR("--" B "  ", MSGR_ERR_TRUNCATED);
	RUN_ERR("--" B "\r", MSGR_ERR_TRUNCATED);
	RUN_ERR("--" B "-", MSGR_ERR_TRUNCATED);
	RUN_ERR(DB, MSGR_ERR_TRUNCATED);
	RUN_ERR(DB "Content-Disposition: form-", MSGR_ERR_TRUNCATED);
	RUN_ERR(DB CD("a"), MSGR_ERR_TRUNCATED);
	RUN_ERR(DB CD("a") "\r", MSGR_ERR_TRUNCATED);
	RUN(DB CD("a") CRLF, "<a>", MSGR_ERR_TRUNCATED);
	RUN(DB CD("a") CRLF "some data", "<a>some data", MSGR_ERR_TRUNCATED);
	/* Held bytes that might have started a delimiter are not given. */
	RUN(DB CD("a") CRLF "some data\r", "<a>some data", MSGR_ERR_TRUNCATED);
	RUN(DB CD("a") CRLF "some data\r\n--AaB0", "<a>some data", MSGR_ERR_TRUNCATED);
	/* The part is not ended before the delimiter line is whole. */
	RUN(DB CD("a") CRLF "d" CRLF "--" B, "<a>d", MSGR_ERR_TRUNCATED);
	RUN(DB CD("a") CRLF "d" CRLF "--" B "-", "<a>d", MSGR_ERR_TRUNCATED);
	RUN(DB CD("a") CRLF "d" CRLF "--" B " \r", "<a>d", MSGR_ERR_TRUNCATED);
	RUN(DB CD("a") CRLF "d" NEXT, "<a>d</>", MSGR_ERR_TRUNCATED);
	RUN(DB CD("a") CRLF "d" NEXT CD("b") CRLF "e", "<a>d</><b>e", MSGR_ERR_TRUNCATED);
}

static void test_limits(void)
{
	struct mp_limits lim = {.max_header_line = 48};

	/* A line of exactly the limit passes; one more byte does not. */
	RUN_L(&lim, B, DB FD "name=\"abcdefghi\"" CRLF CRLF "1" CLOSE,
	      "<abcdefghi>1</>", MSGR_OK);
	RUN_L(&lim, B, DB FD "name=\"abcdefghij\"" CRLF CRLF "1" CLOSE,
	      "", MSGR_ERR_TOO_LARGE);
	RUN_L(&lim, B, DB CD("a") "X-Long: 01234567890123456789012345678901234567890" CRLF CRLF
	      "1" CLOSE,
	      "", MSGR_ERR_TOO_LARGE);
	/* Long values in two lines at the limit, kept together. */
	RUN_L(&lim, B, DB "Content-Disposition:form-data;name=abcdefghijklm" CRLF
	      "Content-Type: 0123456789012345678901234567890123" CRLF CRLF "1" CLOSE,
	      "<abcdefghijklm ct=0123456789012345678901234567890123>1</>", MSGR_OK);
	lim.max_header_line = 80;
	RUN_L(&lim, B, DB "Content-Disposition:form-data;name=a;filename*=utf-8''%C3%A9%C3" CRLF
	      "Content-Type: 0123456789012345678901234567890123" CRLF CRLF "1" CLOSE,
	      "<a file=\xc3\xa9\xc3 ct=0123456789012345678901234567890123>1</>", MSGR_OK);
	RUN_L(&lim, B,
	      DB "Content-Disposition:form-data;name=a;filename*=iso-8859-1''%E9%E9%E9" CRLF
	      CRLF "1" CLOSE,
	      "<a file=\xc3\xa9\xc3\xa9\xc3\xa9>1</>", MSGR_OK);
	/* Long body lines are no header lines. */
	RUN_L(&lim, B, DB CD("a") CRLF B70 CLOSE, "<a>" B70 "</>", MSGR_OK);

	/* Header lines per part: 3 pass, 4 do not, a blank line is no header. */
	lim = (struct mp_limits){.max_headers = 3};
	RUN_L(&lim, B, DB CD("a") "X: 1" CRLF "Y: 2" CRLF CRLF "1" NEXT CD("b") "X: 1" CRLF
	      "Y: 2" CRLF CRLF "2" CLOSE,
	      "<a>1</><b>2</>", MSGR_OK);
	RUN_L(&lim, B, DB CD("a") "X: 1" CRLF "Y: 2" CRLF "Z: 3" CRLF CRLF "1" CLOSE, "",
	      MSGR_ERR_LIMIT);

	/* Parts: 2 pass, the third is refused after the second ended. */
	lim = (struct mp_limits){.max_parts = 2};
	RUN_L(&lim, B, DB CD("a") CRLF "1" NEXT CD("b") CRLF "2" CLOSE, "<a>1</><b>2</>",
	      MSGR_OK);
	RUN_L(&lim, B, DB CD("a") CRLF "1" NEXT CD("b") CRLF "2" NEXT CD("c") CRLF "3" CLOSE,
	      "<a>1</><b>2</>", MSGR_ERR_LIMIT);

	/* All header bytes: CD("a") and the blank line are 42 + 2 bytes. */
	lim = (struct mp_limits){.max_header_bytes = 88};
	RUN_L(&lim, B, DB CD("a") CRLF "1" NEXT CD("b") CRLF "2" CLOSE, "<a>1</><b>2</>",
	      MSGR_OK);
	lim = (struct mp_limits){.max_header_bytes = 87};
	RUN_L(&lim, B, DB CD("a") CRLF "1" NEXT CD("b") CRLF "2" CLOSE, "<a>1</>",
	      MSGR_ERR_TOO_LARGE);

	/* The default line limit, 1024, with NULL limits. */
	{
		static char body[2048], expect[2048];

		for (int k = 0; k < 2; k++) {
			size_t n = 0, e = 0;

			/* Content-Disposition: form-data; name="" is 39 bytes. */
			n += (size_t)snprintf(body, sizeof body,
					      DB FD "name=\"");
			e += (size_t)snprintf(expect, sizeof expect, "<");
			for (size_t i = 0; i < 1024 - 39 + (size_t)k; i++) {
				body[n++] = 'n';
				expect[e++] = 'n';
			}
			n += (size_t)snprintf(body + n, sizeof body - n, "\"" CRLF CRLF "1" CLOSE);
			e += (size_t)snprintf(expect + e, sizeof expect - e, ">1</>");
			run(__LINE__, NULL, B, body, n, expect, k == 0 ? e : 0,
			    k == 0 ? MSGR_OK : MSGR_ERR_TOO_LARGE, NULL);
		}
	}
}

static void test_abort(void)
{
	const char body[] = DB CD("a") CRLF "1234" NEXT CD("b") CRLF "5678" CLOSE;
	struct aborts ab = {.begin = 2, .err = MSGR_ERR_IO};

	run(__LINE__, NULL, B, body, sizeof body - 1, "<a>1234</><b>", 13, MSGR_ERR_IO, &ab);
	ab = (struct aborts){.begin = 1, .err = MSGR_ERR_LIMIT};
	run(__LINE__, NULL, B, body, sizeof body - 1, "<a>", 3, MSGR_ERR_LIMIT, &ab);
	ab = (struct aborts){.end = 1, .err = MSGR_ERR_TOO_LARGE};
	run(__LINE__, NULL, B, body, sizeof body - 1, "<a>1234</>", 10, MSGR_ERR_TOO_LARGE, &ab);
	/* The last part_end comes with the close delimiter. */
	ab = (struct aborts){.end = 2, .err = MSGR_ERR_IO};
	run(__LINE__, NULL, B, body, sizeof body - 1, "<a>1234</><b>5678</>", 20, MSGR_ERR_IO,
	    &ab);
	ab = (struct aborts){.data = 1, .err = MSGR_ERR_TOO_LARGE};
	run(__LINE__, NULL, B, body, sizeof body - 1, "", 0, MSGR_ERR_TOO_LARGE, &ab);
	/* An abort on held bytes given back from the parser. */
	{
		const char held[] = DB CD("a") CRLF "\r\n--AaB03q" CLOSE;

		ab = (struct aborts){.data = 1, .err = MSGR_ERR_IO};
		run(__LINE__, NULL, B, held, sizeof held - 1, "", 0, MSGR_ERR_IO, &ab);
	}
	/* A callback may even return what the parser would: mp_aborted()
	 * tells them apart. */
	ab = (struct aborts){.begin = 1, .err = MSGR_ERR_MALFORMED};
	run(__LINE__, NULL, B, body, sizeof body - 1, "<a>", 3, MSGR_ERR_MALFORMED, &ab);

	/* The detail names the part and the error. */
	{
		struct mp_parser *p;

		ab = (struct aborts){.begin = 2, .err = MSGR_ERR_IO};
		R.abort_begin = 2;
		R.abort_err = MSGR_ERR_IO;
		R.nbegin = R.ndata = R.nend = 0;
		R.in_part = false;
		CHECK_ERR(mp_parser_new(B, strlen(B), NULL, &rec_cb, &R, &p), MSGR_OK);
		R.p = p;
		R.chunk = body;
		R.chunk_len = sizeof body - 1;
		CHECK_ERR(mp_feed(p, body, sizeof body - 1), MSGR_ERR_IO);
		CHECK(mp_aborted(p));
		CHECK(strcmp(mp_error_detail(p),
			     "could not process part 2: input/output error") == 0);
		mp_parser_free(p);
		R.abort_begin = 0;
	}
}

/* Details, for a few errors, and their HTTP statuses. */
static void test_detail(void)
{
	static const struct {
		const char *body;
		enum msgr_err err;
		const char *detail;
	} cases[] = {
		{"", MSGR_ERR_TRUNCATED, "the body ended before its first boundary"},
		{"--" B " ", MSGR_ERR_TRUNCATED, "the body ended after its first boundary"},
		{DB CD("a") "\tX: y" CRLF, MSGR_ERR_MALFORMED,
		 "header line 2 of part 1 starts with white space (folding is not supported)"},
		{DB "Content-Disposition : x" CRLF, MSGR_ERR_MALFORMED,
		 "header line 1 of part 1 has a malformed name"},
		{DB CD("a") CRLF "x", MSGR_ERR_TRUNCATED,
		 "the body ended in part 1, before the closing boundary"},
		{DB CD("a") CRLF "1" NEXT "X: y", MSGR_ERR_TRUNCATED,
		 "the body ended in the headers of part 2"},
		{DB CD("a") "foo" CRLF, MSGR_ERR_MALFORMED, "header line 2 of part 1 has no colon"},
		{DB " x: y" CRLF, MSGR_ERR_MALFORMED,
		 "header line 1 of part 1 starts with white space (folding is not supported)"},
		{DB "X: y" CRLF CRLF, MSGR_ERR_MALFORMED, "part 1 has no content-disposition"},
		{DB FD "filename=x" CRLF CRLF, MSGR_ERR_MALFORMED,
		 "part 1 has no name"},
		{"--" B "x", MSGR_ERR_MALFORMED, "a boundary is followed by other characters"},
		{"--" B "\n", MSGR_ERR_MALFORMED, "a boundary line ends in LF alone, not CRLF"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct mp_parser *p;
		enum msgr_err err;

		CHECK_ERR(mp_parser_new(B, strlen(B), NULL, NULL, NULL, &p), MSGR_OK);
		err = mp_feed(p, cases[i].body, strlen(cases[i].body));
		if (err == MSGR_OK)
			err = mp_finish(p);
		CHECK_ERR(err, cases[i].err);
		if (strcmp(mp_error_detail(p), cases[i].detail) != 0) {
			fprintf(stderr, "  detail \"%s\", want \"%s\"\n", mp_error_detail(p),
				cases[i].detail);
			CHECK(!"detail");
		} else {
			CHECK(true);
		}
		CHECK(!mp_aborted(p));
		mp_parser_free(p);
	}
	CHECK(mp_error_status(MSGR_OK) == 200);
	CHECK(mp_error_status(MSGR_ERR_MALFORMED) == 400);
	CHECK(mp_error_status(MSGR_ERR_TRUNCATED) == 400);
	CHECK(mp_error_status(MSGR_ERR_TOO_LARGE) == 413);
	CHECK(mp_error_status(MSGR_ERR_LIMIT) == 413);
	CHECK(mp_error_status(MSGR_ERR_UNSUPPORTED) == 415);
	CHECK(mp_error_status(MSGR_ERR_IO) == 500);
	CHECK(mp_error_status(MSGR_ERR_NOMEM) == 500);
	CHECK(*mp_error_detail(NULL) == '\0');
	CHECK(!mp_aborted(NULL));
}

static void test_parser_new(void)
{
	struct mp_parser *p = (struct mp_parser *)1;
	struct mp_limits lim = {.max_header_line = MP_MAX_HEADER_LINE + 1};
	char b71[72];

	memset(b71, 'b', 71);
	b71[71] = '\0';
	CHECK_ERR(mp_parser_new("", 0, NULL, NULL, NULL, &p), MSGR_ERR_MALFORMED);
	CHECK(p == NULL);
	CHECK_ERR(mp_parser_new(b71, 71, NULL, NULL, NULL, &p), MSGR_ERR_MALFORMED);
	CHECK_ERR(mp_parser_new(b71, 70, NULL, NULL, NULL, &p), MSGR_OK);
	mp_parser_free(p);
	CHECK_ERR(mp_parser_new("ab ", 3, NULL, NULL, NULL, &p), MSGR_ERR_MALFORMED);
	CHECK_ERR(mp_parser_new("a b", 3, NULL, NULL, NULL, &p), MSGR_OK);
	mp_parser_free(p);
	CHECK_ERR(mp_parser_new("a\rb", 3, NULL, NULL, NULL, &p), MSGR_ERR_MALFORMED);
	CHECK_ERR(mp_parser_new("a\nb", 3, NULL, NULL, NULL, &p), MSGR_ERR_MALFORMED);
	CHECK_ERR(mp_parser_new("a\0b", 3, NULL, NULL, NULL, &p), MSGR_ERR_MALFORMED);
	CHECK_ERR(mp_parser_new("a@b", 3, NULL, NULL, NULL, &p), MSGR_ERR_MALFORMED);
	CHECK_ERR(mp_parser_new("a\"b", 3, NULL, NULL, NULL, &p), MSGR_ERR_MALFORMED);
	CHECK_ERR(mp_parser_new("ab", 2, &lim, NULL, NULL, &p), MSGR_ERR_CONFIG);
	lim.max_header_line = MP_MAX_HEADER_LINE;
	CHECK_ERR(mp_parser_new("ab", 2, &lim, NULL, NULL, &p), MSGR_OK);
	mp_parser_free(p);
	/* Zero limits take the defaults. */
	lim = (struct mp_limits){0};
	CHECK_ERR(mp_parser_new("ab", 2, &lim, NULL, NULL, &p), MSGR_OK);
	CHECK(p->lim.max_header_line == MP_DEFAULT_HEADER_LINE);
	CHECK(p->lim.max_headers == MP_DEFAULT_HEADERS);
	CHECK(p->lim.max_parts == MP_DEFAULT_PARTS);
	CHECK(p->lim.max_header_bytes == MP_DEFAULT_HEADER_BYTES);
	mp_parser_free(p);
	mp_parser_free(NULL);
	fail_allocs = true;
	p = (struct mp_parser *)1;
	CHECK_ERR(mp_parser_new("ab", 2, NULL, NULL, NULL, &p), MSGR_ERR_NOMEM);
	CHECK(p == NULL);
	fail_allocs = false;

	/* Without callbacks the body is still checked. */
	{
		const char ok[] = DB CD("a") CRLF "1" CLOSE;
		const char bad[] = DB CD("a") CRLF "1" CRLF "--" B "x";

		CHECK_ERR(mp_parser_new(B, strlen(B), NULL, NULL, NULL, &p), MSGR_OK);
		CHECK_ERR(mp_feed(p, ok, sizeof ok - 1), MSGR_OK);
		CHECK_ERR(mp_finish(p), MSGR_OK);
		mp_parser_free(p);
		CHECK_ERR(mp_parser_new(B, strlen(B), NULL, NULL, NULL, &p), MSGR_OK);
		CHECK_ERR(mp_feed(p, bad, sizeof bad - 1), MSGR_ERR_MALFORMED);
		mp_parser_free(p);
	}
}

/* The store is sized so that it cannot overflow; shrunk, it must refuse
 * cleanly rather than write past its end. */
static void test_store_guard(void)
{
	static const char *const bodies[] = {
		DB FD "name=\"abcdef\"" CRLF CRLF,
		DB FD "name=abcdef" CRLF CRLF,
		DB FD "name=a; filename*=utf-8''abcdef" CRLF CRLF,
		DB FD "name=a; filename*=iso-8859-1''%e9%e9%e9" CRLF CRLF,
		DB "Content-Type: abcdef" CRLF CRLF,
		DB FD "name=abc" CRLF CRLF,
	};
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		struct mp_parser *p;

		CHECK_ERR(mp_parser_new(B, strlen(B), NULL, NULL, NULL, &p), MSGR_OK);
		p->store_cap = 3;
		CHECK_ERR(mp_feed(p, bodies[i], strlen(bodies[i])), MSGR_ERR_TOO_LARGE);
		CHECK(p->store_len <= 3);
		mp_parser_free(p);
	}
}

/* ---- mp_boundary_from_content_type ---- */

static void check_ct(int line, const char *ct, enum msgr_err want, const char *want_b)
{
	/* Copied without its NUL, so a read past len is caught. */
	size_t len = strlen(ct), blen = 99;
	char *copy = malloc(len ? len : 1);
	const char *b = (const char *)1;
	enum msgr_err err;
	bool ok;

	memcpy(copy, ct, len);
	err = mp_boundary_from_content_type(copy, len, &b, &blen);
	if (want == MSGR_OK)
		ok = err == MSGR_OK && b >= copy && b + blen <= copy + len &&
		     blen == strlen(want_b) && memcmp(b, want_b, blen) == 0;
	else
		ok = err == want && b == NULL && blen == 0;
	if (!ok) {
		fprintf(stderr, "%s:%d: content type failed: got %d, want %d\n", __FILE__, line,
			err, want);
		show("ct", ct, len);
		if (err == MSGR_OK && b)
			show("boundary", b, blen);
	}
	CHECK(ok);
	free(copy);
}

static void test_content_type(void)
{
#define CT_OK(ct, b) check_ct(__LINE__, ct, MSGR_OK, b)
#define CT_ERR(ct, err) check_ct(__LINE__, ct, err, NULL)
	CT_OK("multipart/form-data; boundary=AaB03x", "AaB03x");
	CT_OK("multipart/form-data;boundary=AaB03x", "AaB03x");
	CT_OK("Multipart/Form-Data; BOUNDARY=AaB03x", "AaB03x");
	CT_OK("MULTIPART/FORM-DATA; Boundary=\"AaB03x\"", "AaB03x");
	CT_OK("multipart/form-data; boundary=\"quoted b\"", "quoted b");
	CT_OK("multipart/form-data; charset=utf-8; boundary=x", "x");
	CT_OK("multipart/form-data; boundary=x; charset=\"a\\\"b;c\"", "x");
	CT_OK("  multipart/form-data ; boundary = abc ; ", "abc");
	CT_OK("multipart/form-data;\tboundary=abc\t", "abc");
	CT_OK("multipart/form-data; boundary=" BWK, BWK);
	CT_OK("multipart/form-data; boundary=----=_Part_0_12.34", "----=_Part_0_12.34");
	CT_OK("multipart/form-data; boundary=\"" BODD "\"", BODD);
	CT_OK("multipart/form-data; boundary=" B70, B70);
	CT_OK("multipart/form-data; boundary=\"" B70 "\"", B70);
	CT_OK("multipart/form-data; boundary=a;", "a");

	CT_ERR("", MSGR_ERR_UNSUPPORTED);
	CT_ERR("text/plain", MSGR_ERR_UNSUPPORTED);
	CT_ERR("text/plain; boundary=x", MSGR_ERR_UNSUPPORTED);
	CT_ERR("application/x-www-form-urlencoded", MSGR_ERR_UNSUPPORTED);
	CT_ERR("multipart/mixed; boundary=x", MSGR_ERR_UNSUPPORTED);
	CT_ERR("multipart", MSGR_ERR_UNSUPPORTED);
	CT_ERR("multipart/", MSGR_ERR_UNSUPPORTED);
	CT_ERR("multipart /form-data; boundary=x", MSGR_ERR_UNSUPPORTED);
	CT_ERR("multipart/form-data2; boundary=x", MSGR_ERR_UNSUPPORTED);
	CT_ERR("multipart/form-dat", MSGR_ERR_UNSUPPORTED);

	CT_ERR("multipart/form-data", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data;", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; charset=utf-8", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data boundary=x", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=;", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=\"\"", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; =x", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=\"abc", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=\"abc \"", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=\"a\\bc\"", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=a b", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=a@b", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=a\"b\"", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=a\x01", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=\"a\x01\"", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=\"a\\", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=a; charset=\"a\\\x01\"", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=" B70 "x", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=a; boundary=a", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=a; BOUNDARY=\"b\"", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; charset=\"utf-8; boundary=x", MSGR_ERR_MALFORMED);
	CT_ERR("multipart/form-data; boundary=x garbage", MSGR_ERR_MALFORMED);
#undef CT_OK
#undef CT_ERR
}

/* ---- memory and zero-copy ---- */

/* The body: bytes at % 251 with "\r\n--AaB03y" every 4 KiB. */
static char big_byte(size_t at)
{
	return at % 4096 < 10 ? "\r\n--AaB03y"[at % 4096] : (char)(at % 251);
}

static size_t big_total;
static bool big_ok = true;

static enum msgr_err big_data(void *ctx, const struct mp_part *part, const char *data,
			      size_t len)
{
	(void)ctx;
	(void)part;
	for (size_t i = 0; i < len; i++)
		if (data[i] != big_byte(big_total + i))
			big_ok = false;
	big_total += len;
	return MSGR_OK;
}

/* A 64 MiB part, fed in 64 KiB chunks as the FastCGI program will, with
 * near-delimiters throughout: nothing is allocated and all arrives. */
static void test_big_part(void)
{
	const struct mp_callbacks cb = {.part_data = big_data};
	const size_t total = 64u << 20, chunk = 64u << 10;
	const char head[] = DB CD("f") CRLF, tail[] = CLOSE;
	char *buf = malloc(chunk);
	struct mp_parser *p;
	enum msgr_err err;
	size_t allocs;

	CHECK_ERR(mp_parser_new(B, strlen(B), NULL, &cb, NULL, &p), MSGR_OK);
	allocs = n_allocs;
	err = mp_feed(p, head, sizeof head - 1);
	for (size_t off = 0; off < total && err == MSGR_OK; off += chunk) {
		for (size_t i = 0; i < chunk; i++)
			buf[i] = big_byte(off + i);
		/* Uneven chunks too: the first of each pair is cut short. */
		err = mp_feed(p, buf, chunk / 3);
		if (err == MSGR_OK)
			err = mp_feed(p, buf + chunk / 3, chunk - chunk / 3);
	}
	if (err == MSGR_OK)
		err = mp_feed(p, tail, sizeof tail - 1);
	if (err == MSGR_OK)
		err = mp_finish(p);
	CHECK_ERR(err, MSGR_OK);
	CHECK(n_allocs == allocs);
	CHECK(big_total == total);
	CHECK(big_ok);
	mp_parser_free(p);
	free(buf);
}

/* Data held at the end of a chunk comes from the parser when it turns out
 * to be data, and everything else straight from the chunks. */
static void test_zero_copy(void)
{
	const char body[] = DB CD("a") CRLF "xyz\r\n--AaB0" "3q" CLOSE;
	size_t cut = sizeof(DB CD("a") CRLF "xyz\r\n--AaB0") - 1;

	CHECK_ERR(drive(NULL, B, body, sizeof body - 1, &cut, 1, NULL), MSGR_OK);
	CHECK(R.len == sizeof "<a>xyz\r\n--AaB03q</>" - 1 &&
	      memcmp(R.out, "<a>xyz\r\n--AaB03q</>", R.len) == 0);
	CHECK(R.from_parser == 8);
	CHECK(!R.bad);
}

/* ---- random bodies ---- */

/* Does "\r\n--" b occur in s (which the caller ends with one)? Returns the
 * first position. */
static size_t find_delim(const char *s, size_t len, const char *b)
{
	size_t bl = strlen(b);

	for (size_t i = 0; i + 4 + bl <= len; i++)
		if (memcmp(s + i, "\r\n--", 4) == 0 && memcmp(s + i + 4, b, bl) == 0)
			return i;
	return len;
}

/* Random bytes that are mostly pieces of delimiters. */
static size_t random_bytes(char *out, size_t max, const char *b)
{
	static const char *const bits[] = {"\r", "\n", "-", "--", "\r\n", "\r\n--", "x", "\0",
					   "\xff"};
	size_t n = 0, want = rnd((unsigned)max);

	while (n < want) {
		const char *s;
		size_t l;

		if (rnd(4) == 0) {
			s = b;
			l = rnd((unsigned)strlen(b) + 1);
		} else {
			s = bits[rnd(sizeof bits / sizeof bits[0])];
			l = s[0] ? strlen(s) : 1;
		}
		if (l > max - n)
			break;
		memcpy(out + n, s, l);
		n += l;
	}
	return n;
}

static void test_random(void)
{
	static const char *const bounds[] = {"AaB03x", "x", "-", "ab-ab"};
	static char body[1 << 14], expect[1 << 14], part[512];
	int failures = 0;

	light = true;
	for (int iter = 0; iter < 300 && failures == 0; iter++) {
		const char *b = bounds[iter % 4];
		size_t n = 0, e = 0, bl = strlen(b);
		unsigned nparts = rnd(5);

		/* A preamble without the delimiter; it may be empty. */
		do {
			n = random_bytes(body, 64, b);
			memcpy(body + n, "\r\n--", 4);
			memcpy(body + n + 4, b, bl);
		} while (find_delim(body, n + 4 + bl, b) != n ||
			 (memcmp(body, "--", 2) == 0 && memcmp(body + 2, b, bl) == 0));
		if (n == 0) {
			/* The body opens with the dash-boundary itself. */
			memcpy(body, "--", 2);
			memcpy(body + 2, b, bl);
			n = 2 + bl;
		} else {
			n += 4 + bl;
		}
		for (unsigned k = 0; k < nparts; k++) {
			size_t pl;

			n += (size_t)snprintf(body + n, sizeof body - n,
					      CRLF FD "name=\"p%u\"" CRLF CRLF, k);
			e += (size_t)snprintf(expect + e, sizeof expect - e, "<p%u>", k);
			do {
				pl = random_bytes(part, sizeof part - 8 - bl, b);
				memcpy(part + pl, "\r\n--", 4);
				memcpy(part + pl + 4, b, bl);
			} while (find_delim(part, pl + 4 + bl, b) != pl);
			memcpy(body + n, part, pl + 4 + bl);
			n += pl + 4 + bl;
			memcpy(expect + e, part, pl);
			e += pl;
			memcpy(expect + e, "</>", 3);
			e += 3;
		}
		memcpy(body + n, "--", 2);
		n += 2;
		n += random_bytes(body + n, 64, b);

		{
			size_t save_p = (size_t)n_passed, save_f = (size_t)n_failed;

			run(__LINE__, NULL, b, body, n, expect, e, MSGR_OK, NULL);
			/* One check for the whole random test, not 5 per body. */
			failures += n_failed - (int)save_f;
			n_passed = (int)save_p;
			n_failed = (int)save_f;
		}
	}
	light = false;
	CHECK(failures == 0);
}

int main(void)
{
	test_simple();
	test_preamble_epilogue();
	test_padding();
	test_empty();
	test_body_crlf();
	test_boundaries();
	test_headers();
	test_quoted_string();
	test_filename_ext();
	test_disposition_errors();
	test_header_syntax();
	test_line_endings();
	test_near_boundary();
	test_truncated();
	test_limits();
	test_abort();
	test_detail();
	test_parser_new();
	test_store_guard();
	test_content_type();
	test_big_part();
	test_zero_copy();
	test_random();
	printf("unit test_multipart: %d passed, %d failed\n", n_passed, n_failed);
	return n_failed ? 1 : 0;
}
