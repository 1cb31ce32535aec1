/*
 * test_buf.c - the growable buffer (shared/buf.c) and the request arena
 * (shared/arena.c). Both .c files are included to reach their internals.
 */
#include "arena.c"
#include "buf.c"

#include "unit.h"

/* ---- struct buf ---------------------------------------------------------- */

TEST(buf_zeroed_is_empty)
{
	struct buf b = {0};
	CHECK_STR_EQ(buf_cstr(&b), "");
	CHECK_UINT_EQ(b.len, 0);
	CHECK(buf_status(&b) == MSGR_OK);
	buf_free(&b);
	buf_free(NULL);
}

TEST(buf_append_and_terminate)
{
	struct buf b = {0};
	buf_append(&b, "abc", 3);
	buf_putc(&b, 'd');
	buf_puts(&b, "ef");
	CHECK_STR_EQ(buf_cstr(&b), "abcdef");
	CHECK_UINT_EQ(b.len, 6);
	CHECK(b.cap > b.len);
	CHECK(b.data[b.len] == '\0');
	buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0 && !b.failed);
}

TEST(buf_empty_append_allocates_terminator)
{
	struct buf b = {0};
	buf_append(&b, "", 0);
	REQUIRE(b.data != NULL);
	CHECK_STR_EQ(b.data, "");
	CHECK(buf_status(&b) == MSGR_OK);
	buf_free(&b);
}

TEST(buf_keeps_embedded_nul)
{
	struct buf b = {0};
	buf_append(&b, "a\0b", 3);
	CHECK_MEM_EQ(b.data, b.len, "a\0b", 3);
	CHECK(b.data[3] == '\0');
	buf_free(&b);
}

TEST(buf_grows_past_many_doublings)
{
	struct buf b = {0};
	char chunk[97];
	for (size_t i = 0; i < sizeof chunk; i++)
		chunk[i] = (char)('a' + i % 26);
	for (int i = 0; i < 2000; i++)
		buf_append(&b, chunk, sizeof chunk);
	REQUIRE(buf_status(&b) == MSGR_OK);
	CHECK_UINT_EQ(b.len, 2000 * sizeof chunk);
	CHECK(b.cap >= b.len + 1);
	CHECK(b.data[b.len] == '\0');
	int same = 1;
	for (size_t i = 0; i < b.len; i++)
		same &= b.data[i] == chunk[i % sizeof chunk];
	CHECK(same);
	buf_free(&b);
}

TEST(buf_reserve_exact_fit)
{
	struct buf b = {0};
	/* 63 bytes and the NUL fill the first 64-byte allocation exactly. */
	char s[63];
	memset(s, 'x', sizeof s);
	buf_append(&b, s, sizeof s);
	CHECK_UINT_EQ(b.cap, 64);
	buf_putc(&b, 'y');
	CHECK_UINT_EQ(b.cap, 128);
	CHECK_UINT_EQ(b.len, 64);
	CHECK(b.data[63] == 'y' && b.data[64] == '\0');
	buf_free(&b);
}

TEST(buf_reset_keeps_memory)
{
	struct buf b = {0};
	buf_puts(&b, "some text that is long enough to matter");
	char *data = b.data;
	size_t cap = b.cap;
	buf_reset(&b);
	CHECK_UINT_EQ(b.len, 0);
	CHECK_STR_EQ(buf_cstr(&b), "");
	CHECK(b.data == data);
	CHECK_UINT_EQ(b.cap, cap);
	buf_puts(&b, "again");
	CHECK_STR_EQ(buf_cstr(&b), "again");
	buf_free(&b);

	struct buf empty = {0};
	buf_reset(&empty); /* no memory yet: nothing to terminate */
	CHECK(empty.data == NULL);
}

TEST(buf_printf_formats_and_appends)
{
	struct buf b = {0};
	buf_puts(&b, "x=");
	buf_printf(&b, "%d,%s,%05.1f", -42, "str", 3.14159);
	CHECK_STR_EQ(buf_cstr(&b), "x=-42,str,003.1");
	buf_printf(&b, "%s", "");
	CHECK_UINT_EQ(b.len, strlen("x=-42,str,003.1"));
	buf_free(&b);
}

