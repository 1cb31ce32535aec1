/*
 * test_http.c - the parts of shared/http.c that need no FastCGI request:
 * route matching and media-type comparison.
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
