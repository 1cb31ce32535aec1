/*
 * fanout.h - frames to the sessions of the local users they concern: each
 * frame is encoded once and shared (msg.h) by every queue it goes to.
 *
 * Stream events go to the chat's local members (membership changes in
 * their order: a joining user gets its own event, a leaving one too, and
 * nothing after it); typing to the chat's other local members; presence to
 * the local users who share a chat with its user, once each. Ephemeral
 * frames (typing, presence) carry no stream id and may be dropped by a
 * full queue; events may not (session_deliver()).
 *
 * State: one frame buffer, reused; nothing outlives a call.
 */
#ifndef WSD_FANOUT_H
#define WSD_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* A stream event from the feed, with the memberships it changes. */
void fanout_event(const struct event *ev);
/* user_id types in chat_id. */
void fanout_typing(int64_t user_id, int64_t chat_id);
/* user_id went online or offline (last_seen: an ISO timestamp or NULL);
 * chats are its chats. */
void fanout_presence(int64_t user_id, bool online, const char *last_seen, const int64_t *chats,
		     size_t nchats);
void fanout_free(void);

#endif
