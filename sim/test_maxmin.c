/* The max-min solver against a naive one on random small instances, and the
 * defining property on each: the allocation is feasible and every flow has a
 * bottleneck, a full link on which no flow gets more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "lib/rng.h"
#include "sim/maxmin.h"

#define EPS 1e-9

/* Naive progressive filling: raise every unfrozen flow by the smallest
 * increment that fills some link, freeze the flows of every full link, and
 * start over: no heap, no incremental state. */
static void naive(const struct maxmin *m, double *rate)
{
	double *used = xcalloc(m->nres, sizeof(*used));
	uint8_t *frozen = xcalloc(m->nflows, 1);
	uint32_t left = m->nflows;

	for (uint32_t f = 0; f < m->nflows; f++)
		rate[f] = 0;
	while (left) {
		double inc = INFINITY;

		for (uint32_t l = 0; l < m->nres; l++) {
			uint32_t act = 0;

			for (uint32_t f = 0; f < m->nflows; f++)
				for (uint32_t i = m->off[f]; i < m->off[f + 1]; i++)
					act += m->res[i] == l && !frozen[f];
			if (act)
				inc = fmin(inc, (m->cap[l] - used[l]) / act);
		}
		for (uint32_t f = 0; f < m->nflows; f++) {
			if (frozen[f])
				continue;
			rate[f] += inc;
			for (uint32_t i = m->off[f]; i < m->off[f + 1]; i++)
				used[m->res[i]] += inc;
		}
		for (uint32_t f = 0; f < m->nflows; f++) {
			bool full = false;

			if (frozen[f])
				continue;
			for (uint32_t i = m->off[f]; i < m->off[f + 1]; i++)
				full |= used[m->res[i]] >= m->cap[m->res[i]] * (1 - 1e-12);
			if (full) {
				frozen[f] = 1;
				left--;
			}
		}
	}
	free(used);
	free(frozen);
}

static void check_property(const struct maxmin *m, const double *rate)
{
	double *used = xcalloc(m->nres, sizeof(*used)), *top = xcalloc(m->nres, sizeof(*top));

	for (uint32_t f = 0; f < m->nflows; f++) {
		assert_true(rate[f] > 0);
		for (uint32_t i = m->off[f]; i < m->off[f + 1]; i++) {
			used[m->res[i]] += rate[f];
			top[m->res[i]] = fmax(top[m->res[i]], rate[f]);
		}
	}
	for (uint32_t l = 0; l < m->nres; l++)
		assert_true(used[l] <= m->cap[l] * (1 + EPS));
	for (uint32_t f = 0; f < m->nflows; f++) {
		bool has = false;

		for (uint32_t i = m->off[f]; i < m->off[f + 1]; i++) {
			uint32_t l = m->res[i];

			has |= used[l] >= m->cap[l] * (1 - EPS) && rate[f] >= top[l] * (1 - EPS);
		}
		if (!has)
			fail_msg("flow %u (rate %g) has no bottleneck", f, rate[f]);
	}
	free(used);
	free(top);
}

static void test_random_vs_naive(void **state)
{
	struct rng r;

	(void)state;
	rng_seed(&r, 2024);
	for (int inst = 0; inst < 400; inst++) {
		uint32_t nres = 1 + rng_below(&r, 12), nflows = 1 + rng_below(&r, 30);
		double cap[16], *fast, *slow;
		struct maxmin m;
		struct maxmin_stats st;

		for (uint32_t l = 0; l < nres; l++)
			/* a few distinct capacities, so ties happen */
			cap[l] = inst % 2 ? 1 + rng_below(&r, 3) : 0.1 + 10 * rng_double(&r);
		maxmin_init(&m, nres, cap);
		for (uint32_t f = 0; f < nflows; f++) {
			uint32_t res[8], n = 1 + rng_below(&r, MIN(nres, 5u));

			for (uint32_t i = 0; i < n; i++)
				res[i] = rng_below(&r, nres);	/* repeats: used twice */
			assert_true(maxmin_add_flow(&m, res, n) == f);
		}
		fast = xmalloc(sizeof(*fast) * nflows);
		slow = xmalloc(sizeof(*slow) * nflows);
		maxmin_solve(&m, fast, &st);
		naive(&m, slow);
		for (uint32_t f = 0; f < nflows; f++)
			if (fabs(fast[f] - slow[f]) > 1e-9 * fmax(1, slow[f]))
				fail_msg("instance %d flow %u: %.12g, naive %.12g", inst, f,
					 fast[f], slow[f]);
		check_property(&m, fast);
		assert_true(st.levels >= 1);
		free(fast);
		free(slow);
		maxmin_free(&m);
	}
}

/* A classic by hand: links A (cap 1) and B (cap 2); flow 0 on A, flow 1 on
 * A and B, flows 2 and 3 on B.  A splits 1/2, 1/2; B has 2 - 1/2 left for
 * two flows: 3/4 each. */
static void test_by_hand(void **state)
{
	double cap[2] = { 1, 2 }, rate[4];
	uint32_t a[] = { 0 }, ab[] = { 0, 1 }, b[] = { 1 };
	struct maxmin m;

	(void)state;
	maxmin_init(&m, 2, cap);
	maxmin_add_flow(&m, a, 1);
	maxmin_add_flow(&m, ab, 2);
	maxmin_add_flow(&m, b, 1);
	maxmin_add_flow(&m, b, 1);
	maxmin_solve(&m, rate, NULL);
	assert_true(fabs(rate[0] - 0.5) < 1e-12 && fabs(rate[1] - 0.5) < 1e-12);
	assert_true(fabs(rate[2] - 0.75) < 1e-12 && fabs(rate[3] - 0.75) < 1e-12);
	/* clear keeps capacities */
	maxmin_clear(&m);
	maxmin_add_flow(&m, b, 1);
	maxmin_solve(&m, rate, NULL);
	assert_true(fabs(rate[0] - 2) < 1e-12);
	maxmin_free(&m);
}

/* Larger random instances: the property alone (the naive solver is too slow). */
static void test_large_property(void **state)
{
	struct rng r;

	(void)state;
	rng_seed(&r, 77);
	for (int inst = 0; inst < 5; inst++) {
		uint32_t nres = 500, nflows = 20000;
		double *cap = xmalloc(sizeof(*cap) * nres), *rate = xmalloc(sizeof(*rate) * nflows);
		struct maxmin m;

		for (uint32_t l = 0; l < nres; l++)
			cap[l] = 1 + rng_below(&r, 10);
		maxmin_init(&m, nres, cap);
		for (uint32_t f = 0; f < nflows; f++) {
			uint32_t res[6], n = 1 + rng_below(&r, 6);

			for (uint32_t i = 0; i < n; i++)
				res[i] = rng_below(&r, nres);
			maxmin_add_flow(&m, res, n);
		}
		maxmin_solve(&m, rate, NULL);
		check_property(&m, rate);
		maxmin_free(&m);
		free(cap);
		free(rate);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_vs_naive),
		cmocka_unit_test(test_by_hand),
		cmocka_unit_test(test_large_property),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
