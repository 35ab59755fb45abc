/* Load-balanced direct routes (route/lbtree.h) on random traffic matrices:
 *   - the maximum link utilisation never grows, whether the base routes are
 *     the trees or shortest paths, and it does fall on some inputs;
 *   - the reported loads and utilisations equal a naive sum over every
 *     pair's final route, and every route is a valid path to its server;
 *   - all direct routes toward one MAC form a tree: one entry per node, and
 *     every direct path follows the entries;
 *   - no switch holds more entries than its capacity, and pairs that cannot
 *     fit are counted;
 *   - N and Z limit the pairs considered.
 */
#include <math.h>

#include "route/lbtree.h"
#include "route/test_common.h"

static struct route_lb_pair *random_pairs(struct rng *r, const struct topo *t, uint32_t n)
{
	struct route_lb_pair *p = xcalloc(n, sizeof(*p));

	for (uint32_t i = 0; i < n; i++) {
		double u = rng_double(r);

		p[i].src = t->servers[rng_below(r, t->nservers)];
		p[i].dst = t->servers[rng_below(r, t->nservers)];
		p[i].mac = p[i].dst * 4 + rng_below(r, 4);	/* a VM on dst */
		p[i].rate = 1 + 2000 * u * u * u;
	}
	return p;
}

struct entry_map {
	uint32_t *mac, *node;
	uint16_t *port;
	uint32_t n;
};

static uint16_t entry_port(const struct route_lb_result *res, uint32_t mac, uint32_t node)
{
	for (uint32_t i = 0; i < res->nentries; i++)
		if (res->entries[i].mac == mac && res->entries[i].node == node)
			return res->entries[i].port;
	return ROUTE_NO_PORT;
}

static void check_loads(const struct topo *t, const struct route_lb_pair *p, uint32_t n,
			const struct route_lb_result *res)
{
	double *load = xcalloc((size_t)t->nlinks * 2 + 1, sizeof(double)), worst = 0, sum = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t v = p[i].src;

		for (uint32_t k = res->path_start[i]; k < res->path_start[i + 1]; k++) {
			uint32_t l = res->path[k];

			if (t->links[l].a != v && t->links[l].b != v)
				fail_msg("pair %u: path not contiguous", i);
			if (v != p[i].src && topo_is_server(t, v) && !topo_servers_relay(t))
				fail_msg("pair %u: path relays through a server", i);
			load[2 * l + (t->links[l].a == v ? 0 : 1)] += p[i].rate;
			v = topo_other(t, l, v);
		}
		if (res->path_start[i + 1] > res->path_start[i] && v != p[i].dst)
			fail_msg("pair %u: path ends at %s, not %s", i, t->nodes[v].name,
				 t->nodes[p[i].dst].name);
	}
	for (uint32_t a = 0; a < 2 * t->nlinks; a++) {
		double u = load[a] / t->links[a / 2].mbps;

		if (fabs(load[a] - res->load[a]) > 1e-6 * (1 + load[a]))
			fail_msg("link direction %u: load %f, reported %f", a, load[a], res->load[a]);
		worst = MAX(worst, u);
		sum += u;
	}
	assert_true(fabs(worst - res->max_after) < 1e-9 * (1 + worst));
	assert_true(fabs(sum / (2 * t->nlinks) - res->mean_after) < 1e-9 * (1 + sum));
	free(load);
}

