/* The relay plan of BCube's one-to-all transfer (route/bcube_relay.h),
 * checked against the trees of route/bcube.c: in every tree each server but
 * the root is some server's child exactly once, its plan names that server
 * as its parent on the same level, every child is one server hop away (its
 * address differs in the child's level only), the root reaches every server
 * by following children, and over all trees no server sends on one NIC
 * twice (what gives the k+1 trees their k+1-fold rate).  BCube(4,1) from
 * srv0 also against plans worked out by hand; the parts of a transfer cover
 * every byte once. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/rng.h"
#include "lib/common.h"
#include "route/bcube_relay.h"

static struct topo *bcube(uint32_t n, uint32_t k)
{
	struct topo *t;
	char err[256];

	if (topo_build_bcube(&t, n, k, err, sizeof(err)))
		fail_msg("bcube n=%u k=%u: %s", n, k, err);
	return t;
}

/* x and y differ in digit l and no other. */
static bool one_hop(const struct topo *t, uint32_t x, uint32_t y, uint32_t l)
{
	uint8_t dx[TOPO_BCUBE_MAX_K + 1], dy[TOPO_BCUBE_MAX_K + 1];

	topo_bcube_digits(t, x, dx);
	topo_bcube_digits(t, y, dy);
	for (uint32_t i = 0; i <= t->p.k; i++)
		if ((dx[i] != dy[i]) != (i == l))
			return false;
	return true;
}

static void check_plan(const struct topo *t, uint32_t root)
{
	struct route_bcube_trees tr;
	uint32_t N = t->nservers, k1 = t->p.k + 1;
	struct route_bcube_relay *plan = xcalloc(N, sizeof(*plan));
	uint32_t *seen = xcalloc(N, sizeof(*seen)), *queue = xcalloc(N, sizeof(*queue));
	uint8_t *nic_used = xcalloc((size_t)N * k1, 1);

	assert_int_equal(route_bcube_trees_build(t, root, &tr), 0);
	for (uint32_t j = 0; j < tr.ntrees; j++) {
		uint32_t head = 0, tail = 0;

		memset(seen, 0, N * sizeof(*seen));
		for (uint32_t s = 0; s < N; s++)
			assert_int_equal(route_bcube_relay_plan(&tr, j, s, &plan[s]), 0);
		assert_int_equal(plan[root].parent, UINT32_MAX);
		for (uint32_t s = 0; s < N; s++) {
			const struct route_bcube_relay *p = &plan[s];

			assert_true(p->nchildren <= k1);
			for (uint32_t c = 0; c < p->nchildren; c++) {
				uint32_t x = p->child[c], l = p->child_level[c];

				if (c > 0)
					assert_true(l > p->child_level[c - 1]);
				if (!one_hop(t, s, x, l))
					fail_msg("n=%u k=%u tree %u: %u -> %u is not one hop on level %u",
						 t->p.n, t->p.k, j, s, x, l);
				assert_int_equal(plan[x].parent, s);
				assert_int_equal(plan[x].level, l);
				assert_int_equal(tr.parent[(size_t)j * N + x], s);
				seen[x]++;
				if (nic_used[(size_t)s * k1 + l]++)
					fail_msg("n=%u k=%u root %u: server %u sends on NIC %u in two trees",
						 t->p.n, t->p.k, root, s, l);
			}
		}
		for (uint32_t s = 0; s < N; s++)
			if (seen[s] != (s == root ? 0u : 1u))
				fail_msg("tree %u: server %u is a child %u times", j, s, seen[s]);
		/* the root reaches everyone through the children lists */
		queue[tail++] = root;
		while (head < tail) {
			const struct route_bcube_relay *p = &plan[queue[head++]];

			for (uint32_t c = 0; c < p->nchildren; c++)
				queue[tail++] = p->child[c];
			assert_true(tail <= N);
		}
		assert_int_equal(tail, N);
	}
	route_bcube_trees_free(&tr);
	free(nic_used);
	free(queue);
	free(seen);
	free(plan);
}

