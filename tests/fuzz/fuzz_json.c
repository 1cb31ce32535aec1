/*
 * fuzz_json.c - libFuzzer harness for shared/json.c json_read(), the reader
 * of REST bodies and wsd frames.
 *
 * Whatever the input: no crash, no leak; an accepted text's strings hold
 * U+FFFD only where the text wrote it (json-c's stand-in for a half
 * surrogate pair, see json.h), and what json-c writes of the value reads
 * back as the same value.
 *
 * Build: make fuzz (or build-fuzz/fuzz_json tests/fuzz/corpus/fuzz_json)
 */
#define _GNU_SOURCE /* memmem */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD in UTF-8 */

/* True when a string (key or value) of o holds U+FFFD. */
static bool has_replacement(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_string:
		return memmem(json_object_get_string(o), (size_t)json_object_get_string_len(o),
			      REPLACEMENT, 3) != NULL;
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (has_replacement(json_object_array_get_idx(o, i)))
				return true;
		return false;
	case json_type_object: {
		json_object_object_foreach(o, key, value)
		{
			if (strstr(key, REPLACEMENT) || has_replacement(value))
				return true;
		}
		return false;
	}
	default:
		return false;
	}
}

/* True when the text itself writes U+FFFD, raw or as an escape. */
static bool writes_replacement(const char *s, size_t n)
{
	if (memmem(s, n, REPLACEMENT, 3))
		return true;
	for (size_t i = 0; i + 6 <= n; i++)
		if (s[i] == '\\' && s[i + 1] == 'u' && !strncasecmp(s + i + 2, "fffd", 4))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o = json_read((const char *)data, size);
	if (!o)
		return 0;
	/* json-c writes U+FFFD for what it cannot decode: the text read would
	 * not be the text sent */
	if (has_replacement(o) && !writes_replacement((const char *)data, size))
		abort();
	size_t len;
	const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	struct json_object *again = json_read(text, len);
	if (!again || !json_object_equal(o, again))
		abort();
	json_object_put(again);
	json_object_put(o);
	return 0;
}