/* Direct routes toward one MAC form a tree that the direct paths follow. */
static void check_trees(const struct topo *t, const struct route_lb_pair *p, uint32_t n,
			const struct route_lb_result *res)
{
	for (uint32_t i = 0; i < res->nentries; i++)
		for (uint32_t j = i + 1; j < res->nentries; j++)
			if (res->entries[i].mac == res->entries[j].mac &&
			    res->entries[i].node == res->entries[j].node)
				fail_msg("two entries for MAC %u on %s", res->entries[i].mac,
					 t->nodes[res->entries[i].node].name);
	for (uint32_t i = 0; i < res->nentries; i++) {
		uint32_t v = res->entries[i].node, mac = res->entries[i].mac, steps = 0, dst = mac / 4;
		uint16_t port;

		while ((port = entry_port(res, mac, v)) != ROUTE_NO_PORT) {
			v = topo_port(t, v, port)->peer;
			if (++steps > t->nnodes)
				fail_msg("MAC %u: entries loop", mac);
		}
		if (v != dst)
			fail_msg("MAC %u: entries from %s end at %s", mac,
				 t->nodes[res->entries[i].node].name, t->nodes[v].name);
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t v = p[i].src;

		if (!res->direct[i])
			continue;
		for (uint32_t k = res->path_start[i]; k < res->path_start[i + 1]; k++) {
			uint32_t l = res->path[k];
			bool holds = !topo_is_server(t, v) || topo_servers_relay(t);

			if (holds && entry_port(res, p[i].mac, v) !=
				     (t->links[l].a == v ? t->links[l].pa : t->links[l].pb))
				fail_msg("pair %u: direct path leaves the MAC's tree at %s", i,
					 t->nodes[v].name);
			v = topo_other(t, l, v);
		}
	}
}

static void check_fib(const struct topo *t, const struct route_trees *rt,
		      const uint32_t *used, const struct route_lb_result *res)
{
	uint32_t *cnt = xcalloc(t->nnodes, sizeof(uint32_t));

	for (uint32_t i = 0; i < res->nentries; i++)
		cnt[res->entries[i].node]++;
	for (uint32_t v = 0; v < t->nnodes; v++) {
		uint32_t base = used ? used[v] : route_fib_count(rt, v);

		if (!topo_is_server(t, v) && cnt[v] && base + cnt[v] > t->nodes[v].fib_cap)
			fail_msg("%s: %u + %u entries over capacity %u", t->nodes[v].name, base,
				 cnt[v], t->nodes[v].fib_cap);
	}
	free(cnt);
}

static const char *const lb_specs[] = {
	"leafspine:spines=2,leaves=4,servers=3,homing=2",
	"leafspine:spines=3,leaves=6,servers=2,homing=1",
	"vl2:da=4,di=4,per_tor=3",
	"fattree:k=4",
	"bcube:n=3,k=1",
};

static void test_random_matrices(void **state)
{
	struct rng r;
	uint32_t improved = 0, runs = 0;

	(void)state;
	rng_seed(&r, 99);
	for (size_t s = 0; s < ARRAY_SIZE(lb_specs); s++) {
		struct topo *t = tc_spec(lb_specs[s]);
		struct route_trees *rt = tc_trees(t, NULL, NULL);

		for (int round = 0; round < 40; round++) {
			uint32_t n = 1 + rng_below(&r, 60);
			struct route_lb_pair *p = random_pairs(&r, t, n);
			struct route_lb_opts o = { .base = round & 1 ? ROUTE_LB_SHORTEST : ROUTE_LB_TREES,
						   .max_pairs = round % 3 ? 0 : 10 };
			struct route_lb_result res;
			char err[128];

			if (route_lb(rt, p, n, &o, &res, err, sizeof(err)))
				fail_msg("%s", err);
			if (res.max_after > res.max_before + 1e-12)
				fail_msg("%s: max utilisation %f -> %f", t->spec, res.max_before,
					 res.max_after);
			improved += res.max_after < res.max_before - 1e-9;
			runs++;
			assert_true(res.routed + res.kept + res.skipped_fib + res.unreachable <=
				    res.considered);
			check_loads(t, p, n, &res);
			check_trees(t, p, n, &res);
			check_fib(t, rt, NULL, &res);
			route_lb_result_free(&res);
			free(p);
		}
		route_trees_free(rt);
		topo_free(t);
	}
	/* load balancing must actually do something on some inputs */
	assert_true(improved > runs / 10);
}

