/*
 * arena.h - a per-request memory pool.
 *
 * Everything a request allocates comes from its arena, which the server
 * resets after each FastCGI request: handlers never free. Allocation failure
 * aborts the process (a worker is restarted by its master): a request that
 * cannot get a few kilobytes cannot answer anyway.
 */
#ifndef MSGR_ARENA_H
#define MSGR_ARENA_H

#include <stddef.h>

struct arena;

struct arena *arena_new(void);
void arena_free(struct arena *a);
/* Releases every allocation at once; keeps the first block for reuse. */
void arena_reset(struct arena *a);
/* Returns len bytes aligned for any type; never NULL. */
void *arena_alloc(struct arena *a, size_t len);
/* Returns a NUL-terminated copy of the len bytes at s. */
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
