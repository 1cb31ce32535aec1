/*
 * test_sqlparam.c - integers as text parameters (shared/sqlparam.c).
 */
#include "sqlparam.c"

#include "unit.h"

TEST(int_in_decimal)
{
	char buf[SQLPARAM_INT_LEN];
	CHECK_STR_EQ(sqlparam_int(buf, 0), "0");
	CHECK_STR_EQ(sqlparam_int(buf, 42), "42");
	CHECK_STR_EQ(sqlparam_int(buf, INT64_MAX), "9223372036854775807");
	CHECK_STR_EQ(sqlparam_int(buf, INT64_MIN), "-9223372036854775808");
}

TEST(array_literal)
{
	struct arena *a = arena_new();
	CHECK_STR_EQ(sqlparam_int_array(a, NULL, 0), "{}");
	const int64_t one[] = {7};
	CHECK_STR_EQ(sqlparam_int_array(a, one, 1), "{7}");
	const int64_t three[] = {3, 1, 2};
	CHECK_STR_EQ(sqlparam_int_array(a, three, 3), "{3,1,2}");
	/* The longest values fill the room reserved for them exactly. */
	const int64_t wide[] = {INT64_MIN, INT64_MIN, INT64_MAX};
	CHECK_STR_EQ(sqlparam_int_array(a, wide, 3),
		     "{-9223372036854775808,-9223372036854775808,9223372036854775807}");
	arena_free(a);
}
