/*
 * fuzz_ws_frame.c - libFuzzer harness for the WebSocket client frames
 * (wsd/frame.c frame_parse()), the frames every connection reads.
 *
 * Whatever the input: no crash, no leak, and the promises of wsd/frame.h:
 *  - what json_read() refuses is FRAME_BAD (the reader REST uses);
 *  - detail is set exactly for FRAME_BAD and for frames whose own fields
 *    are not valid; ping and unknown types have no fields to be wrong;
 *  - a valid typing or ack has ids in 1..INT64_MAX-1, a valid auth a
 *    NUL-terminated token of token_len bytes, a set since is in
 *    0..INT64_MAX-1;
 *  - a valid frame written back from its struct reads back as the same
 *    struct (nothing outside the struct decides what a frame means; a bad
 *    since is not written back, and reads back as none).
 *
 * Build: make fuzz (or build-fuzz/fuzz_ws_frame tests/fuzz/corpus/fuzz_ws_frame)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../wsd/frame.c"
#include "json.h"

static const char *const names[] = {
	[FRAME_AUTH] = "auth",
	[FRAME_PING] = "ping",
	[FRAME_TYPING] = "typing",
	[FRAME_ACK] = "ack",
};

/* f written back as a frame of its own. */
static struct json_object *write_back(const struct frame *f)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string(names[f->type]));
	switch (f->type) {
	case FRAME_AUTH:
		json_object_object_add(o, "token",
				       json_object_new_string_len(f->token, (int)f->token_len));
		if (f->since_state == SINCE_SET)
			json_object_object_add(o, "since", json_object_new_int64(f->since));
		break;
	case FRAME_ACK:
		json_object_object_add(o, "message_id", json_object_new_int64(f->message_id));
		/* fall through */
	case FRAME_TYPING:
		json_object_object_add(o, "chat_id", json_object_new_int64(f->chat_id));
		break;
	default:
		break;
	}
	return o;
}

static void check_round_trip(const struct frame *f)
{
	struct json_object *o = write_back(f);
	size_t len;
	const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	struct frame g;
	frame_parse(&g, text, len);
	if (g.type != f->type || g.detail)
		abort();
	if ((f->type == FRAME_TYPING || f->type == FRAME_ACK) && g.chat_id != f->chat_id)
		abort();
	if (f->type == FRAME_ACK && g.message_id != f->message_id)
		abort();
	if (f->type == FRAME_AUTH &&
	    (g.token_len != f->token_len || memcmp(g.token, f->token, f->token_len) ||
	     g.since_state != (f->since_state == SINCE_SET ? SINCE_SET : SINCE_NONE) ||
	     (f->since_state == SINCE_SET && g.since != f->since)))
		abort();
	frame_release(&g);
	json_object_put(o);
}

static bool valid_id(int64_t id)
{
	return id > 0 && id < INT64_MAX;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame f;
	frame_parse(&f, (const char *)data, size);
	struct json_object *o = json_read((const char *)data, size);
	if (!o && f.type != FRAME_BAD)
		abort();
	json_object_put(o);
	switch (f.type) {
	case FRAME_BAD:
		if (!f.detail)
			abort();
		break;
	case FRAME_PING:
	case FRAME_UNKNOWN:
		if (f.detail)
			abort();
		break;
	case FRAME_TYPING:
		if (!f.detail && !valid_id(f.chat_id))
			abort();
		break;
	case FRAME_ACK:
		if (!f.detail && (!valid_id(f.chat_id) || !valid_id(f.message_id)))
			abort();
		break;
	case FRAME_AUTH:
		if (!f.detail != (f.token != NULL))
			abort();
		if (f.token && f.token[f.token_len] != '\0')
			abort();
		if (f.since_state == SINCE_SET && (f.since < 0 || f.since == INT64_MAX))
			abort();
		break;
	}
	if (f.type != FRAME_BAD && f.type != FRAME_UNKNOWN && !f.detail)
		check_round_trip(&f);
	frame_release(&f);
	return 0;
}
