/*
 * fuzz_s3_url.c - libFuzzer harness for the parser of an "s3://"
 * MSGR_STORAGE_URL (shared/s3store.c, s3store_parse_url).
 *
 * Whatever the input, the parser either refuses it with a reason or gives
 * a bucket S3 would take, a region of a-z 0-9 -, an http(s) endpoint
 * without path, query or credentials, and a base path that is empty or
 * "/" and the bucket: what the requests and presigned URLs are built from.
 *
 * Build: make fuzz (or build-fuzz/fuzz_s3_url tests/fuzz/corpus/fuzz_s3_url)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = malloc(size + 1);
	if (!url)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	struct s3store_conf c;
	const char *why = NULL;
	enum msgr_err err = s3store_parse_url(url, &c, &why);
	if (err != MSGR_OK) {
		if (err == MSGR_ERR_MALFORMED && !why)
			abort();
	} else {
		size_t blen = strlen(c.bucket);
		if (blen < 3 || blen > 63 || strspn(c.bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") != blen)
			abort();
		if (!c.region[0] || strspn(c.region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(c.region))
			abort();
		if (strncmp(c.endpoint, "http://", 7) && strncmp(c.endpoint, "https://", 8))
			abort();
		if (strpbrk(strstr(c.endpoint, "://") + 3, "/?#@ "))
			abort();
		if (c.base_path[0] && (c.base_path[0] != '/' || strcmp(c.base_path + 1, c.bucket)))
			abort();
	}
	free(url);
	return 0;
}
