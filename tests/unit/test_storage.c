/*
 * test_storage.c - storage_read() from the storage directory (shared/
 * storage.c): the bytes in pieces, whatever the size, a sink's error, a
 * missing file and a name that is no key.
 */
#include "storage.c"

#include "unit.h"

struct got {
	struct buf bytes;
	int calls;
	int fail_after; /* calls before the sink refuses; 0: never */
};

static enum msgr_err sink(void *arg, const void *data, size_t len)
{
	struct got *g = arg;
	if (g->fail_after && g->calls >= g->fail_after)
		return MSGR_ERR_TOO_LARGE;
	g->calls++;
	buf_append(&g->bytes, data, len);
	return buf_status(&g->bytes);
}

static char dir[] = "/tmp/msgr-unit-storage-XXXXXX";
static const char key[] = "0123456789abcdef0123456789abcdef";
static char path[sizeof dir + sizeof key + 1];

TEST(setup)
{
	REQUIRE(mkdtemp(dir));
	setenv("MSGR_STORAGE_DIR", dir, 1);
	unsetenv("MSGR_STORAGE_URL");
	snprintf(path, sizeof path, "%s/%s", dir, key);
}

TEST(read_in_pieces)
{
	/* Three reads' worth and a bit: more than one piece. */
	size_t size = 3 * STORAGE_READ_CHUNK + 1234;
	unsigned char *data = malloc(size);
	REQUIRE(data);
	for (size_t i = 0; i < size; i++)
		data[i] = (unsigned char)(i * 7 + i / 251);
	FILE *f = fopen(path, "w");
	REQUIRE(f);
	REQUIRE(fwrite(data, 1, size, f) == size);
	fclose(f);
	struct got g = {0};
	CHECK(storage_read(key, sink, &g) == MSGR_OK);
	CHECK(g.calls == 4);
	CHECK(g.bytes.len == size && memcmp(g.bytes.data, data, size) == 0);
	buf_free(&g.bytes);
	free(data);
}

TEST(sink_error_stops_the_read)
{
	struct got g = {.fail_after = 1};
	CHECK(storage_read(key, sink, &g) == MSGR_ERR_TOO_LARGE);
	CHECK(g.calls == 1 && g.bytes.len == STORAGE_READ_CHUNK);
	buf_free(&g.bytes);
}

TEST(empty_missing_and_bad_keys)
{
	FILE *f = fopen(path, "w");
	REQUIRE(f);
	fclose(f);
	struct got g = {0};
	CHECK(storage_read(key, sink, &g) == MSGR_OK);
	CHECK(g.calls == 0);
	unlink(path);
	CHECK(storage_read(key, sink, &g) == MSGR_ERR_IO);
	CHECK(storage_read("../etc/passwd", sink, &g) == MSGR_ERR_IO);
	CHECK(storage_read("0123456789ABCDEF0123456789ABCDEF", sink, &g) == MSGR_ERR_IO);
	CHECK(g.calls == 0);
	rmdir(dir);
}
