/*
 * fuzz_form.c - libFuzzer harness for shared/valid.c valid_form(), which
 * reads application/x-www-form-urlencoded bodies (and query strings)
 * against a handler's declared fields.
 *
 * The table below declares a field of every type and flag. Whatever the
 * body, no crash and no leak, and:
 *  - the errors are a JSON object (when wrapped in braces) with one member
 *    per error counted, each named by a declared field, each a message;
 *  - a field without an error that is present holds a valid value: a
 *    string is valid UTF-8 without NUL, NUL-terminated at its length,
 *    within its bounds in code points, without control characters unless
 *    FIELD_RAW, without bidirectional controls if FIELD_NAME, trimmed if
 *    FIELD_TRIM, and passing its own check; a number
 *    is within its type's range; a required field is present;
 *  - a field with an error holds no string a handler could take by
 *    mistake;
 *  - what was accepted, sent again percent-encoded (a browser's form),
 *    is accepted again as the same values;
 *  - valid_form_repeat() names a repeat only when there is one: never in
 *    that body of distinct names, always in it sent twice, and what it
 *    names in the input is given there at least twice.
 *
 * Build: make fuzz (or build-fuzz/fuzz_form tests/fuzz/corpus/fuzz_form)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "hex.h"
#include "json.h"
#include "utf8.h"
#include "valid.h"

static const char *no_x(const char *s, size_t len)
{
	return memchr(s, 'x', len) ? "must not contain x" : NULL;
}

enum { F_NAME, F_TEXT, F_BIG, F_SPACED, F_ID, F_N, F_FLAG, F_IDS, F_TIME, F__MAX };
static const struct field_spec specs[F__MAX] = {
	[F_NAME] = {"name", FIELD_STRING, FIELD_REQUIRED | FIELD_TRIM | FIELD_NAME, 1, 8, no_x},
	[F_TEXT] = {"text", FIELD_STRING, FIELD_RAW, 0, 16, NULL},
	[F_BIG] = {"big", FIELD_STRING, FIELD_TRIM | FIELD_RAW, 2, 0, NULL},
	[F_SPACED] = {"a b", FIELD_STRING, 0, 0, 4, NULL},
	[F_ID] = {"id", FIELD_ID, 0, 0, 0, NULL},
	[F_N] = {"n", FIELD_INT, 0, -5, 5, NULL},
	[F_FLAG] = {"flag", FIELD_BOOL, 0, 0, 0, NULL},
	[F_IDS] = {"ids", FIELD_ID_ARRAY, 0, 0, 3, NULL},
	[F_TIME] = {"time", FIELD_STRING, 0, 0, 40, valid_rfc3339},
};

/* The fields named in errs (a bit each); aborts unless errs is a JSON
 * object of count messages, each named by a declared field. */
static unsigned fields_in_error(const struct field_errors *errs, int count)
{
	struct buf b = {0};
	buf_putc(&b, '{');
	buf_append(&b, errs->json.data ? errs->json.data : "", errs->json.len);
	buf_putc(&b, '}');
	if (buf_status(&b) != MSGR_OK)
		abort();
	struct json_object *o = json_read(b.data, b.len);
	buf_free(&b);
	if (!o || !json_object_is_type(o, json_type_object) ||
	    json_object_object_length(o) != count || count != errs->count)
		abort();
	unsigned named = 0;
	json_object_object_foreach(o, key, value)
	{
		size_t i = 0;
		while (i < F__MAX && strcmp(specs[i].name, key))
			i++;
		if (i == F__MAX || !json_object_is_type(value, json_type_string) ||
		    json_object_get_string_len(value) == 0)
			abort();
		named |= 1u << i;
	}
	json_object_put(o);
	return named;
}

static void check_string(const struct field_spec *spec, const struct field_value *v)
{
	const char *s = v->str;
	size_t len = v->len;
	if (!s || s[len] != '\0' || !utf8_valid(s, len) || utf8_has_nul(s, len))
		abort();
	size_t count = utf8_count(s, len);
	if ((int64_t)count < spec->min || (spec->max && (int64_t)count > spec->max))
		abort();
	if (!(spec->flags & FIELD_RAW) && utf8_has_control(s, len))
		abort();
	if ((spec->flags & FIELD_NAME) && utf8_has_bidi_control(s, len))
		abort();
	if (spec->flags & FIELD_TRIM) {
		const char *t = s;
		size_t tlen = len;
		utf8_trim(&t, &tlen);
		if (t != s || tlen != len)
			abort();
	}
	if (spec->check && spec->check(s, len))
		abort();
}

