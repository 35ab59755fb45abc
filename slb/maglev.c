/* Maglev table builder (see maglev.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/common.h"
#include "slb/maglev.h"

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t slb_maglev_key(uint32_t vdc, uint32_t ip)
{
	return (uint64_t)vdc << 32 | ip;
}

void slb_maglev_perm(uint64_t key, uint32_t m, uint32_t *offset, uint32_t *skip)
{
	*offset = (uint32_t)(mix64(key ^ 0x9e3779b97f4a7c15ull) % m);
	*skip = (uint32_t)(mix64(key ^ 0xc2b2ae3d27d4eb4full) % (m - 1)) + 1;
}

bool slb_maglev_is_prime(uint32_t m)
{
	if (m < 2)
		return false;
	for (uint32_t d = 2; (uint64_t)d * d <= m; d++)
		if (m % d == 0)
			return false;
	return true;
}

struct slot_state {
	uint64_t key;
	uint32_t weight, value;
	uint32_t offset, skip;
	uint32_t next;		/* position in its permutation */
	uint32_t count;		/* slots claimed */
};

static int by_key(const void *a, const void *b)
{
	uint64_t x = ((const struct slot_state *)a)->key, y = ((const struct slot_state *)b)->key;

	return (x > y) - (x < y);
}

/* The members that take part, sorted by key; -EINVAL on bad input. */
static int prepare(const struct slb_maglev_member *members, size_t n, uint32_t m,
		   struct slot_state *st, size_t *nst, uint32_t *maxw)
{
	size_t k = 0;

	*maxw = 0;
	for (size_t i = 0; i < n; i++) {
		const struct slb_maglev_member *b = &members[i];

		if (b->weight > SLB_MAGLEV_WEIGHT_MAX || b->value == SLB_MAGLEV_NONE)
			return -EINVAL;
		if (!b->weight)
			continue;
		st[k] = (struct slot_state){ .key = b->key, .weight = b->weight, .value = b->value };
		slb_maglev_perm(b->key, m, &st[k].offset, &st[k].skip);
		*maxw = MAX(*maxw, b->weight);
		k++;
	}
	qsort(st, k, sizeof(*st), by_key);
	for (size_t i = 1; i < k; i++)
		if (st[i].key == st[i - 1].key)
			return -EINVAL;
	*nst = k;
	return 0;
}

/* Claim s's next free slot in its permutation. */
static uint32_t claim(struct slot_state *s, uint32_t m, uint32_t *table)
{
	uint32_t c;

	do {
		c = (uint32_t)(((uint64_t)s->skip * s->next + s->offset) % m);
		s->next++;
	} while (table[c] != SLB_MAGLEV_NONE);
	table[c] = s->value;
	s->count++;
	return c;
}

int slb_maglev_build(const struct slb_maglev_member *members, size_t n, uint32_t m,
		     uint32_t *table)
{
	struct slot_state *st;
	size_t nst;
	uint32_t filled = 0, maxw;
	int err;

	if (m < 3 || m > SLB_MAGLEV_SIZE_MAX || !slb_maglev_is_prime(m) ||
	    n > SLB_MAGLEV_MEMBERS_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < m; i++)
		table[i] = SLB_MAGLEV_NONE;
	st = xcalloc(n ? n : 1, sizeof(*st));
	err = prepare(members, n, m, st, &nst, &maxw);
	if (err || !nst)
		goto out;
	for (uint64_t turn = 1; filled < m; turn++) {
		for (size_t i = 0; i < nst && filled < m; i++) {
			if (turn * st[i].weight < (uint64_t)st[i].count * maxw)
				continue;
			claim(&st[i], m, table);
			filled++;
		}
	}
out:
	free(st);
	return err;
}

void slb_maglev_count(const uint32_t *table, uint32_t m, uint32_t *count_of, uint32_t nvalues)
{
	memset(count_of, 0, nvalues * sizeof(*count_of));
	for (uint32_t i = 0; i < m; i++)
		if (table[i] < nvalues)
			count_of[table[i]]++;
}

double slb_maglev_moved_pct(const uint32_t *before, const uint32_t *after, uint32_t m,
			    uint32_t gone)
{
	uint32_t kept = 0, moved = 0;

	for (uint32_t i = 0; i < m; i++) {
		if (before[i] == gone)
			continue;
		kept++;
		moved += after[i] != before[i];
	}
	return kept ? 100.0 * moved / kept : 0.0;
}
