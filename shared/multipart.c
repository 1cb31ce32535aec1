/*
 * multipart.c - a streaming multipart/form-data parser (RFC 7578, RFC 2046
 * section 5.1). See multipart.h for the contract and the choices made.
 *
 * The body is a state machine over bytes, so a chunk may end anywhere. Part
 * bodies are scanned for the delimiter CRLF "--" boundary; bytes that might
 * start it are held back (never more than the delimiter's length) and, since
 * they are then equal to a prefix of the delimiter, they are not stored but
 * re-emitted from the parser's copy of the delimiter when they turn out to
 * be data. Header lines are buffered, one at a time, up to max_header_line.
 */
#include "multipart.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "utf8.h"

/* RFC 2046 section 5.1.1: a boundary is 1 to 70 characters. */
#define MP_BOUNDARY_MAX 70
/* CRLF "--" before the boundary. */
#define MP_DELIM_PREFIX 4

enum mp_state {
	ST_PREAMBLE,   /* before the first dash-boundary: ignored */
	ST_DELIM_AFTER, /* just after a boundary */
	ST_DELIM_DASH, /* after boundary "-": the close delimiter needs another */
	ST_DELIM_PAD,  /* in the transport padding after a boundary */
	ST_DELIM_CR,   /* the CR that ends a boundary line was seen */
	ST_HEADER,     /* in a part's header block */
	ST_BODY,       /* in a part's body */
	ST_DONE,       /* after the close delimiter: the epilogue, ignored */
	ST_ERROR,      /* stopped; err and detail say why */
};

struct mp_parser {
	struct mp_limits lim;
	struct mp_callbacks cb;
	void *ctx;

	enum mp_state state;
	enum msgr_err err;
	bool aborted; /* err came from a callback */
	bool in_part; /* part_begin was called and part_end is due */

	/* "\r\n--" boundary. While scanning, its first match bytes were seen
	 * and not yet passed on (in ST_PREAMBLE the CRLF is implied at the
	 * start of the body, RFC 2046 section 5.1.1). */
	char *delim;
	size_t delim_len;
	size_t match;

	/* The header line being read, without its CRLF. */
	char *line;
	size_t line_len;
	bool line_cr; /* the line's CR was seen */

	/* The current part's decoded header values (struct mp_part points
	 * here). Every decoder writes at most as many bytes as it reads, so a
	 * part needs at most two lines' worth: Content-Disposition and
	 * Content-Type, plus their NULs. */
	char *store;
	size_t store_len;
	size_t store_cap;

	size_t nparts;
	size_t nheaders;     /* header lines of the current part */
	size_t header_bytes; /* header bytes of all parts */
	bool have_cd, have_ct, have_cte;
	struct mp_part part;

	char detail[160];
	char mem[]; /* delim, line, store */
};

/* RFC 9110 section 5.6.2: tchar, the characters of a token. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 2046 section 5.1.1: bcharsnospace. */
static bool is_bchar_nospace(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("'()+_,-./:=?", c) != NULL;
}

/* RFC 8187 section 3.2.1: attr-char, what an ext-value may hold unescaped. */
static bool is_attr_char(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL;
}

/* RFC 2978 section 2.3: mime-charsetc, the characters of a charset name. */
static bool is_charset_char(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("!#$%&+-^_`{}~", c) != NULL;
}

/* Control characters other than HTAB, which no header value may hold. */
static bool is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* True when the len bytes at s equal the literal lit, ignoring ASCII case. */
static bool ieq(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) != lower((unsigned char)lit[i]))
			return false;
	return true;
}

static size_t token_len(const char *s, size_t len, size_t i)
{
	size_t j = i;

	while (j < len && is_tchar((unsigned char)s[j]))
		j++;
	return j - i;
}

