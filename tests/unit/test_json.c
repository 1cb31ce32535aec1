/*
 * test_json.c - shared/json.c: the pre-check of what json-c would misread
 * (quotes, halves of surrogate pairs, pairs it misdecodes) and json_read()
 * as a whole.
 */
#include "json.c"

#include "unit.h"

TEST(single_quotes_outside_strings)
{
	CHECK(json_scan("{'a':1}", 7) == JSON_SCAN_REFUSE);
	CHECK(json_scan("{\"a\":'x'}", 9) == JSON_SCAN_REFUSE);
	CHECK(json_scan("{\"it's\":\"o'k\"}", 14) == JSON_SCAN_OK);
	CHECK(json_scan("{\"a\\\"'\":1}", 10) == JSON_SCAN_OK); /* escaped quote then ' in string */
	CHECK(json_scan("", 0) == JSON_SCAN_OK);
}

static bool misread(const char *s)
{
	return json_scan(s, strlen(s)) == JSON_SCAN_REFUSE;
}

TEST(halves_of_surrogate_pairs)
{
	/* a whole pair, and escapes that are no surrogate at all */
	CHECK(!misread("{\"t\":\"\\ud83d\\ude00\"}"));
	CHECK(!misread("{\"t\":\"\\uD83D\\uDE00 and \\u00e9\\u0041\"}"));
	CHECK(!misread("{\"t\":\"\\\\ud800\"}")); /* an escaped backslash, then text */
	/* a high half alone: at the end, before text, before another escape */
	CHECK(misread("{\"t\":\"\\ud800\"}"));
	CHECK(misread("{\"t\":\"\\ud800x\"}"));
	CHECK(misread("{\"t\":\"\\ud800\\n\"}"));
	CHECK(misread("{\"t\":\"\\ud800\\u0041\"}"));
	CHECK(misread("{\"t\":\"\\udbff\\udbff\\udc00\"}"));
	/* a low half alone */
	CHECK(misread("{\"t\":\"\\udc00\"}"));
	CHECK(misread("{\"t\":\"a\\ude00\"}"));
	/* in a key too */
	CHECK(misread("{\"\\ud800\":1}"));
	/* malformed escapes are json-c's to refuse */
	CHECK(!misread("{\"t\":\"\\u12\"}"));
	CHECK(!misread("{\"t\":\"\\"));
}

static bool reads(const char *s)
{
	struct json_object *o = json_read(s, strlen(s));
	json_object_put(o);
	return o != NULL;
}

/* The string "t" of what json_read() makes of s, as it stands. */
static void check_t(const char *s, const char *want)
{
	struct json_object *o = json_read(s, strlen(s));
	CHECK(o != NULL);
	const char *t = json_object_get_string(json_object_object_get(o, "t"));
	CHECK_STR_EQ(t, want);
	json_object_put(o);
}

/* json-c 0.16 made U+FFFD of every pair whose code point's low 16 bits
 * look like a surrogate (the fuzzer found U+1DAAF); the reader hands those
 * to it as UTF-8. */
TEST(every_whole_pair_reads_as_its_code_point)
{
	check_t("{\"t\":\"\\ud836\\udeaf\\u00e9\",\"\":[1,2]}", "\xf0\x9d\xaa\xaf\xc3\xa9");
	check_t("{\"t\":\"x\\uD836\\uDC00y\"}", "x\xf0\x9d\xa0\x80y");	  /* U+1D800 */
	check_t("{\"t\":\"\\ud877\\udfff\"}", "\xf0\xad\xbf\xbf");	  /* U+2DFFF */
	check_t("{\"t\":\"\\ud83d\\ude00\\\\ud836\"}", "\xf0\x9f\x98\x80\\ud836"); /* untouched */
	CHECK(json_scan("{\"t\":\"\\ud83d\\ude00\"}", 20) == JSON_SCAN_OK);
	CHECK(json_scan("{\"t\":\"\\ud836\\udeaf\"}", 20) == JSON_SCAN_REWRITE_PAIRS);
	/* every pair, each low half a step of 0x11 */
	for (int high = 0xD800; high <= 0xDBFF; high++)
		for (int low = 0xDC00; low <= 0xDFFF; low += 0x11) {
			char s[32], want[8];
			snprintf(s, sizeof s, "{\"t\":\"\\u%04x\\u%04x\"}", high, low);
			size_t n = utf8_encode(0x10000 + (((uint32_t)high - 0xD800) << 10) + ((uint32_t)low - 0xDC00), want);
			want[n] = '\0';
			struct json_object *o = json_read(s, strlen(s));
			const char *t = o ? json_object_get_string(json_object_object_get(o, "t")) : "";
			if (strcmp(t, want)) {
				CHECK_STR_EQ(t, want);
				json_object_put(o);
				return;
			}
			json_object_put(o);
		}
}

TEST(one_json_text_and_nothing_else)
{
	CHECK(reads("{}"));
	CHECK(reads("{\"type\":\"ping\"}"));
	CHECK(reads(" {\"a\":[1,2.5,true,null]} \r\n\t"));
	CHECK(reads("[]"));
	CHECK(reads("\"x\""));
	CHECK(reads("7"));
	CHECK(reads("-0.5e3 "));
	CHECK(reads("true"));
	CHECK(!reads("tru"));
	CHECK(!reads("7 7"));
	CHECK(!reads("\"x"));
	CHECK(!reads("{\"a\":"));
	CHECK(!reads(""));
	CHECK(!reads("   "));
	CHECK(!reads("{} {}"));
	CHECK(!reads("{}x"));
	CHECK(!reads("{\"a\":1,}"));
	CHECK(!reads("{a:1}"));
	CHECK(!reads("[1,]"));
	CHECK(!reads("{\"a\":01}"));
	CHECK(!reads("{\"a\":NaN}"));
	CHECK(!reads("{\"a\":Infinity}"));
	CHECK(!reads("[-Infinity]"));
	CHECK(reads("{\"NaN\":\"Infinity\"}"));
	CHECK(!reads("{\"a\":\"tab\there\"}"));
	CHECK(reads("{\"a\":\"tab\\there\"}"));
	/* bytes that are not UTF-8 are the field validators' to refuse (422) */
	CHECK(reads("{\"a\":\"caf\xe9\"}"));
	CHECK(reads("{\"a\":\"caf\xc3\xa9\"}"));
	/* what wsd once accepted and REST refused */
	CHECK(!reads("{'type':'ping'}"));
}

TEST(bytes_after_the_text_count_even_when_nul)
{
	/* data is (pointer, length): a NUL inside it is not an end */
	CHECK(json_read("{}\0", 3) == NULL);
	CHECK(json_read("{\"a\":\"b\0\"}", 10) == NULL);
	struct json_object *o = json_read("{}garbage", 2);
	CHECK(o != NULL);
	json_object_put(o);
}

TEST(nesting_is_bounded)
{
	char deep[2 * JSON_READ_DEPTH + 3];
	size_t n = 0;
	for (int i = 0; i < JSON_READ_DEPTH + 1; i++)
		deep[n++] = '[';
	for (int i = 0; i < JSON_READ_DEPTH + 1; i++)
		deep[n++] = ']';
	CHECK(json_read(deep, n) == NULL);
	struct json_object *o = json_read(deep + 1, n - 2);
	CHECK(o != NULL);
	json_object_put(o);
}
