/* sim abt: BCube's ABT equals n/(n-1)(N-1) over a sweep of n and k; a
 * fat-tree with destination-based routing and a VL2 Clos with VLB reach N;
 * under every kind of failure each routing's paths are valid and live, and
 * a pair is declared unreachable only when a search over the live links
 * agrees; results replay from the seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "sim/abt.h"
#include "topo/analyze.h"

static struct topo *spec(const char *s)
{
	struct topo *t;
	char err[256];

	if (topo_from_spec(s, &t, err, sizeof(err)))
		fail_msg("%s: %s", s, err);
	return t;
}

static struct sim_abt_result abt(const struct topo *t, enum sim_scheme s, enum sim_routing r,
				 enum sim_fail_kind f, double rate, uint64_t seed)
{
	struct sim_abt_result res;
	char err[256];

	if (sim_abt_run(t, s, r, f, rate, seed, &res, err, sizeof(err)))
		fail_msg("%s: %s", t->spec, err);
	return res;
}

static void test_bcube_formula(void **state)
{
	char s[64];

	(void)state;
	for (uint32_t n = 2; n <= 8; n++) {
		for (uint32_t k = 0; k <= 3; k++) {
			struct topo *t;
			struct sim_abt_result r;
			double want;

			snprintf(s, sizeof(s), "bcube:n=%u,k=%u", n, k);
			t = spec(s);
			if (t->nservers > 520) {	/* keep the sanitizer run short */
				topo_free(t);
				continue;
			}
			r = abt(t, SCHEME_BCUBE, SIM_ROUTE_DEFAULT, SIM_FAIL_NONE, 0, 1);
			want = (double)n / (n - 1) * (t->nservers - 1);
			assert_true(fabs(sim_bcube_abt_formula(t) - want) < 1e-9 * want);
			if (fabs(r.abt_gbps - want) > 1e-9 * want)
				fail_msg("%s: ABT %.12g, formula %.12g", s, r.abt_gbps, want);
			assert_int_equal(r.flows, (uint64_t)t->nservers * (t->nservers - 1));
			assert_int_equal(r.unreachable, 0);
			topo_free(t);
		}
	}
}

/* Every server's NIC is the bottleneck: ABT = N link rates. */
static void test_switch_centric_full(void **state)
{
	static const struct {
		const char *spec;
		enum sim_routing r;
	} cases[] = {
		{ "fattree:k=4", SIM_ROUTE_TWO_LEVEL }, { "fattree:k=6", SIM_ROUTE_TWO_LEVEL },
		{ "fattree:k=8", SIM_ROUTE_TWO_LEVEL }, { "vl2:da=4,di=4,per_tor=20", SIM_ROUTE_VLB },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct topo *t = spec(cases[i].spec);
		struct sim_abt_result r = abt(t, SCHEME_VL2, cases[i].r, SIM_FAIL_NONE, 0, 1);
		double want = t->nservers * (t->links[t->nlinks - 1].mbps / 1000.0);

		if (fabs(r.abt_gbps - want) > 1e-9 * want)
			fail_msg("%s: ABT %.12g, want %.12g", cases[i].spec, r.abt_gbps, want);
		topo_free(t);
	}
}

/* Paths under failures, for every routing and failure kind. */
static void check_paths(const char *sp, enum sim_scheme scheme, enum sim_routing routing,
			enum sim_fail_kind fail)
{
	struct topo *t = spec(sp);
	uint32_t *dist = xmalloc(sizeof(*dist) * t->nnodes);
	uint32_t *queue = xmalloc(sizeof(*queue) * t->nnodes);
	bool relay = topo_servers_relay(t);
	uint64_t placed = 0, cut = 0;
	struct sim_paths n;
	char err[256];

	if (sim_paths_init(&n, t, scheme, routing, fail, 0.1, 3, err, sizeof(err)))
		fail_msg("%s: %s", sp, err);
	if (fail != SIM_FAIL_NONE)
		assert_true(n.failed > 0);
	for (uint32_t d = 0; d < t->nservers; d++) {
		if (n.server_dead[d])
			continue;
		topo_bfs(t, t->servers[d], n.link_dead, relay, dist, queue);
		for (uint32_t s = 0; s < t->nservers; s++) {
			struct route_path p;

			if (s == d || n.server_dead[s])
				continue;
			if (!sim_paths_route(&n, s, d, &p)) {
				cut++;
				/* BFS-based routings find a path whenever one exists. */
				if ((n.routing == SIM_ROUTE_BSR || n.routing == SIM_ROUTE_ECMP) &&
				    dist[t->servers[s]] != TOPO_UNREACHED)
					fail_msg("%s %s: %u->%u reachable but no path", sp,
						 sim_routing_name(n.routing), s, d);
				continue;
			}
			placed++;
			assert_true(route_path_valid(t, &p));
			assert_int_equal(p.nodes[0], t->servers[s]);
			assert_int_equal(route_path_last(&p), t->servers[d]);
			for (uint32_t i = 0; i < p.len; i++)
				assert_false(n.link_dead[p.links[i]]);
			for (uint32_t i = 1; i < p.len && !relay; i++)
				assert_false(topo_is_server(t, p.nodes[i]));
			assert_true(dist[t->servers[s]] <= p.len);
			sim_paths_place(&n, &p);
		}
	}
	assert_int_equal(placed + cut, (uint64_t)n.live_servers * (n.live_servers - 1));
	if (fail == SIM_FAIL_NONE)
		assert_int_equal(cut, 0);
	sim_paths_free(&n);
	free(dist);
	free(queue);
	topo_free(t);
}