TEST(buf_printf_longer_than_capacity)
{
	struct buf b = {0};
	char big[5000];
	memset(big, 'q', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	buf_putc(&b, '<');
	buf_printf(&b, "%s>%d", big, 7);
	REQUIRE(buf_status(&b) == MSGR_OK);
	CHECK_UINT_EQ(b.len, 1 + 4999 + 2);
	CHECK(b.data[0] == '<' && b.data[5000] == '>' && b.data[5001] == '7');
	CHECK(b.data[b.len] == '\0');
	buf_free(&b);
}

static void vprintf_helper(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

TEST(buf_vprintf)
{
	struct buf b = {0};
	vprintf_helper(&b, "%s-%u", "id", 17u);
	CHECK_STR_EQ(buf_cstr(&b), "id-17");
	buf_free(&b);
}

TEST(buf_overflow_is_sticky)
{
	struct buf b = {0};
	buf_puts(&b, "ok");
	/* A length that cannot fit fails without allocating or touching data. */
	buf_append(&b, "x", SIZE_MAX);
	CHECK(buf_status(&b) == MSGR_ERR_NOMEM);
	CHECK_STR_EQ(msgr_strerror(buf_status(&b)), "out of memory");
	CHECK_STR_EQ(buf_cstr(&b), "ok");
	/* Every later append is a no-op... */
	buf_puts(&b, "more");
	buf_putc(&b, 'c');
	buf_printf(&b, "%d", 1);
	buf_json_str(&b, "j", 1);
	CHECK_STR_EQ(buf_cstr(&b), "ok");
	CHECK_UINT_EQ(b.len, 2);
	CHECK(buf_status(&b) == MSGR_ERR_NOMEM);
	/* ...until the buffer is reset. */
	buf_reset(&b);
	CHECK(buf_status(&b) == MSGR_OK);
	buf_puts(&b, "fresh");
	CHECK_STR_EQ(buf_cstr(&b), "fresh");
	buf_free(&b);
}

TEST(buf_reserve_refuses_wraparound)
{
	struct buf b = {0};
	buf_puts(&b, "abc");
	CHECK(!buf_reserve(&b, SIZE_MAX - 3));
	CHECK(b.failed);
	CHECK(!buf_reserve(&b, 1)); /* sticky inside too */
	buf_free(&b);
}

static void check_json(const char *file, int line, const char *in, size_t inlen,
		       const char *want)
{
	struct buf b = {0};
	buf_json_str(&b, in, inlen);
	if (buf_status(&b) != MSGR_OK)
		unit_fail(file, line, "buf_json_str failed");
	unit_mem_eq(file, line, "json", b.data, b.len, want, strlen(want));
	buf_free(&b);
}
#define CHECK_JSON(in, want) check_json(__FILE__, __LINE__, in, sizeof in - 1, want)

TEST(buf_json_str_plain)
{
	CHECK_JSON("", "\"\"");
	CHECK_JSON("hello world", "\"hello world\"");
	CHECK_JSON("/slash/stays", "\"/slash/stays\"");
}

TEST(buf_json_str_escapes)
{
	CHECK_JSON("say \"hi\"", "\"say \\\"hi\\\"\"");
	CHECK_JSON("back\\slash", "\"back\\\\slash\"");
	CHECK_JSON("a\nb\rc\td", "\"a\\nb\\rc\\td\"");
	CHECK_JSON("\x01\x1f", "\"\\u0001\\u001f\"");
	CHECK_JSON("\b\f", "\"\\u0008\\u000c\"");
	CHECK_JSON("nul\0inside", "\"nul\\u0000inside\"");
	CHECK_JSON("\"", "\"\\\"\"");
	CHECK_JSON("\\\"\n", "\"\\\\\\\"\\n\"");
}

TEST(buf_json_str_keeps_utf8_and_del)
{
	CHECK_JSON("привет, 世界 🎉", "\"привет, 世界 🎉\"");
	CHECK_JSON("\x7f", "\"\x7f\"");
	CHECK_JSON(" ", "\" \"");
}

TEST(buf_json_str_appends)
{
	struct buf b = {0};
	buf_puts(&b, "{\"k\":");
	buf_json_str(&b, "v\"", 2);
	buf_putc(&b, '}');
	CHECK_STR_EQ(buf_cstr(&b), "{\"k\":\"v\\\"\"}");
	buf_free(&b);
}

TEST(buf_json_str_long_input)
{
	struct buf b = {0};
	char in[3000];
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = i % 10 == 0 ? '\n' : 'a';
	buf_json_str(&b, in, sizeof in);
	REQUIRE(buf_status(&b) == MSGR_OK);
	CHECK_UINT_EQ(b.len, 2 + sizeof in + sizeof in / 10);
	CHECK(b.data[0] == '"' && b.data[b.len - 1] == '"');
	CHECK(b.data[1] == '\\' && b.data[2] == 'n' && b.data[3] == 'a');
	buf_free(&b);
}

/* ---- struct arena -------------------------------------------------------- */

static size_t arena_blocks(const struct arena *a)
{
	size_t n = 0;
	for (const struct block *b = a->head; b; b = b->next)
		n++;
	return n;
}

TEST(buf_pg_array_str_quotes_and_escapes)
{
	struct buf b = {0};
	buf_pg_array_str(&b, "", 0);
	buf_putc(&b, ',');
	buf_pg_array_str(&b, "plain NULL {a,b}", 16);
	buf_putc(&b, ',');
	buf_pg_array_str(&b, "\"\\x\\\"", 5);
	CHECK_STR_EQ(buf_cstr(&b), "\"\",\"plain NULL {a,b}\",\"\\\"\\\\x\\\\\\\"\"");
	buf_free(&b);
}

TEST(arena_alloc_is_aligned_and_distinct)
{
	struct arena *a = arena_new();
	char *prev = NULL;
	for (size_t len = 0; len < 100; len++) {
		char *p = arena_alloc(a, len);
		REQUIRE(p != NULL);
		CHECK_UINT_EQ((uintptr_t)p % ARENA_ALIGN, 0);
		CHECK(p != prev);
		memset(p, 0xab, len); /* ASan: the whole length is ours */
		prev = p;
	}
	arena_free(a);
}

TEST(arena_allocations_do_not_overlap)
{
	struct arena *a = arena_new();
	enum { N = 500 };
	unsigned char *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = arena_alloc(a, 100);
		memset(p[i], i & 0xff, 100);
	}
	int ok = 1;
	for (int i = 0; i < N; i++)
		for (int j = 0; j < 100; j++)
			ok &= p[i][j] == (i & 0xff);
	CHECK(ok);
	CHECK(arena_blocks(a) > 1); /* 500 * 112 bytes do not fit one block */
	arena_free(a);
}

TEST(arena_large_allocation_gets_own_block)
{
	struct arena *a = arena_new();
	char *small = arena_alloc(a, 10);
	char *big = arena_alloc(a, 3 * ARENA_BLOCK);
	REQUIRE(big != NULL);
	memset(big, 1, 3 * ARENA_BLOCK);
	CHECK_UINT_EQ(arena_blocks(a), 2);
	CHECK(a->head->cap >= 3 * ARENA_BLOCK);
	memset(small, 2, 10);
	CHECK(big[0] == 1 && big[3 * ARENA_BLOCK - 1] == 1);
	arena_free(a);
}

TEST(arena_block_fills_exactly)
{
	struct arena *a = arena_new();
	char *first = arena_alloc(a, ARENA_BLOCK - ARENA_ALIGN);
	char *last = arena_alloc(a, ARENA_ALIGN);
	CHECK(last == first + ARENA_BLOCK - ARENA_ALIGN);
	CHECK_UINT_EQ(arena_blocks(a), 1);
	arena_alloc(a, 1);
	CHECK_UINT_EQ(arena_blocks(a), 2);
	arena_free(a);
}

TEST(arena_reset_keeps_first_block_only)
{
	struct arena *a = arena_new();
	char *first = arena_alloc(a, 32);
	for (int i = 0; i < 100; i++)
		arena_alloc(a, 1000);
	arena_alloc(a, 10 * ARENA_BLOCK);
	CHECK(arena_blocks(a) > 2);
	arena_reset(a);
	CHECK_UINT_EQ(arena_blocks(a), 1);
	CHECK_UINT_EQ(a->head->cap, ARENA_BLOCK);
	CHECK_UINT_EQ(a->head->used, 0);
	/* The memory is reused from its start. */
	CHECK(arena_alloc(a, 32) == first);
	arena_reset(a);
	arena_reset(a);
	CHECK_UINT_EQ(arena_blocks(a), 1);
	arena_free(a);
}

TEST(arena_strndup)
{
	struct arena *a = arena_new();
	const char src[] = "hello, world";
	char *s = arena_strndup(a, src, 5);
	CHECK_STR_EQ(s, "hello");
	CHECK(s != src);
	char *empty = arena_strndup(a, NULL, 0);
	CHECK_STR_EQ(empty, "");
	char *nul = arena_strndup(a, "a\0b", 3);
	CHECK_MEM_EQ(nul, 4, "a\0b\0", 4);
	arena_free(a);
}

TEST(arena_printf)
{
	struct arena *a = arena_new();
	CHECK_STR_EQ(arena_printf(a, "%s/%d", "chats", 12), "chats/12");
	CHECK_STR_EQ(arena_printf(a, "%s", ""), "");
	char big[2 * ARENA_BLOCK];
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	char *s = arena_printf(a, "[%s]", big);
	CHECK_UINT_EQ(strlen(s), sizeof big + 1);
	CHECK(s[0] == '[' && s[sizeof big] == ']');
	arena_free(a);
}

TEST(arena_free_accepts_null)
{
	arena_free(NULL);
	struct arena *a = arena_new();
	arena_free(a);
}
