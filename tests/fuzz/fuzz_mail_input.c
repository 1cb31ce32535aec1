/*
 * fuzz_mail_input.c - libFuzzer harness for what the mail path parses: the
 * signed link token of an unsubscribe URL (shared/token.c
 * token_link_verify, reached by anyone with a URL) and an outbox row's
 * extra header fields (mailer/message.c mail_put_headers).
 *
 * Whatever the input: a token is accepted only when it is exactly the one
 * token_link_make() writes for the user it names; header fields are
 * written all or none, and what is written is printable ASCII lines
 * "Name: value" ending in CRLF, with no other line break.
 *
 * Build: make fuzz (or build-fuzz/fuzz_mail_input tests/fuzz/corpus/fuzz_mail_input)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../mailer/message.c"
#include "buf.h"
#include "token.h"

static void check_token(const char *s, size_t n)
{
	int64_t uid = 0;
	if (token_link_verify(TOKEN_PURPOSE_UNSUBSCRIBE, s, n, &uid) != MSGR_OK)
		return;
	char want[TOKEN_LINK_MAX];
	token_link_make(TOKEN_PURPOSE_UNSUBSCRIBE, uid, want);
	if (uid <= 0 || strlen(want) != n || memcmp(want, s, n))
		abort();
}

static void check_headers(const char *json)
{
	struct buf b = {0};
	buf_puts(&b, "x");
	enum msgr_err err = mail_put_headers(&b, json);
	const char *out = buf_cstr(&b);
	if (err != MSGR_OK) {
		if (strcmp(out, "x"))
			abort();
		buf_free(&b);
		return;
	}
	for (size_t i = 1; i < b.len; i++) {
		unsigned char c = (unsigned char)out[i];
		if (c == '\r') {
			if (out[i + 1] != '\n')
				abort();
			i++;
			continue;
		}
		if (c == '\n' || c < 0x20 || c > 0x7e)
			abort();
	}
	if (b.len > 1 && (b.len < 3 || memcmp(out + b.len - 2, "\r\n", 2)))
		abort();
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		static const unsigned char key[] = "fuzzing key of at least thirty-two bytes";
		if (token_init(key, sizeof key - 1) != MSGR_OK)
			abort();
		ready = 1;
	}
	check_token((const char *)data, size);
	char *json = malloc(size + 1);
	if (!json)
		return 0;
	memcpy(json, data, size);
	json[size] = '\0';
	check_headers(json);
	free(json);
	return 0;
}
