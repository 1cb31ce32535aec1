/*
 * zipw.c - a streamed ZIP of stored entries (zipw.h says what and why).
 * Field layouts: APPNOTE.TXT 6.3.10 sections 4.3.7 (local file header),
 * 4.3.12 (central directory header), 4.3.14-4.3.16 (the end records) and
 * 4.5.3 (the ZIP64 extra field).
 */
#include "zipw.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

#define LOCAL_HEADER_LEN 30
#define CENTRAL_HEADER_LEN 46
#define EOCD_LEN 22
#define EOCD64_LEN 56
#define EOCD64_LOCATOR_LEN 20
/* Version needed to extract: 2.0 (plain) or 4.5 (ZIP64). Made by: Unix. */
#define VERSION_PLAIN 20
#define VERSION_ZIP64 45
#define MADE_BY_UNIX (3 << 8)
/* General purpose flag bit 11: names are UTF-8. */
#define FLAG_UTF8 0x0800

/* Where the classic 32- and 16-bit fields stop reaching; the unit test
 * lowers them to reach the ZIP64 paths without writing 4 GiB. */
static uint64_t zip64_offset_at = 0xffffffffu;
static uint64_t zip64_count_at = 0xffffu;

struct zipw_entry {
	char *name;
	uint16_t name_len;
	uint16_t dos_time, dos_date;
	uint32_t crc, size;
	uint64_t offset;
};

struct zipw {
	int fd;
	uint64_t pos; /* bytes written so far: the next write's offset */
	enum msgr_err err;
	struct zipw_entry *entries;
	size_t n, cap;
	bool open;     /* entries[n - 1] is being written */
	uint64_t size; /* of the open entry so far */
};

/* zlib's CRC-32 (the same ISO-HDLC polynomial): several bytes a step
 * rather than our table's one, and one piece of code fewer to keep; zlib is
 * a dependency of libcurl already. crc32_z takes a size_t length. */
uint32_t zipw_crc32(uint32_t crc, const void *data, size_t len)
{
	return (uint32_t)crc32_z(crc, data, len);
}

static unsigned char *put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	return p + 2;
}

static unsigned char *put32(unsigned char *p, uint32_t v)
{
	return put16(put16(p, (uint16_t)v), (uint16_t)(v >> 16));
}

static unsigned char *put64(unsigned char *p, uint64_t v)
{
	return put32(put32(p, (uint32_t)v), (uint32_t)(v >> 32));
}

/* Writes all of data at the end; sticky failure. */
static enum msgr_err emit(struct zipw *z, const void *data, size_t len)
{
	const char *p = data;
	while (z->err == MSGR_OK && len > 0) {
		ssize_t w = write(z->fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			z->err = MSGR_ERR_IO;
			break;
		}
		p += w;
		len -= (size_t)w;
		z->pos += (uint64_t)w;
	}
	return z->err;
}

/* DOS date and time (APPNOTE 4.4.6), in UTC; before 1980 is 1980. */
static void dos_time(time_t t, uint16_t *tm_out, uint16_t *date_out)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || tm.tm_year < 80) {
		*tm_out = 0;
		*date_out = (1 << 5) | 1;
		return;
	}
	if (tm.tm_year > 80 + 127)
		tm.tm_year = 80 + 127;
	*tm_out = (uint16_t)((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
	*date_out = (uint16_t)(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
}

/* A name an extractor writes where it was meant to: relative, no "..",
 * no backslash (a directory separator to some), no NUL, not empty. */
static bool name_safe(const char *name, size_t len)
{
	if (len == 0 || len > 0xffff || name[0] == '/' || memchr(name, '\\', len))
		return false;
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && name[j] != '/')
			j++;
		if (j - i == 2 && name[i] == '.' && name[i + 1] == '.')
			return false;
		i = j + 1;
	}
	return true;
}

enum msgr_err zipw_open(int fd, struct zipw **out)
{
	struct zipw *z = calloc(1, sizeof *z);
	if (!z)
		return MSGR_ERR_NOMEM;
	z->fd = fd;
	off_t at = lseek(fd, 0, SEEK_END);
	if (at < 0) {
		free(z);
		return MSGR_ERR_IO;
	}
	z->pos = (uint64_t)at;
	*out = z;
	return MSGR_OK;
}

enum msgr_err zipw_end_entry(struct zipw *z)
{
	if (z->err != MSGR_OK || !z->open)
		return z->err;
	z->open = false;
	struct zipw_entry *e = &z->entries[z->n - 1];
	if (z->size > 0xfffffffeu)
		return z->err = MSGR_ERR_TOO_LARGE;
	e->size = (uint32_t)z->size;
	/* CRC-32, compressed and uncompressed size: offset 14 of the header. */
	unsigned char f[12];
	put32(put32(put32(f, e->crc), e->size), e->size);
	if (pwrite(z->fd, f, sizeof f, (off_t)(e->offset + 14)) != (ssize_t)sizeof f)
		z->err = MSGR_ERR_IO;
	return z->err;
}

