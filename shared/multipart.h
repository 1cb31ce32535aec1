/*
 * multipart.h - a streaming multipart/form-data parser (RFC 7578, RFC 2046
 * section 5.1).
 *
 * The caller pushes the request body in chunks of any size with mp_feed();
 * the parser calls back at the start of each part (with its parsed headers),
 * for each piece of the part's body, and at its end. Body bytes are handed
 * over as pointers into the caller's chunk wherever possible and are never
 * stored: the parser allocates once, in mp_parser_new(), an amount fixed by
 * the limits (about three times max_header_line), whatever the size of the
 * parts.
 *
 * Choices where the RFCs leave room, all in the direction of refusing input
 * that two parsers could read differently:
 *   - Lines end in CRLF (RFC 2046 section 5.1.1). A bare LF or bare CR in a
 *     boundary line or a header block is MSGR_ERR_MALFORMED; inside a part's
 *     body both are data, so "LF--boundary" does not end a part (a body
 *     written with LF alone ends in MSGR_ERR_MALFORMED or, if no CRLF
 *     delimiter ever comes, MSGR_ERR_TRUNCATED).
 *   - A line that starts with "--" and the boundary is a delimiter whatever
 *     follows (RFC 2046 section 5.1.1: "it is sufficient that the boundary
 *     appear in its entirety following the CRLF"). "--boundaryX" is therefore
 *     malformed, not body data. Transport padding (spaces and tabs) before the
 *     CRLF is accepted.
 *   - The preamble and everything after the closing "--boundary--" (the
 *     epilogue) are ignored. A body with no part at all ("--boundary--") is
 *     valid; the caller decides whether it needed a part.
 *   - Header lines that start with white space (obsolete folding), lines
 *     without a colon, white space before the colon, control characters,
 *     repeated Content-Disposition or Content-Type, and a
 *     Content-Transfer-Encoding other than 7bit, 8bit or binary are refused.
 *   - Content-Disposition must be form-data with a non-empty name. Repeated
 *     parameters are refused. filename* (RFC 8187, formerly RFC 5987; UTF-8
 *     or ISO-8859-1) wins over filename; it is accepted although RFC 7578
 *     section 4.2 tells senders not to use it, because some do.
 *
 * Intended use, streaming an upload to disk in a FastCGI program:
 *
 *	static enum msgr_err on_begin(void *ctx, const struct mp_part *part)
 *	{
 *		struct upload *up = ctx;
 *		if (!part->filename)	// a plain field: collect it into a
 *			return MSGR_OK;	// bounded buf in on_data instead
 *		if (up->nfiles == up->max_files)
 *			return MSGR_ERR_LIMIT;                        // 413
 *		up->fd = open(up->dir, O_TMPFILE | O_WRONLY, 0600);	// or mkstemp()
 *		return up->fd < 0 ? MSGR_ERR_IO : MSGR_OK;            // 500
 *	}
 *	static enum msgr_err on_data(void *ctx, const struct mp_part *part,
 *				     const char *data, size_t len)
 *	{
 *		struct upload *up = ctx;
 *		if (len > up->max_size - up->size)
 *			return MSGR_ERR_TOO_LARGE;                    // 413
 *		up->size += len;
 *		return write_all(up->fd, data, len);  // loops on short writes
 *	}
 *	// on_end: check the size, link the file in place (linkat) and
 *	// remember it; nothing is made visible until mp_finish() succeeded.
 *
 *	const char *b; size_t blen;
 *	if (mp_boundary_from_content_type(ct, ct_len, &b, &blen) != MSGR_OK)
 *		... answer 415 (or 400 for a broken boundary parameter)
 *	err = mp_parser_new(b, blen, NULL, &callbacks, &up, &p);
 *	static char chunk[64 * 1024];		// not on the stack
 *	while (err == MSGR_OK && (n = FCGX_GetStr(chunk, sizeof chunk, in)) > 0)
 *		err = mp_feed(p, chunk, (size_t)n);
 *	if (err == MSGR_OK)
 *		err = mp_finish(p);
 *	if (err != MSGR_OK) {
 *		remove every file created so far ("nothing is stored");
 *		http_problem(req, mp_error_status(err), ..., "%s", mp_error_detail(p));
 *	}
 *	mp_parser_free(p);
 *
 * A part with a filename is a file, even with an empty filename (a browser
 * sends filename="" with an empty body for a file input left empty). The
 * part's Content-Type comes from the client and is not to be trusted.
 */
#ifndef MSGR_MULTIPART_H
#define MSGR_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct mp_parser;

/* Defaults, used for every limit left at 0. */
#define MP_DEFAULT_HEADER_LINE 1024
#define MP_DEFAULT_HEADERS 16
#define MP_DEFAULT_PARTS 32
#define MP_DEFAULT_HEADER_BYTES 16384
/* The largest max_header_line accepted (the parser allocates about three
 * times that much). */
