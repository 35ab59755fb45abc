/* Maglev tables (slb/maglev.h) against a deliberately naive implementation:
 * the paper's pseudo-code with the whole permutation matrix precomputed.
 *   - equal weights: the same table, slot for slot, on random memberships;
 *   - the order members are given in does not matter;
 *   - weights: slots shared in proportion to weight;
 *   - 1,000 backends in 65,537 slots: imbalance <= 1.01, removing one moves
 *     <= 1% of the others' slots (counted naively here);
 *   - bad input refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bpf/slb.h"
#include "lib/common.h"
#include "lib/rng.h"
#include "slb/maglev.h"

static int cmp_key(const void *a, const void *b)
{
	uint64_t x = ((const struct slb_maglev_member *)a)->key;
	uint64_t y = ((const struct slb_maglev_member *)b)->key;

	return (x > y) - (x < y);
}

/* Eisenbud et al., "Maglev", pseudo-code 1, for equal weights. */
static void naive_build(const struct slb_maglev_member *in, size_t n, uint32_t m, uint32_t *entry)
{
	struct slb_maglev_member *b = xcalloc(n, sizeof(*b));
	uint32_t *perm = xcalloc(n * m, sizeof(*perm)), *next = xcalloc(n, sizeof(*next));
	uint32_t filled = 0;

	memcpy(b, in, n * sizeof(*b));
	qsort(b, n, sizeof(*b), cmp_key);
	for (size_t i = 0; i < n; i++) {
		uint32_t offset, skip;

		slb_maglev_perm(b[i].key, m, &offset, &skip);
		for (uint32_t j = 0; j < m; j++)
			perm[i * m + j] = (uint32_t)((offset + (uint64_t)j * skip) % m);
	}
	for (uint32_t j = 0; j < m; j++)
		entry[j] = SLB_MAGLEV_NONE;
	while (n) {
		for (size_t i = 0; i < n; i++) {
			uint32_t c = perm[i * m + next[i]];

			while (entry[c] != SLB_MAGLEV_NONE) {
				next[i]++;
				c = perm[i * m + next[i]];
			}
			entry[c] = b[i].value;
			next[i]++;
			if (++filled == m)
				goto done;
		}
	}
done:
	free(b);
	free(perm);
	free(next);
}

static struct slb_maglev_member *members(struct rng *r, size_t n, uint32_t weight)
{
	struct slb_maglev_member *b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < n; i++)
		b[i] = (struct slb_maglev_member){
			.key = slb_maglev_key((uint32_t)rng_below(r, 4) + 1, (uint32_t)rng_next(r)),
			.weight = weight, .value = (uint32_t)i };
	return b;
}

static void test_against_naive(void **state)
{
	const uint32_t sizes[] = { 13, 251, 4099, 65537 };
	struct rng r;

	(void)state;
	rng_seed(&r, 15);
	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		uint32_t m = sizes[s];
		uint32_t *a = xcalloc(m, sizeof(*a)), *b = xcalloc(m, sizeof(*b));

		for (int round = 0; round < 6; round++) {
			size_t n = 1 + rng_below(&r, m < 100 ? m : 40);
			struct slb_maglev_member *mem = members(&r, n, 7);

			assert_int_equal(slb_maglev_build(mem, n, m, a), 0);
			naive_build(mem, n, m, b);
			assert_memory_equal(a, b, m * sizeof(*a));
			free(mem);
		}
		free(a);
		free(b);
	}
}

static void test_order_free(void **state)
{
	uint32_t m = 4099, *a = xcalloc(m, sizeof(*a)), *b = xcalloc(m, sizeof(*b));
	struct rng r;
	size_t n = 50;
	struct slb_maglev_member *mem;

	(void)state;
	rng_seed(&r, 2);
	mem = members(&r, n, 1);
	for (size_t i = 0; i < n; i++)
		mem[i].weight = 1 + (uint32_t)rng_below(&r, 5);
	assert_int_equal(slb_maglev_build(mem, n, m, a), 0);
	for (size_t i = n - 1; i > 0; i--) {	/* shuffle */
		size_t j = rng_below(&r, i + 1);
		struct slb_maglev_member t = mem[i];

		mem[i] = mem[j];
		mem[j] = t;
	}
	assert_int_equal(slb_maglev_build(mem, n, m, b), 0);
	assert_memory_equal(a, b, m * sizeof(*a));
	free(mem);
	free(a);
	free(b);
}

