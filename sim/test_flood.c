/* Unit tests of the flood model (sim/flood.c) and its tables (sim/lru.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/rng.h"
#include "sim/flood.h"
#include "sim/lru.h"

/* The naive table: keys with the time they were last used; evict the
 * oldest by a scan. */
struct naive {
	uint64_t key[64], used[64];
	uint32_t n, cap;
	uint64_t clock;
};

static int naive_find(const struct naive *t, uint64_t key)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (t->key[i] == key)
			return (int)i;
	return -1;
}

static bool naive_lookup(struct naive *t, uint64_t key)
{
	int i = naive_find(t, key);

	if (i >= 0)
		t->used[i] = ++t->clock;
	return i >= 0;
}

static void naive_learn(struct naive *t, uint64_t key)
{
	uint32_t old = 0;

	if (naive_lookup(t, key))
		return;
	if (t->n < t->cap) {
		t->key[t->n] = key;
		t->used[t->n++] = ++t->clock;
		return;
	}
	for (uint32_t i = 1; i < t->n; i++)
		if (t->used[i] < t->used[old])
			old = i;
	t->key[old] = key;
	t->used[old] = ++t->clock;
}

static void test_lru_against_naive(void **state)
{
	struct rng r;

	(void)state;
	rng_seed(&r, 3);
	for (uint32_t cap = 1; cap <= 40; cap += 3) {
		struct sim_lru l;
		struct naive nv = { .cap = cap };

		sim_lru_init(&l, cap, cap);
		for (int i = 0; i < 20000; i++) {
			uint64_t key = rng_below(&r, 2 * cap + 5);

			if (rng_below(&r, 2))
				assert_int_equal(sim_lru_lookup(&l, key), naive_lookup(&nv, key));
			else
				sim_lru_learn(&l, key), naive_learn(&nv, key);
			assert_int_equal(l.n, nv.n);
		}
		/* Same contents at the end. */
		for (uint64_t k = 0; k < 2 * cap + 5; k++)
			assert_int_equal(sim_lru_lookup(&l, k), naive_find(&nv, k) >= 0);
		sim_lru_free(&l);
	}
}

struct fx {
	struct topo *t;
	struct sim_net n;
	struct sim_flood_result r;
};

static void run(struct fx *x, const char *spec, const struct sim_flood_params *p)
{
	char err[512];

	if (topo_from_spec(spec, &x->t, err, sizeof(err)))
		fail_msg("%s: %s", spec, err);
	if (sim_net_init(&x->n, x->t, err, sizeof(err)))
		fail_msg("%s", err);
	if (sim_flood_run(&x->n, p, &x->r, err, sizeof(err)))
		fail_msg("%s: %s", spec, err);
}

static void done(struct fx *x)
{
	sim_net_free(&x->n);
	topo_free(x->t);
}

static struct sim_flood_params params(enum sim_scheme s, uint32_t V, uint32_t cap)
{
	return (struct sim_flood_params){ .scheme = s, .vms_per_server = V, .fib_cap = cap,
					  .peers = 2, .warmup = 2, .packets = 20000, .seed = 1 };
}

/* One spine, two leaves, one server on each, one VM each.  A table of one
 * entry holds only the source it has just learnt, so every lookup misses:
 * every packet is flooded by all three switches of the tree (leaf, spine,
 * far leaf, which floods to its server port). */
static void test_tiny_table_floods_everything(void **state)
{
	struct sim_flood_params p = params(SCHEME_L2, 1, 1);
	struct fx x;

	(void)state;
	run(&x, "leafspine:spines=1,leaves=2,servers=1", &p);
	assert_int_equal(x.r.packets, 20000);
	assert_int_equal(x.r.flooded_packets, 20000);
	assert_int_equal(x.r.flooded, 3 * 20000);
	done(&x);
	/* With room for both VMs, once warm nothing floods. */
	p.fib_cap = 2;
	run(&x, "leafspine:spines=1,leaves=2,servers=1", &p);
	assert_int_equal(x.r.flooded, 0);
	assert_int_equal(x.r.table_max, 2);
	done(&x);
}

#define LS "leafspine:spines=2,leaves=4,servers=4"

/* 16 servers, 20 VMs each: 320 VM addresses.  Tables of 1000 hold them all
 * (l2) and, once every flow has been seen a few times, nothing floods;
 * tables of 100 flood much of the time.  A leaf's working set is its own
 * 80 VMs and their peers, each once per VLAN its flows use: SPAIN's 2
 * VLANs overflow tables of 150.  NetLord's fabric sees 4 leaf addresses
 * per VLAN: tables of 8 suffice. */
static void test_overflow_floods(void **state)
{
	struct sim_flood_params p = params(SCHEME_L2, 20, 1000);
	struct fx big, small, sp, nl;

	(void)state;
	p.warmup = 20;
	run(&big, LS, &p);
	assert_int_equal(big.r.flooded, 0);
	assert_int_equal(big.r.evictions, 0);
	p.fib_cap = 100;
	run(&small, LS, &p);
	assert_true(small.r.flooded_packets > p.packets / 2);
	assert_true(small.r.evictions > 0);
	assert_int_equal(small.r.table_max, 100);
	p.scheme = SCHEME_SPAIN;
	p.fib_cap = 150;
	run(&sp, LS, &p);
	assert_int_equal(sp.r.vlans, 2);
	assert_true(sp.r.flooded > 0);
	p.scheme = SCHEME_NETLORD;
	p.fib_cap = 8;
	run(&nl, LS, &p);
	assert_int_equal(nl.r.flooded, 0);
	assert_true(nl.r.table_max <= 8);
	done(&big);
	done(&small);
	done(&sp);
	done(&nl);
}

static void test_replay(void **state)
{
	struct sim_flood_params p = params(SCHEME_SPAIN, 30, 200);
	struct fx a, b, c;

	(void)state;
	run(&a, LS, &p);
	run(&b, LS, &p);
	assert_int_equal(a.r.flooded, b.r.flooded);
	assert_int_equal(a.r.evictions, b.r.evictions);
	p.seed = 2;
	run(&c, LS, &p);
	assert_int_not_equal(a.r.flooded, c.r.flooded);
	done(&a);
	done(&b);
	done(&c);
}

/* Installed schemes never flood; whether their entries fit comes from the
 * FIB model: 2 MACs per server, 32 entries on every switch here. */
static void test_installed(void **state)
{
	struct sim_flood_params p = params(SCHEME_PEREGRINE, 50, 32);
	struct fx x;

	(void)state;
	run(&x, LS, &p);
	assert_false(x.r.learning);
	assert_int_equal(x.r.flooded, 0);
	assert_true(x.r.fits);
	assert_int_equal(x.r.table_max, 32);
	done(&x);
	p.fib_cap = 31;
	run(&x, LS, &p);
	assert_false(x.r.fits);
	done(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lru_against_naive),
		cmocka_unit_test(test_tiny_table_floods_everything),
		cmocka_unit_test(test_overflow_floods),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_installed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
