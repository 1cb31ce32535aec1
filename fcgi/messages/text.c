/*
 * Checks of message text shared by sending (JSON and multipart) and editing.
 */
#include "messages.h"
#include "utf8.h"

const char *message_text_check(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
			return "must not contain control characters other than tab and newline";
		/* C1 controls, U+0080..U+009F, are C2 80..C2 9F in UTF-8. */
		if (c == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			return "must not contain control characters other than tab and newline";
	}
	return NULL;
}

bool message_text_blank(const char *s, size_t len)
{
	utf8_trim(&s, &len);
	return len == 0;
}
