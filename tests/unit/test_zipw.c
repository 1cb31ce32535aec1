/*
 * test_zipw.c - the streamed ZIP writer (shared/zipw.c): the bytes of its
 * headers, the names it refuses, and archives that a reader other than
 * ours opens and checks (Python's zipfile, which reads ZIP64 too: the
 * thresholds are lowered to reach those paths without writing 4 GiB).
 */
#include "zipw.c"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "unit.h"

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* A new empty file; its path in path. */
static int temp_file(char path[64])
{
	snprintf(path, 64, "/tmp/test_zipw.XXXXXX");
	return mkstemp(path);
}

/* The whole file, malloc'd; its size in *len. */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *p = malloc((size_t)n + 1);
	if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* Python's zipfile opens the archive, tests every CRC and prints each
 * entry as "name size crc" on a line of out. */
static bool python_reads(const char *path, char *out, size_t cap)
{
	if (access("/usr/bin/python3", X_OK) != 0)
		return false;
	char cmd[512];
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c 'import sys, zipfile\n"
		 "z = zipfile.ZipFile(sys.argv[1])\n"
		 "assert z.testzip() is None\n"
		 "for i in z.infolist(): print(i.filename, i.file_size, \"%%08x\" %% i.CRC)' %s",
		 path);
	FILE *p = popen(cmd, "r");
	if (!p)
		return false;
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	return pclose(p) == 0;
}

TEST(crc32_check_value)
{
	/* The check value of CRC-32/ISO-HDLC; the others below are zlib.crc32's. */
	CHECK_UINT_EQ(zipw_crc32(0, "123456789", 9), 0xcbf43926u);
	CHECK_UINT_EQ(zipw_crc32(zipw_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
	CHECK_UINT_EQ(zipw_crc32(0, "", 0), 0);
}

TEST(headers_and_directory)
{
	char path[64];
	int fd = temp_file(path);
	REQUIRE(fd >= 0);
	struct zipw *z;
	REQUIRE(zipw_open(fd, &z) == MSGR_OK);
	CHECK(zipw_begin(z, "profile.json", 1767225600) == MSGR_OK); /* 2026-01-01 */
	CHECK(zipw_write(z, "{\"a\":", 5) == MSGR_OK);
	CHECK(zipw_write(z, "1}", 2) == MSGR_OK);
	CHECK(zipw_begin(z, "files/1/пример.txt", 0) == MSGR_OK);
	CHECK(zipw_write(z, "123456789", 9) == MSGR_OK);
	CHECK(zipw_begin(z, "empty", 0) == MSGR_OK);
	CHECK(zipw_finish(z) == MSGR_OK);
	close(fd);
	size_t len;
	unsigned char *b = slurp(path, &len);
	REQUIRE(b);
	/* The first local header: stored, UTF-8 names, CRC and sizes filled in. */
	CHECK_UINT_EQ(get32(b), 0x04034b50);
	CHECK_UINT_EQ(get16(b + 6), FLAG_UTF8);
	CHECK_UINT_EQ(get16(b + 8), 0);
	CHECK_UINT_EQ(get32(b + 14), zipw_crc32(0, "{\"a\":1}", 7));
	CHECK_UINT_EQ(get32(b + 18), 7);
	CHECK_UINT_EQ(get32(b + 22), 7);
	CHECK_UINT_EQ(get16(b + 12), ((2026 - 1980) << 9) | (1 << 5) | 1);
	CHECK_MEM_EQ(b + 30, 12, "profile.json", 12);
	CHECK_MEM_EQ(b + 42, 7, "{\"a\":1}", 7);
	/* The end record: 3 entries, no ZIP64 records before it. */
	const unsigned char *e = b + len - EOCD_LEN;
	CHECK_UINT_EQ(get32(e), 0x06054b50);
	CHECK_UINT_EQ(get16(e + 10), 3);
	CHECK_UINT_EQ(get32(e + 16) + get32(e + 12), len - EOCD_LEN);
	CHECK_UINT_EQ(get32(b + get32(e + 16)), 0x02014b50);
	char out[512];
	if (python_reads(path, out, sizeof out))
		CHECK_STR_EQ(out, "profile.json 7 " "561bacaf\n"
				  "files/1/пример.txt 9 cbf43926\n"
				  "empty 0 00000000\n");
	else
		unit_fail(__FILE__, __LINE__, "python's zipfile refused %s", path);
	CHECK_UINT_EQ(zipw_crc32(0, "{\"a\":1}", 7), 0x561bacafu);
	free(b);
	unlink(path);
}

TEST(zip64_offsets_and_counts)
{
	uint64_t saved_offset = zip64_offset_at, saved_count = zip64_count_at;
	zip64_offset_at = 100; /* entries after the first start "far" */
	zip64_count_at = 3;
	char path[64];
	int fd = temp_file(path);
	REQUIRE(fd >= 0);
	struct zipw *z;
	REQUIRE(zipw_open(fd, &z) == MSGR_OK);
	char name[32], data[200];
	memset(data, 'x', sizeof data);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "chats/%d.json", i);
		CHECK(zipw_begin(z, name, 0) == MSGR_OK);
		CHECK(zipw_write(z, data, sizeof data) == MSGR_OK);
	}
	CHECK(zipw_finish(z) == MSGR_OK);
	close(fd);
	zip64_offset_at = saved_offset;
	zip64_count_at = saved_count;
	size_t len;
	unsigned char *b = slurp(path, &len);
	REQUIRE(b);
	const unsigned char *e = b + len - EOCD_LEN;
	CHECK_UINT_EQ(get16(e + 10), 0xffff);
	CHECK_UINT_EQ(get32(e + 16), 0xffffffffu);
	CHECK_UINT_EQ(get32(e - EOCD64_LOCATOR_LEN), 0x07064b50);
	CHECK_UINT_EQ(get32(e - EOCD64_LOCATOR_LEN - EOCD64_LEN), 0x06064b50);
	char out[512];
	if (python_reads(path, out, sizeof out))
		CHECK_STR_EQ(out, "chats/0.json 200 7ecb6ba6\nchats/1.json 200 7ecb6ba6\n"
				  "chats/2.json 200 7ecb6ba6\nchats/3.json 200 7ecb6ba6\n");
	else
		unit_fail(__FILE__, __LINE__, "python's zipfile refused %s", path);
	CHECK_UINT_EQ(zipw_crc32(0, data, sizeof data), 0x7ecb6ba6u);
	free(b);
	unlink(path);
}

