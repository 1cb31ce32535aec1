#include "message.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 2047: an encoded word is at most 75 characters; "=?UTF-8?B?" and
 * "?=" leave 63 for base64, which is 45 bytes of text (60 characters). */
#define WORD_BYTES 45
/* The first word shares its line with "Subject: ": 39 bytes, 52
 * characters, 73 in all (RFC 5322's 78 a line). */
#define FIRST_WORD_BYTES 39
/* RFC 2045: base64 lines of at most 76 characters, 57 bytes each. */
#define LINE_BYTES 57

static void put_base64(struct buf *out, const unsigned char *data, size_t len)
{
	unsigned char enc[4 * ((LINE_BYTES + 2) / 3) + 1];
	int n = EVP_EncodeBlock(enc, data, (int)len);
	buf_append(out, enc, (size_t)n);
}

static void put_base64_lines(struct buf *out, const char *text)
{
	size_t len = strlen(text);
	for (size_t at = 0; at < len; at += LINE_BYTES) {
		size_t n = len - at < LINE_BYTES ? len - at : LINE_BYTES;
		put_base64(out, (const unsigned char *)text + at, n);
		buf_puts(out, "\r\n");
	}
}

static bool plain_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

enum msgr_err mail_encode_subject(struct buf *out, const char *subject)
{
	/* "=?" could be read as the start of an encoded word: encoded too. */
	if (plain_ascii(subject) && !strstr(subject, "=?") && strlen(subject) <= 900) {
		buf_puts(out, subject);
		return buf_status(out);
	}
	unsigned char word[WORD_BYTES];
	size_t len = strlen(subject), at = 0;
	bool first = true;
	while (at < len) {
		size_t max = first ? FIRST_WORD_BYTES : WORD_BYTES;
		size_t n = len - at < max ? len - at : max;
		/* Back off to a character boundary: a continuation byte
		 * (10xxxxxx) must not start the next word. A word holds one
		 * character at least (4 bytes < 39). */
		if (at + n < len)
			while (n > 1 && ((unsigned char)subject[at + n] & 0xc0) == 0x80)
				n--;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)subject[at + i];
			word[i] = c == '\r' || c == '\n' ? ' ' : c;
		}
		/* Folded: the space between two encoded words is not text. */
		buf_puts(out, first ? "=?UTF-8?B?" : "\r\n =?UTF-8?B?");
		put_base64(out, word, n);
		buf_puts(out, "?=");
		first = false;
		at += n;
	}
	return buf_status(out);
}

enum msgr_err mail_encode_from(struct buf *out, const char *from)
{
	const char *lt = strrchr(from, '<');
	if (plain_ascii(from) || !lt) {
		buf_puts(out, from);
		return buf_status(out);
	}
	const char *start = from, *end = lt;
	while (start < end && *start == ' ')
		start++;
	while (end > start && end[-1] == ' ')
		end--;
	if (end - start >= 2 && *start == '"' && end[-1] == '"')
		start++, end--;
	if (start == end) {
		buf_puts(out, lt);
		return buf_status(out);
	}
	char name[512];
	size_t n = (size_t)(end - start) < sizeof name - 1 ? (size_t)(end - start) : sizeof name - 1;
	memcpy(name, start, n);
	name[n] = '\0';
	/* A name of plain ASCII beside an address that is not: as it is. */
	if (mail_encode_subject(out, name) != MSGR_OK)
		return MSGR_ERR_NOMEM;
	buf_puts(out, " ");
	buf_puts(out, lt);
	return buf_status(out);
}

/* The fields mail_render() writes itself: a row may not write them again. */
static const char *const own_fields[] = {"Date", "From", "To", "Cc", "Bcc", "Subject",
					 "Message-ID", "MIME-Version", "Content-Type",
					 "Content-Transfer-Encoding", "Sender", "Reply-To"};

static bool field_name_ok(const char *name)
{
	if (!*name)
		return false;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 33 || (unsigned char)*p > 126 || *p == ':')
			return false;
	for (size_t i = 0; i < sizeof own_fields / sizeof own_fields[0]; i++)
		if (!strcasecmp(name, own_fields[i]))
			return false;
	return true;
}

enum msgr_err mail_put_headers(struct buf *out, const char *json)
{
	json_object *obj = json_tokener_parse(json);
	enum msgr_err err = MSGR_OK;
	if (!obj || !json_object_is_type(obj, json_type_object)) {
		err = MSGR_ERR_MALFORMED;
		goto done;
	}
	json_object_object_foreach(obj, key, val)
	{
		if (!field_name_ok(key) || !json_object_is_type(val, json_type_string) ||
		    !plain_ascii(json_object_get_string(val))) {
			err = MSGR_ERR_MALFORMED;
			goto done;
		}
	}
	json_object_object_foreach(obj, name, value)
	{
		buf_printf(out, "%s: %s\r\n", name, json_object_get_string(value));
	}
	err = buf_status(out);
done:
	json_object_put(obj);
	return err;
}

bool mail_address(const char *from, char *out, size_t cap)
{
	const char *lt = strrchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	const char *start = from;
	size_t len = strlen(from);
	if (lt && gt) {
		start = lt + 1;
		len = (size_t)(gt - start);
	}
	if (len == 0 || len >= cap)
		return false;
	memcpy(out, start, len);
	out[len] = '\0';
	return true;
}

enum msgr_err mail_render(struct buf *out, const struct mail *m, time_t now)
{
	struct tm tm;
	char date[64];
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_printf(out, "Date: %s\r\nFrom: ", date);
	if (mail_encode_from(out, m->from) != MSGR_OK)
		return MSGR_ERR_NOMEM;
	buf_printf(out, "\r\nTo: <%s>\r\nSubject: ", m->to);
	if (mail_encode_subject(out, m->subject) != MSGR_OK)
		return MSGR_ERR_NOMEM;
	/* The row's id and creation time: unique per database, and the same
	 * when the row is sent again, which lets a receiver drop a duplicate. */
	buf_printf(out, "\r\nMessage-ID: <outbox.%lld.%lld@%s>\r\n", (long long)m->id,
		   (long long)m->created, m->domain);
	if (m->headers) {
		enum msgr_err err = mail_put_headers(out, m->headers);
		if (err != MSGR_OK)
			return err;
	}
	buf_printf(out,
		   "MIME-Version: 1.0\r\n"
		   "Content-Type: multipart/alternative; boundary=\"=_msgr_%lld\"\r\n"
		   "\r\n",
		   (long long)m->id);
	/* The boundary cannot occur in the parts: they are base64, which has
	 * no "=_". */
	buf_printf(out, "--=_msgr_%lld\r\n"
			"Content-Type: text/plain; charset=UTF-8\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n",
		   (long long)m->id);
	put_base64_lines(out, m->text);
	buf_printf(out, "--=_msgr_%lld\r\n"
			"Content-Type: text/html; charset=UTF-8\r\n"
			"Content-Transfer-Encoding: base64\r\n\r\n",
		   (long long)m->id);
	put_base64_lines(out, m->html);
	buf_printf(out, "--=_msgr_%lld--\r\n", (long long)m->id);
	return buf_status(out);
}
