/* Properties of the tree pairs (route/trees.h) on every builder over a sweep
 * of sizes and on random graphs:
 *   - following egress ports from any node reaches P with no loop, exactly
 *     when the node is connected to P;
 *   - for every server P and every link e, every node still connected to P
 *     without e reaches P over tree 0 or tree 1 as they were (exhaustive on
 *     small topologies, sampled on large ones);
 *   - the two paths of a pair share only links that cut the source off;
 *   - the shared per-group representation equals a naive per-server
 *     computation; the inverse map equals a scan of every path;
 *   - route_verify agrees, and catches corrupted trees.
 */
#include "route/test_common.h"
#include "route/trees_int.h"

struct tc_scratch {
	uint32_t *dist, *queue, *p0, *p1;
	uint8_t *dead;
};

static void tc_scratch_init(struct tc_scratch *s, const struct topo *t)
{
	s->dist = xmalloc((size_t)t->nnodes * sizeof(uint32_t));
	s->queue = xmalloc((size_t)t->nnodes * sizeof(uint32_t));
	s->p0 = xmalloc(((size_t)t->nnodes + 2) * sizeof(uint32_t));
	s->p1 = xmalloc(((size_t)t->nnodes + 2) * sizeof(uint32_t));
	s->dead = xcalloc(t->nlinks + 1, 1);
}

static void tc_scratch_free(struct tc_scratch *s)
{
	free(s->dist);
	free(s->queue);
	free(s->p0);
	free(s->p1);
	free(s->dead);
}

/* Loop freedom, reachability and disjointness toward P from every node. */
static void check_paths_to(const struct topo *t, const struct route_trees *rt, uint32_t P,
			   struct tc_scratch *s)
{
	uint32_t *dist = s->dist;

	topo_bfs(t, P, NULL, topo_servers_relay(t), dist, s->queue);
	for (uint32_t v = 0; v < t->nnodes; v++) {
		uint32_t n0, n1;
		bool conn = dist[v] != TOPO_UNREACHED;

		if (v == P)
			continue;
		n0 = route_tree_path(rt, v, P, 0, s->p0, t->nnodes + 1);
		n1 = route_tree_path(rt, v, P, 1, s->p1, t->nnodes + 1);
		if ((n0 != UINT32_MAX) != conn || (n1 != UINT32_MAX) != conn)
			fail_msg("%s: %s -> %s connected=%d but tree paths %d/%d", t->spec,
				 t->nodes[v].name, t->nodes[P].name, conn, n0 != UINT32_MAX,
				 n1 != UINT32_MAX);
		if (!conn)
			continue;
		/* Shared links must cut v off from P (naive: search without it). */
		for (uint32_t i = 0; i < n0; i++) {
			if (!tc_has(s->p1, n1, s->p0[i]))
				continue;
			s->dead[s->p0[i]] = 1;
			if (tc_connected(t, s->dead, P, v, dist, s->queue))
				fail_msg("%s: %s -> %s: both trees use %s-%s, which is avoidable",
					 t->spec, t->nodes[v].name, t->nodes[P].name,
					 t->nodes[t->links[s->p0[i]].a].name,
					 t->nodes[t->links[s->p0[i]].b].name);
			s->dead[s->p0[i]] = 0;
			topo_bfs(t, P, NULL, topo_servers_relay(t), dist, s->queue);
		}
	}
}

/* The fail-over property: with link e gone, every node still connected to
 * P has a tree path that avoids e. */
static void check_failover_to(const struct topo *t, const struct route_trees *rt, uint32_t P,
			      uint32_t e, struct tc_scratch *s)
{
	s->dead[e] = 1;
	topo_bfs(t, P, s->dead, topo_servers_relay(t), s->dist, s->queue);
	s->dead[e] = 0;
	for (uint32_t v = 0; v < t->nnodes; v++) {
		uint32_t n0, n1;

		if (v == P || s->dist[v] == TOPO_UNREACHED)
			continue;
		n0 = route_tree_path(rt, v, P, 0, s->p0, t->nnodes + 1);
		n1 = route_tree_path(rt, v, P, 1, s->p1, t->nnodes + 1);
		if ((n0 == UINT32_MAX || tc_has(s->p0, n0, e)) &&
		    (n1 == UINT32_MAX || tc_has(s->p1, n1, e)))
			fail_msg("%s: without %s-%s, %s still reaches %s but neither tree does",
				 t->spec, t->nodes[t->links[e].a].name, t->nodes[t->links[e].b].name,
				 t->nodes[v].name, t->nodes[P].name);
	}
}