TEST(unsafe_names_refused_and_sticky)
{
	const char *bad[] = {"", "/etc/passwd", "../x", "a/../../x", "a/..", "a\\b"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int fd = open("/dev/null", O_WRONLY);
		REQUIRE(fd >= 0);
		struct zipw *z;
		REQUIRE(zipw_open(fd, &z) == MSGR_OK);
		CHECK(zipw_begin(z, bad[i], 0) == MSGR_ERR_MALFORMED);
		/* Sticky: nothing more is written, the finish says so too. */
		CHECK(zipw_begin(z, "fine", 0) == MSGR_ERR_MALFORMED);
		CHECK(zipw_write(z, "x", 1) == MSGR_ERR_MALFORMED);
		CHECK(zipw_finish(z) == MSGR_ERR_MALFORMED);
		close(fd);
	}
	CHECK(name_safe("a/..b/c..", 9));
	CHECK(name_safe("messages/12/page-1.json", 23));
}

TEST(write_without_entry_and_failing_fd)
{
	int fd = open("/dev/null", O_WRONLY);
	REQUIRE(fd >= 0);
	struct zipw *z;
	REQUIRE(zipw_open(fd, &z) == MSGR_OK);
	CHECK(zipw_write(z, "x", 1) == MSGR_ERR_MALFORMED);
	zipw_free(z);
	close(fd);
	/* A read-only descriptor: the first header fails, and stays failed. */
	char path[64];
	fd = temp_file(path);
	REQUIRE(fd >= 0);
	close(fd);
	fd = open(path, O_RDONLY);
	REQUIRE(fd >= 0);
	REQUIRE(zipw_open(fd, &z) == MSGR_OK);
	CHECK(zipw_begin(z, "a", 0) == MSGR_ERR_IO);
	CHECK(zipw_finish(z) == MSGR_ERR_IO);
	close(fd);
	unlink(path);
}
