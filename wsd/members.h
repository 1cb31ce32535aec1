/*
 * members.h - who is in which chat, for the users this process serves,
 * kept from the event stream (members.c argues how a load meets it).
 *
 * Two views of one relation: each user's chats (sorted ids: is it a member,
 * which chats does a replay read) and each chat's local members (whom does
 * an event go to). A membership event joins or leaves in both at once.
 *
 * State: a struct member_set per user, from members_new() to
 * members_forget(); a chat is known while it has a local member.
 */
#ifndef WSD_MEMBERS_H
#define WSD_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"

struct user;

/* A membership change of one user: the event id, the chat, join or leave. */
struct member_change {
	int64_t id;
	int64_t chat_id;
	bool join;
};

/* Gives u its (empty, not yet loaded) memberships. Returns false when out
 * of memory. */
bool members_new(struct user *u);
/* Reads u's memberships, unless the feed is not live yet (then
 * members_feed_live() does); user_check_ready() follows when they are
 * known, and a failure closes u's sessions with 1011. */
void members_load(struct user *u);
/* The feed became live: loads the users that waited for it. */
void members_feed_live(void);
/* Drops u's memberships (and a load in flight). Accepts a user without. */
void members_forget(struct user *u);
/* True when the memberships are known. */
bool members_ready(const struct user *u);
/* True when u is (known to be) a member of chat_id. */
bool members_has(const struct user *u, int64_t chat_id);
/* u's chats, sorted, valid until the next membership change (n: count). */
const int64_t *members_chats(const struct user *u, uint32_t *n);
/* The local members of chat_id (n: count; NULL when none), valid until
 * the next membership change. */
struct user *const *members_local(int64_t chat_id, uint32_t *n);
/* Applies a membership event (chat.created, member.added, member.removed;
 * others are ignored) to the local users it names. Its own event goes to
 * a joining user and to a leaving one, so call it before the fan-out for a
 * join and after it for a leave. */
void members_apply(const struct event *ev);
void members_free(void);

#endif
