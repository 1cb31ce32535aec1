#include "valid.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "utf8.h"

void field_errors_add(struct field_errors *errs, const char *field, const char *message)
{
	if (errs->count++)
		buf_putc(&errs->json, ',');
	buf_json_str(&errs->json, field, strlen(field));
	buf_putc(&errs->json, ':');
	buf_json_str(&errs->json, message, strlen(message));
}

void field_errors_free(struct field_errors *errs)
{
	buf_free(&errs->json);
	errs->count = 0;
}

bool valid_parse_id(const char *s, size_t len, int64_t *out)
{
	if (len == 0 || len > 19 || s[0] < '1' || s[0] > '9')
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		int d = s[i] - '0';
		if (v > (INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

const char *valid_rfc3339(const char *s, size_t len)
{
	static const char *const bad = "must be an RFC 3339 timestamp";
	if (len < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) ||
	    s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
		return bad;
	size_t i = 19;
	if (s[i] == '.') {
		size_t start = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || i - start > 9)
			return bad;
	}
	if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z'))
		return NULL;
	if (i + 6 == len && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2) &&
	    s[i + 3] == ':' && digits(s + i + 4, 2))
		return NULL;
	return bad;
}

/* Parses an optionally negative decimal integer. */
static bool parse_int(const char *s, size_t len, int64_t *out)
{
	bool neg = len && s[0] == '-';
	if (neg) {
		s++;
		len--;
	}
	if (len == 1 && s[0] == '0') {
		*out = 0;
		return !neg;
	}
	int64_t v;
	if (!valid_parse_id(s, len, &v))
		return false;
	*out = neg ? -v : v;
	return true;
}

char *valid_percent_decode(struct arena *a, const char *s, size_t len, bool plus_is_space,
			   size_t *out_len)
{
	char *out = arena_alloc(a, len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (len - i < 3 || !hex_decode(out + o, s + i + 1, 1))
				return NULL;
			o++;
			i += 2;
		} else if (s[i] == '+' && plus_is_space) {
			out[o++] = ' ';
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

/* Checks a string value against its spec; returns an error message or NULL
 * and stores the (trimmed) value in out. */
static const char *check_string(struct arena *a, const struct field_spec *spec, const char *s,
				size_t len, struct field_value *out)
{
	if (!utf8_valid(s, len))
		return "must be valid UTF-8";
	if (utf8_has_nul(s, len))
		return "must not contain NUL characters";
	if (spec->flags & FIELD_TRIM)
		utf8_trim(&s, &len);
	if (!(spec->flags & FIELD_RAW) && utf8_has_control(s, len))
		return "must not contain control characters";
	if ((spec->flags & FIELD_NAME) && utf8_has_bidi_control(s, len))
		return "must not contain bidirectional control characters";
	size_t count = utf8_count(s, len);
	if ((int64_t)count < spec->min)
		return spec->min <= 1 ? "must not be empty" : "is too short";
	if (spec->max && (int64_t)count > spec->max)
		return "is too long";
	if (spec->check) {
		const char *msg = spec->check(s, len);
		if (msg)
			return msg;
	}
	out->str = arena_strndup(a, s, len);
	out->len = len;
	return NULL;
}

static const char *check_number(const struct field_spec *spec, int64_t v, struct field_value *out)
{
	if (spec->type == FIELD_ID && v <= 0)
		return "must be a positive integer id";
	if (spec->type == FIELD_INT && (v < spec->min || v > spec->max))
		return "is out of range";
	out->num = v;
	return NULL;
}

static const char *check_id_array(struct arena *a, const struct field_spec *spec,
				  json_object *arr, struct field_value *out)
{
	if (!json_object_is_type(arr, json_type_array))
		return "must be an array of ids";
	size_t n = json_object_array_length(arr);
	if ((int64_t)n < spec->min)
		return "has too few items";
	if (spec->max && (int64_t)n > spec->max)
		return "has too many items";
	int64_t *ids = arena_alloc(a, (n ? n : 1) * sizeof *ids);
	for (size_t i = 0; i < n; i++) {
		json_object *item = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(item, json_type_int))
			return "must be an array of ids";
		errno = 0;
		int64_t v = json_object_get_int64(item);
		if (v <= 0 || errno)
			return "must be an array of positive ids";
		ids[i] = v;
	}
	/* Order matters (attachments keep the order given), so a repeat is
	 * dropped in place; the arrays are small (at most a thousand ids). */
	size_t unique = 0;
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t j = 0; j < unique && !seen; j++)
			seen = ids[j] == ids[i];
		if (!seen)
			ids[unique++] = ids[i];
	}
	out->ids = ids;
	out->nids = unique;
	return NULL;
}

static const char *check_json_value(struct arena *a, const struct field_spec *spec,
				    json_object *v, struct field_value *out)
{
	if (!v) {
		if (!(spec->flags & FIELD_NULLABLE))
			return "must not be null";
		out->is_null = true;
		return NULL;
	}
	switch (spec->type) {
	case FIELD_STRING:
		if (!json_object_is_type(v, json_type_string))
			return "must be a string";
		return check_string(a, spec, json_object_get_string(v),
				    (size_t)json_object_get_string_len(v), out);
	case FIELD_ID:
	case FIELD_INT: {
		if (!json_object_is_type(v, json_type_int))
			return spec->type == FIELD_ID ? "must be an integer id" : "must be an integer";
		errno = 0;
		int64_t n = json_object_get_int64(v);
		if (errno)
			return "is out of range";
		return check_number(spec, n, out);
	}
	case FIELD_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			return "must be true or false";
		out->num = json_object_get_boolean(v);
		return NULL;
	case FIELD_ID_ARRAY:
		return check_id_array(a, spec, v, out);
	}
	return "is not supported";
}

