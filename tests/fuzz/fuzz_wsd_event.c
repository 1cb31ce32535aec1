/*
 * fuzz_wsd_event.c - libFuzzer harness for what wsd reads from a stored
 * event (wsd/event.c): the users a membership event names
 * (event_members()) and the audience of an event of no chat
 * (event_audience()).
 *
 * The first byte picks the kind; the rest is the payload (or, for
 * user.updated, the audience literal). Whatever the input: no crash, no
 * leak; what is accepted is a whole number of positive ids.
 *
 * Build: make fuzz (or build-fuzz/fuzz_wsd_event tests/fuzz/corpus/fuzz_wsd_event)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../wsd/event.c"

static const char *const kinds[] = {"chat.created", "member.added", "member.removed",
				    "chat.deleted", "user.updated", "message.created"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *kind = kinds[data[0] % (sizeof kinds / sizeof kinds[0])];
	char *text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	struct event ev = {.id = 1, .chat_id = 2, .kind = kind, .payload = text,
			   .payload_len = size - 1, .type = event_kind_of(kind)};
	struct buf ids = {0};
	enum msgr_err err = ev.type == EVENT_USER_UPDATED ? event_audience(text, &ids)
							  : event_members(&ev, &ids);
	if (err == MSGR_OK) {
		if (ids.len % sizeof(int64_t))
			abort();
		for (size_t i = 0; i < ids.len; i += sizeof(int64_t)) {
			int64_t id;
			memcpy(&id, ids.data + i, sizeof id);
			if (id <= 0)
				abort();
		}
	}
	buf_free(&ids);
	free(text);
	return 0;
}