/* Tables with little room: nothing over capacity, the rest counted. */
static void test_fib_capacity(void **state)
{
	struct topo *t = tc_spec("leafspine:spines=4,leaves=4,servers=3,homing=1");
	struct route_trees *rt = tc_trees(t, NULL, NULL);
	uint32_t *used = xcalloc(t->nnodes, sizeof(uint32_t));
	struct rng r;

	(void)state;
	rng_seed(&r, 4);
	for (int mode = 0; mode < 3; mode++) {
		struct route_lb_pair *p = random_pairs(&r, t, 40);
		struct route_lb_opts o = { .fib_used = used };
		struct route_lb_result res;
		char err[128];

		for (uint32_t v = 0; v < t->nnodes; v++) {
			uint32_t cap = t->nodes[v].fib_cap;

			used[v] = mode == 0 ? cap : mode == 1 ? cap - 2 : cap - 1 - (v & 1);
		}
		assert_int_equal(route_lb(rt, p, 40, &o, &res, err, sizeof(err)), 0);
		check_fib(t, rt, used, &res);
		check_trees(t, p, 40, &res);
		if (mode == 0) {
			assert_int_equal(res.routed, 0);
			assert_int_equal(res.nentries, 0);
		}
		assert_true(res.skipped_fib > 0);
		route_lb_result_free(&res);
		free(p);
	}
	free(used);
	route_trees_free(rt);
	topo_free(t);
}

static void test_limits(void **state)
{
	struct topo *t = tc_spec("leafspine:spines=2,leaves=4,servers=3,homing=2");
	struct route_trees *rt = tc_trees(t, NULL, NULL);
	struct route_lb_pair p[4];
	struct route_lb_opts o = { .max_pairs = 2 };
	struct route_lb_result res;
	char err[128];

	(void)state;
	for (uint32_t i = 0; i < 4; i++)
		p[i] = (struct route_lb_pair){ t->servers[i], t->servers[11 - i], 100 + i,
					       (double)(1000 >> i) };
	assert_int_equal(route_lb(rt, p, 4, &o, &res, err, sizeof(err)), 0);
	assert_int_equal(res.considered, 2);
	route_lb_result_free(&res);
	/* rates 1000, 500, 250, 125: 60% of 1875 needs the first two */
	o = (struct route_lb_opts){ .share = 0.6 };
	assert_int_equal(route_lb(rt, p, 4, &o, &res, err, sizeof(err)), 0);
	assert_int_equal(res.considered, 2);
	route_lb_result_free(&res);
	o.share = 0.5;
	assert_int_equal(route_lb(rt, p, 4, &o, &res, err, sizeof(err)), 0);
	assert_int_equal(res.considered, 1);
	route_lb_result_free(&res);
	/* one MAC on two servers is refused */
	p[1].mac = p[0].mac;
	assert_int_not_equal(route_lb(rt, p, 4, &o, &res, err, sizeof(err)), 0);
	p[1].mac = 101;
	p[2].rate = -1;
	assert_int_not_equal(route_lb(rt, p, 4, &o, &res, err, sizeof(err)), 0);
	route_trees_free(rt);
	topo_free(t);
}

/* Heavy flows that the trees put on one uplink get spread over the spines. */
static void test_spreads_hot_link(void **state)
{
	struct topo *t = tc_spec("leafspine:spines=4,leaves=2,servers=8,homing=1");
	struct route_trees *rt = tc_trees(t, NULL, NULL);
	struct route_lb_pair p[8];
	struct route_lb_opts o = { .base = ROUTE_LB_TREES };
	struct route_lb_result res;
	char err[128];

	(void)state;
	/* srv0..7 on leaf0 send 8G each to srv8..15 on leaf1: the destinations
	 * share one attachment group, so one tree, so one 40G uplink carries 64G */
	for (uint32_t i = 0; i < 8; i++)
		p[i] = (struct route_lb_pair){ t->servers[i], t->servers[8 + i],
					       t->servers[8 + i] * 4, 8000 };
	assert_int_equal(route_lb(rt, p, 8, &o, &res, err, sizeof(err)), 0);
	assert_true(res.max_before > 1.5);
	assert_true(res.max_after <= 0.8 + 1e-9);	/* only the access links remain */
	check_loads(t, p, 8, &res);
	check_trees(t, p, 8, &res);
	route_lb_result_free(&res);
	route_trees_free(rt);
	topo_free(t);
}