static void test_plan_sweep(void **state)
{
	struct rng r;

	(void)state;
	rng_seed(&r, 17);
	for (uint32_t n = 2; n <= 6; n++) {
		for (uint32_t k = 0; k <= 3; k++) {
			struct topo *t = bcube(n, k);

			check_plan(t, 0);
			for (int i = 0; i < 3; i++)
				check_plan(t, rng_below(&r, t->nservers));
			topo_free(t);
		}
	}
}

/* BCube(4,1) from srv0, by hand from the construction in route/bcube.c:
 * tree 0 walks sw0-0 as the chain 0 1 2 3, then every level-1 switch as a
 * chain (1 5 9 13, 2 6 10 14, 3 7 11 15), then 7 -> 4, 11 -> 8, 15 -> 12 on
 * level 0; tree 1 the same with the levels swapped (0 4 8 12 on sw1-0, the
 * rows 4 5 6 7, 8 9 10 11, 12 13 14 15 on level 0, then 13 -> 1 and so on). */
static void test_plan_bcube41(void **state)
{
	static const struct {
		uint32_t tree, server, parent, level, n, child[2], child_level[2];
	} want[] = {
		{ 0, 0, UINT32_MAX, 0, 1, { 1 }, { 0 } },
		{ 1, 0, UINT32_MAX, 0, 1, { 4 }, { 1 } },
		{ 0, 1, 0, 0, 2, { 2, 5 }, { 0, 1 } },
		{ 0, 3, 2, 0, 1, { 7 }, { 1 } },
		{ 0, 7, 3, 1, 2, { 4, 11 }, { 0, 1 } },
		{ 0, 4, 7, 0, 0, { 0 }, { 0 } },
		{ 0, 15, 11, 1, 1, { 12 }, { 0 } },
		{ 1, 13, 12, 0, 2, { 14, 1 }, { 0, 1 } },
		{ 1, 1, 13, 1, 0, { 0 }, { 0 } },
		{ 1, 5, 4, 0, 1, { 6 }, { 0 } },
		{ 1, 12, 8, 1, 1, { 13 }, { 0 } },
	};
	struct topo *t = bcube(4, 1);
	struct route_bcube_trees tr;
	struct route_bcube_relay p;

	(void)state;
	assert_int_equal(route_bcube_trees_build(t, 0, &tr), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(route_bcube_relay_plan(&tr, want[i].tree, want[i].server, &p), 0);
		if (p.parent != want[i].parent || (p.parent != UINT32_MAX && p.level != want[i].level) ||
		    p.nchildren != want[i].n)
			fail_msg("tree %u srv%u: parent %u level %u, %u children", want[i].tree,
				 want[i].server, p.parent, p.level, p.nchildren);
		for (uint32_t c = 0; c < p.nchildren; c++) {
			assert_int_equal(p.child[c], want[i].child[c]);
			assert_int_equal(p.child_level[c], want[i].child_level[c]);
		}
	}
	assert_int_equal(route_bcube_relay_plan(&tr, 2, 0, &p), -EINVAL);
	assert_int_equal(route_bcube_relay_plan(&tr, 0, 16, &p), -EINVAL);
	route_bcube_trees_free(&tr);
	topo_free(t);
}

/* Parts: contiguous, every byte once, sizes within one byte. */
static void test_parts(void **state)
{
	static const uint64_t sizes[] = { 0, 1, 2, 7, 1000, 1000001, (uint64_t)1 << 40 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (uint32_t np = 1; np <= 8; np++) {
			uint64_t next = 0, lo = UINT64_MAX, hi = 0;

			for (uint32_t p = 0; p < np; p++) {
				uint64_t off, len;

				route_bcube_relay_part(sizes[i], np, p, &off, &len);
				assert_int_equal(off, next);
				next = off + len;
				lo = len < lo ? len : lo;
				hi = len > hi ? len : hi;
			}
			assert_int_equal(next, sizes[i]);
			assert_true(hi - lo <= 1);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_sweep),
		cmocka_unit_test(test_plan_bcube41),
		cmocka_unit_test(test_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
