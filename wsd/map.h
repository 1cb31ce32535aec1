/*
 * map.h - a hash map from 64-bit ids to pointers (open addressing, linear
 * probing, deletion by backward shift: no tombstones).
 *
 * A zeroed struct map is an empty map. Values are never NULL (NULL marks a
 * free slot); the map does not own them.
 */
#ifndef WSD_MAP_H
#define WSD_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct map_slot {
	int64_t key;
	void *val;
};

struct map {
	struct map_slot *slots;
	size_t cap; /* 0 or a power of two */
	size_t len;
};

void *map_get(const struct map *m, int64_t key);
/* Inserts or replaces; val must not be NULL. */
enum msgr_err map_put(struct map *m, int64_t key, void *val) MSGR_WUR;
/* Removes key; returns its value or NULL. */
void *map_del(struct map *m, int64_t key);
void map_free(struct map *m);

/* Iteration: for (size_t i = 0; i < m->cap; i++) if (m->slots[i].val) ...
 * (no map_put or map_del meanwhile). */

#endif
