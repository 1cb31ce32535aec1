/*
 * frame.h - the frames a WebSocket client sends (API.md "Realtime"), read
 * into a validated struct before anything acts on them.
 *
 *	{"type":"auth","token":"<access token>","since":N}   since optional or null
 *	{"type":"ping"}
 *	{"type":"typing","chat_id":C}
 *	{"type":"ack","chat_id":C,"message_id":M}
 *
 * The text is read by json_read() (shared/json.h), the same strict reader
 * as REST bodies: what REST refuses ({'type':'ping'}, NaN, raw control
 * characters, bad UTF-8, trailing bytes) is FRAME_BAD here. Members other
 * than the ones above are ignored. No libwebsockets and no I/O here: the
 * fuzzer (tests/fuzz/fuzz_ws_frame.c) and the unit tests drive it directly.
 *
 * What a parse promises (the fuzzer checks it on any input):
 *  - FRAME_BAD: not one JSON object with a string "type"; detail says so.
 *  - Otherwise type is the frame's "type" compared with its full length
 *    (a NUL inside it makes it FRAME_UNKNOWN), and detail is NULL exactly
 *    when the frame's own fields are valid:
 *    FRAME_TYPING: 0 < chat_id < INT64_MAX;
 *    FRAME_ACK: 0 < chat_id, message_id < INT64_MAX;
 *    FRAME_AUTH: token is set (a string, possibly empty). Its since is
 *    judged apart (the first auth closes on a bad one, a renewal ignores
 *    it): SINCE_SET means 0 <= since < INT64_MAX.
 */
#ifndef WSD_FRAME_H
#define WSD_FRAME_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum frame_type {
	FRAME_BAD,
	FRAME_AUTH,
	FRAME_PING,
	FRAME_TYPING,
	FRAME_ACK,
	FRAME_UNKNOWN, /* a "type" of no frame above */
};

enum frame_since {
	SINCE_NONE, /* missing or null */
	SINCE_SET,
	SINCE_BAD, /* not an event id */
};

struct frame {
	enum frame_type type;
	const char *detail; /* why the frame is not valid (static), or NULL */
	int64_t chat_id;    /* FRAME_TYPING, FRAME_ACK */
	int64_t message_id; /* FRAME_ACK */
	const char *token;  /* FRAME_AUTH: NUL-terminated, borrowed from root */
	size_t token_len;
	enum frame_since since_state; /* FRAME_AUTH */
	int64_t since;
	struct json_object *root; /* owns what is borrowed */
};

/* Reads the len bytes at data (not NUL-terminated) into f; always fills it
 * (see above). The caller calls frame_release() afterwards. */
void frame_parse(struct frame *f, const char *data, size_t len);
/* Frees what f borrows from; f's pointers are invalid afterwards. */
void frame_release(struct frame *f);

#endif
