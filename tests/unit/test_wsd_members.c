/* wsd/members.c: a user's memberships loaded from a made-up answer (the
 * columns of load_stmt: 'm' rows of chat_members, 't' rows of membership
 * events after the cursor), and kept from the stream, including events
 * dispatched while the load was in flight. The users are the test's own
 * (user.h's functions are defined here). */
#include "../../wsd/event.c"
#include "../../wsd/map.c"
#include "../../wsd/members.c"
#include "../../wsd/pg.c"
#include "unit.h"

struct wsd W;

/* ---- the test's user table ---- */

static struct user users[4];
static int readied[4], closed[4];

struct user *user_find(int64_t user_id)
{
	for (int i = 0; i < 4; i++)
		if (users[i].id == user_id && users[i].members)
			return &users[i];
	return NULL;
}

void user_each(void (*fn)(struct user *u))
{
	for (int i = 0; i < 4; i++)
		if (users[i].members)
			fn(&users[i]);
}

void user_check_ready(struct user *u)
{
	readied[u - users]++;
}

void user_close(struct user *u, uint16_t code, const char *reason)
{
	(void)code;
	(void)reason;
	closed[u - users]++;
}

static bool live;
static int64_t cursor;

bool feed_live(void)
{
	return live;
}

int64_t feed_cursor(void)
{
	return cursor;
}

struct pg_conn *wsd_conn_for(int64_t user_id)
{
	(void)user_id;
	return NULL;
}

/* pg_exec() on no connection would crash: the test answers the load
 * itself, so loading only marks the state. */
static void start_load(struct user *u)
{
	u->members->state = SET_LOADING;
	u->members->load_from = cursor;
}

/* One load answer; rows are "m:CHAT" or "t:CHAT:ID:KIND". */
static PGresult *answer(const char *const *rows, int n)
{
	static PGresAttDesc attrs[4] = {
		{.name = "k"}, {.name = "chat"}, {.name = "id"}, {.name = "kind"},
	};
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PQsetResultAttrs(res, 4, attrs);
	for (int r = 0; r < n; r++) {
		char copy[128];
		snprintf(copy, sizeof copy, "%s", rows[r]);
		char *save, *f[4] = {0};
		f[0] = strtok_r(copy, ":", &save);
		for (int c = 1; c < 4; c++)
			f[c] = strtok_r(NULL, ":", &save);
		for (int c = 0; c < 4; c++)
			PQsetvalue(res, r, c, f[c], f[c] ? (int)strlen(f[c]) : -1);
	}
	return res;
}

static void load_with(struct user *u, const char *const *rows, int n)
{
	PGresult *res = answer(rows, n);
	loaded(u, res);
	PQclear(res);
}

static void reset(void)
{
	members_free();
	for (int i = 0; i < 4; i++) {
		memset(&users[i], 0, sizeof users[i]);
		users[i].id = 10 + i;
		readied[i] = closed[i] = 0;
		REQUIRE(members_new(&users[i]));
	}
	live = true;
	cursor = 100;
}

static void done(void)
{
	for (int i = 0; i < 4; i++)
		members_forget(&users[i]);
	members_free();
}

/* A membership event for user_id (member.added, member.removed) or a
 * chat.created with two members. */
static void stream(int64_t id, int64_t chat_id, const char *kind, int64_t user_id)
{
	char payload[160];
	if (!strcmp(kind, "member.removed"))
		snprintf(payload, sizeof payload, "{\"user_id\":%lld}", (long long)user_id);
	else if (!strcmp(kind, "member.added"))
		snprintf(payload, sizeof payload, "{\"user\":{\"id\":%lld}}", (long long)user_id);
	else
		snprintf(payload, sizeof payload,
			 "{\"chat\":{\"members\":[{\"user\":{\"id\":%lld}},"
			 "{\"user\":{\"id\":13}}]}}",
			 (long long)user_id);
	struct event ev = {.id = id, .chat_id = chat_id, .kind = kind, .payload = payload};
	ev.payload_len = strlen(payload);
	ev.type = event_kind_of(kind);
	members_apply(&ev);
	cursor = id;
}

