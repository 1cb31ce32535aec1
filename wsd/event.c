#include "event.h"

#include <json-c/json.h>
#include <string.h>

enum event_kind event_kind_of(const char *kind)
{
	if (!strcmp(kind, "chat.created"))
		return EVENT_CHAT_CREATED;
	if (!strcmp(kind, "member.added"))
		return EVENT_MEMBER_ADDED;
	if (!strcmp(kind, "member.removed"))
		return EVENT_MEMBER_REMOVED;
	if (!strcmp(kind, "chat.deleted"))
		return EVENT_CHAT_DELETED;
	if (!strcmp(kind, "user.updated"))
		return EVENT_USER_UPDATED;
	return EVENT_OTHER;
}

bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	if (!len || len > 20)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool parse_i64(const char *s, size_t len, int64_t *out)
{
	bool neg = len && s[0] == '-';
	uint64_t v;
	if (!parse_u64(s + neg, len - neg, &v) || v > (uint64_t)INT64_MAX)
		return false;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

/* The positive integer at obj, or 0. */
static int64_t id_of(struct json_object *obj)
{
	if (!obj || !json_object_is_type(obj, json_type_int))
		return 0;
	int64_t v = json_object_get_int64(obj);
	return v > 0 ? v : 0;
}

static struct json_object *get(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	if (!obj || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

enum msgr_err event_members(const struct event *ev, struct buf *out)
{
	if (!event_is_membership(ev->type))
		return MSGR_OK;
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return MSGR_ERR_NOMEM;
	struct json_object *root =
		json_tokener_parse_ex(tok, ev->payload, (int)ev->payload_len);
	json_tokener_free(tok);
	enum msgr_err err = MSGR_ERR_MALFORMED;
	if (!root)
		return err;
	int64_t id;
	switch (ev->type) {
	case EVENT_MEMBER_ADDED:
		id = id_of(get(get(root, "user"), "id"));
		if (!id)
			goto done;
		buf_append(out, &id, sizeof id);
		break;
	case EVENT_MEMBER_REMOVED:
		id = id_of(get(root, "user_id"));
		if (!id)
			goto done;
		buf_append(out, &id, sizeof id);
		break;
	case EVENT_CHAT_CREATED: {
		struct json_object *members = get(get(root, "chat"), "members");
		if (!members || !json_object_is_type(members, json_type_array))
			goto done;
		size_t n = json_object_array_length(members);
		for (size_t i = 0; i < n; i++) {
			id = id_of(get(get(json_object_array_get_idx(members, i), "user"), "id"));
			if (!id)
				goto done;
			buf_append(out, &id, sizeof id);
		}
		break;
	}
	case EVENT_CHAT_DELETED: {
		struct json_object *ids = get(root, "user_ids");
		if (!ids || !json_object_is_type(ids, json_type_array))
			goto done;
		size_t n = json_object_array_length(ids);
		for (size_t i = 0; i < n; i++) {
			id = id_of(json_object_array_get_idx(ids, i));
			if (!id)
				goto done;
			buf_append(out, &id, sizeof id);
		}
		break;
	}
	case EVENT_USER_UPDATED:
	case EVENT_OTHER:
		break;
	}
	err = buf_status(out);
done:
	json_object_put(root);
	return err;
}

enum msgr_err event_audience(const char *literal, struct buf *out)
{
	size_t len = literal ? strlen(literal) : 0;
	if (len < 2 || literal[0] != '{' || literal[len - 1] != '}')
		return MSGR_ERR_MALFORMED;
	for (size_t i = 1; i < len - 1;) {
		size_t j = i;
		while (j < len - 1 && literal[j] != ',')
			j++;
		int64_t id;
		if (!parse_i64(literal + i, j - i, &id) || id <= 0)
			return MSGR_ERR_MALFORMED;
		buf_append(out, &id, sizeof id);
		i = j + 1;
	}
	return buf_status(out);
}

void event_encode(const struct event *ev, struct buf *out)
{
	buf_puts(out, "{\"type\":");
	buf_json_str(out, ev->kind, strlen(ev->kind));
	buf_printf(out, ",\"id\":%lld,\"chat_id\":", (long long)ev->id);
	if (ev->chat_id)
		buf_printf(out, "%lld", (long long)ev->chat_id);
	else
		buf_puts(out, "null");
	buf_puts(out, ",\"data\":");
	buf_append(out, ev->payload, ev->payload_len);
	buf_putc(out, '}');
}
