/*
 * pagecache.h - rendered answers kept in a worker's memory, each with the
 * stamp of the data it was rendered from.
 *
 * Rendering a page of history is most of what the database does for a
 * read (JSON of 50 messages with their files and reactions), while telling
 * whether that page changed is one index lookup. So a worker keeps the
 * pages it rendered, asks the database only for the current stamp, and
 * answers from memory when the stamp is the one it kept. Nothing is ever
 * served without that check: the cache saves rendering, not the question
 * "is this still true", so there is no invalidation to miss and a write is
 * visible to the very next read, whichever worker serves it.
 *
 * Each process has its own cache (the workers share nothing), bounded in
 * bytes; the least recently used pages go first. Not thread-safe.
 */
#ifndef MSGR_PAGECACHE_H
#define MSGR_PAGECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a page was rendered from; two renders with equal stamps are equal. */
struct page_stamp {
	int64_t version; /* bumped by every change the page shows */
	int64_t period;  /* the time slot of anything time-limited in it */
};

struct cached_page {
	const char *body; /* valid until the next page_cache_put/remove/clear */
	size_t len;
	struct page_stamp stamp;
};

/* Sets the budget in bytes (keys, bodies and a header per page); 0 turns the
 * cache off. Shrinking evicts at once. */
void page_cache_set_budget(size_t max_bytes);

/* Looks key up and marks it recently used; false when absent. */
bool page_cache_get(const char *key, struct cached_page *out);

/* Stores (or replaces) key's page. A page larger than an eighth of the
 * budget is not kept, nor is anything when memory runs out: a cache that
 * cannot store only costs renders. */
void page_cache_put(const char *key, struct page_stamp stamp, const char *body, size_t len);

void page_cache_remove(const char *key);
void page_cache_clear(void);

/* Bytes in use, and pages held. */
size_t page_cache_bytes(void);
size_t page_cache_count(void);

#endif