static void test_weights(void **state)
{
	uint32_t m = PGR_SLB_RING, *t = xcalloc(m, sizeof(*t)), count[4], sum = 0;
	const uint32_t w[4] = { 1, 2, 3, 0 };
	struct rng r;
	struct slb_maglev_member *mem;

	(void)state;
	rng_seed(&r, 3);
	mem = members(&r, 4, 0);
	for (int i = 0; i < 4; i++)
		mem[i].weight = w[i] * 10;
	assert_int_equal(slb_maglev_build(mem, 4, m, t), 0);
	slb_maglev_count(t, m, count, 4);
	for (int i = 0; i < 4; i++)
		sum += count[i];
	assert_int_equal(sum, m);	/* every slot has a backend */
	assert_int_equal(count[3], 0);	/* weight 0: none */
	for (int i = 0; i < 3; i++) {
		double want = m * w[i] / 6.0;

		if (count[i] < want * 0.99 || count[i] > want * 1.01)
			fail_msg("backend of weight %u holds %u slots, want %.0f", w[i], count[i], want);
	}
	free(mem);
	free(t);
}

/* The figures the benchmark reports, held here as properties. */
static void test_thousand(void **state)
{
	uint32_t m = PGR_SLB_RING, n = 1000, gone = 500, max = 0;
	uint32_t *a = xcalloc(m, sizeof(*a)), *b = xcalloc(m, sizeof(*b)), *count = xcalloc(n, 4);
	struct rng r;
	struct slb_maglev_member *mem;
	uint32_t kept = 0, moved = 0;

	(void)state;
	rng_seed(&r, 1000);
	mem = members(&r, n, 1);
	assert_int_equal(slb_maglev_build(mem, n, m, a), 0);
	slb_maglev_count(a, m, count, n);
	for (uint32_t i = 0; i < n; i++)
		max = MAX(max, count[i]);
	assert_true(max <= 1.01 * m / n);
	mem[gone].weight = 0;
	assert_int_equal(slb_maglev_build(mem, n, m, b), 0);
	for (uint32_t i = 0; i < m; i++) {
		assert_int_not_equal(b[i], gone);
		if (a[i] != gone) {
			kept++;
			moved += a[i] != b[i];
		}
	}
	print_message("  moved %.3f%% of the other backends' slots\n", 100.0 * moved / kept);
	assert_true(moved * 100.0 / kept <= 1.0);
	assert_true(slb_maglev_moved_pct(a, b, m, gone) == 100.0 * moved / kept);
	free(mem);
	free(a);
	free(b);
	free(count);
}

static void test_refused(void **state)
{
	uint32_t t[16];
	struct slb_maglev_member dup[2] = { { .key = 5, .weight = 1, .value = 0 },
					    { .key = 5, .weight = 1, .value = 1 } };
	struct slb_maglev_member none = { .key = 5, .weight = 1, .value = SLB_MAGLEV_NONE };

	(void)state;
	assert_int_equal(slb_maglev_build(dup, 1, 15, t), -EINVAL);	/* not prime */
	assert_int_equal(slb_maglev_build(dup, 2, 13, t), -EINVAL);	/* duplicate key */
	assert_int_equal(slb_maglev_build(&none, 1, 13, t), -EINVAL);
	dup[1].weight = 0;	/* a duplicate that takes no part is no duplicate */
	assert_int_equal(slb_maglev_build(dup, 2, 13, t), 0);
	dup[0].weight = 0;
	assert_int_equal(slb_maglev_build(dup, 2, 13, t), 0);
	for (int i = 0; i < 13; i++)
		assert_int_equal(t[i], SLB_MAGLEV_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_naive),
		cmocka_unit_test(test_order_free),
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_thousand),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