static void check_value(const struct field_spec *spec, const struct field_value *v)
{
	switch (spec->type) {
	case FIELD_STRING:
		check_string(spec, v);
		break;
	case FIELD_ID:
		if (v->num <= 0)
			abort();
		break;
	case FIELD_INT:
		if (v->num < spec->min || v->num > spec->max)
			abort();
		break;
	case FIELD_BOOL:
		if (v->num != 0 && v->num != 1)
			abort();
		break;
	case FIELD_ID_ARRAY:
		abort(); /* a form has no arrays: never accepted */
	}
}

/* Appends s percent-encoded as a browser encodes a form (every byte but
 * the unreserved ones, RFC 3986 section 2.3). */
static void put_encoded(struct buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    strchr("-._~", c) != NULL) {
			buf_putc(b, (char)c);
		} else {
			char esc[4] = "%";
			hex_encode_upper(esc + 1, &c, 1);
			buf_append(b, esc, 3);
		}
	}
}

/* The accepted values as a new body; the numbers in decimal. */
static void accepted_body(struct arena *a, const struct field_value *f, unsigned bad,
			  struct buf *b)
{
	for (size_t i = 0; i < F__MAX; i++) {
		if (!f[i].present || (bad & (1u << i)))
			continue;
		if (b->len)
			buf_putc(b, '&');
		put_encoded(b, specs[i].name, strlen(specs[i].name));
		buf_putc(b, '=');
		const char *v = f[i].str;
		size_t len = f[i].len;
		if (specs[i].type == FIELD_BOOL) {
			v = f[i].num ? "true" : "false";
			len = strlen(v);
		} else if (specs[i].type != FIELD_STRING) {
			v = arena_printf(a, "%lld", (long long)f[i].num);
			len = strlen(v);
		}
		put_encoded(b, v, len);
	}
}

/* How many pairs of the body have this name (decoded; as sent when its
 * escape is malformed), counted apart from valid_form_repeat(). */
static size_t count_name(struct arena *a, const char *body, size_t len, const char *name)
{
	size_t count = 0, name_len = strlen(name);
	const char *end = body + len;
	for (const char *p = body; p < end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		size_t raw = (size_t)((eq ? eq : stop) - p);
		size_t n;
		const char *d = valid_percent_decode(a, p, raw, true, &n);
		if (!d) {
			d = p;
			n = raw;
		}
		/* strlen(name) stops at a decoded NUL: compare that far, and
		 * the rest must be there too (a prefix match is enough here). */
		if (stop > p && n >= name_len && !memcmp(d, name, name_len))
			count++;
		p = stop + 1;
	}
	return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new();
	struct field_value f[F__MAX];
	struct field_errors errs = {0};
	int n = valid_form(a, (const char *)data, size, specs, F__MAX, f, &errs);
	unsigned bad = fields_in_error(&errs, n);
	for (size_t i = 0; i < F__MAX; i++) {
		if (bad & (1u << i)) {
			if (f[i].str)
				abort();
			continue;
		}
		if (!f[i].present) {
			if (specs[i].flags & FIELD_REQUIRED)
				abort();
			continue;
		}
		check_value(&specs[i], &f[i]);
	}
	field_errors_free(&errs);

	struct buf body = {0};
	accepted_body(a, f, bad, &body);
	if (buf_status(&body) != MSGR_OK)
		abort();
	struct field_value g[F__MAX];
	n = valid_form(a, body.data ? body.data : "", body.len, specs, F__MAX, g, &errs);
	unsigned bad_again = fields_in_error(&errs, n);
	for (size_t i = 0; i < F__MAX; i++) {
		if (!f[i].present || (bad & (1u << i)))
			continue;
		if ((bad_again & (1u << i)) || !g[i].present || g[i].num != f[i].num ||
		    g[i].len != f[i].len || (f[i].str && memcmp(g[i].str, f[i].str, f[i].len)))
			abort();
	}
	field_errors_free(&errs);

	const char *repeat = valid_form_repeat(a, (const char *)data, size);
	if (repeat && count_name(a, (const char *)data, size, repeat) < 2)
		abort();
	if (valid_form_repeat(a, body.data ? body.data : "", body.len))
		abort();
	if (body.len) {
		struct buf twice = {0};
		buf_append(&twice, body.data, body.len);
		buf_putc(&twice, '&');
		buf_append(&twice, body.data, body.len);
		if (buf_status(&twice) != MSGR_OK || !valid_form_repeat(a, twice.data, twice.len))
			abort();
		buf_free(&twice);
	}
	buf_free(&body);
	arena_free(a);
	return 0;
}
