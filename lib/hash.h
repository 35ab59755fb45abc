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

struct hmap {
	struct hmap_slot *slots;
	uint8_t *used;		/* one byte a slot: occupied or not */
	size_t cap;		/* power of two */
	size_t count;
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

/* Iterate: for (size_t i = 0; hmap_next(m, &i, &k, &v);) */
bool hmap_next(const struct hmap *m, size_t *iter, uint64_t *key, uint64_t *val);

#endif