enum msgr_err zipw_begin(struct zipw *z, const char *name, time_t mtime)
{
	if (zipw_end_entry(z) != MSGR_OK)
		return z->err;
	size_t len = strlen(name);
	if (!name_safe(name, len))
		return z->err = MSGR_ERR_MALFORMED;
	if (z->n == z->cap) {
		size_t cap = z->cap ? 2 * z->cap : 64;
		struct zipw_entry *grown = realloc(z->entries, cap * sizeof *grown);
		if (!grown)
			return z->err = MSGR_ERR_NOMEM;
		z->entries = grown;
		z->cap = cap;
	}
	struct zipw_entry *e = &z->entries[z->n];
	e->name = malloc(len);
	if (!e->name)
		return z->err = MSGR_ERR_NOMEM;
	memcpy(e->name, name, len);
	e->name_len = (uint16_t)len;
	dos_time(mtime, &e->dos_time, &e->dos_date);
	e->crc = 0;
	e->size = 0;
	e->offset = z->pos;
	z->n++;
	z->open = true;
	z->size = 0;
	unsigned char h[LOCAL_HEADER_LEN], *p = h;
	p = put32(p, 0x04034b50);
	p = put16(p, VERSION_PLAIN);
	p = put16(p, FLAG_UTF8);
	p = put16(p, 0); /* stored */
	p = put16(p, e->dos_time);
	p = put16(p, e->dos_date);
	p = put32(p, 0); /* CRC and sizes: zipw_end_entry() */
	p = put32(p, 0);
	p = put32(p, 0);
	p = put16(p, e->name_len);
	put16(p, 0); /* no extra field */
	if (emit(z, h, sizeof h) != MSGR_OK)
		return z->err;
	return emit(z, name, len);
}

enum msgr_err zipw_write(struct zipw *z, const void *data, size_t len)
{
	if (z->err != MSGR_OK)
		return z->err;
	if (!z->open)
		return z->err = MSGR_ERR_MALFORMED;
	if (z->size + len > 0xfffffffeu)
		return z->err = MSGR_ERR_TOO_LARGE;
	struct zipw_entry *e = &z->entries[z->n - 1];
	e->crc = zipw_crc32(e->crc, data, len);
	z->size += len;
	return emit(z, data, len);
}

static void central_header(struct zipw *z, const struct zipw_entry *e)
{
	bool big = e->offset >= zip64_offset_at;
	unsigned char h[CENTRAL_HEADER_LEN + 12], *p = h;
	p = put32(p, 0x02014b50);
	p = put16(p, MADE_BY_UNIX | (big ? VERSION_ZIP64 : VERSION_PLAIN));
	p = put16(p, big ? VERSION_ZIP64 : VERSION_PLAIN);
	p = put16(p, FLAG_UTF8);
	p = put16(p, 0);
	p = put16(p, e->dos_time);
	p = put16(p, e->dos_date);
	p = put32(p, e->crc);
	p = put32(p, e->size);
	p = put32(p, e->size);
	p = put16(p, e->name_len);
	p = put16(p, big ? 12 : 0); /* extra field length */
	p = put16(p, 0);            /* comment length */
	p = put16(p, 0);            /* disk number */
	p = put16(p, 0);            /* internal attributes */
	p = put32(p, (0100644u) << 16); /* external: a regular file, rw-r--r-- */
	p = put32(p, big ? 0xffffffffu : (uint32_t)e->offset);
	(void)emit(z, h, CENTRAL_HEADER_LEN);
	(void)emit(z, e->name, e->name_len);
	if (big) {
		/* Only the field whose classic one holds 0xffffffff: the offset. */
		p = h;
		p = put16(p, 0x0001);
		p = put16(p, 8);
		put64(p, e->offset);
		(void)emit(z, h, 12);
	}
}

enum msgr_err zipw_finish(struct zipw *z)
{
	/* A failure is sticky in z->err: the writes below then do nothing. */
	if (zipw_end_entry(z) != MSGR_OK) {
		enum msgr_err err = z->err;
		zipw_free(z);
		return err;
	}
	uint64_t dir_at = z->pos;
	for (size_t i = 0; i < z->n && z->err == MSGR_OK; i++)
		central_header(z, &z->entries[i]);
	uint64_t dir_len = z->pos - dir_at;
	bool big = z->n >= zip64_count_at || dir_at >= zip64_offset_at || dir_len >= zip64_offset_at;
	unsigned char r[EOCD64_LEN], *p;
	if (big && z->err == MSGR_OK) {
		uint64_t eocd64_at = z->pos;
		p = r;
		p = put32(p, 0x06064b50);
		p = put64(p, EOCD64_LEN - 12); /* the size of what follows this field */
		p = put16(p, MADE_BY_UNIX | VERSION_ZIP64);
		p = put16(p, VERSION_ZIP64);
		p = put32(p, 0); /* this disk */
		p = put32(p, 0); /* the directory's disk */
		p = put64(p, z->n);
		p = put64(p, z->n);
		p = put64(p, dir_len);
		put64(p, dir_at);
		(void)emit(z, r, EOCD64_LEN);
		p = r;
		p = put32(p, 0x07064b50);
		p = put32(p, 0);
		p = put64(p, eocd64_at);
		put32(p, 1); /* disks */
		(void)emit(z, r, EOCD64_LOCATOR_LEN);
	}
	uint16_t count = big && z->n >= zip64_count_at ? 0xffff : (uint16_t)z->n;
	p = r;
	p = put32(p, 0x06054b50);
	p = put16(p, 0);
	p = put16(p, 0);
	p = put16(p, count);
	p = put16(p, count);
	p = put32(p, dir_len >= zip64_offset_at ? 0xffffffffu : (uint32_t)dir_len);
	p = put32(p, dir_at >= zip64_offset_at ? 0xffffffffu : (uint32_t)dir_at);
	put16(p, 0); /* comment length */
	(void)emit(z, r, EOCD_LEN);
	enum msgr_err err = z->err;
	zipw_free(z);
	return err;
}

void zipw_free(struct zipw *z)
{
	if (!z)
		return;
	for (size_t i = 0; i < z->n; i++)
		free(z->entries[i].name);
	free(z->entries);
	free(z);
}
