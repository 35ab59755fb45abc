/* VLB and equal-cost paths: VLB paths are valid up-down paths through the
 * chosen intermediate and avoid failed links; every intermediate gets its
 * share; the equal-cost set between two switches equals a naive enumeration
 * of all shortest paths, on the builders and on random graphs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "route/vlb.h"
#include "topo/analyze.h"

#define ECMP_MAX 4096

static struct topo *spec(const char *s)
{
	struct topo *t;
	char err[256];

	if (topo_from_spec(s, &t, err, sizeof(err)))
		fail_msg("%s: %s", s, err);
	return t;
}

/* Levels rise strictly to the intermediate and fall strictly after it.  The
 * path need not be simple: between ToRs of one aggregation pair it may climb
 * and descend through the same aggregation switch, as VLB does. */
static void check_vlb(const struct route_vlb *v, const struct route_path *p, uint32_t src,
		      uint32_t dst, uint32_t inter, const uint8_t *link_dead)
{
	const struct topo *t = v->t;
	uint32_t peak = 0;

	if (!route_path_valid(t, p))
		fail_msg("%s: %u->%u malformed", t->spec, src, dst);
	assert_int_equal(p->nodes[0], t->servers[src]);
	assert_int_equal(route_path_last(p), t->servers[dst]);
	for (uint32_t i = 0; i < p->len; i++)
		assert_false(link_dead && link_dead[p->links[i]]);
	for (uint32_t i = 1; i < p->len; i++)
		assert_false(topo_is_server(t, p->nodes[i]));
	if (inter == UINT32_MAX) {
		/* Under a common switch. */
		assert_int_equal(p->len, 2);
		return;
	}
	assert_int_equal(t->nodes[inter].level, v->top_level);
	while (p->nodes[peak] != inter) {
		peak++;
		assert_true(peak <= p->len);
	}
	for (uint32_t i = 0; i < peak; i++)
		assert_true(t->nodes[p->nodes[i]].level < t->nodes[p->nodes[i + 1]].level);
	for (uint32_t i = peak; i < p->len; i++)
		assert_true(t->nodes[p->nodes[i]].level > t->nodes[p->nodes[i + 1]].level);
	assert_int_equal(peak, v->top_level);
	assert_int_equal(p->len, 2 * v->top_level);
}

static void vlb_sweep(const char *s, double fail_rate, uint32_t flows)
{
	struct topo *t = spec(s);
	struct route_vlb v;
	uint32_t *hits, direct = 0, noroute = 0;
	uint8_t *dead = NULL;
	struct rng r;

	rng_seed(&r, 42);
	assert_int_equal(route_vlb_init(&v, t), 0);
	assert_true(v.nints > 0);
	hits = xcalloc(t->nnodes, sizeof(*hits));
	if (fail_rate > 0) {
		dead = xcalloc(t->nlinks, 1);
		for (uint32_t l = 0; l < t->nlinks; l++)
			dead[l] = rng_double(&r) < fail_rate;
	}
	for (uint32_t f = 0; f < flows; f++) {
		uint32_t a = rng_below(&r, t->nservers), b = rng_below(&r, t->nservers);
		uint32_t inter;
		struct route_path p;
		int ret;

		if (a == b)
			continue;
		ret = route_vlb_path(&v, &r, a, b, dead, &p, &inter);
		if (ret == -ENOENT && dead) {
			noroute++;
			continue;
		}
		assert_int_equal(ret, 0);
		check_vlb(&v, &p, a, b, inter, dead);
		if (inter == UINT32_MAX)
			direct++;
		else
			hits[inter]++;
	}
	/* Without failures every intermediate carries its share (within 25%
	 * of the mean over the flows that bounce). */
	if (!dead) {
		double mean = (double)(flows - direct) / v.nints;

		for (uint32_t i = 0; i < v.nints; i++)
			if (hits[v.ints[i]] < 0.75 * mean || hits[v.ints[i]] > 1.25 * mean)
				fail_msg("%s: intermediate %s got %u of mean %.0f flows", s,
					 t->nodes[v.ints[i]].name, hits[v.ints[i]], mean);
	} else {
		assert_true(noroute < flows);
	}
	free(hits);
	free(dead);
	route_vlb_free(&v);
	topo_free(t);
}

