/*
 * test_pagecache.c - the per-worker cache of rendered pages
 * (shared/pagecache.c): lookups, replacement, the byte budget and the
 * recency order of evictions, and a random workload checked against a
 * plain model.
 */
#include "pagecache.c"

#include "unit.h"

static struct page_stamp stamp(int64_t version)
{
	return (struct page_stamp){.version = version, .period = 7};
}

static void fresh(size_t budget)
{
	page_cache_clear();
	page_cache_set_budget(budget);
}

TEST(get_returns_what_was_put)
{
	fresh(1 << 20);
	struct cached_page got;
	CHECK(!page_cache_get("c1", &got));
	page_cache_put("c1", stamp(3), "{\"a\": 1}", 8);
	REQUIRE(page_cache_get("c1", &got));
	CHECK_UINT_EQ(got.len, 8);
	CHECK(!memcmp(got.body, "{\"a\": 1}", 8));
	CHECK(got.body[got.len] == '\0');
	CHECK_INT_EQ(got.stamp.version, 3);
	CHECK_INT_EQ(got.stamp.period, 7);
	CHECK(!page_cache_get("c", &got));
	CHECK(!page_cache_get("c10", &got));
	page_cache_clear();
}

TEST(put_replaces_and_remove_forgets)
{
	fresh(1 << 20);
	page_cache_put("k", stamp(1), "old", 3);
	page_cache_put("k", stamp(2), "newer", 5);
	CHECK_UINT_EQ(page_cache_count(), 1);
	struct cached_page got;
	REQUIRE(page_cache_get("k", &got));
	CHECK_INT_EQ(got.stamp.version, 2);
	CHECK_UINT_EQ(got.len, 5);
	CHECK_UINT_EQ(page_cache_bytes(), page_size(1, 5));
	page_cache_remove("k");
	page_cache_remove("k");
	CHECK(!page_cache_get("k", &got));
	CHECK_UINT_EQ(page_cache_count(), 0);
	CHECK_UINT_EQ(page_cache_bytes(), 0);
}

TEST(empty_body_is_a_page)
{
	fresh(1 << 20);
	page_cache_put("empty", stamp(0), "", 0);
	struct cached_page got;
	REQUIRE(page_cache_get("empty", &got));
	CHECK_UINT_EQ(got.len, 0);
	CHECK_STR_EQ(got.body, "");
	page_cache_clear();
}

TEST(least_recently_used_goes_first)
{
	size_t one = page_size(3, 100);
	char body[100];
	memset(body, 'b', sizeof body);
	fresh(one * 8 * 3);
	/* 24 pages fit; touch the first, add one more: the second goes. */
	char key[16];
	for (int i = 0; i < 24; i++) {
		snprintf(key, sizeof key, "k%02d", i);
		page_cache_put(key, stamp(i), body, sizeof body);
	}
	CHECK_UINT_EQ(page_cache_count(), 24);
	struct cached_page got;
	CHECK(page_cache_get("k00", &got));
	page_cache_put("k99", stamp(99), body, sizeof body);
	CHECK(page_cache_bytes() <= one * 8 * 3);
	CHECK(page_cache_get("k00", &got));
	CHECK(!page_cache_get("k01", &got));
	CHECK(page_cache_get("k02", &got));
	CHECK(page_cache_get("k99", &got));
	page_cache_clear();
}

TEST(oversized_pages_are_not_kept)
{
	fresh(8000);
	static char big[1001];
	memset(big, 'x', sizeof big);
	page_cache_put("big", stamp(1), big, sizeof big);
	struct cached_page got;
	CHECK(!page_cache_get("big", &got));
	/* Replacing with a page too big also drops the old one: it is stale. */
	page_cache_put("big", stamp(1), "small", 5);
	CHECK(page_cache_get("big", &got));
	page_cache_put("big", stamp(2), big, sizeof big);
	CHECK(!page_cache_get("big", &got));
	page_cache_clear();
}

TEST(zero_budget_keeps_nothing)
{
	fresh(0);
	page_cache_put("k", stamp(1), "v", 1);
	struct cached_page got;
	CHECK(!page_cache_get("k", &got));
	CHECK_UINT_EQ(page_cache_bytes(), 0);
}

TEST(shrinking_the_budget_evicts)
{
	fresh(1 << 20);
	char key[16];
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof key, "key%d", i);
		page_cache_put(key, stamp(i), "0123456789", 10);
	}
	CHECK_UINT_EQ(page_cache_count(), 200);
	page_cache_set_budget(page_size(6, 10) * 10);
	CHECK(page_cache_bytes() <= page_size(6, 10) * 10);
	struct cached_page got;
	CHECK(page_cache_get("key199", &got));
	CHECK(!page_cache_get("key0", &got));
	page_cache_clear();
}

/* A random mix of puts, gets and removes over few keys (so that pages are
 * replaced and evicted often), compared with a model that remembers the
 * last value put for each key: whatever the cache returns must be that. */
TEST(random_workload_matches_model)
{
	enum { KEYS = 50, STEPS = 20000 };
	static int64_t model[KEYS]; /* the last version put, 0 = removed */
	memset(model, 0, sizeof model);
	fresh(page_size(3, 200) * 16 * 8);
	uint32_t seed = 12345;
	char key[16], body[256];
	for (int step = 1; step <= STEPS; step++) {
		seed = seed * 1103515245u + 12345u;
		int k = (int)((seed >> 8) % KEYS);
		int op = (int)((seed >> 20) % 10);
		snprintf(key, sizeof key, "%d", k);
		if (op < 4) {
			size_t len = (seed >> 3) % 200;
			memset(body, 'a' + (step % 26), len);
			snprintf(body, sizeof body, "%d", step);
			page_cache_put(key, stamp(step), body, len < 8 ? 8 : len);
			model[k] = step;
		} else if (op < 5) {
			page_cache_remove(key);
			model[k] = 0;
		} else {
			struct cached_page got;
			if (page_cache_get(key, &got)) {
				CHECK(model[k] == got.stamp.version);
				char want[16];
				snprintf(want, sizeof want, "%" PRId64, model[k]);
				CHECK(!strncmp(got.body, want, strlen(want)));
			}
		}
		if (page_cache_bytes() > page_size(3, 200) * 16 * 8)
			CHECK(!"over budget");
	}
	size_t n = 0;
	for (struct page *p = cache.oldest; p; p = p->newer)
		n++;
	CHECK_UINT_EQ(n, page_cache_count());
	page_cache_clear();
	CHECK_UINT_EQ(page_cache_count(), 0);
}


