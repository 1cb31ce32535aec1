/*
 * message.h - one outbox row as an RFC 5322 message: multipart/alternative
 * (text and HTML, each UTF-8 in base64, so that no line is too long and no
 * byte needs escaping), the subject as RFC 2047 encoded words when it is
 * not plain ASCII, a Date, and a Message-ID made of the row's id and
 * creation time (the same every time that row is sent).
 */
#ifndef MSGR_MAILER_MESSAGE_H
#define MSGR_MAILER_MESSAGE_H

#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "err.h"

struct mail {
	int64_t id;
	int64_t created; /* Unix time the row was created */
	const char *from; /* the From: header's value, e.g. "Messenger <noreply@example.org>" */
	const char *domain; /* the right-hand side of Message-IDs */
	const char *to;
	const char *subject;
	const char *text;
	const char *html;
	/* More header fields, a JSON object of name to string value (the
	 * outbox row's headers; List-Unsubscribe...), or NULL. */
	const char *headers;
};

/* Appends the message, CRLF line ends, to out. MSGR_ERR_MALFORMED when
 * m->headers is not an object of header fields it may write
 * (mail_put_headers()). */
enum msgr_err mail_render(struct buf *out, const struct mail *m, time_t now) MSGR_WUR;

/* Appends "Name: value\r\n" for each member of the JSON object json.
 * Refused (MSGR_ERR_MALFORMED, out unchanged then): anything but an object
 * of strings; a name that is not an RFC 5322 field name (printable ASCII
 * but ':') or is one that mail_render() writes itself (From, To, Subject,
 * Content-Type...); a value that is not printable ASCII and spaces (a line
 * break would start a header of its own). */
enum msgr_err mail_put_headers(struct buf *out, const char *json) MSGR_WUR;

/* Appends a From value: as it is when it is printable ASCII, else the
 * display name of "Name <addr>" as RFC 2047 encoded words (quotes around
 * the name dropped) and the address as it is. */
enum msgr_err mail_encode_from(struct buf *out, const char *from) MSGR_WUR;

/* Appends the subject as an unstructured header value: as it is when it is
 * printable ASCII, else as encoded words of at most 75 characters, folded,
 * never splitting a UTF-8 character. Line breaks become spaces. */
enum msgr_err mail_encode_subject(struct buf *out, const char *subject) MSGR_WUR;

/* The address inside "Name <addr>", or the whole string; into out (cap
 * bytes); false when it does not fit or is empty. */
bool mail_address(const char *from, char *out, size_t cap);

#endif