static bool local(int64_t chat_id, const struct user *u)
{
	uint32_t n;
	struct user *const *list = members_local(chat_id, &n);
	for (uint32_t i = 0; i < n; i++)
		if (list[i] == u)
			return true;
	return false;
}

TEST(a_load_gives_the_chat_members_rows)
{
	reset();
	struct user *u = &users[0];
	start_load(u);
	CHECK(!members_ready(u));
	load_with(u, (const char *const[]){"m:5", "m:3", "m:3"}, 3);
	CHECK(members_ready(u));
	CHECK_INT_EQ(readied[0], 1);
	uint32_t n;
	const int64_t *chats = members_chats(u, &n);
	REQUIRE(n == 2);
	CHECK_INT_EQ(chats[0], 3);
	CHECK_INT_EQ(chats[1], 5);
	CHECK(members_has(u, 3) && members_has(u, 5) && !members_has(u, 4));
	CHECK(local(3, u) && local(5, u));
	done();
}

/* The snapshot saw events after the cursor: undone, then the feed brings
 * them (again) in order. */
TEST(events_after_the_cursor_are_undone)
{
	reset();
	struct user *u = &users[0];
	start_load(u);
	/* Member of 7 since event 101 (after the cursor), removed from 8 at
	 * 102: as of the cursor, a member of 8 and not of 7. */
	load_with(u, (const char *const[]){"m:7", "t:7:101:member.added", "t:8:102:member.removed"},
		  3);
	CHECK(!members_has(u, 7));
	CHECK(members_has(u, 8));
	stream(101, 7, "member.added", u->id);
	stream(102, 8, "member.removed", u->id);
	CHECK(members_has(u, 7));
	CHECK(!members_has(u, 8));
	CHECK(!local(8, u));
	done();
}

/* What the feed dispatches while the load is in flight is logged and
 * applied after it. */
TEST(events_during_the_load_are_applied_after_it)
{
	reset();
	struct user *u = &users[1];
	start_load(u);
	stream(101, 20, "member.added", u->id);
	stream(102, 21, "member.removed", u->id);
	CHECK(!members_has(u, 20));
	load_with(u, (const char *const[]){"m:21"}, 1);
	CHECK(members_has(u, 20));
	CHECK(!members_has(u, 21));
	CHECK(local(20, u) && !local(21, u));
	done();
}

TEST(the_stream_joins_and_leaves_ready_users_only)
{
	reset();
	struct user *a = &users[0], *d = &users[3];
	start_load(a);
	load_with(a, NULL, 0);
	start_load(d);
	load_with(d, NULL, 0);
	/* chat.created names a (10) and d (13); 11 has no set here. */
	stream(101, 30, "chat.created", a->id);
	CHECK(members_has(a, 30) && members_has(d, 30));
	uint32_t n;
	members_local(30, &n);
	CHECK_UINT_EQ(n, 2);
	stream(102, 30, "member.removed", a->id);
	CHECK(!members_has(a, 30) && members_has(d, 30));
	members_local(30, &n);
	CHECK_UINT_EQ(n, 1);
	members_forget(d);
	CHECK(members_local(30, &n) == NULL && n == 0);
	done();
}

TEST(waiting_users_load_when_the_feed_goes_live)
{
	reset();
	live = false;
	struct user *u = &users[2];
	members_load(u); /* not live: waits, no query */
	CHECK(u->members->state == SET_WAITING);
	CHECK(u->members->load_q == NULL);
	done();
}

TEST(a_failed_load_closes_the_users_sessions)
{
	reset();
	struct user *u = &users[0];
	start_load(u);
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
	loaded(u, res);
	PQclear(res);
	CHECK_INT_EQ(closed[0], 1);
	CHECK(!members_ready(u));
	done();
}