/* Every property; exhaustive over servers and links up to `budget`
 * (server, link) pairs, else a seeded sample of that many. */
static void check_topology(const struct topo *t, uint32_t budget, uint64_t seed)
{
	struct route_trees *rt = tc_trees(t, NULL, NULL);
	struct route_verify v;
	struct tc_scratch s;
	struct rng r;
	uint64_t all = (uint64_t)t->nservers * t->nlinks;

	tc_scratch_init(&s, t);
	rng_seed(&r, seed);
	route_verify(rt, &v);
	if (!v.ok)
		fail_msg("%s: route_verify: %s", t->spec, v.first_error);
	route_verify_free(&v);
	for (uint32_t i = 0; i < t->nservers && i < budget; i++) {
		uint32_t P = t->servers[all <= budget ? i : rng_below(&r, t->nservers)];

		check_paths_to(t, rt, P, &s);
	}
	if (all <= budget) {
		for (uint32_t i = 0; i < t->nservers; i++)
			for (uint32_t e = 0; e < t->nlinks; e++)
				check_failover_to(t, rt, t->servers[i], e, &s);
	} else {
		for (uint32_t k = 0; k < budget; k++)
			check_failover_to(t, rt, t->servers[rng_below(&r, t->nservers)],
					  rng_below(&r, t->nlinks), &s);
	}
	tc_scratch_free(&s);
	route_trees_free(rt);
}

static void check_spec(const char *sp, uint32_t budget)
{
	struct topo *t = tc_spec(sp);

	check_topology(t, budget, 7);
	topo_free(t);
}

static void test_leafspine_sweep(void **state)
{
	char s[128];

	(void)state;
	for (uint32_t sp = 1; sp <= 3; sp++)
		for (uint32_t l = 2; l <= 6; l += 2)
			for (uint32_t m = 1; m <= 3; m++)
				for (uint32_t h = 1; h <= 2; h++) {
					snprintf(s, sizeof(s), "leafspine:spines=%u,leaves=%u,"
						 "servers=%u,homing=%u", sp, l, m, h);
					check_spec(s, 4000);
				}
	check_spec("leafspine:spines=4,leaves=20,servers=10,homing=2", 300);
}

static void test_vl2_sweep(void **state)
{
	(void)state;
	check_spec("vl2:da=4,di=4,per_tor=2", 4000);
	check_spec("vl2:da=4,di=6,per_tor=1", 4000);
	check_spec("vl2:da=8,di=4,per_tor=3", 2000);
	check_spec("vl2:da=12,di=12,per_tor=4", 200);
}

static void test_fattree_sweep(void **state)
{
	(void)state;
	check_spec("fattree:k=2", 4000);
	check_spec("fattree:k=4", 4000);
	check_spec("fattree:k=6", 300);
}

static void test_bcube_sweep(void **state)
{
	(void)state;
	check_spec("bcube:n=2,k=0", 4000);
	check_spec("bcube:n=2,k=1", 4000);
	check_spec("bcube:n=3,k=1", 4000);
	check_spec("bcube:n=2,k=2", 4000);
	check_spec("bcube:n=4,k=1", 2000);
	check_spec("bcube:n=3,k=2", 300);
}

static void test_random_graphs(void **state)
{
	struct rng r;

	(void)state;
	rng_seed(&r, 42);
	for (int round = 0; round < 300; round++) {
		struct topo *t = tc_random(&r, round % 3 == 0, round % 4 == 1);

		check_topology(t, 100000, (uint64_t)round);
		topo_free(t);
	}
}

/* 2-edge-connected random graphs: no pair may share any link at all. */
static void test_random_2ec_disjoint(void **state)
{
	struct rng r;

	(void)state;
	rng_seed(&r, 5);
	for (int round = 0; round < 100; round++) {
		struct topo *t = tc_random(&r, true, round & 1);
		struct route_trees *rt = tc_trees(t, NULL, NULL);
		struct route_verify v;

		route_verify(rt, &v);
		assert_true(v.ok);
		assert_int_equal(v.nshared, 0);
		route_verify_free(&v);
		route_trees_free(rt);
		topo_free(t);
	}
}

