/*
 * test_valid.c - declared fields from JSON, forms and query strings, and
 * percent-decoding (shared/valid.c).
 */
#include "valid.c"

#include "unit.h"

enum { F_NAME, F_ID, F_COUNT, F_FLAG, F_IDS, F_TEXT, F__MAX };
static const char *no_x(const char *s, size_t len)
{
	return memchr(s, 'x', len) ? "must not contain x" : NULL;
}
static const struct field_spec specs[F__MAX] = {
	[F_NAME] = {"name", FIELD_STRING, FIELD_REQUIRED | FIELD_TRIM | FIELD_NAME, 1, 5, no_x},
	[F_ID] = {"id", FIELD_ID, 0, 0, 0, NULL},
	[F_COUNT] = {"count", FIELD_INT, 0, 1, 100, NULL},
	[F_FLAG] = {"flag", FIELD_BOOL, 0, 0, 0, NULL},
	[F_IDS] = {"ids", FIELD_ID_ARRAY, 0, 0, 3, NULL},
	[F_TEXT] = {"text", FIELD_STRING, FIELD_RAW | FIELD_NULLABLE, 0, 10, NULL},
};

/* Runs the JSON validator; returns the error count and the errors text. */
static int run_json(struct arena *a, const char *json, struct field_value *out, char *errs_out,
		    size_t errs_size)
{
	json_object *obj = json_tokener_parse(json);
	struct field_errors errs = {0};
	int n = valid_json_object(a, obj, specs, F__MAX, out, &errs);
	snprintf(errs_out, errs_size, "%s", buf_cstr(&errs.json));
	field_errors_free(&errs);
	json_object_put(obj);
	return n;
}

TEST(json_all_valid)
{
	struct arena *a = arena_new();
	struct field_value f[F__MAX];
	char errs[512];
	int n = run_json(a,
			 "{\"name\":\"  abc \",\"id\":42,\"count\":7,\"flag\":true,"
			 "\"ids\":[3,1,3],\"text\":\"a\\nb\",\"unknown\":1}",
			 f, errs, sizeof errs);
	CHECK_INT_EQ(n, 0);
	CHECK_STR_EQ(errs, "");
	CHECK_STR_EQ(f[F_NAME].str, "abc");
	CHECK_UINT_EQ(f[F_NAME].len, 3);
	CHECK_INT_EQ(f[F_ID].num, 42);
	CHECK_INT_EQ(f[F_COUNT].num, 7);
	CHECK_INT_EQ(f[F_FLAG].num, 1);
	REQUIRE(f[F_IDS].nids == 2); /* the order given, the repeat dropped */
	CHECK_INT_EQ(f[F_IDS].ids[0], 3);
	CHECK_INT_EQ(f[F_IDS].ids[1], 1);
	CHECK_STR_EQ(f[F_TEXT].str, "a\nb");
	arena_free(a);
}

TEST(json_errors_are_collected_per_field)
{
	struct arena *a = arena_new();
	struct field_value f[F__MAX];
	char errs[512];
	int n = run_json(a,
			 "{\"id\":0,\"count\":101,\"flag\":\"yes\",\"ids\":[1,2,3,4],"
			 "\"text\":\"12345678901\"}",
			 f, errs, sizeof errs);
	CHECK_INT_EQ(n, 6);
	CHECK(strstr(errs, "\"name\":\"is required\"") != NULL);
	CHECK(strstr(errs, "\"id\":\"must be a positive integer id\"") != NULL);
	CHECK(strstr(errs, "\"count\":\"is out of range\"") != NULL);
	CHECK(strstr(errs, "\"flag\":\"must be true or false\"") != NULL);
	CHECK(strstr(errs, "\"ids\":\"has too many items\"") != NULL);
	CHECK(strstr(errs, "\"text\":\"is too long\"") != NULL);
	CHECK(!f[F_ID].present);
	arena_free(a);
}

TEST(json_string_rules)
{
	struct arena *a = arena_new();
	struct field_value f[F__MAX];
	char errs[512];
	CHECK_INT_EQ(run_json(a, "{\"name\":\"   \"}", f, errs, sizeof errs), 1);
	CHECK(strstr(errs, "must not be empty") != NULL);
	CHECK_INT_EQ(run_json(a, "{\"name\":\"abcdef\"}", f, errs, sizeof errs), 1);
	CHECK(strstr(errs, "is too long") != NULL);
	CHECK_INT_EQ(run_json(a, "{\"name\":\"a\\tb\"}", f, errs, sizeof errs), 1);
	CHECK(strstr(errs, "control") != NULL);
	CHECK_INT_EQ(run_json(a, "{\"name\":\"a\\u0000b\"}", f, errs, sizeof errs), 1);
	CHECK(strstr(errs, "NUL") != NULL);
	CHECK_INT_EQ(run_json(a, "{\"name\":\"axb\"}", f, errs, sizeof errs), 1);
	CHECK(strstr(errs, "must not contain x") != NULL);
	CHECK_INT_EQ(run_json(a, "{\"name\":5}", f, errs, sizeof errs), 1);
	CHECK(strstr(errs, "must be a string") != NULL);
	/* Five code points in ten bytes fit a limit of five. */
	CHECK_INT_EQ(run_json(a, "{\"name\":\"привет\"}", f, errs, sizeof errs), 1);
	CHECK_INT_EQ(run_json(a, "{\"name\":\"приве\"}", f, errs, sizeof errs), 0);
	/* null only where declared nullable */
	CHECK_INT_EQ(run_json(a, "{\"name\":\"a\",\"text\":null}", f, errs, sizeof errs), 0);
	CHECK(f[F_TEXT].present && f[F_TEXT].is_null);
	CHECK_INT_EQ(run_json(a, "{\"name\":null}", f, errs, sizeof errs), 1);
	arena_free(a);
}

