/* A learning switch's forwarding table: at most `cap` keys, the least
 * recently used one evicted to make room (what a hardware MAC table under
 * pressure amounts to: the oldest entries age out first). */
#ifndef PEREGRINE_SIM_LRU_H
#define PEREGRINE_SIM_LRU_H

#include "lib/hash.h"

struct sim_lru {
	uint32_t cap, n, alloc;
	uint32_t head, tail;		/* most and least recently used slot */
	uint64_t *key;
	uint32_t *prev, *next;
	struct hmap idx;		/* key -> slot */
	uint64_t evictions;
};

void sim_lru_init(struct sim_lru *l, uint32_t cap, uint64_t seed);
void sim_lru_free(struct sim_lru *l);
/* Is the key there?  A hit makes it the most recently used. */
bool sim_lru_lookup(struct sim_lru *l, uint64_t key);
/* Learn the key (insert or refresh), evicting the least recently used one
 * when full. */
void sim_lru_learn(struct sim_lru *l, uint64_t key);

#endif