static void test_paths_under_failures(void **state)
{
	static const struct {
		const char *spec;
		enum sim_scheme s;
		enum sim_routing r;
	} cases[] = {
		{ "bcube:n=4,k=2", SCHEME_BCUBE, SIM_ROUTE_DEFAULT },
		{ "fattree:k=6", SCHEME_VL2, SIM_ROUTE_DEFAULT },
		{ "fattree:k=6", SCHEME_VL2, SIM_ROUTE_ECMP },
		{ "fattree:k=6", SCHEME_VL2, SIM_ROUTE_TWO_LEVEL },
		{ "fattree:k=6", SCHEME_L2, SIM_ROUTE_DEFAULT },
		{ "fattree:k=6", SCHEME_SPAIN, SIM_ROUTE_DEFAULT },
		{ "vl2:da=6,di=4,per_tor=3", SCHEME_VL2, SIM_ROUTE_DEFAULT },
		{ "leafspine:spines=3,leaves=4,servers=3,homing=2", SCHEME_NETLORD,
		  SIM_ROUTE_DEFAULT },
		{ "fattree:k=6", SCHEME_PEREGRINE, SIM_ROUTE_DEFAULT },
		{ "leafspine:spines=3,leaves=4,servers=3,homing=2", SCHEME_PEREGRINE_DUAL,
		  SIM_ROUTE_DEFAULT },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		for (int f = SIM_FAIL_NONE; f <= SIM_FAIL_LINKS; f++)
			check_paths(cases[i].spec, cases[i].s, cases[i].r, (enum sim_fail_kind)f);
}

static void test_failures_and_seed(void **state)
{
	struct topo *t = spec("bcube:n=4,k=2");
	struct sim_abt_result a, b, c, z;

	(void)state;
	z = abt(t, SCHEME_BCUBE, SIM_ROUTE_DEFAULT, SIM_FAIL_NONE, 0, 1);
	a = abt(t, SCHEME_BCUBE, SIM_ROUTE_DEFAULT, SIM_FAIL_SERVERS, 0.2, 5);
	b = abt(t, SCHEME_BCUBE, SIM_ROUTE_DEFAULT, SIM_FAIL_SERVERS, 0.2, 5);
	c = abt(t, SCHEME_BCUBE, SIM_ROUTE_DEFAULT, SIM_FAIL_SERVERS, 0.1, 5);
	assert_int_equal(a.failed, 13);		/* round(0.2 * 64) */
	assert_int_equal(a.live_servers, 64 - 13);
	assert_int_equal(a.flows + a.unreachable, 51ull * 50);
	assert_true(a.abt_gbps == b.abt_gbps && a.total_gbps == b.total_gbps);
	assert_true(a.abt_gbps < c.abt_gbps && c.abt_gbps < z.abt_gbps);
	topo_free(t);
}

static void test_rejects(void **state)
{
	struct topo *ft = spec("fattree:k=4"), *bc = spec("bcube:n=4,k=1");
	struct sim_abt_result r;
	char err[256];

	(void)state;
	assert_int_not_equal(sim_abt_run(ft, SCHEME_BCUBE, SIM_ROUTE_DEFAULT, SIM_FAIL_NONE, 0,
					 1, &r, err, sizeof(err)), 0);
	assert_int_not_equal(sim_abt_run(bc, SCHEME_VL2, SIM_ROUTE_DEFAULT, SIM_FAIL_NONE, 0,
					 1, &r, err, sizeof(err)), 0);
	assert_int_not_equal(sim_abt_run(bc, SCHEME_VL2, SIM_ROUTE_TWO_LEVEL, SIM_FAIL_NONE, 0,
					 1, &r, err, sizeof(err)), 0);
	topo_free(ft);
	topo_free(bc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bcube_formula),
		cmocka_unit_test(test_switch_centric_full),
		cmocka_unit_test(test_paths_under_failures),
		cmocka_unit_test(test_failures_and_seed),
		cmocka_unit_test(test_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