TEST(json_numbers)
{
	struct arena *a = arena_new();
	struct field_value f[F__MAX];
	char errs[512];
	CHECK_INT_EQ(run_json(a, "{\"name\":\"a\",\"id\":1.5}", f, errs, sizeof errs), 1);
	CHECK_INT_EQ(run_json(a, "{\"name\":\"a\",\"id\":\"7\"}", f, errs, sizeof errs), 1);
	CHECK_INT_EQ(run_json(a, "{\"name\":\"a\",\"id\":-3}", f, errs, sizeof errs), 1);
	CHECK_INT_EQ(run_json(a, "{\"name\":\"a\",\"ids\":[1,\"2\"]}", f, errs, sizeof errs), 1);
	CHECK_INT_EQ(run_json(a, "{\"name\":\"a\",\"ids\":{}}", f, errs, sizeof errs), 1);
	CHECK_INT_EQ(run_json(a, "{\"name\":\"a\",\"ids\":[]}", f, errs, sizeof errs), 0);
	CHECK_UINT_EQ(f[F_IDS].nids, 0);
	arena_free(a);
}

TEST(form_values)
{
	struct arena *a = arena_new();
	struct field_value f[F__MAX];
	struct field_errors errs = {0};
	const char body[] = "name=%20ab+c&id=12&count=3&flag=false&name=zzz&&junk";
	CHECK_INT_EQ(valid_form(a, body, sizeof body - 1, specs, F__MAX, f, &errs), 0);
	CHECK_STR_EQ(f[F_NAME].str, "ab c"); /* first value wins, trimmed */
	CHECK_INT_EQ(f[F_ID].num, 12);
	CHECK_INT_EQ(f[F_COUNT].num, 3);
	CHECK(f[F_FLAG].present && f[F_FLAG].num == 0);
	field_errors_free(&errs);
	arena_free(a);
}

TEST(form_errors)
{
	struct arena *a = arena_new();
	struct field_value f[F__MAX];
	struct field_errors errs = {0};
	const char body[] = "id=007&count=x&flag=1&text=%zz";
	CHECK_INT_EQ(valid_form(a, body, sizeof body - 1, specs, F__MAX, f, &errs), 5);
	const char *e = buf_cstr(&errs.json);
	CHECK(strstr(e, "\"name\":\"is required\"") != NULL);
	CHECK(strstr(e, "\"id\":") != NULL); /* leading zeros are not an id */
	CHECK(strstr(e, "\"count\":\"must be an integer\"") != NULL);
	CHECK(strstr(e, "\"flag\":") != NULL);
	CHECK(strstr(e, "percent-encoding") != NULL);
	field_errors_free(&errs);
	arena_free(a);
}

TEST(names_refuse_bidi_controls)
{
	struct arena *a = arena_new();
	struct field_value f[F__MAX];
	char errs[512];
	/* U+202E in a name: refused, by JSON and by form alike. */
	CHECK_INT_EQ(run_json(a, "{\"name\":\"ab\u202ec\"}", f, errs, sizeof errs), 1);
	CHECK(strstr(errs, "\"name\":\"must not contain bidirectional control characters\"") != NULL);
	CHECK_INT_EQ(run_json(a, "{\"name\":\"\u2066ab\"}", f, errs, sizeof errs), 1);
	CHECK_INT_EQ(run_json(a, "{\"name\":\"a\u200fb\"}", f, errs, sizeof errs), 1);
	CHECK_INT_EQ(run_json(a, "{\"name\":\"a\u061cb\"}", f, errs, sizeof errs), 1);
	struct field_errors fe = {0};
	const char body[] = "name=ab%E2%80%AEc";
	CHECK_INT_EQ(valid_form(a, body, sizeof body - 1, specs, F__MAX, f, &fe), 1);
	field_errors_free(&fe);
	/* Right-to-left letters are fine; text (not a name) keeps the marks. */
	CHECK_INT_EQ(run_json(a, "{\"name\":\"\u05e9\u05dc\u05d5\u05dd\"}", f, errs, sizeof errs), 0);
	CHECK_INT_EQ(run_json(a, "{\"name\":\"a\",\"text\":\"\u202eab\u202c\"}", f, errs,
			      sizeof errs),
		     0);
	arena_free(a);
}

