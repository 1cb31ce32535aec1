/*
 * test_log.c - shared/log.c: MSGR_LOG_FORMAT=json lines are one valid JSON
 * object each, whatever the message holds; text lines stay as they were.
 */
#include "log.c"

#include <json-c/json.h>

#include "unit.h"

static json_object *json_line(const char *msg, const struct log_req *r)
{
	char line[LOG_LINE_MAX];
	log_json = true;
	size_t n = format_line(line, sizeof line, "2026-01-02T03:04:05.006Z", "info", msg, r);
	log_json = false;
	if (n == 0 || line[n - 1] != '\n' || memchr(line, '\n', n - 1))
		return NULL; /* one line, ending in a newline */
	line[n - 1] = '\0';
	return json_tokener_parse(line);
}

static const char *field(json_object *o, const char *name)
{
	json_object *v;
	return json_object_object_get_ex(o, name, &v) ? json_object_get_string(v) : NULL;
}

TEST(json_line_escapes_the_message)
{
	log_program = "auth";
	log_pid = 42;
	json_object *o = json_line("a \"quoted\" \\ back\nslash\ttab \x01 é", NULL);
	REQUIRE(o != NULL);
	CHECK_STR_EQ(field(o, "msg"), "a \"quoted\" \\ back\nslash\ttab \x01 é");
	CHECK_STR_EQ(field(o, "level"), "info");
	CHECK_STR_EQ(field(o, "program"), "auth");
	CHECK_STR_EQ(field(o, "pid"), "42");
	CHECK_STR_EQ(field(o, "time"), "2026-01-02T03:04:05.006Z");
	CHECK(field(o, "request_id") == NULL);
	json_object_put(o);
}

TEST(json_request_line_has_its_fields)
{
	struct log_req r = {"GET", "/api/users/\"7\"", "req-1.a_B", 404, 1.25, 9};
	json_object *o = json_line("GET /api/users/7 404", &r);
	REQUIRE(o != NULL);
	CHECK_STR_EQ(field(o, "method"), "GET");
	CHECK_STR_EQ(field(o, "path"), "/api/users/\"7\"");
	CHECK_STR_EQ(field(o, "status"), "404");
	CHECK_STR_EQ(field(o, "duration_ms"), "1.2");
	CHECK_STR_EQ(field(o, "user_id"), "9");
	CHECK_STR_EQ(field(o, "request_id"), "req-1.a_B");
	json_object_put(o);
}

TEST(json_line_of_a_huge_message_is_cut_and_still_valid)
{
	static char big[LOG_LINE_MAX * 2];
	memset(big, '"', sizeof big - 1);
	struct log_req r = {"POST", "/x", NULL, 200, 0, 0};
	json_object *o = json_line(big, &r);
	REQUIRE(o != NULL);
	CHECK(strlen(field(o, "msg")) > 1000);
	CHECK_STR_EQ(field(o, "status"), "200");
	json_object_put(o);
}

TEST(text_line_is_unchanged)
{
	char line[LOG_LINE_MAX];
	log_program = "chats";
	log_pid = 7;
	size_t n = format_line(line, sizeof line, "T", "error", "boom", NULL);
	CHECK_MEM_EQ(line, n, "T chats[7] error: boom\n", strlen("T chats[7] error: boom\n"));
}
