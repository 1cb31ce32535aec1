/*
 * user.c - the table of users with a connection here, and their sessions.
 */
#include "user.h"

#include <stdlib.h>

#include "map.h"
#include "members.h"
#include "presence.h"
#include "session.h"

static struct {
	struct map users; /* id -> struct user */
	uint64_t gen;
} U;

static struct session *session_of(struct lws_dll2 *d)
{
	return lws_container_of(d, struct user_link, node)->session;
}

struct user *user_find(int64_t user_id)
{
	return map_get(&U.users, user_id);
}

unsigned user_count(void)
{
	return (unsigned)U.users.len;
}

void user_each(void (*fn)(struct user *u))
{
	for (size_t i = 0; i < U.users.cap; i++)
		if (U.users.slots[i].val)
			fn(U.users.slots[i].val);
}

/* A user's sessions get "ready" once its memberships are known and its
 * presence row is written, so that REST says online once a client is
 * ready, and a connection moving between processes never looks offline. */
void user_check_ready(struct user *u)
{
	if (!members_ready(u) || !u->announced)
		return;
	lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&u->sessions)) {
		session_user_ready(session_of(d));
	}
	lws_end_foreach_dll_safe(d, d1);
}

void user_deliver(struct user *u, int64_t id, struct msg *m)
{
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&u->sessions)) {
		session_deliver(session_of(d), id, m);
	}
	lws_end_foreach_dll(d);
}

void user_close(struct user *u, uint16_t code, const char *reason)
{
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&u->sessions)) {
		session_close(session_of(d), code, reason);
	}
	lws_end_foreach_dll(d);
}

void user_revoke(struct user *u, const int64_t *sids, size_t n)
{
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&u->sessions)) {
		session_revoke(session_of(d), sids, n);
	}
	lws_end_foreach_dll(d);
}

static void user_free(struct user *u)
{
	members_forget(u);
	free(u);
}

bool user_attach(struct user_link *link, int64_t user_id)
{
	struct user *u = map_get(&U.users, user_id);
	if (!u) {
		u = calloc(1, sizeof *u);
		if (!u)
			return false;
		u->id = user_id;
		u->gen = ++U.gen;
		if (!members_new(u) || map_put(&U.users, user_id, u) != MSGR_OK) {
			user_free(u);
			return false;
		}
		presence_change(u, true);
		members_load(u);
	}
	link->user = u;
	lws_dll2_add_tail(&link->node, &u->sessions);
	if (members_ready(u) && u->announced)
		session_user_ready(link->session);
	return true;
}

void user_detach(struct user_link *link)
{
	struct user *u = link->user;
	if (!u)
		return;
	lws_dll2_remove(&link->node);
	link->user = NULL;
	if (u->sessions.count)
		return;
	presence_change(u, false);
	map_del(&U.users, u->id);
	user_free(u);
}

void user_free_all(void)
{
	for (size_t i = 0; i < U.users.cap; i++)
		free(U.users.slots[i].val);
	map_free(&U.users);
}
