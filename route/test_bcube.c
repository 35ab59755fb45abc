/* BCube routing: BuildPathSet's k+1 paths share no link and have the
 * lengths the paper states; BCubeRouting agrees with a naive walk over the
 * topology's adjacency and is a shortest path; the k+1 one-to-all trees
 * span and use no directed link twice.  Over a sweep of n and k, all pairs
 * on small cubes and sampled pairs on large ones. */
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
#include "route/bcube.h"
#include "topo/analyze.h"

/* Pairs checked per cube: all of them up to this many servers squared. */
#define ALL_PAIRS_MAX 70000u
#define SAMPLED_PAIRS 20000u

static struct topo *bcube(uint32_t n, uint32_t k)
{
	struct topo *t;
	char err[256];

	if (topo_build_bcube(&t, n, k, err, sizeof(err)))
		fail_msg("bcube n=%u k=%u: %s", n, k, err);
	return t;
}

static void check_path_set(const struct topo *t, uint32_t a, uint32_t b)
{
	struct route_path ps[TOPO_BCUBE_MAX_K + 1];
	uint32_t k1 = t->p.k + 1, h = route_bcube_hamming(t, a, b);
	uint8_t da[TOPO_BCUBE_MAX_K + 1], db[TOPO_BCUBE_MAX_K + 1];

	assert_int_equal(route_bcube_path_set(t, a, b, ps), k1);
	topo_bcube_digits(t, a, da);
	topo_bcube_digits(t, b, db);
	for (uint32_t i = 0; i < k1; i++) {
		uint32_t want = 2 * (da[i] != db[i] ? h : h + 2);

		if (!route_path_valid(t, &ps[i]) || !route_path_simple(&ps[i]))
			fail_msg("n=%u k=%u %u->%u path %u malformed", t->p.n, t->p.k, a, b, i);
		assert_int_equal(ps[i].nodes[0], t->servers[a]);
		assert_int_equal(route_path_last(&ps[i]), t->servers[b]);
		if (ps[i].len != want)
			fail_msg("n=%u k=%u %u->%u path %u: %u links, want %u", t->p.n,
				 t->p.k, a, b, i, ps[i].len, want);
		for (uint32_t j = 0; j < i; j++)
			if (!route_path_link_disjoint(&ps[i], &ps[j]))
				fail_msg("n=%u k=%u %u->%u paths %u and %u share a link",
					 t->p.n, t->p.k, a, b, i, j);
	}
}

static void test_path_set_sweep(void **state)
{
	struct rng r;

	(void)state;
	rng_seed(&r, 3);
	for (uint32_t n = 2; n <= 8; n++) {
		for (uint32_t k = 0; k <= 3; k++) {
			struct topo *t = bcube(n, k);
			uint64_t N = t->nservers;

			if (N * N <= ALL_PAIRS_MAX) {
				for (uint32_t a = 0; a < N; a++)
					for (uint32_t b = 0; b < N; b++)
						if (a != b)
							check_path_set(t, a, b);
			} else {
				for (uint32_t s = 0; s < SAMPLED_PAIRS; s++) {
					uint32_t a = rng_below(&r, (uint32_t)N);
					uint32_t b = rng_below(&r, (uint32_t)N);

					if (a != b)
						check_path_set(t, a, b);
				}
			}
			topo_free(t);
		}
	}
}

/* The naive BCubeRouting: no digit arithmetic, only the adjacency.  At each
 * step leave through the NIC of the level to correct and scan the switch's
 * ports for the server whose digits are the wanted ones. */
static void naive_routing(const struct topo *t, uint32_t a, uint32_t b,
			  const uint8_t *order, struct route_path *p)
{
	uint8_t cur[TOPO_BCUBE_MAX_K + 1], want[TOPO_BCUBE_MAX_K + 1];
	uint8_t d[TOPO_BCUBE_MAX_K + 1];

	topo_bcube_digits(t, a, cur);
	topo_bcube_digits(t, b, want);
	route_path_start(p, t->servers[a]);
	for (uint32_t i = 0; i <= t->p.k; i++) {
		uint32_t l = order[i], sw, found = UINT32_MAX;

		if (cur[l] == want[l])
			continue;
		cur[l] = want[l];
		assert_true(route_path_step(t, p, l));
		sw = route_path_last(p);
		for (uint32_t port = 0; port < t->nodes[sw].degree; port++) {
			uint32_t peer = topo_port(t, sw, port)->peer;

			topo_bcube_digits(t, t->nodes[peer].index, d);
			if (!memcmp(d, cur, t->p.k + 1))
				found = port;
		}
		assert_int_not_equal(found, UINT32_MAX);
		assert_true(route_path_step(t, p, found));
	}
}

