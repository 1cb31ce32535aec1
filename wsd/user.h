/*
 * user.h - the users this process serves: those with at least one
 * authenticated connection here, and nobody else.
 *
 * A user object gathers what the other modules keep per user: its sessions
 * (here), its memberships (members.c), whether its presence row is written
 * (presence.c). A session gets "ready" once both of the latter are there
 * (user_check_ready()).
 *
 * State: the table of users, one per process. A struct user lives from its
 * first session's user_attach() to its last session's user_detach(); gen
 * tells it from an earlier object of the same id, for answers that come
 * back after the user went and came again.
 */
#ifndef WSD_USER_H
#define WSD_USER_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "msg.h"

struct member_set;
struct session;

struct user {
	int64_t id;
	uint64_t gen;
	struct lws_dll2_owner sessions; /* of struct user_link */
	struct member_set *members;     /* members.c's */
	bool announced;                 /* presence.c: its row is written, online everywhere */
	uint32_t mark;                  /* fanout.c: de-duplication within one fan-out */
};

/* A session's place in its user's list, embedded in the session. */
struct user_link {
	struct lws_dll2 node;
	struct session *session; /* set by the session, once */
	struct user *user;       /* between user_attach() and user_detach() */
};

/* Adds link->session to the user user_id: a new user is created, announced
 * online and its memberships loaded (once the feed is live), and the
 * session's session_user_ready() follows when both are done (at once when
 * they are). Returns false when out of memory (link stays detached). */
bool user_attach(struct user_link *link, int64_t user_id);
/* Removes the session from its user (accepts a detached link); the last
 * one takes the user offline and frees it. */
void user_detach(struct user_link *link);
/* The user object of user_id, or NULL when it has no session here. */
struct user *user_find(int64_t user_id);
unsigned user_count(void);
/* Calls fn for every user (fn may not attach or detach). */
void user_each(void (*fn)(struct user *u));
/* Memberships or presence became ready: when both are, the sessions that
 * wait for them are told. */
void user_check_ready(struct user *u);
/* A frame for every session of u (stream id, or 0 for ephemeral frames;
 * session_deliver() takes its own reference). */
void user_deliver(struct user *u, int64_t id, struct msg *m);
/* Closes every session of u (see session_close()). */
void user_close(struct user *u, uint16_t code, const char *reason);
/* Closes u's sessions of the n revoked login sessions (session_revoke()). */
void user_revoke(struct user *u, const int64_t *sids, size_t n);
/* Frees every user at exit, without calling anyone back. */
void user_free_all(void);

#endif
