/*
 * test_http.c - the parts of shared/http.c that need no FastCGI request:
 * route matching, media-type comparison, and the request id of problems.
 */
#include "http.c"

#include "unit.h"

static struct http_req new_req(struct arena *a)
{
	return (struct http_req){.arena = a};
}

TEST(route_literal_and_ids)
{
	struct arena *a = arena_new();
	struct http_req req = new_req(a);
	CHECK(route_match(&req, "/api/health", "/api/health"));
	CHECK_INT_EQ(req.npath, 0);
	CHECK(!route_match(&req, "/api/health", "/api/health/"));
	CHECK(!route_match(&req, "/api/health", "/api/healthz"));
	CHECK(!route_match(&req, "/api/health", "/api"));
	CHECK(route_match(&req, "/api/chats/{id}/members/{user_id}", "/api/chats/12/members/7"));
	CHECK_INT_EQ(req.npath, 2);
	CHECK_INT_EQ(req.path_id[0], 12);
	CHECK_INT_EQ(req.path_id[1], 7);
	CHECK_STR_EQ(req.path_str[1], "7");
	arena_free(a);
}

TEST(route_ids_must_be_positive_decimal)
{
	struct arena *a = arena_new();
	struct http_req req = new_req(a);
	CHECK(!route_match(&req, "/api/users/{user_id}", "/api/users/me"));
	CHECK(!route_match(&req, "/api/users/{user_id}", "/api/users/0"));
	CHECK(!route_match(&req, "/api/users/{user_id}", "/api/users/007"));
	CHECK(!route_match(&req, "/api/users/{user_id}", "/api/users/-1"));
	CHECK(!route_match(&req, "/api/users/{user_id}", "/api/users/1e3"));
	CHECK(!route_match(&req, "/api/users/{user_id}", "/api/users/99999999999999999999"));
	CHECK(!route_match(&req, "/api/users/{user_id}", "/api/users/"));
	CHECK(route_match(&req, "/api/users/{user_id}", "/api/users/9223372036854775807"));
	arena_free(a);
}

TEST(route_string_segments_are_percent_decoded)
{
	struct arena *a = arena_new();
	struct http_req req = new_req(a);
	CHECK(route_match(&req, "/api/messages/{id}/reactions/{emoji}",
			  "/api/messages/5/reactions/%F0%9F%91%8D"));
	CHECK_STR_EQ(req.path_str[1], "👍");
	CHECK_UINT_EQ(req.path_len[1], 4);
	/* An encoded slash stays inside its segment. */
	CHECK(route_match(&req, "/x/{name}", "/x/a%2Fb"));
	CHECK_STR_EQ(req.path_str[0], "a/b");
	/* '+' is not a space in a path. */
	CHECK(route_match(&req, "/x/{name}", "/x/a+b"));
	CHECK_STR_EQ(req.path_str[0], "a+b");
	CHECK(!route_match(&req, "/x/{name}", "/x/%zz"));
	CHECK(!route_match(&req, "/x/{name}", "/x/a/b"));
	arena_free(a);
}

TEST(media_types)
{
	CHECK(media_type_is("application/json", "application/json"));
	CHECK(media_type_is("Application/JSON; charset=utf-8", "application/json"));
	CHECK(media_type_is("  application/json ;x=y", "application/json"));
	CHECK(!media_type_is("application/jsonp", "application/json"));
	CHECK(!media_type_is("text/plain", "application/json"));
	CHECK(!media_type_is(NULL, "application/json"));
}

TEST(status_texts)
{
	CHECK_STR_EQ(http_status_text(404), "Not Found");
	CHECK_STR_EQ(http_status_text(422), "Unprocessable Content");
	CHECK_STR_EQ(http_status_text(599), "Unknown");
}

/* A request as the event loop holds it: the answer goes to a buffer. */
static void held_problem(char **envp, struct buf *answer)
{
	struct arena *a = arena_new();
	struct http_req req = {0};
	http_req_begin(&req, a, envp);
	req.held.answer = answer;
	http_problem(&req, 404, "not_found", "there is nothing at this path");
	buf_free(&req.extra_headers);
	arena_free(a);
}

TEST(problems_carry_the_request_id)
{
	char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/x", "HTTP_X_REQUEST_ID=ab-C.9_z", NULL};
	struct buf answer = {0};
	held_problem(envp, &answer);
	CHECK(strstr(buf_cstr(&answer), ",\"request_id\":\"ab-C.9_z\"}") != NULL);
	buf_free(&answer);
}

/* nginx's map lets only safe ids through; a program behind an nginx
 * without it must not log or echo anything else. */
TEST(unsafe_request_ids_are_dropped)
{
	CHECK(http_request_id_valid("a"));
	CHECK(http_request_id_valid("0af._-Z"));
	CHECK(!http_request_id_valid(NULL));
	CHECK(!http_request_id_valid(""));
	CHECK(!http_request_id_valid("a b"));
	CHECK(!http_request_id_valid("a\"b"));
	CHECK(!http_request_id_valid("a\nb"));
	char id[66];
	memset(id, 'x', 65);
	id[65] = '\0';
	CHECK(!http_request_id_valid(id));
	id[64] = '\0';
	CHECK(http_request_id_valid(id));
	char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/x", "HTTP_X_REQUEST_ID=a\"b", NULL};
	struct buf answer = {0};
	held_problem(envp, &answer);
	CHECK(strstr(buf_cstr(&answer), "request_id") == NULL);
	buf_free(&answer);
}
