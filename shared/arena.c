#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK 16384
#define ARENA_ALIGN 16

struct block {
	struct block *next;
	size_t used;
	size_t cap;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena {
	struct block *head; /* the block being filled; older ones follow */
};

static struct block *block_new(size_t cap)
{
	struct block *b = malloc(sizeof *b + cap);
	if (!b)
		abort();
	b->next = NULL;
	b->used = 0;
	b->cap = cap;
	return b;
}

struct arena *arena_new(void)
{
	struct arena *a = malloc(sizeof *a);
	if (!a)
		abort();
	a->head = block_new(ARENA_BLOCK);
	return a;
}

static void free_blocks(struct block *b)
{
	while (b) {
		struct block *next = b->next;
		free(b);
		b = next;
	}
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	free_blocks(a->head);
	free(a);
}

void arena_reset(struct arena *a)
{
	struct block *first = a->head;
	while (first->next)
		first = first->next;
	/* Keep only the oldest block: it has the default size. Larger ones were
	 * made for one big allocation and should not stay resident. */
	struct block *b = a->head;
	while (b != first) {
		struct block *next = b->next;
		free(b);
		b = next;
	}
	first->used = 0;
	a->head = first;
}

void *arena_alloc(struct arena *a, size_t len)
{
	if (len > SIZE_MAX - ARENA_ALIGN - ARENA_BLOCK)
		abort();
	len = (len + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (len == 0)
		len = ARENA_ALIGN;
	struct block *b = a->head;
	if (b->cap - b->used < len) {
		b = block_new(len > ARENA_BLOCK ? len : ARENA_BLOCK);
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += len;
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	char *p = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