static void test_vlb_builders(void **state)
{
	(void)state;
	vlb_sweep("vl2:da=8,di=8,per_tor=4", 0, 40000);
	vlb_sweep("vl2:da=4,di=6,per_tor=3", 0, 20000);
	vlb_sweep("fattree:k=4", 0, 20000);
	vlb_sweep("fattree:k=6", 0, 40000);
	vlb_sweep("leafspine:spines=4,leaves=6,servers=3", 0, 20000);
	vlb_sweep("leafspine:spines=3,leaves=4,servers=2,homing=2", 0, 20000);
}

static void test_vlb_failures(void **state)
{
	(void)state;
	vlb_sweep("vl2:da=8,di=8,per_tor=4", 0.1, 20000);
	vlb_sweep("fattree:k=6", 0.15, 20000);
	vlb_sweep("leafspine:spines=4,leaves=6,servers=3", 0.2, 20000);
}

static void test_vlb_rejects(void **state)
{
	struct topo *t = spec("bcube:n=4,k=1"), *v2 = spec("vl2:da=4,di=4,per_tor=2");
	struct route_vlb v;
	struct route_path p;
	uint32_t inter;
	struct rng r;

	(void)state;
	rng_seed(&r, 1);
	assert_int_equal(route_vlb_init(&v, t), -EINVAL);
	assert_int_equal(route_vlb_init(&v, v2), 0);
	assert_int_equal(route_vlb_path(&v, &r, 0, 0, NULL, &p, &inter), -EINVAL);
	assert_int_equal(route_vlb_path(&v, &r, 0, v2->nservers, NULL, &p, &inter), -EINVAL);
	route_vlb_free(&v);
	topo_free(v2);
	topo_free(t);
}

/* ---- equal-cost paths against a naive enumeration ------------------------ */

/* Every simple path of exactly `len` links from at to b relaying through
 * switches only: plain DFS, no distances. */
static void naive_all(const struct topo *t, const uint8_t *dead, uint32_t b, uint32_t len,
		      struct route_path *cur, struct route_path *out, uint32_t *n)
{
	uint32_t at = route_path_last(cur);

	if (cur->len == len) {
		if (at == b) {
			assert_true(*n < ECMP_MAX);
			out[(*n)++] = *cur;
		}
		return;
	}
	if (at == b || (cur->len > 0 && topo_is_server(t, at)))
		return;
	for (uint32_t port = 0; port < t->nodes[at].degree; port++) {
		const struct topo_adj *adj = topo_port(t, at, port);
		bool seen = false;

		if (dead && dead[adj->link])
			continue;
		for (uint32_t i = 0; i <= cur->len; i++)
			seen |= cur->nodes[i] == adj->peer;
		if (seen || !route_path_step_link(t, cur, adj->link))
			continue;
		naive_all(t, dead, b, len, cur, out, n);
		cur->len--;
	}
}

static int cmp_path(const void *x, const void *y)
{
	const struct route_path *a = x, *b = y;

	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(a->links, b->links, sizeof(a->links[0]) * a->len);
}

static void check_ecmp(const struct topo *t, const uint8_t *dead, uint32_t a, uint32_t b,
		       struct route_path *fast, struct route_path *slow, struct rng *r)
{
	uint32_t *dist = xmalloc(sizeof(*dist) * t->nnodes), nslow = 0, len;
	uint64_t nfast = route_ecmp_paths(t, a, b, dead, fast, ECMP_MAX, dist);
	struct route_path cur, w;

	/* The naive side finds the shortest length by trying 1, 2, ... */
	for (len = 1; len <= 8 && !nslow; len++) {
		route_path_start(&cur, a);
		naive_all(t, dead, b, len, &cur, slow, &nslow);
	}
	if (nfast != nslow)
		fail_msg("%s %s->%s: %llu equal-cost paths, naive %u", t->spec,
			 t->nodes[a].name, t->nodes[b].name, (unsigned long long)nfast, nslow);
	qsort(fast, nslow, sizeof(*fast), cmp_path);
	qsort(slow, nslow, sizeof(*slow), cmp_path);
	for (uint32_t i = 0; i < nslow; i++) {
		assert_int_equal(cmp_path(&fast[i], &slow[i]), 0);
		assert_true(route_path_valid(t, &fast[i]));
		assert_int_equal(fast[i].len, dist[a]);
	}
	if (nslow) {
		assert_true(route_ecmp_walk(t, r, a, b, dead, dist, &w));
		assert_non_null(bsearch(&w, slow, nslow, sizeof(*slow), cmp_path));
	}
	free(dist);
}

