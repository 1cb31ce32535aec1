/*
 * fuzz_names.c - libFuzzer harness for the file-name path: the cleaning of
 * a client's name (shared/upload.c upload_clean_name) and the
 * Content-Disposition built from the result (fcgi/files/download.c).
 *
 * Whatever the input, the clean name is non-empty valid UTF-8 of at most
 * UPLOAD_NAME_MAX bytes without '/', '\', NUL or control characters, not "."
 * or "..", and cleaning it again changes nothing; the header value is
 * printable ASCII, and its filename* decodes back to the clean name.
 *
 * Build: make fuzz (or build-fuzz/fuzz_names tests/fuzz/corpus/fuzz_names)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../fcgi/files/download.c"
#include "arena.h"
#include "upload.h"
#include "utf8.h"

static int hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena *a;
	if (!a)
		a = arena_new();
	size_t n;
	const char *name = upload_clean_name(a, (const char *)data, size, &n);
	if (n == 0 || n > UPLOAD_NAME_MAX || strlen(name) != n || !utf8_valid(name, n) ||
	    utf8_has_control(name, n) || memchr(name, '/', n) || memchr(name, '\\', n) ||
	    !strcmp(name, ".") || !strcmp(name, ".."))
		abort();
	size_t n2;
	const char *again = upload_clean_name(a, name, n, &n2);
	if (n2 != n || memcmp(again, name, n))
		abort();

	const char *cd = files_disposition(a, size & 1, name, n);
	for (const char *p = cd; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			abort();
	/* The last one: the encoded value cannot hold '"', ';' or ' '. */
	static const char marker[] = "\"; filename*=UTF-8''";
	const char *star = NULL;
	for (const char *p = strstr(cd, marker); p; p = strstr(p + 1, marker))
		star = p;
	if (!star)
		abort();
	star += sizeof marker - 1;
	char *back = malloc(strlen(star) + 1);
	size_t m = 0;
	for (const char *p = star; *p; p++) {
		if (*p == '%') {
			int h = hex(p[1]), l = h < 0 ? -1 : hex(p[2]);
			if (l < 0)
				abort();
			back[m++] = (char)(h * 16 + l);
			p += 2;
		} else if (strchr(" \";\\", *p)) {
			abort();
		} else {
			back[m++] = *p;
		}
	}
	if (m != n || memcmp(back, name, n))
		abort();
	free(back);
	arena_reset(a);
	return 0;
}
