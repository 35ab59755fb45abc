/* SPAIN: every VLAN is a tree, every path lies inside its VLAN, paths are
 * valid, distinct per pair and within the stretch; the greedy packing equals
 * a naive re-implementation (cycle check by search over the whole VLAN) on
 * random graphs and random paths. */
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
#include "route/spain.h"
#include "topo/analyze.h"

static struct topo *spec(const char *s)
{
	struct topo *t;
	char err[256];

	if (topo_from_spec(s, &t, err, sizeof(err)))
		fail_msg("%s: %s", s, err);
	return t;
}

/* Naive tree check: the edge set (a list of link ids) is a tree iff it is
 * one component and links = touched nodes - 1, the component counted by
 * label propagation over the list itself. */
static bool naive_tree(const struct topo *t, const uint32_t *links, uint32_t n)
{
	uint32_t *comp = xmalloc(sizeof(*comp) * t->nnodes), nodes = 0, comps = 0;
	bool changed = true;

	for (uint32_t i = 0; i < t->nnodes; i++)
		comp[i] = UINT32_MAX;
	for (uint32_t i = 0; i < n; i++) {
		const struct topo_link *l = &t->links[links[i]];

		if (comp[l->a] == UINT32_MAX)
			comp[l->a] = l->a, nodes++;
		if (comp[l->b] == UINT32_MAX)
			comp[l->b] = l->b, nodes++;
	}
	/* Label propagation: every node takes the smallest label it touches. */
	while (changed) {
		changed = false;
		for (uint32_t i = 0; i < n; i++) {
			const struct topo_link *l = &t->links[links[i]];
			uint32_t m = MIN(comp[l->a], comp[l->b]);

			changed |= comp[l->a] != m || comp[l->b] != m;
			comp[l->a] = comp[l->b] = m;
		}
	}
	for (uint32_t i = 0; i < t->nnodes; i++)
		comps += comp[i] == i;
	free(comp);
	return n == 0 || (comps == 1 && n + 1 == nodes);
}

static bool vlan_has(const struct route_spain *s, uint32_t v, uint32_t l)
{
	for (uint32_t i = s->vlan_off[v]; i < s->vlan_off[v + 1]; i++)
		if (s->vlan_links[i] == l)
			return true;
	return false;
}

static void check_spain(const char *sp, uint32_t k)
{
	struct topo *t = spec(sp);
	uint32_t *dist = xmalloc(sizeof(*dist) * t->nnodes);
	uint32_t *queue = xmalloc(sizeof(*queue) * t->nnodes), most = 0;
	struct route_spain s;
	char err[256];

	if (route_spain_build(t, k, &s, err, sizeof(err)))
		fail_msg("%s k=%u: %s", sp, k, err);
	assert_true(s.nends >= 2);
	for (uint32_t i = 0; i < s.nends; i++) {
		topo_bfs(t, s.ends[i], NULL, false, dist, queue);
		for (uint32_t j = i + 1; j < s.nends; j++) {
			uint32_t p = route_spain_pair(&s, i, j);
			uint32_t n = s.pair_off[p + 1] - s.pair_off[p];

			assert_true(n >= 1 && n <= k);
			most = MAX(most, n);
			for (uint32_t q = s.pair_off[p]; q < s.pair_off[p + 1]; q++) {
				const struct route_path *pa = &s.paths[q];

				assert_true(route_path_valid(t, pa) && route_path_simple(pa));
				assert_int_equal(pa->nodes[0], s.ends[i]);
				assert_int_equal(route_path_last(pa), s.ends[j]);
				for (uint32_t h = 0; h <= pa->len; h++)
					assert_false(topo_is_server(t, pa->nodes[h]));
				if (q == s.pair_off[p])
					assert_int_equal(pa->len, dist[s.ends[j]]);
				assert_true(pa->len <= dist[s.ends[j]] + ROUTE_SPAIN_STRETCH);
				for (uint32_t r = s.pair_off[p]; r < q; r++)
					assert_false(pa->len == s.paths[r].len &&
						     !memcmp(pa->links, s.paths[r].links,
							     pa->len * sizeof(pa->links[0])));
				/* inside its VLAN */
				assert_true(s.path_vlan[q] < s.nvlans);
				for (uint32_t h = 0; h < pa->len; h++)
					assert_true(vlan_has(&s, s.path_vlan[q], pa->links[h]));
			}
		}
	}
	for (uint32_t v = 0; v < s.nvlans; v++)
		if (!naive_tree(t, &s.vlan_links[s.vlan_off[v]],
				s.vlan_off[v + 1] - s.vlan_off[v]))
			fail_msg("%s k=%u: VLAN %u is not a tree", sp, k, v);
	/* Two paths of one pair close a loop, so they never share a VLAN. */
	assert_true(s.nvlans >= most);
	route_spain_free(&s);
	free(dist);
	free(queue);
	topo_free(t);
}

static void test_spain_builders(void **state)
{
	static const char *const specs[] = {
		"fattree:k=4", "fattree:k=6", "vl2:da=8,di=8,per_tor=2",
		"leafspine:spines=4,leaves=6,servers=2", "leafspine:spines=2,leaves=4,servers=1,homing=2",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++)
		for (uint32_t k = 1; k <= 4; k++)
			check_spain(specs[i], k);
}

