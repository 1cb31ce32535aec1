/*
 * frame.c - reading a client frame into a struct frame (frame.h).
 */
#include "frame.h"

#include <string.h>

#include "json.h"

/* The frame types by name, compared with their full length. */
static const struct {
	const char *name;
	size_t len;
	enum frame_type type;
} types[] = {
	{"auth", 4, FRAME_AUTH},
	{"ping", 4, FRAME_PING},
	{"typing", 6, FRAME_TYPING},
	{"ack", 3, FRAME_ACK},
};

static enum frame_type type_of(struct json_object *t)
{
	const char *name = json_object_get_string(t);
	size_t len = (size_t)json_object_get_string_len(t);
	for (size_t i = 0; i < sizeof types / sizeof *types; i++)
		if (len == types[i].len && !memcmp(name, types[i].name, len))
			return types[i].type;
	return FRAME_UNKNOWN;
}

/* An id member: an integer in 1..INT64_MAX-1 (json-c clamps larger numbers
 * to INT64_MAX, so that one is refused too). */
static bool get_id(struct json_object *obj, const char *key, int64_t *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return *out > 0 && *out < INT64_MAX;
}

static void read_auth(struct frame *f)
{
	struct json_object *tok, *since;
	if (json_object_object_get_ex(f->root, "token", &tok) &&
	    json_object_is_type(tok, json_type_string)) {
		f->token = json_object_get_string(tok);
		f->token_len = (size_t)json_object_get_string_len(tok);
	} else {
		f->detail = "auth needs a token";
	}
	if (!json_object_object_get_ex(f->root, "since", &since) ||
	    json_object_is_type(since, json_type_null))
		return;
	int64_t v = json_object_get_int64(since);
	if (!json_object_is_type(since, json_type_int) || v < 0 || v == INT64_MAX) {
		f->since_state = SINCE_BAD;
		return;
	}
	f->since_state = SINCE_SET;
	f->since = v;
}

void frame_parse(struct frame *f, const char *data, size_t len)
{
	struct json_object *t;
	memset(f, 0, sizeof *f);
	f->root = json_read(data, len);
	if (!f->root || !json_object_is_type(f->root, json_type_object) ||
	    !json_object_object_get_ex(f->root, "type", &t) ||
	    !json_object_is_type(t, json_type_string)) {
		f->type = FRAME_BAD;
		f->detail = "a frame is a JSON object with a \"type\"";
		return;
	}
	f->type = type_of(t);
	switch (f->type) {
	case FRAME_AUTH:
		read_auth(f);
		break;
	case FRAME_TYPING:
		if (!get_id(f->root, "chat_id", &f->chat_id))
			f->detail = "typing needs a chat_id";
		break;
	case FRAME_ACK:
		if (!get_id(f->root, "chat_id", &f->chat_id) ||
		    !get_id(f->root, "message_id", &f->message_id))
			f->detail = "ack needs a chat_id and a message_id";
		break;
	default:
		break;
	}
}

void frame_release(struct frame *f)
{
	json_object_put(f->root);
	f->root = NULL;
}
