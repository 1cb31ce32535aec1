#include "sqlparam.h"

#include <stdio.h>
#include <string.h>

const char *sqlparam_int(char buf[SQLPARAM_INT_LEN], int64_t v)
{
	snprintf(buf, SQLPARAM_INT_LEN, "%lld", (long long)v);
	return buf;
}

const char *sqlparam_int_array(struct arena *a, const int64_t *v, size_t n)
{
	/* Each value takes at most 20 characters and its comma. */
	char *out = arena_alloc(a, n * (SQLPARAM_INT_LEN - 3) + 3);
	size_t o = 0;
	out[o++] = '{';
	for (size_t i = 0; i < n; i++) {
		char one[SQLPARAM_INT_LEN];
		size_t len = strlen(sqlparam_int(one, v[i]));
		if (i)
			out[o++] = ',';
		memcpy(out + o, one, len);
		o += len;
	}
	out[o++] = '}';
	out[o] = '\0';
	return out;
}