static void test_ecmp_builders(void **state)
{
	static const char *const specs[] = {
		"vl2:da=8,di=8,per_tor=2", "vl2:da=6,di=4,per_tor=2", "fattree:k=4",
		"fattree:k=6", "leafspine:spines=3,leaves=4,servers=2,homing=2",
	};
	struct route_path *fast = xmalloc(sizeof(*fast) * ECMP_MAX);
	struct route_path *slow = xmalloc(sizeof(*slow) * ECMP_MAX);
	struct rng r;

	(void)state;
	rng_seed(&r, 5);
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
		struct topo *t = spec(specs[i]);

		for (int s = 0; s < 60; s++) {
			uint32_t a = rng_below(&r, t->nnodes), b = rng_below(&r, t->nnodes);

			if (a != b)
				check_ecmp(t, NULL, a, b, fast, slow, &r);
		}
		topo_free(t);
	}
	free(fast);
	free(slow);
}

/* Random switch graphs with a few servers, random dead links. */
static void test_ecmp_random(void **state)
{
	struct route_path *fast = xmalloc(sizeof(*fast) * ECMP_MAX);
	struct route_path *slow = xmalloc(sizeof(*slow) * ECMP_MAX);
	struct rng r;

	(void)state;
	rng_seed(&r, 9);
	for (int g = 0; g < 200; g++) {
		struct topo *t = topo_new(FAM_FILE, "random");
		uint32_t nsw = 3 + rng_below(&r, 8), nsrv = 1 + rng_below(&r, 4);
		uint32_t extra = rng_below(&r, 2 * nsw);
		uint8_t *dead;
		char name[16];

		for (uint32_t i = 0; i < nsw; i++) {
			snprintf(name, sizeof(name), "s%u", i);
			topo_add_switch(t, ROLE_SWITCH, 1, 64, TOPO_DEFAULT_FIB, name);
		}
		for (uint32_t i = 1; i < nsw; i++)	/* a random tree ... */
			topo_add_link(t, i, rng_below(&r, i), 1000);
		for (uint32_t i = 0; i < extra; i++) {	/* ... plus chords */
			uint32_t a = rng_below(&r, nsw), b = rng_below(&r, nsw);

			if (a != b)
				topo_add_link(t, a, b, 1000);
		}
		for (uint32_t i = 0; i < nsrv; i++) {
			uint32_t s;

			snprintf(name, sizeof(name), "h%u", i);
			s = topo_add_server(t, 2, name);
			topo_add_link(t, s, rng_below(&r, nsw), 1000);
			topo_add_link(t, s, rng_below(&r, nsw), 1000);
		}
		topo_finish(t);
		dead = xcalloc(t->nlinks, 1);
		for (uint32_t l = 0; l < t->nlinks; l++)
			dead[l] = rng_below(&r, 8) == 0;
		for (int s = 0; s < 20; s++) {
			uint32_t a = rng_below(&r, t->nnodes), b = rng_below(&r, t->nnodes);

			if (a != b)
				check_ecmp(t, g % 2 ? dead : NULL, a, b, fast, slow, &r);
		}
		free(dead);
		topo_free(t);
	}
	free(fast);
	free(slow);
}

/* The set between two VL2 ToRs under different aggregation pairs: two
 * aggregation switches up, DA/2 intermediates, two down. */
static void test_ecmp_vl2_tors(void **state)
{
	struct topo *t = spec("vl2:da=8,di=8,per_tor=1");
	struct route_path *ps = xmalloc(sizeof(*ps) * ECMP_MAX);
	uint32_t *dist = xmalloc(sizeof(*dist) * t->nnodes);
	uint32_t a = topo_find(t, "tor0"), b = topo_find(t, "tor15"), c = topo_find(t, "tor1");

	(void)state;
	assert_int_equal(route_ecmp_paths(t, a, b, NULL, ps, ECMP_MAX, dist), 2 * 4 * 2);
	assert_int_equal(ps[0].len, 4);
	assert_int_equal(route_ecmp_paths(t, a, c, NULL, ps, ECMP_MAX, dist), 2);
	assert_int_equal(ps[0].len, 2);
	/* max bounds what is written, not what is counted */
	assert_int_equal(route_ecmp_paths(t, a, b, NULL, ps, 3, dist), 16);
	free(dist);
	free(ps);
	topo_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vlb_builders),
		cmocka_unit_test(test_vlb_failures),
		cmocka_unit_test(test_vlb_rejects),
		cmocka_unit_test(test_ecmp_builders),
		cmocka_unit_test(test_ecmp_random),
		cmocka_unit_test(test_ecmp_vl2_tors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