static void random_order(struct rng *r, uint32_t k, uint8_t *order)
{
	for (uint32_t i = 0; i <= k; i++)
		order[i] = (uint8_t)i;
	for (uint32_t i = k; i > 0; i--) {
		uint32_t j = rng_below(r, i + 1);
		uint8_t x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
}

static void test_routing_vs_naive(void **state)
{
	struct rng r;

	(void)state;
	rng_seed(&r, 7);
	for (uint32_t n = 2; n <= 6; n++) {
		for (uint32_t k = 0; k <= 3; k++) {
			struct topo *t = bcube(n, k);
			uint32_t *dist = xmalloc(sizeof(*dist) * t->nnodes);
			uint32_t *queue = xmalloc(sizeof(*queue) * t->nnodes);

			for (uint32_t s = 0; s < 300; s++) {
				uint32_t a = rng_below(&r, t->nservers), b = rng_below(&r, t->nservers);
				uint8_t order[TOPO_BCUBE_MAX_K + 1];
				struct route_path p, q;

				random_order(&r, k, order);
				assert_int_equal(route_bcube_routing(t, a, b, order, &p), 0);
				naive_routing(t, a, b, order, &q);
				assert_int_equal(p.len, q.len);
				assert_memory_equal(p.nodes, q.nodes, sizeof(p.nodes[0]) * (p.len + 1));
				assert_memory_equal(p.links, q.links, sizeof(p.links[0]) * p.len);
				/* BCubeRouting is a shortest path. */
				topo_bfs(t, t->servers[a], NULL, true, dist, queue);
				assert_int_equal(p.len, dist[t->servers[b]]);
				assert_int_equal(p.len, 2 * route_bcube_hamming(t, a, b));
			}
			free(dist);
			free(queue);
			topo_free(t);
		}
	}
}

static void test_routing_rejects(void **state)
{
	struct topo *t = bcube(4, 1), *ft;
	uint8_t dup[2] = { 0, 0 }, big[2] = { 0, 2 }, ok[2] = { 1, 0 };
	struct route_path p, ps[2];
	char err[128];

	(void)state;
	assert_int_equal(route_bcube_routing(t, 0, 5, dup, &p), -EINVAL);
	assert_int_equal(route_bcube_routing(t, 0, 5, big, &p), -EINVAL);
	assert_int_equal(route_bcube_routing(t, 0, 16, ok, &p), -EINVAL);
	assert_int_equal(route_bcube_path_set(t, 3, 3, ps), 0);
	assert_int_equal(topo_build_fattree(&ft, 4, err, sizeof(err)), 0);
	assert_int_equal(route_bcube_routing(ft, 0, 1, ok, &p), -EINVAL);
	assert_int_equal(route_bcube_path_set(ft, 0, 1, ps), 0);
	topo_free(ft);
	topo_free(t);
}

/* Every tree spans (each server's parent chain reaches the root, no loop),
 * every hop is a real server-switch-server hop, and no directed link is used
 * twice over all trees. */
static void check_trees(const struct topo *t, uint32_t root)
{
	struct route_bcube_trees tr;
	uint32_t N = t->nservers;
	uint8_t *used = xcalloc(2 * (size_t)t->nlinks, 1);
	uint64_t hops = 0;

	assert_int_equal(route_bcube_trees_build(t, root, &tr), 0);
	assert_int_equal(tr.ntrees, t->p.k + 1);
	for (uint32_t j = 0; j < tr.ntrees; j++) {
		const uint32_t *par = &tr.parent[(size_t)j * N];
		const uint8_t *lev = &tr.level[(size_t)j * N];

		assert_int_equal(par[root], UINT32_MAX);
		for (uint32_t x = 0; x < N; x++) {
			uint32_t y = x, steps = 0;
			struct route_path p;

			while (y != root) {
				assert_true(par[y] < N);
				y = par[y];
				if (++steps > N)
					fail_msg("tree %u: loop above server %u", j, x);
			}
			/* depth bound stated in docs/routing-paths.md */
			assert_true(steps <= (t->p.n - 1) * (t->p.k + 1) + 1);
			if (x == root)
				continue;
			route_path_start(&p, t->servers[par[x]]);
			if (!route_bcube_hop(t, &p, lev[x], x))
				fail_msg("tree %u: %u -> %u on level %u is no hop", j, par[x],
					 x, lev[x]);
			for (uint32_t i = 0; i < 2; i++) {
				uint32_t dl = route_path_dirlink(t, &p, i);

				if (used[dl]++)
					fail_msg("n=%u k=%u root %u: directed link %u used twice",
						 t->p.n, t->p.k, root, dl);
			}
			hops++;
		}
	}
	/* Each non-root server is reached once per tree. */
	assert_int_equal(hops, (uint64_t)tr.ntrees * (N - 1));
	route_bcube_trees_free(&tr);
	free(used);
}

static void test_trees_sweep(void **state)
{
	struct rng r;

	(void)state;
	rng_seed(&r, 11);
	for (uint32_t n = 2; n <= 7; n++) {
		for (uint32_t k = 0; k <= 3; k++) {
			struct topo *t = bcube(n, k);

			check_trees(t, 0);
			for (int i = 0; i < 3; i++)
				check_trees(t, rng_below(&r, t->nservers));
			topo_free(t);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_set_sweep),
		cmocka_unit_test(test_routing_vs_naive),
		cmocka_unit_test(test_routing_rejects),
		cmocka_unit_test(test_trees_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