/* RFC 9110 section 5.6.3: OWS. */
static size_t skip_ows(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

/* RFC 2046 section 5.1.1: 1 to 70 bchars, the last not a space. This also
 * guarantees the boundary holds no CR, which the delimiter scan relies on. */
static bool boundary_valid(const char *b, size_t len)
{
	if (len < 1 || len > MP_BOUNDARY_MAX || b[len - 1] == ' ')
		return false;
	for (size_t i = 0; i < len; i++)
		if (b[i] != ' ' && !is_bchar_nospace((unsigned char)b[i]))
			return false;
	return true;
}

enum msgr_err mp_boundary_from_content_type(const char *ct, size_t len, const char **b,
					    size_t *blen)
{
	size_t i, n, found_len = 0;
	const char *found = NULL;

	*b = NULL;
	*blen = 0;
	/* RFC 9110 section 8.3.1: type "/" subtype *( OWS ";" OWS parameter ).
	 * Anything that is not multipart/form-data is another media type as far
	 * as the caller is concerned (415), however broken it is. */
	i = skip_ows(ct, len, 0);
	n = token_len(ct, len, i);
	if (!ieq(ct + i, n, "multipart"))
		return MSGR_ERR_UNSUPPORTED;
	i += n;
	if (i == len || ct[i] != '/')
		return MSGR_ERR_UNSUPPORTED;
	i++;
	n = token_len(ct, len, i);
	if (!ieq(ct + i, n, "form-data"))
		return MSGR_ERR_UNSUPPORTED;
	i += n;

	for (;;) {
		size_t name, name_len, val, val_len;

		i = skip_ows(ct, len, i);
		if (i == len)
			break;
		if (ct[i] != ';')
			return MSGR_ERR_MALFORMED;
		i = skip_ows(ct, len, i + 1);
		if (i == len)
			break; /* a trailing ";" is harmless */
		name = i;
		name_len = token_len(ct, len, i);
		if (name_len == 0)
			return MSGR_ERR_MALFORMED;
		/* RFC 9110 has no white space around "="; it is tolerated, as it
		 * cannot change the meaning. */
		i = skip_ows(ct, len, i + name_len);
		if (i == len || ct[i] != '=')
			return MSGR_ERR_MALFORMED;
		i = skip_ows(ct, len, i + 1);
		if (i < len && ct[i] == '"') {
			/* The raw span is kept: a quoted-pair in a boundary
			 * could only escape a bchar, pointlessly, and its
			 * backslash makes the boundary check below refuse it,
			 * so *b can point into ct undecoded. */
			val = ++i;
			for (;; i++) {
				if (i == len || is_ctl((unsigned char)ct[i]))
					return MSGR_ERR_MALFORMED;
				if (ct[i] == '\\') {
					if (++i == len || is_ctl((unsigned char)ct[i]))
						return MSGR_ERR_MALFORMED;
				} else if (ct[i] == '"') {
					break;
				}
			}
			val_len = i++ - val;
		} else {
			/* Unquoted: RFC 2045 wants a token, but clients send
			 * bchars such as "=" unquoted; take the run up to the
			 * next separator and let the checks below judge it. */
			val = i;
			while (i < len && ct[i] != ';' && ct[i] != ' ' && ct[i] != '\t') {
				if (is_ctl((unsigned char)ct[i]) || ct[i] == '"')
					return MSGR_ERR_MALFORMED;
				i++;
			}
			val_len = i - val;
			if (val_len == 0)
				return MSGR_ERR_MALFORMED;
		}
		if (ieq(ct + name, name_len, "boundary")) {
			/* Two boundaries leave the body ambiguous. */
			if (found || !boundary_valid(ct + val, val_len))
				return MSGR_ERR_MALFORMED;
			found = ct + val;
			found_len = val_len;
		}
	}
	if (!found)
		return MSGR_ERR_MALFORMED;
	*b = found;
	*blen = found_len;
	return MSGR_OK;
}

/* Stops the parser with err and a detail for people. */
static enum msgr_err fail(struct mp_parser *p, enum msgr_err err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum msgr_err fail(struct mp_parser *p, enum msgr_err err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof p->detail, fmt, ap);
	va_end(ap);
	p->err = err;
	p->state = ST_ERROR;
	return err;
}

/* A callback refused: its error is the parser's. */
static enum msgr_err stop(struct mp_parser *p, enum msgr_err err)
{
	p->aborted = true;
	return fail(p, err, "could not process part %u: %s", p->part.index + 1,
		    msgr_strerror(err));
}

/* The 1-based number of the part being read, for details. */
static unsigned part_no(const struct mp_parser *p)
{
	return p->part.index + 1;
}

static enum msgr_err emit(struct mp_parser *p, const char *data, size_t len)
{
	enum msgr_err err;

	if (len == 0 || !p->cb.part_data)
		return MSGR_OK;
	err = p->cb.part_data(p->ctx, &p->part, data, len);
	return err == MSGR_OK ? MSGR_OK : stop(p, err);
}

/*
 * Scans d[0..len) for the delimiter, passing body bytes on in ST_BODY and
 * dropping them in ST_PREAMBLE. Sets *used to the bytes consumed: all of
 * them, or up to the end of a delimiter, after which the state is
 * ST_DELIM_AFTER.
 *
 * The delimiter holds a CR only at its start (a boundary has no CR), so when
 * a partial match fails the held bytes cannot start another match: they are
 * data, and the failing byte starts a new match only if it is a CR. The scan
 * is linear and jumps from CR to CR with memchr.
 */
static enum msgr_err scan(struct mp_parser *p, const char *d, size_t len, size_t *used)
{
	bool body = p->state == ST_BODY;
	/* Held bytes from earlier chunks; they equal delim[0..carried). */
	size_t carried = p->match;
	size_t run = 0; /* d[run..] is data not yet passed on */
	size_t i = 0;
	enum msgr_err err;

	while (i < len) {
		if (p->match == 0) {
			const char *cr = memchr(d + i, '\r', len - i);

			if (!cr) {
				i = len;
				break;
			}
			i = (size_t)(cr - d) + 1;
			p->match = 1;
			continue;
		}
		if (d[i] == p->delim[p->match]) {
			i++;
			if (++p->match < p->delim_len)
				continue;
			/* A delimiter. Data before it lies in d only if the
			 * match started in d. */
			if (body && carried == 0) {
				err = emit(p, d + run, i - p->delim_len - run);
				if (err != MSGR_OK)
					return err;
			}
			p->match = 0;
			p->state = ST_DELIM_AFTER;
			*used = i;
			return MSGR_OK;
		}
		/* Not a delimiter: the held bytes are data, d[i] is looked at
		 * again from the start. Carried bytes come before d's. */
		if (body && carried > 0) {
			err = emit(p, p->delim, carried);
			if (err != MSGR_OK)
				return err;
		}
		carried = 0;
		p->match = 0;
	}
	/* Everything but the bytes held for the next chunk. Those held bytes
	 * lie in d unless they were all carried in. */
	if (body) {
		err = emit(p, d + run, len - (p->match - carried) - run);
		if (err != MSGR_OK)
			return err;
	}
	*used = len;
	return MSGR_OK;
}

/* Appends a byte to the part's store. The store is sized so that this
 * cannot fail (see struct mp_parser); the check keeps a mistake harmless. */
static bool store_put(struct mp_parser *p, char c)
{
	if (p->store_len == p->store_cap)
		return false;
	p->store[p->store_len++] = c;
	return true;
}

/* Ends a string begun at *start in the store. */
static bool store_end(struct mp_parser *p, size_t start, const char **s, size_t *len)
{
	if (!store_put(p, '\0'))
		return false;
	*s = p->store + start;
	*len = p->store_len - start - 1;
	return true;
}

static enum msgr_err store_full(struct mp_parser *p)
{
	return fail(p, MSGR_ERR_TOO_LARGE, "the headers of part %u are too long", part_no(p));
}

/*
 * Reads a parameter value at v[*i] (RFC 2045 section 5.1: token or
 * quoted-string) and advances *i past it. The value is decoded into the store
 * when s is not NULL, and skipped otherwise. Control characters were refused
 * for the whole line already.
 */
static enum msgr_err param_value(struct mp_parser *p, const char *v, size_t n, size_t *i,
				 const char **s, size_t *len)
{
	size_t start = p->store_len, j = *i;

	if (j < n && v[j] == '"') {
		/* RFC 822 section 3.3 quoted-string; a quoted-pair stands for
		 * its second character. */
		for (j++;; j++) {
			if (j == n)
				goto unterminated;
			if (v[j] == '"')
				break;
			if (v[j] == '\\' && ++j == n)
				goto unterminated;
			if (s && !store_put(p, v[j]))
				return store_full(p);
		}
		j++;
	} else {
		size_t t = token_len(v, n, j);

		if (t == 0)
			return fail(p, MSGR_ERR_MALFORMED,
				    "a content-disposition parameter of part %u has no value",
				    part_no(p));
		if (s) {
			for (size_t k = 0; k < t; k++)
				if (!store_put(p, v[j + k]))
					return store_full(p);
		}
		j += t;
	}
	if (s && !store_end(p, start, s, len))
		return store_full(p);
	*i = j;
	return MSGR_OK;

unterminated:
	return fail(p, MSGR_ERR_MALFORMED,
		    "the content-disposition of part %u has an unterminated quoted string",
		    part_no(p));
}

/*
 * Reads an RFC 8187 section 3.2.1 ext-value (charset "'" [language] "'"
 * value-chars) at v[*i] into the store as UTF-8. Sets *supported to false,
 * and stores nothing, for a charset other than UTF-8 and ISO-8859-1 (the two
 * that RFC 5987, which RFC 8187 replaced, required recipients to know).
 */
static enum msgr_err ext_value(struct mp_parser *p, const char *v, size_t n, size_t *i,
			       const char **s, size_t *len, bool *supported)
{
	size_t j = *i, cs = j, start = p->store_len;
	bool latin1;

	while (j < n && is_charset_char((unsigned char)v[j]))
		j++;
	if (j == cs || j == n || v[j] != '\'')
		goto malformed;
	latin1 = ieq(v + cs, j - cs, "iso-8859-1");
	*supported = latin1 || ieq(v + cs, j - cs, "utf-8");
	/* The language tag is of no use for a file name. */
	for (j++; j < n && v[j] != '\''; j++)
		if (!is_tchar((unsigned char)v[j]))
			goto malformed;
	if (j == n)
		goto malformed;
	for (j++; j < n; j++) {
		unsigned char c = (unsigned char)v[j];

		if (c == '%') {
			if (n - j < 3 || !hex_decode(&c, v + j + 1, 1))
				goto malformed;
			j += 2;
			/* The decoded name must keep the promise of struct
			 * mp_part: no NUL, no control characters. */
			if (is_ctl(c))
				return fail(p, MSGR_ERR_MALFORMED,
					    "the filename* of part %u holds a control character",
					    part_no(p));
		} else if (!is_attr_char(c)) {
			break;
		}
		if (!*supported)
			continue;
		if (latin1 && c >= 0x80) {
			/* ISO-8859-1 is the first 256 code points. */
			char u[4];
			size_t un = utf8_encode(c, u);
			for (size_t k = 0; k < un; k++)
				if (!store_put(p, u[k]))
					return store_full(p);
		} else if (!store_put(p, (char)c)) {
			return store_full(p);
		}
	}
	if (*supported && !store_end(p, start, s, len))
		return store_full(p);
	*i = j;
	return MSGR_OK;

malformed:
	return fail(p, MSGR_ERR_MALFORMED, "the filename* of part %u is malformed (RFC 8187)",
		    part_no(p));
}

/*
 * Content-Disposition (RFC 7578 section 4.2, grammar of RFC 6266 section
 * 4.1): "form-data" and parameters, of which name is required. A repeated
 * parameter is refused rather than resolved: parsers that picked different
 * copies would see different forms.
 */
static enum msgr_err parse_disposition(struct mp_parser *p, const char *v, size_t n)
{
	const char *fn = NULL, *fnx = NULL;
	size_t fn_len = 0, fnx_len = 0;
	bool have_name = false, have_fn = false, have_fnx = false, fnx_ok = false;
	size_t i = token_len(v, n, 0);
	enum msgr_err err;

	if (!ieq(v, i, "form-data"))
		return fail(p, MSGR_ERR_MALFORMED, "part %u is not form-data", part_no(p));
	for (;;) {
		size_t name, name_len;

		i = skip_ows(v, n, i);
		if (i == n)
			break;
		if (v[i] != ';')
			goto malformed;
		i = skip_ows(v, n, i + 1);
		if (i == n)
			break; /* a trailing ";" is harmless */
		name = i;
		name_len = token_len(v, n, i);
		if (name_len == 0)
			goto malformed;
		i = skip_ows(v, n, i + name_len);
		if (i == n || v[i] != '=')
			goto malformed;
		i = skip_ows(v, n, i + 1);
		if (ieq(v + name, name_len, "name")) {
			if (have_name)
				goto repeated;
			have_name = true;
			err = param_value(p, v, n, &i, &p->part.name, &p->part.name_len);
		} else if (ieq(v + name, name_len, "filename")) {
			if (have_fn)
				goto repeated;
			have_fn = true;
			err = param_value(p, v, n, &i, &fn, &fn_len);
		} else if (ieq(v + name, name_len, "filename*")) {
			if (have_fnx)
				goto repeated;
			have_fnx = true;
			err = ext_value(p, v, n, &i, &fnx, &fnx_len, &fnx_ok);
		} else {
			err = param_value(p, v, n, &i, NULL, NULL);
		}
		if (err != MSGR_OK)
			return err;
	}
	if (!have_name)
		return fail(p, MSGR_ERR_MALFORMED, "part %u has no name", part_no(p));
	if (p->part.name_len == 0)
		return fail(p, MSGR_ERR_MALFORMED, "part %u has an empty name", part_no(p));
	/* RFC 6266 section 4.3: filename* wins; one in an unknown charset is
	 * ignored when filename can stand in for it. */
	if (have_fnx && fnx_ok) {
		p->part.filename = fnx;
		p->part.filename_len = fnx_len;
	} else if (have_fn) {
		p->part.filename = fn;
		p->part.filename_len = fn_len;
	} else if (have_fnx) {
		return fail(p, MSGR_ERR_UNSUPPORTED,
			    "the filename* of part %u is in an unsupported charset", part_no(p));
	}
	return MSGR_OK;

malformed:
	return fail(p, MSGR_ERR_MALFORMED, "the content-disposition of part %u is malformed",
		    part_no(p));
repeated:
	return fail(p, MSGR_ERR_MALFORMED,
		    "the content-disposition of part %u repeats a parameter", part_no(p));
}

/*
 * One header line of a part, CRLF removed (RFC 7578 section 4.8 and RFC 2046
 * section 5.1.1: MIME header fields, RFC 822/5322 syntax, here with HTTP's
 * stricter rules of RFC 9112 section 5).
 */
static enum msgr_err parse_header(struct mp_parser *p, const char *line, size_t len)
{
	size_t name_len, v, end;

	if (++p->nheaders > p->lim.max_headers)
		return fail(p, MSGR_ERR_LIMIT, "part %u has more than %zu header lines",
			    part_no(p), p->lim.max_headers);
	/* Obsolete line folding: RFC 9112 section 5.2 lets a server refuse
	 * it, and RFC 7578 senders never fold. */
	if (line[0] == ' ' || line[0] == '\t')
		return fail(p, MSGR_ERR_MALFORMED,
			    "header line %zu of part %u starts with white space (folding is "
			    "not supported)",
			    p->nheaders, part_no(p));
	if (!memchr(line, ':', len))
		return fail(p, MSGR_ERR_MALFORMED, "header line %zu of part %u has no colon",
			    p->nheaders, part_no(p));
	name_len = token_len(line, len, 0);
	/* RFC 9112 section 5.1: no white space before the colon. */
	if (name_len == 0 || line[name_len] != ':')
		return fail(p, MSGR_ERR_MALFORMED,
			    "header line %zu of part %u has a malformed name", p->nheaders,
			    part_no(p));
	v = skip_ows(line, len, name_len + 1);
	end = len;
	while (end > v && (line[end - 1] == ' ' || line[end - 1] == '\t'))
		end--;
	for (size_t i = v; i < end; i++)
		if (is_ctl((unsigned char)line[i]))
			return fail(p, MSGR_ERR_MALFORMED,
				    "header line %zu of part %u holds a control character",
				    p->nheaders, part_no(p));

	if (ieq(line, name_len, "content-disposition")) {
		if (p->have_cd)
			return fail(p, MSGR_ERR_MALFORMED,
				    "part %u has more than one content-disposition", part_no(p));
		p->have_cd = true;
		return parse_disposition(p, line + v, end - v);
	}
	if (ieq(line, name_len, "content-type")) {
		size_t start = p->store_len;

		if (p->have_ct)
			return fail(p, MSGR_ERR_MALFORMED,
				    "part %u has more than one content-type", part_no(p));
		p->have_ct = true;
		for (size_t i = v; i < end; i++)
			if (!store_put(p, line[i]))
				return store_full(p);
		if (!store_end(p, start, &p->part.content_type, &p->part.content_type_len))
			return store_full(p);
		return MSGR_OK;
	}
	if (ieq(line, name_len, "content-transfer-encoding")) {
		/* RFC 7578 section 4.7: senders must not encode. The identity
		 * encodings are harmless; anything else would need decoding
		 * that no client we serve needs. */
		if (p->have_cte)
			return fail(p, MSGR_ERR_MALFORMED,
				    "part %u has more than one content-transfer-encoding",
				    part_no(p));
		p->have_cte = true;
		if (ieq(line + v, end - v, "binary") || ieq(line + v, end - v, "8bit") ||
		    ieq(line + v, end - v, "7bit"))
			return MSGR_OK;
		return fail(p, MSGR_ERR_UNSUPPORTED,
			    "part %u has a content-transfer-encoding other than binary",
			    part_no(p));
	}
	/* Other fields (RFC 7578 section 4.8 allows none of use) are ignored. */
	return MSGR_OK;
}

/* The blank line after a part's headers: the part begins. */
static enum msgr_err end_headers(struct mp_parser *p)
{
	enum msgr_err err;

	if (!p->have_cd)
		return fail(p, MSGR_ERR_MALFORMED, "part %u has no content-disposition",
			    part_no(p));
	p->state = ST_BODY;
	p->match = 0;
	p->in_part = true;
	if (p->cb.part_begin && (err = p->cb.part_begin(p->ctx, &p->part)) != MSGR_OK)
		return stop(p, err);
	return MSGR_OK;
}

static enum msgr_err header_byte(struct mp_parser *p, char c)
{
	enum msgr_err err;

	if (++p->header_bytes > p->lim.max_header_bytes)
		return fail(p, MSGR_ERR_TOO_LARGE, "the part headers are longer than %zu bytes",
			    p->lim.max_header_bytes);
	if (p->line_cr) {
		if (c != '\n')
			return fail(p, MSGR_ERR_MALFORMED,
				    "header line %zu of part %u holds a CR without LF",
				    p->nheaders + 1, part_no(p));
		p->line_cr = false;
		if (p->line_len == 0)
			return end_headers(p);
		err = parse_header(p, p->line, p->line_len);
		p->line_len = 0;
		return err;
	}
	if (c == '\r') {
		p->line_cr = true;
		return MSGR_OK;
	}
	if (c == '\n')
		return fail(p, MSGR_ERR_MALFORMED,
			    "header line %zu of part %u ends in LF alone, not CRLF",
			    p->nheaders + 1, part_no(p));
	if (p->line_len == p->lim.max_header_line)
		return fail(p, MSGR_ERR_TOO_LARGE,
			    "header line %zu of part %u is longer than %zu bytes", p->nheaders + 1,
			    part_no(p), p->lim.max_header_line);
	p->line[p->line_len++] = c;
	return MSGR_OK;
}

/* The end of a part, if one is open. */
static enum msgr_err end_part(struct mp_parser *p)
{
	enum msgr_err err;

	if (!p->in_part)
		return MSGR_OK;
	p->in_part = false;
	if (p->cb.part_end && (err = p->cb.part_end(p->ctx, &p->part)) != MSGR_OK)
		return stop(p, err);
	return MSGR_OK;
}

/* A delimiter line ended with CRLF: the previous part (if any) is complete
 * and a new one's headers follow. */
static enum msgr_err next_part(struct mp_parser *p)
{
	enum msgr_err err = end_part(p);

	if (err != MSGR_OK)
		return err;
	if (p->nparts == p->lim.max_parts)
		return fail(p, MSGR_ERR_LIMIT, "the body has more than %zu parts",
			    p->lim.max_parts);
	p->part = (struct mp_part){.index = (unsigned)p->nparts++};
	p->nheaders = 0;
	p->line_len = 0;
	p->line_cr = false;
	p->have_cd = p->have_ct = p->have_cte = false;
	p->store_len = 0;
	p->state = ST_HEADER;
	return MSGR_OK;
}

/*
 * What may follow a boundary (RFC 2046 section 5.1.1): "--" for the close
 * delimiter, or transport padding (LWSP) and CRLF. Anything else means the
 * boundary appeared where it must not, so the body is malformed.
 */
static enum msgr_err delim_byte(struct mp_parser *p, char c)
{
	switch (p->state) {
	case ST_DELIM_AFTER:
		if (c == '-') {
			p->state = ST_DELIM_DASH;
			return MSGR_OK;
		}
		__attribute__((fallthrough));
	case ST_DELIM_PAD:
		if (c == ' ' || c == '\t') {
			p->state = ST_DELIM_PAD;
			return MSGR_OK;
		}
		if (c == '\r') {
			p->state = ST_DELIM_CR;
			return MSGR_OK;
		}
		if (c == '\n')
			return fail(p, MSGR_ERR_MALFORMED,
				    "a boundary line ends in LF alone, not CRLF");
		break;
	case ST_DELIM_DASH:
		if (c == '-') {
			p->state = ST_DONE;
			return end_part(p);
		}
		break;
	case ST_DELIM_CR:
		if (c == '\n')
			return next_part(p);
		return fail(p, MSGR_ERR_MALFORMED, "a boundary line holds a CR without LF");
	default:
		break;
	}
	return fail(p, MSGR_ERR_MALFORMED, "a boundary is followed by other characters");
}

enum msgr_err mp_parser_new(const char *boundary, size_t len, const struct mp_limits *limits,
			    const struct mp_callbacks *cb, void *ctx, struct mp_parser **out)
{
	struct mp_limits lim = limits ? *limits : (struct mp_limits){0};
	struct mp_parser *p;
	size_t delim_len, store_cap;

	*out = NULL;
	if (!boundary_valid(boundary, len))
		return MSGR_ERR_MALFORMED;
	if (!lim.max_header_line)
		lim.max_header_line = MP_DEFAULT_HEADER_LINE;
	if (!lim.max_headers)
		lim.max_headers = MP_DEFAULT_HEADERS;
	if (!lim.max_parts)
		lim.max_parts = MP_DEFAULT_PARTS;
	if (!lim.max_header_bytes)
		lim.max_header_bytes = MP_DEFAULT_HEADER_BYTES;
	if (lim.max_header_line > MP_MAX_HEADER_LINE)
		return MSGR_ERR_CONFIG;
	delim_len = MP_DELIM_PREFIX + len;
	/* Two lines' worth of decoded values and a NUL for each of the
	 * values they can hold (see struct mp_parser), with room to spare. */
	store_cap = 2 * lim.max_header_line + 8;
	p = calloc(1, sizeof *p + delim_len + lim.max_header_line + store_cap);
	if (!p)
		return MSGR_ERR_NOMEM;
	p->lim = lim;
	if (cb)
		p->cb = *cb;
	p->ctx = ctx;
	p->delim = p->mem;
	p->delim_len = delim_len;
	memcpy(p->delim, "\r\n--", MP_DELIM_PREFIX);
	memcpy(p->delim + MP_DELIM_PREFIX, boundary, len);
	p->line = p->delim + delim_len;
	p->store = p->line + lim.max_header_line;
	p->store_cap = store_cap;
	p->state = ST_PREAMBLE;
	/* RFC 2046 section 5.1.1: the first dash-boundary may open the body,
	 * without the CRLF that belongs to every other delimiter. */
	p->match = 2;
	*out = p;
	return MSGR_OK;
}

enum msgr_err mp_feed(struct mp_parser *p, const char *data, size_t len)
{
	size_t i = 0, used = 0;
	enum msgr_err err = MSGR_OK;

	while (i < len && err == MSGR_OK) {
		switch (p->state) {
		case ST_PREAMBLE:
		case ST_BODY:
			err = scan(p, data + i, len - i, &used);
			i += used;
			break;
		case ST_HEADER:
			err = header_byte(p, data[i++]);
			break;
		case ST_DELIM_AFTER:
		case ST_DELIM_DASH:
		case ST_DELIM_PAD:
		case ST_DELIM_CR:
			err = delim_byte(p, data[i++]);
			break;
		case ST_DONE:
			/* The epilogue, ignored (RFC 2046 section 5.1.1). */
			return MSGR_OK;
		case ST_ERROR:
			return p->err;
		}
	}
	return p->state == ST_ERROR ? p->err : err;
}

enum msgr_err mp_finish(struct mp_parser *p)
{
	switch (p->state) {
	case ST_DONE:
		return MSGR_OK;
	case ST_ERROR:
		return p->err;
	case ST_PREAMBLE:
		return fail(p, MSGR_ERR_TRUNCATED, "the body ended before its first boundary");
	case ST_HEADER:
		return fail(p, MSGR_ERR_TRUNCATED, "the body ended in the headers of part %u",
			    part_no(p));
	default:
		if (p->nparts == 0)
			return fail(p, MSGR_ERR_TRUNCATED,
				    "the body ended after its first boundary");
		return fail(p, MSGR_ERR_TRUNCATED,
			    "the body ended in part %u, before the closing boundary",
			    part_no(p));
	}
}

void mp_parser_free(struct mp_parser *p)
{
	free(p);
}

bool mp_aborted(const struct mp_parser *p)
{
	return p && p->aborted;
}

const char *mp_error_detail(const struct mp_parser *p)
{
	return p && p->state == ST_ERROR ? p->detail : "";
}

int mp_error_status(enum msgr_err err)
{
	switch (err) {
	case MSGR_OK:
		return 200;
	case MSGR_ERR_MALFORMED:
	case MSGR_ERR_TRUNCATED:
		return 400;
	case MSGR_ERR_TOO_LARGE:
	case MSGR_ERR_LIMIT:
		return 413;
	case MSGR_ERR_UNSUPPORTED:
		return 415;
	default:
		return 500;
	}
}
