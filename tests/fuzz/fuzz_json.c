/*
 * fuzz_json.c - libFuzzer harness for shared/json.c json_read(), the reader
 * of REST bodies and wsd frames.
 *
 * Whatever the input: no crash, no leak; an accepted text has no single
 * quote, NaN or Infinity outside its strings, holds no half surrogate pair
 * (its strings come back as valid UTF-8), and what json-c writes of it
 * reads back as the same value.
 *
 * Build: make fuzz (or build-fuzz/fuzz_json tests/fuzz/corpus/fuzz_json)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

/* Every string (keys too) of o is valid UTF-8. */
static void check_strings(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_string:
		if (!utf8_valid(json_object_get_string(o), (size_t)json_object_get_string_len(o)))
			abort();
		break;
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			check_strings(json_object_array_get_idx(o, i));
		break;
	case json_type_object: {
		json_object_object_foreach(o, key, value)
		{
			if (!utf8_valid(key, strlen(key)))
				abort();
			check_strings(value);
		}
		break;
	}
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o = json_read((const char *)data, size);
	if (!o)
		return 0;
	check_strings(o);
	size_t len;
	const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	struct json_object *again = json_read(text, len);
	if (!again || !json_object_equal(o, again))
		abort();
	json_object_put(again);
	json_object_put(o);
	return 0;
}
