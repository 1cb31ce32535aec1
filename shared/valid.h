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

/* Validates obj against n specs into out[n]; returns the number of errors
 * added to errs. Unknown members are ignored (the contract can grow). */
int valid_json_object(struct arena *a, json_object *obj, const struct field_spec *specs,
		      size_t n, struct field_value *out, struct field_errors *errs);

/* The same for an application/x-www-form-urlencoded body. Values are
 * percent-decoded ('+' is a space); a repeated name keeps the first. */
int valid_form(struct arena *a, const char *body, size_t len, const struct field_spec *specs,
	       size_t n, struct field_value *out, struct field_errors *errs);

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

#endif
