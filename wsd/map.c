#include "map.h"

#include <stdlib.h>

/* splitmix64's finaliser: ids are sequential, the slots must not be. */
static size_t slot_of(const struct map *m, int64_t key)
{
	uint64_t x = (uint64_t)key;
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (size_t)x & (m->cap - 1);
}

void *map_get(const struct map *m, int64_t key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i].val)
			return NULL;
		if (m->slots[i].key == key)
			return m->slots[i].val;
	}
}

static void insert(struct map *m, int64_t key, void *val)
{
	size_t i = slot_of(m, key);
	while (m->slots[i].val && m->slots[i].key != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->slots[i].val)
		m->len++;
	m->slots[i].key = key;
	m->slots[i].val = val;
}

static enum msgr_err grow(struct map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	if (cap > SIZE_MAX / sizeof(struct map_slot))
		return MSGR_ERR_NOMEM;
	struct map_slot *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return MSGR_ERR_NOMEM;
	struct map old = *m;
	m->slots = slots;
	m->cap = cap;
	m->len = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].val)
			insert(m, old.slots[i].key, old.slots[i].val);
	free(old.slots);
	return MSGR_OK;
}

enum msgr_err map_put(struct map *m, int64_t key, void *val)
{
	/* Keep the load at most 1/2: probes stay short. */
	if ((m->len + 1) * 2 > m->cap) {
		enum msgr_err err = grow(m);
		if (err != MSGR_OK)
			return err;
	}
	insert(m, key, val);
	return MSGR_OK;
}

void *map_del(struct map *m, int64_t key)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1, i = slot_of(m, key);
	while (m->slots[i].val && m->slots[i].key != key)
		i = (i + 1) & mask;
	void *val = m->slots[i].val;
	if (!val)
		return NULL;
	/* Backward shift: move later members of the run into the hole when
	 * their home slot is not after it (cyclically). */
	size_t hole = i;
	for (size_t j = (i + 1) & mask; m->slots[j].val; j = (j + 1) & mask) {
		size_t home = slot_of(m, m->slots[j].key);
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			m->slots[hole] = m->slots[j];
			hole = j;
		}
	}
	m->slots[hole].val = NULL;
	m->len--;
	return val;
}

void map_free(struct map *m)
{
	if (!m)
		return;
	free(m->slots);
	*m = (struct map){0};
}
