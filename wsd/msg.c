#include "msg.h"

#include <stdlib.h>
#include <string.h>

struct msg *msg_new(const char *data, size_t len)
{
	if (len > UINT32_MAX - LWS_PRE - sizeof(struct msg))
		return NULL;
	struct msg *m = malloc(sizeof *m + LWS_PRE + len);
	if (!m)
		return NULL;
	m->refs = 1;
	m->event = false;
	m->event_us = 0;
	m->len = (uint32_t)len;
	memcpy(m->buf + LWS_PRE, data, len);
	return m;
}

void msg_unref(struct msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}