/* The attachment-group representation against a naive computation of each
 * server's trees on its own. */
static void check_groups_vs_naive(const struct topo *t)
{
	struct route_trees *rt = tc_trees(t, NULL, NULL);
	uint16_t *out = xmalloc((size_t)ROUTE_TREES * rt->nrelay * sizeof(uint16_t));

	for (uint32_t i = 0; i < t->nservers; i++) {
		uint32_t P = t->servers[i], links[ROUTE_MAX_ATT];
		struct rt_group g;

		memset(&g, 0, sizeof(g));
		if (rt->relay) {
			g.natt = (uint8_t)t->nodes[P].degree;
			for (uint32_t k = 0; k < g.natt; k++)
				g.att[k] = rt->rel_of_node[topo_port(t, P, k)->peer];
			rt_group_key(&g, P);
		} else {
			g.natt = rt_server_links(rt, P, links);
			for (uint32_t k = 0; k < g.natt; k++)
				g.att[k] = rt->rel_of_node[topo_other(t, links[k], P)];
			rt_group_key(&g, RT_NONE);
		}
		rt_compute(rt, &g, false, out);
		for (unsigned tr = 0; tr < ROUTE_TREES; tr++)
			for (uint32_t v = 0; v < rt->nrelay; v++) {
				uint16_t e = out[tr * rt->nrelay + v], want = ROUTE_NO_PORT;
				uint32_t node = rt->node_of_rel[v];

				if (e != ROUTE_NO_PORT && !RT_IS_DELIVER(e))
					want = e;
				else if (e != ROUTE_NO_PORT)
					want = rt_port_on(t, rt->relay ? topo_port(t, P, e - RT_DELIVER0)->link
								       : links[e - RT_DELIVER0], node);
				if (node != P)
					assert_int_equal(route_egress(rt, node, P, tr), want);
			}
	}
	free(out);
	route_trees_free(rt);
}

static void test_groups_vs_naive(void **state)
{
	static const char *const specs[] = {
		"leafspine:spines=3,leaves=6,servers=3,homing=2", "leafspine:spines=2,leaves=4,servers=2",
		"vl2:da=4,di=6,per_tor=3", "fattree:k=4", "bcube:n=3,k=1",
	};
	struct rng r;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
		struct topo *t = tc_spec(specs[i]);

		check_groups_vs_naive(t);
		topo_free(t);
	}
	rng_seed(&r, 11);
	for (int round = 0; round < 100; round++) {
		struct topo *t = tc_random(&r, round & 1, round % 3 == 0);

		check_groups_vs_naive(t);
		topo_free(t);
	}
}

static void user_collect(void *arg, uint32_t owner, unsigned tree)
{
	uint8_t *seen = arg;

	seen[owner * 2 + tree]++;
}

/* route_link_users against a scan of every tree from every node. */
static void check_inverse_map(const struct topo *t, const struct route_trees *rt)
{
	uint8_t *seen = xcalloc((size_t)t->nnodes * 2, 1);

	for (uint32_t l = 0; l < t->nlinks; l++) {
		uint64_t n;

		memset(seen, 0, (size_t)t->nnodes * 2);
		n = route_link_users(rt, l, user_collect, seen);
		assert_int_equal(n, route_link_users(rt, l, NULL, NULL));
		for (uint32_t i = 0; i < t->nservers; i++) {
			uint32_t P = t->servers[i];

			for (unsigned tr = 0; tr < ROUTE_TREES; tr++) {
				bool uses = false;

				for (uint32_t v = 0; v < t->nnodes && !uses; v++) {
					uint16_t p;

					if (v == P || (topo_is_server(t, v) && !topo_servers_relay(t)))
						continue;
					p = route_egress(rt, v, P, tr);
					uses = p != ROUTE_NO_PORT && topo_port(t, v, p)->link == l;
				}
				if (seen[P * 2 + tr] != uses)
					fail_msg("%s: link %u, %s tree %u: map says %u, scan says %d",
						 t->spec, l, t->nodes[P].name, tr, seen[P * 2 + tr], uses);
			}
		}
	}
	free(seen);
}

