#include "lib/hash.h"

#include <stdlib.h>
#include <string.h>

#define HMAP_MIN_CAP 16
/* Grow past 7/8 full: linear probing stays short below that. */
#define HMAP_LOAD_NUM 7
#define HMAP_LOAD_DEN 8

uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return hash_u64(h, seed);
}

static size_t cap_for(size_t expected)
{
	size_t cap = HMAP_MIN_CAP;

	while (cap * HMAP_LOAD_NUM / HMAP_LOAD_DEN < expected)
		cap <<= 1;
	return cap;
}

void hmap_init(struct hmap *m, size_t expected, uint64_t seed)
{
	m->cap = cap_for(expected);
	m->slots = xmalloc(m->cap * sizeof(*m->slots));
	m->used = xcalloc(m->cap, 1);
	m->count = 0;
	m->seed = seed;
}

void hmap_free(struct hmap *m)
{
	free(m->slots);
	free(m->used);
	memset(m, 0, sizeof(*m));
}

void hmap_clear(struct hmap *m)
{
	memset(m->used, 0, m->cap);
	m->count = 0;
}

static size_t home(const struct hmap *m, uint64_t key)
{
	return (size_t)hash_u64(key, m->seed) & (m->cap - 1);
}

static void grow(struct hmap *m)
{
	struct hmap old = *m;

	m->cap <<= 1;
	m->slots = xmalloc(m->cap * sizeof(*m->slots));
	m->used = xcalloc(m->cap, 1);
	m->count = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.used[i])
			hmap_put(m, old.slots[i].key, old.slots[i].val);
	free(old.slots);
	free(old.used);
}

void hmap_put(struct hmap *m, uint64_t key, uint64_t val)
{
	size_t mask = m->cap - 1, i;

	if ((m->count + 1) * HMAP_LOAD_DEN > m->cap * HMAP_LOAD_NUM)
		grow(m);
	mask = m->cap - 1;
	for (i = home(m, key); m->used[i]; i = (i + 1) & mask) {
		if (m->slots[i].key == key) {
			m->slots[i].val = val;
			return;
		}
	}
	m->used[i] = 1;
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->count++;
}

uint64_t *hmap_get(const struct hmap *m, uint64_t key)
{
	size_t mask = m->cap - 1;

	for (size_t i = home(m, key); m->used[i]; i = (i + 1) & mask)
		if (m->slots[i].key == key)
			return &m->slots[i].val;
	return NULL;
}

bool hmap_del(struct hmap *m, uint64_t key)
{
	size_t mask = m->cap - 1, i, j;

	for (i = home(m, key); m->used[i]; i = (i + 1) & mask)
		if (m->slots[i].key == key)
			break;
	if (!m->used[i])
		return false;
	/* Backward-shift: pull later members of the cluster into the hole when
	 * their home position does not lie cyclically in (i, j]. */
	for (j = (i + 1) & mask; m->used[j]; j = (j + 1) & mask) {
		size_t h = home(m, m->slots[j].key);
		bool stays = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);

		if (stays)
			continue;
		m->slots[i] = m->slots[j];
		i = j;
	}
	m->used[i] = 0;
	m->count--;
	return true;
}

bool hmap_next(const struct hmap *m, size_t *iter, uint64_t *key, uint64_t *val)
{
	for (size_t i = *iter; i < m->cap; i++) {
		if (!m->used[i])
			continue;
		*key = m->slots[i].key;
		*val = m->slots[i].val;
		*iter = i + 1;
		return true;
	}
	return false;
}