TEST(form_invalid_utf8)
{
	struct arena *a = arena_new();
	struct field_value f[F__MAX];
	struct field_errors errs = {0};
	const char body[] = "name=%ff%fe";
	CHECK_INT_EQ(valid_form(a, body, sizeof body - 1, specs, F__MAX, f, &errs), 1);
	CHECK(strstr(buf_cstr(&errs.json), "UTF-8") != NULL);
	field_errors_free(&errs);
	arena_free(a);
}

TEST(form_repeat)
{
	struct arena *a = arena_new();
	const char *r;
#define REPEAT(body) valid_form_repeat(a, body, sizeof body - 1)
	CHECK(REPEAT("") == NULL);
	CHECK(REPEAT("a=1&b=2&&c&grant=x") == NULL);
	CHECK(REPEAT("ab=1&a=1&b") == NULL);
	r = REPEAT("grant_type=password&username=u&grant_type=password");
	CHECK(r && !strcmp(r, "grant_type"));
	/* Names compare decoded; with no value or an empty one alike. */
	r = REPEAT("scope=a&sc%6Fpe=b");
	CHECK(r && !strcmp(r, "scope"));
	r = REPEAT("a+b=1&a%20b");
	CHECK(r && !strcmp(r, "a b"));
	r = REPEAT("x=&y&x");
	CHECK(r && !strcmp(r, "x"));
	/* A malformed escape is compared as sent. */
	r = REPEAT("%zz=1&%zz=2");
	CHECK(r && !strcmp(r, "%zz"));
	CHECK(REPEAT("%zz=1&%zZ=2") == NULL);
	CHECK(REPEAT("&&&") == NULL);
	r = REPEAT("=1&=2");
	CHECK(r && !strcmp(r, ""));
#undef REPEAT
	arena_free(a);
}

TEST(percent_decode)
{
	struct arena *a = arena_new();
	size_t n;
	char *s = valid_percent_decode(a, "a%2Fb%20c+d", 11, false, &n);
	CHECK_STR_EQ(s, "a/b c+d");
	s = valid_percent_decode(a, "a+b", 3, true, &n);
	CHECK_STR_EQ(s, "a b");
	s = valid_percent_decode(a, "%F0%9F%99%82", 12, false, &n);
	CHECK_STR_EQ(s, "🙂");
	s = valid_percent_decode(a, "x%00y", 5, false, &n);
	CHECK_UINT_EQ(n, 3);
	CHECK_MEM_EQ(s, n, "x\0y", 3);
	CHECK(valid_percent_decode(a, "%", 1, false, &n) == NULL);
	CHECK(valid_percent_decode(a, "%4", 2, false, &n) == NULL);
	CHECK(valid_percent_decode(a, "ab%", 3, false, &n) == NULL);
	CHECK(valid_percent_decode(a, "%g0", 3, false, &n) == NULL);
	arena_free(a);
}

TEST(parse_id)
{
	int64_t v;
	CHECK(valid_parse_id("1", 1, &v) && v == 1);
	CHECK(valid_parse_id("9223372036854775807", 19, &v) && v == INT64_MAX);
	CHECK(!valid_parse_id("9223372036854775808", 19, &v));
	CHECK(!valid_parse_id("0", 1, &v));
	CHECK(!valid_parse_id("01", 2, &v));
	CHECK(!valid_parse_id("-1", 2, &v));
	CHECK(!valid_parse_id("1a", 2, &v));
	CHECK(!valid_parse_id("", 0, &v));
	CHECK(!valid_parse_id("12345678901234567890", 20, &v));
}

TEST(rfc3339_form)
{
	static const char *const good[] = {
		"2026-01-31T12:00:00Z", "2026-01-31t12:00:00z", "2026-01-31T12:00:00.5Z",
		"2026-01-31T12:00:00.123456789+02:00", "2026-02-30T99:99:99-00:00",
	};
	static const char *const bad[] = {
		"2026-01-31", "2026-01-31T12:00:00", "2026-01-31 12:00:00Z", "2026-01-31T12:00:00.Z",
		"2026-01-31T12:00:00.1234567890Z", "2026-01-31T12:00:00+0200", "2026-1-31T12:00:00Z",
		"now", "yesterday", "2026-01-31T12:00:00Zx", "+2026-01-31T12:00:00Z",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CHECK(valid_rfc3339(good[i], strlen(good[i])) == NULL);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(valid_rfc3339(bad[i], strlen(bad[i])) != NULL);
	/* The length is the bound, not a NUL. */
	CHECK(valid_rfc3339("2026-01-31T12:00:00Z", 19) != NULL);
}

TEST(language)
{
	CHECK(valid_language("en", 2) == NULL);
	CHECK(valid_language("ru", 2) == NULL);
	CHECK(valid_language("uk", 2) == NULL);
	CHECK(valid_language("EN", 2) != NULL);
	CHECK(valid_language("ua", 2) != NULL);
	CHECK(valid_language("ru-RU", 5) != NULL);
	CHECK(valid_language("", 0) != NULL);
	/* The length is the bound, not a NUL. */
	CHECK(valid_language("ukr", 2) == NULL);
	CHECK(valid_language("e", 1) != NULL);
}
