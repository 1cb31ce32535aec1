/*
 * unit.h - a tiny unit test harness (in the spirit of h2o's t/00unit).
 *
 * A test file includes the .c under test (to reach its static functions)
 * and this header, then declares tests:
 *
 *	#include "buf.c"
 *	#include "unit.h"
 *
 *	TEST(append_grows)
 *	{
 *		struct buf b = {0};
 *		buf_puts(&b, "hi");
 *		CHECK_STR_EQ(buf_cstr(&b), "hi");
 *		buf_free(&b);
 *	}
 *
 * Tests run in the order they are written, each once; a failing CHECK
 * prints file:line and what it saw, marks the test failed and goes on, a
 * failing REQUIRE also ends the test. The last line the program prints is
 * "unit test_buf: 12 passed, 0 failed" and its exit status is 1 when any
 * test failed. Arguments, if any, select tests by name.
 * `make unit` builds every tests/unit/test_*.c with ASan and UBSan and runs
 * it with leak detection on, so a test also fails by leaking.
 */
#ifndef MSGR_UNIT_H
#define MSGR_UNIT_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
	int line;
	struct unit_test *next;
};

static struct unit_test *unit_tests;   /* sorted by line */
static bool unit_failed;               /* the current test failed */
static const char *unit_current = "";  /* the current test's name */

static void unit_register(struct unit_test *t)
{
	struct unit_test **p = &unit_tests;
	while (*p && (*p)->line < t->line)
		p = &(*p)->next;
	t->next = *p;
	*p = t;
}

#define TEST(name_)                                                              \
	static void unit_fn_##name_(void);                                       \
	__attribute__((constructor)) static void unit_reg_##name_(void)          \
	{                                                                        \
		static struct unit_test t = {#name_, unit_fn_##name_, __LINE__, NULL}; \
		unit_register(&t);                                               \
	}                                                                        \
	static void unit_fn_##name_(void)

__attribute__((format(printf, 3, 4))) static void unit_fail(const char *file, int line,
							      const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d: %s: ", file, line, unit_current);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	unit_failed = true;
}

/* Prints len bytes of s for a failure message, escaping the unprintable. */
static void unit_dump(const char *s, size_t len)
{
	fputc('"', stderr);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fputc('"', stderr);
}

static void unit_report(const char *file, int line, const char *what, const char *a,
			size_t alen, const char *b, size_t blen)
{
	unit_fail(file, line, "%s differ", what);
	fprintf(stderr, "    got:      ");
	if (a)
		unit_dump(a, alen);
	else
		fputs("NULL", stderr);
	fprintf(stderr, " (%zu bytes)\n    expected: ", alen);
	if (b)
		unit_dump(b, blen);
	else
		fputs("NULL", stderr);
	fprintf(stderr, " (%zu bytes)\n", blen);
}

static void unit_mem_eq(const char *file, int line, const char *what, const void *a,
			size_t alen, const void *b, size_t blen)
{
	if (alen == blen && (alen == 0 || memcmp(a, b, alen) == 0))
		return;
	unit_report(file, line, what, a, alen, b, blen);
}

static void unit_str_eq(const char *file, int line, const char *what, const char *a,
			const char *b)
{
	if ((!a && !b) || (a && b && strcmp(a, b) == 0))
		return;
	unit_report(file, line, what, a, a ? strlen(a) : 0, b, b ? strlen(b) : 0);
}

/* A failing check marks the test failed and continues. */
#define CHECK(cond)                                                                \
	do {                                                                       \
		if (!(cond))                                                       \
			unit_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);  \
	} while (0)

/* A failing requirement also ends the test. */
#define REQUIRE(cond)                                                              \
	do {                                                                       \
		if (!(cond)) {                                                     \
			unit_fail(__FILE__, __LINE__, "REQUIRE(%s) failed", #cond); \
			return;                                                    \
		}                                                                  \
	} while (0)

#define CHECK_INT_EQ(a, b)                                                              \
	do {                                                                            \
		intmax_t unit_a_ = (intmax_t)(a), unit_b_ = (intmax_t)(b);              \
		if (unit_a_ != unit_b_)                                                 \
			unit_fail(__FILE__, __LINE__, "%s == %s: got %jd, expected %jd", \
				  #a, #b, unit_a_, unit_b_);                            \
	} while (0)

#define CHECK_UINT_EQ(a, b)                                                             \
	do {                                                                            \
		uintmax_t unit_a_ = (uintmax_t)(a), unit_b_ = (uintmax_t)(b);           \
		if (unit_a_ != unit_b_)                                                 \
			unit_fail(__FILE__, __LINE__, "%s == %s: got %ju, expected %ju", \
				  #a, #b, unit_a_, unit_b_);                            \
	} while (0)

/* NUL-terminated strings; two NULLs are equal. */
#define CHECK_STR_EQ(a, b) (unit_str_eq(__FILE__, __LINE__, #a " and " #b, (a), (b)))

/* Byte ranges: (pointer, length) pairs. */
#define CHECK_MEM_EQ(a, alen, b, blen) \
	(unit_mem_eq(__FILE__, __LINE__, #a " and " #b, (a), (alen), (b), (blen)))

int main(int argc, char **argv)
{
	const char *prog = strrchr(__BASE_FILE__, '/');
	prog = prog ? prog + 1 : __BASE_FILE__;
	int plen = (int)strlen(prog);
	if (plen > 2 && strcmp(prog + plen - 2, ".c") == 0)
		plen -= 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	int passed = 0, failed = 0;
	for (struct unit_test *t = unit_tests; t; t = t->next) {
		if (argc > 1) {
			bool wanted = false;
			for (int i = 1; i < argc; i++)
				wanted = wanted || strcmp(argv[i], t->name) == 0;
			if (!wanted)
				continue;
		}
		unit_current = t->name;
		unit_failed = false;
		t->fn();
		fflush(stdout);
		if (unit_failed) {
			fprintf(stderr, "FAIL %s\n", t->name);
			failed++;
		} else {
			passed++;
		}
	}
	fflush(stderr);
	printf("unit %.*s: %d passed, %d failed\n", plen, prog, passed, failed);
	/* LeakSanitizer checks after main and exits without flushing stdio. */
	fflush(stdout);
	return failed ? 1 : 0;
}

#endif
