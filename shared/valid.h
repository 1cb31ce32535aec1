/*
 * valid.h - declared input fields, validated once.
 *
 * A handler declares the fields it accepts in a table indexed by its own
 * enum (as kcgi's struct kvalid does); valid_json_object() and
 * valid_form() fill one struct field_value per entry and collect a message
 * per bad field. The handler body only ever sees validated values.
 */
#ifndef MSGR_VALID_H
#define MSGR_VALID_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"

enum field_type {
	FIELD_STRING,   /* valid UTF-8 without NUL; length in code points */
	FIELD_ID,       /* a positive 64-bit integer */
	FIELD_INT,      /* an integer in [min, max] */
	FIELD_BOOL,
	FIELD_ID_ARRAY, /* an array of positive 64-bit integers; count in [min, max] */
};

enum {
	FIELD_REQUIRED = 1 << 0,
	FIELD_TRIM = 1 << 1,     /* strip leading and trailing white space first */
	FIELD_NULLABLE = 1 << 2, /* JSON null is accepted (is_null is set) */
	FIELD_RAW = 1 << 3,      /* keep control characters (message text) */
	/* A name others see beside other names (display name, chat title):
	 * no bidirectional controls either (utf8_is_bidi_control()), which
	 * would let it pass for another. Text (messages, about) may keep
	 * them: right-to-left writing needs the marks there. */
	FIELD_NAME = 1 << 4,
};

struct field_spec {
	const char *name;
	enum field_type type;
	unsigned flags;
	int64_t min; /* code points, value or count, depending on type */
	int64_t max;
	/* Extra check on a string that passed the generic ones; returns NULL
	 * when fine, else a static message for the errors object. */
	const char *(*check)(const char *s, size_t len);
};

struct field_value {
	bool present;
	bool is_null;
	const char *str; /* arena-owned, NUL-terminated, trimmed if asked */
	size_t len;      /* bytes */
	int64_t num;     /* FIELD_ID, FIELD_INT, FIELD_BOOL */
	int64_t *ids;    /* FIELD_ID_ARRAY, arena-owned, in the order given, repeats dropped */
	size_t nids;
};

/* Collected field errors; the JSON object body of a 422's "errors". */
struct field_errors {
	struct buf json; /* {"name":"message",...} without the braces */
	int count;
};

void field_errors_add(struct field_errors *errs, const char *field, const char *message);
void field_errors_free(struct field_errors *errs);

/* A field check (field_spec.check): NULL when s has the form of an RFC
 * 3339 date-time (section 5.6): YYYY-MM-DDTHH:MM:SS, an optional fraction
 * of up to 9 digits, then Z or an offset. Whether the date exists (a 30
 * February) is the database's check, where it reads the value. */
const char *valid_rfc3339(const char *s, size_t len);

/* Validates obj against n specs into out[n]; returns the number of errors
 * added to errs. Unknown members are ignored (the contract can grow). */
int valid_json_object(struct arena *a, json_object *obj, const struct field_spec *specs,
		      size_t n, struct field_value *out, struct field_errors *errs);

/* The same for an application/x-www-form-urlencoded body. Values are
 * percent-decoded ('+' is a space); a repeated name keeps the first. */
int valid_form(struct arena *a, const char *body, size_t len, const struct field_spec *specs,
	       size_t n, struct field_value *out, struct field_errors *errs);

/* The first name, percent-decoded, that is given more than once in an
 * application/x-www-form-urlencoded body (declared or not, with a value or
 * without), as a new arena string; NULL when every name is given once. For
 * the endpoints whose protocol forbids repeats (OAuth2, RFC 6749 section
 * 3.2: "parameters MUST NOT be included more than once"), which valid_form()
 * alone cannot tell: it keeps the first. A name with a malformed escape is
 * compared as it was sent. */
const char *valid_form_repeat(struct arena *a, const char *body, size_t len);

/* Percent-decodes len bytes into a new arena string; plus_is_space for form
 * and query encoding. Returns NULL on a malformed escape. *out_len gets the
 * decoded length (the result may contain NUL bytes). */
char *valid_percent_decode(struct arena *a, const char *s, size_t len, bool plus_is_space,
			   size_t *out_len);

/* Parses a positive 64-bit decimal id without sign or leading zeros. */
bool valid_parse_id(const char *s, size_t len, int64_t *out);

/* A field_spec check: "all", "mentions" or "none", the levels of a chat's
 * notify and of the e-mail notifications setting. */
const char *valid_notify_level(const char *s, size_t len);

/* A field_spec check: "en", "ru" or "uk", the languages of the app (the
 * settings' "language"). */
const char *valid_language(const char *s, size_t len);

#endif
