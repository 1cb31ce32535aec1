/* wsd/map.c: the id hash map. */
#include "../../wsd/map.c"
#include "unit.h"

TEST(empty_map_finds_nothing)
{
	struct map m = {0};
	CHECK(map_get(&m, 1) == NULL);
	CHECK(map_del(&m, 1) == NULL);
	map_free(&m);
}

TEST(put_get_replace_delete)
{
	struct map m = {0};
	int a, b;
	REQUIRE(map_put(&m, 42, &a) == MSGR_OK);
	CHECK(map_get(&m, 42) == &a);
	REQUIRE(map_put(&m, 42, &b) == MSGR_OK);
	CHECK(map_get(&m, 42) == &b);
	CHECK_UINT_EQ(m.len, 1);
	CHECK(map_del(&m, 42) == &b);
	CHECK(map_get(&m, 42) == NULL);
	CHECK_UINT_EQ(m.len, 0);
	map_free(&m);
}

/* Many keys, deletions in between: every survivor is still found (the
 * backward shift keeps probe runs intact). */
TEST(many_keys_with_deletions)
{
	struct map m = {0};
	static char vals[5000];
	for (int64_t k = 1; k <= 5000; k++)
		REQUIRE(map_put(&m, k * 7919, &vals[k - 1]) == MSGR_OK);
	for (int64_t k = 1; k <= 5000; k += 3)
		CHECK(map_del(&m, k * 7919) == &vals[k - 1]);
	size_t left = 0;
	for (int64_t k = 1; k <= 5000; k++) {
		void *v = map_get(&m, k * 7919);
		if ((k - 1) % 3 == 0) {
			CHECK(v == NULL);
		} else {
			CHECK(v == &vals[k - 1]);
			left++;
		}
	}
	CHECK_UINT_EQ(m.len, left);
	size_t seen = 0;
	for (size_t i = 0; i < m.cap; i++)
		seen += m.slots[i].val != NULL;
	CHECK_UINT_EQ(seen, left);
	map_free(&m);
}

TEST(negative_and_zero_keys)
{
	struct map m = {0};
	int a, b;
	REQUIRE(map_put(&m, 0, &a) == MSGR_OK);
	REQUIRE(map_put(&m, -5, &b) == MSGR_OK);
	CHECK(map_get(&m, 0) == &a);
	CHECK(map_get(&m, -5) == &b);
	map_free(&m);
}
