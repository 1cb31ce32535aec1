#include "pagecache.h"

#include <stdlib.h>
#include <string.h>

struct page {
	struct page *chain;            /* the next page of the same bucket */
	struct page *newer, *older;    /* the recency list */
	uint64_t hash;
	struct page_stamp stamp;
	size_t key_len, body_len;
	char data[];                   /* key, NUL, body, NUL */
};

static struct {
	struct page **buckets;
	size_t nbuckets; /* a power of two, or 0 before the first put */
	size_t count;
	size_t bytes;
	size_t budget;
	struct page *newest, *oldest;
} cache;

/* FNV-1a: keys are short and made by us, so no flooding to defend from. */
static uint64_t hash_key(const char *key, size_t len)
{
	uint64_t h = 14695981039346656037u;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211u;
	}
	return h;
}

static size_t page_size(size_t key_len, size_t body_len)
{
	return sizeof(struct page) + key_len + body_len + 2;
}

static struct page **slot_of(const char *key, size_t len, uint64_t h)
{
	if (!cache.nbuckets)
		return NULL;
	struct page **slot = &cache.buckets[h & (cache.nbuckets - 1)];
	while (*slot && !((*slot)->hash == h && (*slot)->key_len == len &&
			  !memcmp((*slot)->data, key, len)))
		slot = &(*slot)->chain;
	return slot;
}

static void unlink_recency(struct page *p)
{
	if (p->newer)
		p->newer->older = p->older;
	else
		cache.newest = p->older;
	if (p->older)
		p->older->newer = p->newer;
	else
		cache.oldest = p->newer;
	p->newer = p->older = NULL;
}

static void push_newest(struct page *p)
{
	p->older = cache.newest;
	p->newer = NULL;
	if (cache.newest)
		cache.newest->newer = p;
	cache.newest = p;
	if (!cache.oldest)
		cache.oldest = p;
}

static void drop(struct page **slot)
{
	struct page *p = *slot;
	*slot = p->chain;
	unlink_recency(p);
	cache.count--;
	cache.bytes -= page_size(p->key_len, p->body_len);
	free(p);
}

static void drop_oldest(void)
{
	struct page *p = cache.oldest;
	drop(slot_of(p->data, p->key_len, p->hash));
}

/* Keeps chains short: doubles the table when pages outnumber buckets. A
 * failed allocation keeps the old table, only slower. */
static void grow_if_crowded(void)
{
	if (cache.count < cache.nbuckets)
		return;
	size_t n = cache.nbuckets ? cache.nbuckets * 2 : 64;
	struct page **b = calloc(n, sizeof *b);
	if (!b)
		return;
	for (size_t i = 0; i < cache.nbuckets; i++) {
		struct page *p = cache.buckets[i];
		while (p) {
			struct page *next = p->chain;
			struct page **head = &b[p->hash & (n - 1)];
			p->chain = *head;
			*head = p;
			p = next;
		}
	}
	free(cache.buckets);
	cache.buckets = b;
	cache.nbuckets = n;
}

void page_cache_set_budget(size_t max_bytes)
{
	cache.budget = max_bytes;
	while (cache.bytes > cache.budget)
		drop_oldest();
}

bool page_cache_get(const char *key, struct cached_page *out)
{
	size_t len = strlen(key);
	struct page **slot = slot_of(key, len, hash_key(key, len));
	if (!slot || !*slot)
		return false;
	struct page *p = *slot;
	unlink_recency(p);
	push_newest(p);
	out->body = p->data + p->key_len + 1;
	out->len = p->body_len;
	out->stamp = p->stamp;
	return true;
}

void page_cache_remove(const char *key)
{
	size_t len = strlen(key);
	struct page **slot = slot_of(key, len, hash_key(key, len));
	if (slot && *slot)
		drop(slot);
}

void page_cache_put(const char *key, struct page_stamp stamp, const char *body, size_t len)
{
	page_cache_remove(key);
	size_t key_len = strlen(key);
	size_t size = page_size(key_len, len);
	if (size > cache.budget / 8)
		return;
	struct page *p = malloc(size);
	if (!p)
		return;
	while (cache.bytes + size > cache.budget)
		drop_oldest();
	grow_if_crowded();
	if (!cache.nbuckets) {
		free(p);
		return;
	}
	*p = (struct page){.hash = hash_key(key, key_len), .stamp = stamp,
			   .key_len = key_len, .body_len = len};
	memcpy(p->data, key, key_len + 1);
	memcpy(p->data + key_len + 1, body, len);
	p->data[key_len + 1 + len] = '\0';
	struct page **head = &cache.buckets[p->hash & (cache.nbuckets - 1)];
	p->chain = *head;
	*head = p;
	push_newest(p);
	cache.count++;
	cache.bytes += size;
}

void page_cache_clear(void)
{
	while (cache.oldest)
		drop_oldest();
	free(cache.buckets);
	cache.buckets = NULL;
	cache.nbuckets = 0;
}

size_t page_cache_bytes(void)
{
	return cache.bytes;
}

size_t page_cache_count(void)
{
	return cache.count;
}
