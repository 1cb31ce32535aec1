/*
 * Checks of message text shared by sending (JSON and multipart) and editing.
 */
#include "messages.h"
#include "utf8.h"

const char *message_text_check(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_decode(s + i, len - i, &cp);
		if (n && utf8_is_control(cp) && cp != '\t' && cp != '\n' && cp != '\r')
			return "must not contain control characters other than tab and newline";
		i += n ? n : 1;
	}
	return NULL;
}

bool message_text_blank(const char *s, size_t len)
{
	utf8_trim(&s, &len);
	return len == 0;
}
