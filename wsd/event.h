/*
 * event.h - stored events as wsd reads them from the events table.
 *
 * An event's kind says whether it changes a chat's membership; for those,
 * event_members() lists the users whose membership it changes (the members
 * of a new chat, the user added or removed), read from the payload as the
 * chats program writes it:
 *
 *	chat.created   {"chat": {"members": [{"user": {"id": U}}, ...]}}
 *	member.added   {"user": {"id": U}}
 *	member.removed {"user_id": U}
 *	chat.deleted   {"chat_id": C, "user_ids": [U, ...]}
 *
 * user.updated is of no chat (chat_id 0 here, null to clients): it goes to
 * the users of its audience, a column of its own (migrations/014). A read
 * or delivered marker of a large group has one too (migrations/031): it goes
 * to the chat's members among them.
 *
 * schema/functions/wsd.sql has the same reading in SQL (wsd_event_users).
 */
#ifndef WSD_EVENT_H
#define WSD_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

enum event_kind {
	EVENT_OTHER,
	EVENT_CHAT_CREATED, /* its members join */
	EVENT_MEMBER_ADDED, /* one user joins */
	EVENT_MEMBER_REMOVED, /* one user leaves */
	EVENT_CHAT_DELETED, /* every member leaves */
	EVENT_USER_UPDATED, /* of no chat: for its audience */
};

struct event {
	int64_t id;
	int64_t chat_id;
	const char *kind; /* NUL-terminated, borrowed */
	const char *payload; /* the "data" object as JSON text, borrowed */
	size_t payload_len;
	enum event_kind type;
	int64_t created_us; /* its created_at, microseconds since the epoch; 0 unknown */
	/* user.updated, export.ready, a large group's marker: a PostgreSQL
	 * array literal, borrowed */
	const char *audience;
};

enum event_kind event_kind_of(const char *kind);
/* True when the event changes memberships (event_members() lists whose). */
static inline bool event_is_membership(enum event_kind k)
{
	return k != EVENT_OTHER && k != EVENT_USER_UPDATED;
}
/* True when the event adds its users to the chat (false: removes). */
static inline bool event_joins(enum event_kind k)
{
	return k == EVENT_CHAT_CREATED || k == EVENT_MEMBER_ADDED;
}
/* Appends to out the users whose membership a membership event changes
 * (as int64_t values). MSGR_ERR_MALFORMED when the payload does not have
 * the expected shape. */
enum msgr_err event_members(const struct event *ev, struct buf *out) MSGR_WUR;
/* Appends to out the user ids of an audience literal ("{1,2,3}"), as
 * int64_t values; MSGR_ERR_MALFORMED when it is not one. */
enum msgr_err event_audience(const char *literal, struct buf *out) MSGR_WUR;
/* Appends the client envelope {"type","id","chat_id","data"} to out
 * ("chat_id": null for an event of no chat). */
void event_encode(const struct event *ev, struct buf *out);

/* Parses a decimal 64-bit integer of exactly len bytes. */
bool parse_i64(const char *s, size_t len, int64_t *out);
bool parse_u64(const char *s, size_t len, uint64_t *out);

#endif
