/* Maglev consistent hashing (Eisenbud et al., NSDI 2016), with weights.
 *
 * A table of a prime number M of slots, each naming a backend.  Every
 * backend has a permutation of the slots fixed by its key alone (offset and
 * skip from two hashes of the key); the backends take turns claiming their
 * next free slot until the table is full.  Backends are taken in order of
 * their keys, whatever order the caller gives them in, so every SLB server
 * builds the same table from the same membership.  Weights: a backend of
 * weight w claims a slot in a turn only while its count stays within
 * turn * w / max weight (Envoy's weighted Maglev), so slots are shared in
 * proportion to weight; with equal weights this is the paper's algorithm.
 *
 * No I/O; the table and scratch space are the caller's and the builder's. */
#ifndef PEREGRINE_SLB_MAGLEV_H
#define PEREGRINE_SLB_MAGLEV_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

enum slb_maglev_limits {
	SLB_MAGLEV_MEMBERS_MAX = 65536,	/* backends in one table */
	SLB_MAGLEV_WEIGHT_MAX = 1000000,
	SLB_MAGLEV_SIZE_MAX = 1 << 24,	/* slots (a prime below) */
};

#define SLB_MAGLEV_NONE 0xffffffffu	/* a slot with no backend */

struct slb_maglev_member {
	uint64_t key;		/* stable identity (slb_maglev_key) */
	uint32_t weight;	/* 0: not in the table (draining, down) */
	uint32_t value;		/* what its slots hold: the backend's index */
};

/* The identity of a backend VM: its VDC and IPv4 address. */
uint64_t slb_maglev_key(uint32_t vdc, uint32_t ip);

/* The slot permutation of a key: offset and skip for a table of size m. */
void slb_maglev_perm(uint64_t key, uint32_t m, uint32_t *offset, uint32_t *skip);

bool slb_maglev_is_prime(uint32_t m);

/* Fill table[0..m-1].  0, or -EINVAL: m not a prime in 3 .. SIZE_MAX, n too
 * large, two members with the same key, a weight or value out of range
 * (value must not be SLB_MAGLEV_NONE).  Members of weight 0 are left out;
 * with none left every slot is SLB_MAGLEV_NONE. */
int slb_maglev_build(const struct slb_maglev_member *members, size_t n, uint32_t m,
		     uint32_t *table);

/* Table statistics: slots per value over a table (count_of[value], values
 * below nvalues), and for two tables the share of slots that moved among
 * those that did not belong to `gone` in the old one (percent). */
void slb_maglev_count(const uint32_t *table, uint32_t m, uint32_t *count_of, uint32_t nvalues);
double slb_maglev_moved_pct(const uint32_t *before, const uint32_t *after, uint32_t m,
			    uint32_t gone);

#endif
