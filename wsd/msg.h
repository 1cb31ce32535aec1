/*
 * msg.h - outgoing WebSocket text frames, shared between connections.
 *
 * An event is encoded once and the same struct msg is queued on every
 * connection that gets it; each queue holds a reference. The payload is
 * preceded by LWS_PRE bytes for lws_write() to put the frame header in
 * (libwebsockets minimal-ws-server-ring does the same).
 */
#ifndef WSD_MSG_H
#define WSD_MSG_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msg {
	uint32_t refs;
	uint32_t len;
	/* A live event's frame: counted when sent, with its lag (metrics.h)
	 * from event_us, its creation (microseconds since the epoch). */
	bool event;
	int64_t event_us;
	unsigned char buf[]; /* LWS_PRE bytes of headroom, then len bytes */
};

/* A new message holding a copy of the len bytes at data, with one
 * reference, or NULL when out of memory. */
struct msg *msg_new(const char *data, size_t len);
static inline unsigned char *msg_payload(struct msg *m)
{
	return m->buf + LWS_PRE;
}
static inline struct msg *msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}
/* Drops one reference; frees the message with the last. Accepts NULL. */
void msg_unref(struct msg *m);
/* Bytes of memory a queued message stands for (for queue limits). */
static inline size_t msg_cost(const struct msg *m)
{
	return sizeof *m + LWS_PRE + m->len;
}

#endif
