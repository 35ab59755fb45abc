/* Hashing and a general-purpose hash map from 64-bit keys to 64-bit values.
 *
 * hmap is open addressing with linear probing and backward-shift deletion:
 * no tombstones, one cache line per lookup in the common case.  Keys are
 * mixed with a per-map seed so that keys chosen by a remote peer cannot be
 * steered into one probe chain.  Components with a hot table of their own
 * (the directory, say) may specialise; this one is for everything else.
 */
#ifndef PEREGRINE_LIB_HASH_H
#define PEREGRINE_LIB_HASH_H

#include "lib/common.h"

/* A strong 64-bit mixer (the murmur3 finaliser with a seed). */
static inline uint64_t hash_u64(uint64_t x, uint64_t seed)
{
	x ^= seed;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Hash of a byte string (FNV-1a folded through hash_u64). */
uint64_t hash_bytes(const void *p, size_t n, uint64_t seed);

struct hmap_slot {
	uint64_t key;
	uint64_t val;
};

/* Growing doubles the table incrementally: the old table stays beside the
 * new one, every put and delete moves HMAP_MIGRATE_STEP of its slots over,
 * and lookups look in both until it is empty.  So no single operation pays
 * for rehashing the whole map: rehashing in one go took one put 31 ms at
 * 0.9M keys and 125 ms at 3.7M; now the slowest put of 4M is the one that
 * frees the emptied old table (2 ms at 0.9M keys, 7 ms at 3.7M, the
 * kernel unmapping it).  A map that stops changing mid-way keeps both
 * tables until its next change. */
enum { HMAP_MIGRATE_STEP = 64 };

struct hmap_table {
	struct hmap_slot *slots;
	uint8_t *used;		/* one byte a slot: occupied or not */
	size_t cap;		/* power of two; 0: none */
	size_t count;
};

struct hmap {
	struct hmap_table cur;		/* where puts go */
	struct hmap_table old;		/* being moved over; cap 0 when not */
	size_t migrated;		/* old slots before this one are empty */
	size_t count;			/* keys in both tables */
	uint64_t seed;
};

void hmap_init(struct hmap *m, size_t expected, uint64_t seed);
void hmap_free(struct hmap *m);
void hmap_clear(struct hmap *m);

/* Insert or replace. */
void hmap_put(struct hmap *m, uint64_t key, uint64_t val);
/* Pointer to the value, or NULL. Valid until the next put or delete. */
uint64_t *hmap_get(const struct hmap *m, uint64_t key);
/* True if the key was there. */
bool hmap_del(struct hmap *m, uint64_t key);

/* Bytes of the tables (both while growing). */
size_t hmap_bytes(const struct hmap *m);
/* Start fetching the memory a lookup of key will read. */
static inline void hmap_prefetch(const struct hmap *m, uint64_t key)
{
	uint64_t h = hash_u64(key, m->seed);
	size_t i = (size_t)h & (m->cur.cap - 1);

	__builtin_prefetch(&m->cur.slots[i]);
	__builtin_prefetch(&m->cur.used[i]);
	if (m->old.cap) {
		i = (size_t)h & (m->old.cap - 1);
		__builtin_prefetch(&m->old.slots[i]);
		__builtin_prefetch(&m->old.used[i]);
	}
}
/* Iterate: for (size_t i = 0; hmap_next(m, &i, &k, &v);), with no put or
 * delete in between. */
bool hmap_next(const struct hmap *m, size_t *iter, uint64_t *key, uint64_t *val);

#endif