static void test_inverse_map_vs_scan(void **state)
{
	static const char *const specs[] = {
		"leafspine:spines=2,leaves=4,servers=2,homing=2", "vl2:da=4,di=4,per_tor=2",
		"fattree:k=4", "bcube:n=3,k=1",
	};
	struct rng r;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
		struct topo *t = tc_spec(specs[i]);
		struct route_trees *rt = tc_trees(t, NULL, NULL);

		check_inverse_map(t, rt);
		route_trees_free(rt);
		topo_free(t);
	}
	rng_seed(&r, 9);
	for (int round = 0; round < 60; round++) {
		struct topo *t = tc_random(&r, round & 1, round % 3 == 0);
		struct route_trees *rt = tc_trees(t, NULL, NULL);

		check_inverse_map(t, rt);
		route_trees_free(rt);
		topo_free(t);
	}
}

/* route_verify must fail when a tree is broken by hand. */
static void test_verify_catches_corruption(void **state)
{
	struct topo *t = tc_spec("leafspine:spines=2,leaves=4,servers=2,homing=2");
	struct route_trees *rt = tc_trees(t, NULL, NULL);
	struct route_verify v;
	struct rt_group *g = &rt->groups[0];
	uint32_t spine0 = rt->rel_of_node[topo_find(t, "spine0")];
	uint16_t saved;

	route_verify(rt, &v);
	assert_true(v.ok);
	route_verify_free(&v);
	/* Make spine0's tree-1 entry equal its tree-0 entry: paths now share. */
	saved = g->base[rt->nrelay + spine0];
	g->base[rt->nrelay + spine0] = g->base[spine0];
	route_verify(rt, &v);
	assert_false(v.ok);
	assert_true(v.avoidable > 0 || v.loops > 0);
	route_verify_free(&v);
	/* A loop: spine0 sends tree 0 back down a leaf that sends up again. */
	g->base[rt->nrelay + spine0] = saved;
	g->base[spine0] = ROUTE_NO_PORT;
	route_verify(rt, &v);
	assert_false(v.ok);
	assert_true(v.unspanned > 0);
	route_verify_free(&v);
	route_trees_free(rt);
	topo_free(t);
}

/* Same topology, same trees: the computation is a function of its input. */
static void test_deterministic(void **state)
{
	struct topo *t = tc_spec("vl2:da=8,di=8,per_tor=3");
	struct route_trees *a = tc_trees(t, NULL, NULL), *b = tc_trees(t, NULL, NULL);

	(void)state;
	for (uint32_t i = 0; i < t->nservers; i++)
		for (uint32_t v = 0; v < t->nnodes; v++)
			for (unsigned tr = 0; tr < ROUTE_TREES; tr++)
				assert_int_equal(route_egress(a, v, t->servers[i], tr),
						 route_egress(b, v, t->servers[i], tr));
	route_trees_free(a);
	route_trees_free(b);
	topo_free(t);
}

static void test_fib_counts(void **state)
{
	struct topo *t = tc_spec("leafspine:spines=2,leaves=4,servers=3,homing=2");
	struct route_trees *rt = tc_trees(t, NULL, NULL);
	struct route_stats st;

	(void)state;
	route_stats(rt, &st);
	/* spanning trees: every switch holds both MACs of every server */
	assert_int_equal(st.fib_max, 2 * t->nservers);
	assert_true(st.fib_mean == 2.0 * t->nservers);
	assert_int_equal(st.servers, t->nservers);
	assert_int_equal(st.groups, 2);
	for (uint32_t j = 0; j < t->nswitches; j++)
		assert_int_equal(route_fib_count(rt, t->switches[j]), 2 * t->nservers);
	route_trees_free(rt);
	topo_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leafspine_sweep),
		cmocka_unit_test(test_vl2_sweep),
		cmocka_unit_test(test_fattree_sweep),
		cmocka_unit_test(test_bcube_sweep),
		cmocka_unit_test(test_random_graphs),
		cmocka_unit_test(test_random_2ec_disjoint),
		cmocka_unit_test(test_groups_vs_naive),
		cmocka_unit_test(test_inverse_map_vs_scan),
		cmocka_unit_test(test_verify_catches_corruption),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_fib_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
