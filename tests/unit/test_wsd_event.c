/* wsd/event.c: reading membership events and encoding the envelope. */
#include "../../wsd/event.c"
#include "unit.h"

static struct event ev(const char *kind, const char *payload)
{
	struct event e = {.id = 7, .chat_id = 3, .kind = kind, .payload = payload};
	e.payload_len = strlen(payload);
	e.type = event_kind_of(kind);
	return e;
}

static size_t members(const char *kind, const char *payload, int64_t *out, size_t max,
		      enum msgr_err *err)
{
	struct event e = ev(kind, payload);
	struct buf b = {0};
	*err = event_members(&e, &b);
	size_t n = b.len / sizeof(int64_t);
	for (size_t i = 0; i < n && i < max; i++)
		memcpy(&out[i], b.data + i * sizeof(int64_t), sizeof(int64_t));
	buf_free(&b);
	return n;
}

TEST(kinds)
{
	CHECK(event_kind_of("chat.created") == EVENT_CHAT_CREATED);
	CHECK(event_kind_of("member.added") == EVENT_MEMBER_ADDED);
	CHECK(event_kind_of("member.removed") == EVENT_MEMBER_REMOVED);
	CHECK(event_kind_of("message.created") == EVENT_OTHER);
	CHECK(event_joins(EVENT_CHAT_CREATED) && event_joins(EVENT_MEMBER_ADDED));
	CHECK(!event_joins(EVENT_MEMBER_REMOVED) && !event_joins(EVENT_OTHER));
}

TEST(member_added_and_removed)
{
	int64_t ids[4];
	enum msgr_err err;
	CHECK_UINT_EQ(members("member.added", "{\"user\": {\"id\": 12, \"username\": \"x\"}}", ids, 4, &err), 1);
	CHECK(err == MSGR_OK);
	CHECK_INT_EQ(ids[0], 12);
	CHECK_UINT_EQ(members("member.removed", "{\"user_id\": 9}", ids, 4, &err), 1);
	CHECK_INT_EQ(ids[0], 9);
}

TEST(chat_created_lists_every_member)
{
	int64_t ids[4];
	enum msgr_err err;
	size_t n = members("chat.created",
			   "{\"chat\": {\"id\": 3, \"members\": [{\"role\": \"owner\", \"user\": {\"id\": 1}},"
			   " {\"user\": {\"id\": 2}}, {\"user\": {\"id\": 30}}]}}",
			   ids, 4, &err);
	CHECK(err == MSGR_OK);
	REQUIRE(n == 3);
	CHECK_INT_EQ(ids[0], 1);
	CHECK_INT_EQ(ids[1], 2);
	CHECK_INT_EQ(ids[2], 30);
}

TEST(chat_deleted_ends_every_listed_membership)
{
	int64_t ids[4];
	enum msgr_err err;
	CHECK(event_kind_of("chat.deleted") == EVENT_CHAT_DELETED);
	CHECK(event_is_membership(EVENT_CHAT_DELETED) && !event_joins(EVENT_CHAT_DELETED));
	REQUIRE(members("chat.deleted", "{\"chat_id\": 3, \"user_ids\": [4, 5]}", ids, 4, &err) == 2);
	CHECK(err == MSGR_OK);
	CHECK_INT_EQ(ids[0], 4);
	CHECK_INT_EQ(ids[1], 5);
	members("chat.deleted", "{\"chat_id\": 3}", ids, 4, &err);
	CHECK(err == MSGR_ERR_MALFORMED);
	members("chat.deleted", "{\"chat_id\": 3, \"user_ids\": [4, \"5\"]}", ids, 4, &err);
	CHECK(err == MSGR_ERR_MALFORMED);
}

/* The ids of an audience literal, or -1 when refused. */
static long audience(const char *literal, int64_t *out, size_t max)
{
	struct buf b = {0};
	enum msgr_err err = event_audience(literal, &b);
	size_t n = b.len / sizeof(int64_t);
	for (size_t i = 0; i < n && i < max; i++)
		memcpy(&out[i], b.data + i * sizeof(int64_t), sizeof(int64_t));
	buf_free(&b);
	return err == MSGR_OK ? (long)n : -1;
}

TEST(user_updated_goes_to_its_audience)
{
	int64_t ids[4];
	CHECK(event_kind_of("user.updated") == EVENT_USER_UPDATED);
	CHECK(!event_is_membership(EVENT_USER_UPDATED));
	REQUIRE(audience("{1,22,333}", ids, 4) == 3);
	CHECK_INT_EQ(ids[0], 1);
	CHECK_INT_EQ(ids[2], 333);
	CHECK(audience("{}", ids, 4) == 0);
	CHECK(audience(NULL, ids, 4) == -1);
	CHECK(audience("{1,,2}", ids, 4) == -1);
	CHECK(audience("{1,-2}", ids, 4) == -1);
	CHECK(audience("{1,NULL}", ids, 4) == -1);
	CHECK(audience("1,2", ids, 4) == -1);
	/* its envelope has "chat_id": null */
	struct event e = ev("user.updated", "{\"user\": {}}");
	e.chat_id = 0;
	struct buf b = {0};
	event_encode(&e, &b);
	CHECK_STR_EQ(buf_cstr(&b), "{\"type\":\"user.updated\",\"id\":7,\"chat_id\":null,\"data\":{\"user\": {}}}");
	buf_free(&b);
}

TEST(malformed_membership_payloads)
{
	int64_t ids[4];
	enum msgr_err err;
	members("member.added", "{\"user\": {}}", ids, 4, &err);
	CHECK(err == MSGR_ERR_MALFORMED);
	members("member.removed", "{\"user_id\": \"9\"}", ids, 4, &err);
	CHECK(err == MSGR_ERR_MALFORMED);
	members("chat.created", "{\"chat\": {\"members\": 5}}", ids, 4, &err);
	CHECK(err == MSGR_ERR_MALFORMED);
	members("member.added", "not json", ids, 4, &err);
	CHECK(err == MSGR_ERR_MALFORMED);
	CHECK_UINT_EQ(members("message.created", "whatever", ids, 4, &err), 0);
	CHECK(err == MSGR_OK);
}

TEST(envelope)
{
	struct event e = ev("message.deleted", "{\"message_id\": 5}");
	struct buf b = {0};
	event_encode(&e, &b);
	CHECK_STR_EQ(buf_cstr(&b),
		     "{\"type\":\"message.deleted\",\"id\":7,\"chat_id\":3,\"data\":{\"message_id\": 5}}");
	buf_free(&b);
}

TEST(integers)
{
	int64_t v;
	uint64_t u;
	CHECK(parse_i64("9223372036854775807", 19, &v) && v == INT64_MAX);
	CHECK(!parse_i64("9223372036854775808", 19, &v));
	CHECK(parse_i64("-12", 3, &v) && v == -12);
	CHECK(!parse_i64("", 0, &v));
	CHECK(!parse_i64("1x", 2, &v));
	CHECK(parse_u64("18446744073709551615", 20, &u) && u == UINT64_MAX);
	CHECK(!parse_u64("18446744073709551616", 20, &u));
}
