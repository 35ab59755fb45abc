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

static void table_alloc(struct hmap_table *t, size_t cap)
{
	t->cap = cap;
	t->slots = xmalloc(cap * sizeof(*t->slots));
	t->used = xcalloc(cap, 1);
	t->count = 0;
}

static void table_free(struct hmap_table *t)
{
	free(t->slots);
	free(t->used);
	memset(t, 0, sizeof(*t));
}

static size_t home(const struct hmap_table *t, uint64_t key, uint64_t seed)
{
	return (size_t)hash_u64(key, seed) & (t->cap - 1);
}

/* key's slot in t, or SIZE_MAX. */
static size_t table_find(const struct hmap_table *t, uint64_t key, uint64_t seed)
{
	size_t mask = t->cap - 1;

	if (!t->cap)
		return SIZE_MAX;
	for (size_t i = home(t, key, seed); t->used[i]; i = (i + 1) & mask)
		if (t->slots[i].key == key)
			return i;
	return SIZE_MAX;
}

/* Insert or replace; true if the key is new to t. */
static bool table_put(struct hmap_table *t, uint64_t key, uint64_t val, uint64_t seed)
{
	size_t mask = t->cap - 1, i;

	for (i = home(t, key, seed); t->used[i]; i = (i + 1) & mask) {
		if (t->slots[i].key == key) {
			t->slots[i].val = val;
			return false;
		}
	}
	t->used[i] = 1;
	t->slots[i].key = key;
	t->slots[i].val = val;
	t->count++;
	return true;
}

/* Empty slot i.  Backward shift: pull later members of the cluster into the
 * hole when their home does not lie cyclically in (i, j].  Members only ever
 * move towards their home, never past an empty slot. */
static void table_remove_at(struct hmap_table *t, size_t i, uint64_t seed)
{
	size_t mask = t->cap - 1;

	for (size_t j = (i + 1) & mask; t->used[j]; j = (j + 1) & mask) {
		size_t h = home(t, t->slots[j].key, seed);
		bool stays = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);

		if (stays)
			continue;
		t->slots[i] = t->slots[j];
		i = j;
	}
	t->used[i] = 0;
	t->count--;
}

/* Move up to `slots` slots of the old table over (all: SIZE_MAX). */
static void migrate(struct hmap *m, size_t slots)
{
	struct hmap_table *o = &m->old;

	while (o->cap && slots-- > 0) {
		size_t i = m->migrated;

		/* A removal may pull a later member into slot i: stay on it
		 * until it is empty. */
		while (o->used[i]) {
			table_put(&m->cur, o->slots[i].key, o->slots[i].val, m->seed);
			table_remove_at(o, i, m->seed);
		}
		if (++m->migrated == o->cap || !o->count) {
			table_free(o);
			m->migrated = 0;
		}
	}
}

void hmap_init(struct hmap *m, size_t expected, uint64_t seed)
{
	memset(m, 0, sizeof(*m));
	table_alloc(&m->cur, cap_for(expected));
	m->seed = seed;
}

void hmap_free(struct hmap *m)
{
	table_free(&m->cur);
	table_free(&m->old);
	memset(m, 0, sizeof(*m));
}

void hmap_clear(struct hmap *m)
{
	table_free(&m->old);
	m->migrated = 0;
	memset(m->cur.used, 0, m->cur.cap);
	m->cur.count = 0;
	m->count = 0;
}

/* Double the table: the current one becomes the old one, moved over by the
 * puts and deletes that follow (a previous move, if any, is finished first;
 * with HMAP_MIGRATE_STEP slots per change it always ends long before). */
static void grow(struct hmap *m)
{
	migrate(m, SIZE_MAX);
	m->old = m->cur;
	m->migrated = 0;
	table_alloc(&m->cur, m->old.cap << 1);
}

void hmap_put(struct hmap *m, uint64_t key, uint64_t val)
{
	migrate(m, HMAP_MIGRATE_STEP);
	if ((m->cur.count + 1) * HMAP_LOAD_DEN > m->cur.cap * HMAP_LOAD_NUM)
		grow(m);
	if (m->old.cap) {
		size_t i = table_find(&m->old, key, m->seed);

		if (i != SIZE_MAX) {	/* replace: the key moves over now */
			table_remove_at(&m->old, i, m->seed);
			m->count--;
		}
	}
	m->count += table_put(&m->cur, key, val, m->seed);
}

uint64_t *hmap_get(const struct hmap *m, uint64_t key)
{
	const struct hmap_table *t = &m->cur;
	uint64_t h = hash_u64(key, m->seed);
	size_t mask = t->cap - 1;

	/* The hot path (lookups): the current table, written out. */
	for (size_t i = (size_t)h & mask; t->used[i]; i = (i + 1) & mask)
		if (t->slots[i].key == key)
			return &t->slots[i].val;
	if (!m->old.cap)
		return NULL;
	t = &m->old;
	mask = t->cap - 1;
	for (size_t i = (size_t)h & mask; t->used[i]; i = (i + 1) & mask)
		if (t->slots[i].key == key)
			return &t->slots[i].val;
	return NULL;
}

bool hmap_del(struct hmap *m, uint64_t key)
{
	struct hmap_table *t = &m->cur;
	size_t i;

	migrate(m, HMAP_MIGRATE_STEP);
	if ((i = table_find(t, key, m->seed)) == SIZE_MAX) {
		t = &m->old;
		if ((i = table_find(t, key, m->seed)) == SIZE_MAX)
			return false;
	}
	table_remove_at(t, i, m->seed);
	m->count--;
	if (t == &m->old && !t->count) {
		table_free(t);
		m->migrated = 0;
	}
	return true;
}

size_t hmap_bytes(const struct hmap *m)
{
	return (m->cur.cap + m->old.cap) * (sizeof(struct hmap_slot) + 1);
}

bool hmap_next(const struct hmap *m, size_t *iter, uint64_t *key, uint64_t *val)
{
	/* Slots of the current table, then of the old one. */
	for (size_t i = *iter; i < m->cur.cap + m->old.cap; i++) {
		const struct hmap_table *t = i < m->cur.cap ? &m->cur : &m->old;
		size_t j = i < m->cur.cap ? i : i - m->cur.cap;

		if (!t->used[j])
			continue;
		*key = t->slots[j].key;
		*val = t->slots[j].val;
		*iter = i + 1;
		return true;
	}
	return false;
}