/* The weighted cost of a path from src, with loads and the pair's rate. */
static double path_cost(const struct topo *t, const double *load, uint32_t src,
			const uint32_t *links, uint32_t n, double rate)
{
	double c = 0;
	uint32_t v = src;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t l = links[i];

		c += (load[2 * l + (t->links[l].a == v ? 0 : 1)] + rate) / t->links[l].mbps + 1e-6;
		v = topo_other(t, l, v);
	}
	return c;
}

/* Naive Bellman-Ford: cheapest cost from src to dst with servers other than
 * the two ends not relaying (unless the family relays). */
static double naive_cheapest(const struct topo *t, const double *load, uint32_t src,
			     uint32_t dst, double rate)
{
	double *d = xmalloc(t->nnodes * sizeof(double)), best;

	for (uint32_t v = 0; v < t->nnodes; v++)
		d[v] = INFINITY;
	d[src] = 0;
	for (uint32_t round = 0; round < t->nnodes; round++)
		for (uint32_t l = 0; l < t->nlinks; l++)
			for (int dir = 0; dir < 2; dir++) {
				uint32_t a = dir ? t->links[l].b : t->links[l].a, b = topo_other(t, l, a);

				if (a != src && topo_is_server(t, a) && !topo_servers_relay(t))
					continue;
				if (d[a] + (load[2 * l + dir] + rate) / t->links[l].mbps + 1e-6 < d[b])
					d[b] = d[a] + (load[2 * l + dir] + rate) / t->links[l].mbps + 1e-6;
			}
	best = d[dst];
	free(d);
	return best;
}

/* The heaviest pair, routed first onto empty direct trees, takes a cheapest
 * path (Dijkstra from the destination against Bellman-Ford from the source). */
static void test_first_route_is_cheapest(void **state)
{
	struct rng r;
	uint32_t checked = 0;

	(void)state;
	rng_seed(&r, 123);
	for (size_t s = 0; s < ARRAY_SIZE(lb_specs); s++) {
		struct topo *t = tc_spec(lb_specs[s]);
		struct route_trees *rt = tc_trees(t, NULL, NULL);

		for (int round = 0; round < 30; round++) {
			uint32_t n = 2 + rng_below(&r, 30), top = 0;
			struct route_lb_pair *p = random_pairs(&r, t, n);
			struct route_lb_opts o = { .max_pairs = 1, .base = round & 1 };
			struct route_lb_result res;
			double *load = xcalloc((size_t)t->nlinks * 2, sizeof(double));
			char err[128];

			for (uint32_t i = 1; i < n; i++)
				if (p[i].rate > p[top].rate)
					top = i;
			assert_int_equal(route_lb(rt, p, n, &o, &res, err, sizeof(err)), 0);
			if (res.direct[top]) {
				/* loads when it was routed: everyone else's (base) route */
				for (uint32_t i = 0; i < n; i++) {
					uint32_t v = p[i].src;

					for (uint32_t k = res.path_start[i];
					     i != top && k < res.path_start[i + 1]; k++) {
						uint32_t l = res.path[k];

						load[2 * l + (t->links[l].a == v ? 0 : 1)] += p[i].rate;
						v = topo_other(t, l, v);
					}
				}
				double got = path_cost(t, load, p[top].src, res.path + res.path_start[top],
						       res.path_start[top + 1] - res.path_start[top],
						       p[top].rate);
				double want = naive_cheapest(t, load, p[top].src, p[top].dst, p[top].rate);

				if (fabs(got - want) > 1e-9 * (1 + want))
					fail_msg("%s: first direct route costs %.9f, cheapest %.9f",
						 t->spec, got, want);
				checked++;
			}
			route_lb_result_free(&res);
			free(load);
			free(p);
		}
		route_trees_free(rt);
		topo_free(t);
	}
	assert_true(checked > 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_matrices),
		cmocka_unit_test(test_fib_capacity),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_spreads_hot_link),
		cmocka_unit_test(test_first_route_is_cheapest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