/* On a k=4 fat-tree, edge switches in different pods have 4 shortest paths
 * (2 aggregation switches up times 2 cores each) over 2 uplinks per edge
 * switch; SPAIN finds all 4 and spreads them, 2 per uplink. */
static void test_spain_fattree_disjoint(void **state)
{
	struct topo *t = spec("fattree:k=4");
	struct route_spain s;
	char err[128];

	(void)state;
	assert_int_equal(route_spain_build(t, 4, &s, err, sizeof(err)), 0);
	/* edge0 (pod 0) and edge2 (pod 1) */
	{
		uint32_t i = 0, j = 2, p;

		while (s.ends[i] != topo_find(t, "edge0"))
			i++;
		while (s.ends[j] != topo_find(t, "edge2"))
			j++;
		p = route_spain_pair(&s, i, j);
		assert_int_equal(s.pair_off[p + 1] - s.pair_off[p], 4);
		uint32_t *use = xcalloc(t->nlinks, sizeof(*use));

		for (uint32_t a = s.pair_off[p]; a < s.pair_off[p + 1]; a++) {
			assert_int_equal(s.paths[a].len, 4);
			for (uint32_t h = 0; h < 4; h++)
				assert_true(++use[s.paths[a].links[h]] <= 2);
		}
		free(use);
	}
	route_spain_free(&s);
	topo_free(t);
}

static void test_spain_rejects(void **state)
{
	struct topo *t = spec("bcube:n=4,k=1"), *f = spec("fattree:k=4");
	struct route_spain s;
	char err[128];

	(void)state;
	assert_int_equal(route_spain_build(t, 2, &s, err, sizeof(err)), -EINVAL);
	assert_int_equal(route_spain_build(f, 0, &s, err, sizeof(err)), -EINVAL);
	assert_int_equal(route_spain_build(f, ROUTE_SPAIN_MAX_K + 1, &s, err, sizeof(err)),
			 -EINVAL);
	topo_free(f);
	topo_free(t);
}

/* ---- packing against a naive packing ------------------------------------ */

/* The naive greedy: keep each VLAN as a plain list of links; a path fits if
 * the list with the path's new links added is still a tree. */
static uint32_t naive_pack(const struct topo *t, const struct route_path *paths,
			   uint32_t n, uint16_t *vlan_of)
{
	enum { MAXV = 256, MAXL = 4096 };
	static uint32_t lists[MAXV][MAXL];
	uint32_t len[MAXV] = { 0 }, nv = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t v;

		for (v = 0; v <= nv && v < MAXV; v++) {
			uint32_t save = len[v];

			for (uint32_t h = 0; h < paths[i].len; h++) {
				bool dup = false;

				for (uint32_t x = 0; x < len[v]; x++)
					dup |= lists[v][x] == paths[i].links[h];
				if (!dup)
					lists[v][len[v]++] = paths[i].links[h];
			}
			if (naive_tree(t, lists[v], len[v]))
				break;
			len[v] = save;
		}
		assert_true(v < MAXV);
		nv = MAX(nv, v + 1);
		vlan_of[i] = (uint16_t)v;
	}
	return nv;
}

/* A random simple path by a self-avoiding random walk. */
static bool random_path(const struct topo *t, struct rng *r, struct route_path *p)
{
	uint32_t want = 1 + rng_below(r, 6);

	route_path_start(p, rng_below(r, t->nnodes));
	while (p->len < want) {
		uint32_t at = route_path_last(p), deg = t->nodes[at].degree, port;
		bool seen = false;

		if (!deg)
			return false;
		port = rng_below(r, deg);
		for (uint32_t i = 0; i <= p->len; i++)
			seen |= p->nodes[i] == topo_port(t, at, port)->peer;
		if (seen)
			return p->len > 0;
		route_path_step(t, p, port);
	}
	return true;
}

static void test_pack_vs_naive(void **state)
{
	struct route_path *paths = xmalloc(sizeof(*paths) * 300);
	uint16_t fast[300], slow[300];
	struct rng r;

	(void)state;
	rng_seed(&r, 17);
	for (int g = 0; g < 150; g++) {
		struct topo *t = topo_new(FAM_FILE, "random");
		uint32_t n = 4 + rng_below(&r, 12), links = n + rng_below(&r, 3 * n), np = 0;
		char name[16];

		for (uint32_t i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "s%u", i);
			topo_add_switch(t, ROLE_SWITCH, 1, 64, TOPO_DEFAULT_FIB, name);
		}
		for (uint32_t i = 0; i < links; i++) {
			uint32_t a = rng_below(&r, n), b = rng_below(&r, n);

			if (a != b)
				topo_add_link(t, a, b, 1000);	/* parallel links too */
		}
		topo_finish(t);
		for (int i = 0; i < 300; i++)
			if (random_path(t, &r, &paths[np]))
				np++;
		uint32_t nf = route_spain_pack(t, paths, np, 4094, fast);
		uint32_t ns = naive_pack(t, paths, np, slow);

		assert_int_equal(nf, ns);
		assert_memory_equal(fast, slow, np * sizeof(fast[0]));
		topo_free(t);
	}
	free(paths);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spain_builders),
		cmocka_unit_test(test_spain_fattree_disjoint),
		cmocka_unit_test(test_spain_rejects),
		cmocka_unit_test(test_pack_vs_naive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