#define MP_MAX_HEADER_LINE (1024 * 1024)

struct mp_limits {
	size_t max_header_line;  /* bytes in one header line, CRLF excluded */
	size_t max_headers;      /* header lines in one part */
	size_t max_parts;        /* parts in the body */
	size_t max_header_bytes; /* header bytes of all parts, CRLFs included */
};

/*
 * One part's headers, as given to the callbacks. The strings are owned by
 * the parser and valid until part_end returns (or the parser stops). They are
 * NUL-terminated for convenience, hold no NUL and no ASCII control character
 * other than HTAB, and are not validated as UTF-8: validate before use
 * (utf8.h).
 * Quoted-string escapes and filename* percent-encoding are decoded; a plain
 * filename is given as sent (browsers write '"' as %22 there, RFC 7578
 * section 4.2, and it is not decoded: keep only what is safe of it).
 */
struct mp_part {
	unsigned index;           /* 0 for the first part */
	const char *name;         /* Content-Disposition name, never empty */
	size_t name_len;
	const char *filename;     /* NULL when the part is not a file */
	size_t filename_len;
	const char *content_type; /* the raw Content-Type value, NULL if absent */
	size_t content_type_len;  /* (absent means text/plain, RFC 7578 4.4) */
};

/*
 * Each callback may be NULL. Returning anything but MSGR_OK stops the
 * parser: mp_feed() returns that same value, mp_aborted() becomes true and
 * no callback is called again. part_data is never called with len 0; data
 * points into the chunk given to mp_feed() or, for the few bytes that looked
 * like the start of a delimiter at the end of the previous chunk, into the
 * parser. Callbacks must not call mp_* functions on the same parser.
 */
struct mp_callbacks {
	enum msgr_err (*part_begin)(void *ctx, const struct mp_part *part);
	enum msgr_err (*part_data)(void *ctx, const struct mp_part *part, const char *data,
				   size_t len);
	enum msgr_err (*part_end)(void *ctx, const struct mp_part *part);
};

/*
 * Finds the boundary in a Content-Type header value (RFC 7578 section 4.1,
 * RFC 2045 section 5.1): the media type must be multipart/form-data (case
 * does not matter, nor does the case of parameter names) with exactly one
 * boundary parameter, quoted or not, of 1 to 70 characters from RFC 2046's
 * bchars, not ending in a space. *b points into ct.
 * Returns MSGR_ERR_UNSUPPORTED for another media type and MSGR_ERR_MALFORMED
 * for a broken header or boundary.
 */
enum msgr_err mp_boundary_from_content_type(const char *ct, size_t len, const char **b,
					    size_t *blen) MSGR_WUR;

/*
 * Makes a parser for the given boundary (without the leading "--"), which it
 * copies. limits may be NULL for the defaults; cb is copied; ctx is passed to
 * every callback. Returns MSGR_ERR_MALFORMED for an invalid boundary,
 * MSGR_ERR_CONFIG for max_header_line over MP_MAX_HEADER_LINE, or
 * MSGR_ERR_NOMEM. The caller frees *out with mp_parser_free().
 */
enum msgr_err mp_parser_new(const char *boundary, size_t len, const struct mp_limits *limits,
			    const struct mp_callbacks *cb, void *ctx, struct mp_parser **out)
	MSGR_WUR;

/*
 * Parses the next len bytes of the body, which may be cut anywhere. Returns
 * MSGR_OK, MSGR_ERR_MALFORMED, MSGR_ERR_TOO_LARGE (a header line or all
 * headers over their limit), MSGR_ERR_LIMIT (too many parts or headers),
 * MSGR_ERR_UNSUPPORTED (a transfer encoding or charset the parser does not
 * decode) or a callback's error. Errors are sticky: every later call returns
 * the same. Bytes after the closing delimiter are ignored.
 */
enum msgr_err mp_feed(struct mp_parser *p, const char *data, size_t len) MSGR_WUR;

/* Tells the parser the body ended. Returns MSGR_ERR_TRUNCATED unless the
 * closing delimiter was seen, or the earlier error. */
enum msgr_err mp_finish(struct mp_parser *p) MSGR_WUR;

void mp_parser_free(struct mp_parser *p);

/* True when the error came from a callback rather than from the input. */
bool mp_aborted(const struct mp_parser *p);

/* What went wrong, for a person (the detail of a problem document): lower
 * case, no final period, no bytes of the input. "" when nothing did. */
const char *mp_error_detail(const struct mp_parser *p);

/* The HTTP status that answers err: 400 for malformed or truncated input,
 * 413 for a limit, 415 for something unsupported, 500 for the rest (and 200
 * for MSGR_OK). */
int mp_error_status(enum msgr_err err);

#endif