int valid_json_object(struct arena *a, json_object *obj, const struct field_spec *specs,
		      size_t n, struct field_value *out, struct field_errors *errs)
{
	int before = errs->count;
	for (size_t i = 0; i < n; i++) {
		out[i] = (struct field_value){0};
		json_object *v;
		if (!json_object_object_get_ex(obj, specs[i].name, &v)) {
			if (specs[i].flags & FIELD_REQUIRED)
				field_errors_add(errs, specs[i].name, "is required");
			continue;
		}
		out[i].present = true;
		const char *msg = check_json_value(a, &specs[i], v, &out[i]);
		if (msg) {
			out[i].present = false;
			field_errors_add(errs, specs[i].name, msg);
		}
	}
	return errs->count - before;
}

/* Validates one textual value (from a form or a query string). */
static const char *check_text_value(struct arena *a, const struct field_spec *spec,
				    const char *s, size_t len, struct field_value *out)
{
	switch (spec->type) {
	case FIELD_STRING:
		return check_string(a, spec, s, len, out);
	case FIELD_ID:
	case FIELD_INT: {
		int64_t v;
		if (!parse_int(s, len, &v))
			return spec->type == FIELD_ID ? "must be a positive integer id"
						      : "must be an integer";
		return check_number(spec, v, out);
	}
	case FIELD_BOOL:
		if (len == 4 && !memcmp(s, "true", 4))
			out->num = 1;
		else if (len == 5 && !memcmp(s, "false", 5))
			out->num = 0;
		else
			return "must be true or false";
		return NULL;
	case FIELD_ID_ARRAY:
		return "is not supported here";
	}
	return "is not supported";
}

/* One name=value pair of a form body, still encoded. */
struct form_pair {
	const char *name, *value;
	size_t name_len, value_len;
};

/* Steps *pos to the next non-empty pair of the len bytes at body; false at
 * the end. A pair without '=' has an empty value. */
static bool next_pair(const char *body, size_t len, size_t *pos, struct form_pair *p)
{
	while (*pos < len) {
		const char *pair = body + *pos;
		const char *amp = memchr(pair, '&', len - *pos);
		size_t pair_len = amp ? (size_t)(amp - pair) : len - *pos;
		*pos += pair_len + 1;
		if (!pair_len)
			continue;
		const char *eq = memchr(pair, '=', pair_len);
		p->name = pair;
		p->name_len = eq ? (size_t)(eq - pair) : pair_len;
		p->value = eq ? eq + 1 : pair + pair_len;
		p->value_len = eq ? pair_len - p->name_len - 1 : 0;
		return true;
	}
	return false;
}

int valid_form(struct arena *a, const char *body, size_t len, const struct field_spec *specs,
	       size_t n, struct field_value *out, struct field_errors *errs)
{
	int before = errs->count;
	for (size_t i = 0; i < n; i++)
		out[i] = (struct field_value){0};
	size_t pos = 0;
	struct form_pair pair;
	while (next_pair(body, len, &pos, &pair)) {
		size_t dname_len, value_len;
		char *name = valid_percent_decode(a, pair.name, pair.name_len, true, &dname_len);
		if (!name)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (strlen(specs[i].name) != dname_len || memcmp(specs[i].name, name, dname_len))
				continue;
			if (out[i].present)
				break;
			char *value = valid_percent_decode(a, pair.value, pair.value_len, true, &value_len);
			out[i].present = true;
			const char *msg = value ? check_text_value(a, &specs[i], value, value_len, &out[i])
						: "has a malformed percent-encoding";
			if (msg) {
				field_errors_add(errs, specs[i].name, msg);
				/* Keep present so a repeat is not taken instead. */
				out[i].str = NULL;
			}
			break;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!out[i].present && (specs[i].flags & FIELD_REQUIRED))
			field_errors_add(errs, specs[i].name, "is required");
	return errs->count - before;
}

const char *valid_notify_level(const char *s, size_t len)
{
	if ((len == 3 && !memcmp(s, "all", 3)) || (len == 8 && !memcmp(s, "mentions", 8)) ||
	    (len == 4 && !memcmp(s, "none", 4)))
		return NULL;
	return "must be \"all\", \"mentions\" or \"none\"";
}

const char *valid_language(const char *s, size_t len)
{
	if (len == 2 && (!memcmp(s, "en", 2) || !memcmp(s, "ru", 2) || !memcmp(s, "uk", 2)))
		return NULL;
	return "must be \"en\", \"ru\" or \"uk\"";
}

const char *valid_form_repeat(struct arena *a, const char *body, size_t len)
{
	/* The names seen so far, decoded. A body is a few kilobytes at most
	 * (the handlers' limits), so a list compared name by name will do. */
	struct seen {
		const char *name;
		size_t len;
	} *seen = arena_alloc(a, (len / 2 + 1) * sizeof *seen);
	size_t nseen = 0, pos = 0;
	struct form_pair pair;
	while (next_pair(body, len, &pos, &pair)) {
		size_t name_len;
		const char *name = valid_percent_decode(a, pair.name, pair.name_len, true, &name_len);
		if (!name) {
			name = arena_strndup(a, pair.name, pair.name_len);
			name_len = pair.name_len;
		}
		for (size_t i = 0; i < nseen; i++)
			if (seen[i].len == name_len && !memcmp(seen[i].name, name, name_len))
				return name;
		seen[nseen++] = (struct seen){name, name_len};
	}
	return NULL;
}
