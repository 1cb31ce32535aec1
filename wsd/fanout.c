/*
 * fanout.c - delivery of events, typing and presence to local sessions.
 */
#include "fanout.h"

#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "members.h"
#include "msg.h"
#include "user.h"

static struct {
	struct buf frame;
	uint32_t mark; /* the current presence fan-out, in user->mark */
} O;

/* The frame in O.frame as a shared message, or NULL when out of memory. */
static struct msg *frame_msg(void)
{
	if (buf_status(&O.frame) != MSGR_OK) {
		buf_reset(&O.frame);
		return NULL;
	}
	return msg_new(buf_cstr(&O.frame), O.frame.len);
}

/* An event for an audience, to its users who are here: one of no chat
 * (user.updated, export.ready), or a marker (read, delivered) of a large
 * group, which goes to its audience among the chat's members only
 * (emit_marker() in schema/functions/messages.sql says why). */
static void fanout_audience(const struct event *ev)
{
	struct buf ids = {0};
	if (event_audience(ev->audience, &ids) != MSGR_OK) {
		log_error("event %" PRId64 ": %s without a valid audience", ev->id, ev->kind);
		buf_free(&ids);
		return;
	}
	const int64_t *id = (const int64_t *)(void *)ids.data;
	size_t n = ids.len / sizeof *id;
	struct msg *m = NULL;
	for (size_t i = 0; i < n; i++) {
		struct user *u = user_find(id[i]);
		if (!u || (ev->chat_id && !members_has(u, ev->chat_id)))
			continue;
		if (!m) {
			buf_reset(&O.frame);
			event_encode(ev, &O.frame);
			if (!(m = frame_msg())) {
				log_error("event %" PRId64 ": out of memory", ev->id);
				break;
			}
			m->event = ev->chat_id != 0;
			m->event_us = ev->created_us;
		}
		user_deliver(u, ev->id, m);
	}
	if (m)
		msg_unref(m);
	buf_free(&ids);
}

void fanout_event(const struct event *ev)
{
	/* Never a membership event: those go to every member. */
	if (ev->audience) {
		fanout_audience(ev);
		return;
	}
	bool joins = event_joins(ev->type);
	if (joins)
		members_apply(ev);
	uint32_t n;
	struct user *const *users = members_local(ev->chat_id, &n);
	if (n) {
		buf_reset(&O.frame);
		event_encode(ev, &O.frame);
		struct msg *m = frame_msg();
		if (!m) {
			log_error("event %" PRId64 ": out of memory", ev->id);
		} else {
			m->event = true;
			m->event_us = ev->created_us;
			for (uint32_t i = 0; i < n; i++)
				user_deliver(users[i], ev->id, m);
			msg_unref(m);
		}
	}
	if (!joins)
		members_apply(ev);
}

void fanout_typing(int64_t user_id, int64_t chat_id)
{
	uint32_t n;
	struct user *const *users = members_local(chat_id, &n);
	if (!n)
		return;
	buf_reset(&O.frame);
	buf_printf(&O.frame,
		   "{\"type\":\"typing\",\"chat_id\":%" PRId64
		   ",\"data\":{\"user_id\":%" PRId64 "}}",
		   chat_id, user_id);
	struct msg *m = frame_msg();
	if (!m)
		return;
	for (uint32_t i = 0; i < n; i++)
		if (users[i]->id != user_id)
			user_deliver(users[i], 0, m);
	msg_unref(m);
}

void fanout_presence(int64_t user_id, bool online, const char *last_seen, const int64_t *chats,
		     size_t nchats)
{
	buf_reset(&O.frame);
	buf_printf(&O.frame,
		   "{\"type\":\"presence\",\"data\":{\"user_id\":%" PRId64
		   ",\"online\":%s,\"last_seen_at\":",
		   user_id, online ? "true" : "false");
	if (last_seen && *last_seen)
		buf_json_str(&O.frame, last_seen, strlen(last_seen));
	else
		buf_puts(&O.frame, "null");
	buf_puts(&O.frame, "}}");
	struct msg *m = frame_msg();
	if (!m)
		return;
	if (++O.mark == 0)
		O.mark = 1;
	for (size_t i = 0; i < nchats; i++) {
		uint32_t n;
		struct user *const *users = members_local(chats[i], &n);
		for (uint32_t j = 0; j < n; j++) {
			struct user *u = users[j];
			if (u->id == user_id || u->mark == O.mark)
				continue;
			u->mark = O.mark;
			user_deliver(u, 0, m);
		}
	}
	msg_unref(m);
}

void fanout_free(void)
{
	buf_free(&O.frame);
}
