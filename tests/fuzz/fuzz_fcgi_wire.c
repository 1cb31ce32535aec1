/*
 * fuzz_fcgi_wire.c - libFuzzer harness for the FastCGI record reader of the
 * messages companion (shared/fcgi_wire.c).
 *
 * The input is fed in pieces whose sizes its first byte chooses, as reads
 * from a socket would cut it. Whatever the input, the reader takes only
 * whole records (never more bytes than it was given), a ready request has
 * an id, a body within the limit, and parameters that either add up to an
 * environment of "NAME=value" strings or are refused.
 *
 * Build: make fuzz (or build-fuzz/fuzz_fcgi_wire tests/fuzz/corpus/fuzz_fcgi_wire)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "fcgi_wire.h"

#define LIMIT 1024

static void check_ready(const struct fcgi_request *r, struct arena *a)
{
	if (!r->id || !r->params_done || !r->stdin_done || r->stdin.len > LIMIT)
		abort();
	char **env = fcgi_envp(r, a);
	for (; env && *env; env++)
		if (!strchr(*env, '='))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t piece = (size_t)data[0] % 16 + 1;
	data++;
	size--;
	struct arena *a = arena_new();
	struct fcgi_request r = {0};
	struct buf in = {0}, out = {0};
	size_t fed = 0;
	while (fed < size) {
		size_t n = size - fed < piece ? size - fed : piece;
		buf_append(&in, data + fed, n);
		fed += n;
		for (;;) {
			size_t used;
			enum fcgi_feed_result res = fcgi_feed(&r, (const unsigned char *)in.data,
							      in.len, &used, LIMIT, &out);
			if (used > in.len)
				abort();
			memmove(in.data, in.data + used, in.len - used);
			in.len -= used;
			if (res == FCGI_FEED_BAD)
				goto done;
			if (res == FCGI_FEED_MORE)
				break;
			check_ready(&r, a);
			fcgi_put_answer(&out, r.id, "Status: 200 OK\r\n\r\n", 18);
			fcgi_request_reset(&r);
			arena_reset(a);
		}
	}
done:
	fcgi_request_free(&r);
	buf_free(&in);
	buf_free(&out);
	arena_free(a);
	return 0;
}
