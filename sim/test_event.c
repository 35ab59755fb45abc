/* Unit tests of the event core (sim/event.c): order against a naive sorted
 * list on random schedules, FIFO among equal times, replay from a seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sim/event.h"

struct naive {
	uint64_t at, seq;
	uint32_t a;
};

static int cmp_naive(const void *x, const void *y)
{
	const struct naive *p = x, *q = y;

	if (p->at != q->at)
		return p->at < q->at ? -1 : 1;
	return p->seq < q->seq ? -1 : p->seq > q->seq;
}

/* Interleave schedules and takes; every event taken must be the least
 * (time, order) of what the naive list holds at that moment. */
static void test_against_naive(void **state)
{
	struct rng r;

	(void)state;
	rng_seed(&r, 42);
	for (int round = 0; round < 50; round++) {
		struct sim_events q;
		struct naive *nv = malloc(4000 * sizeof(*nv));
		size_t nn = 0, seq = 0;

		sim_events_init(&q, round);
		for (int step = 0; step < 2000; step++) {
			if (rng_below(&r, 3) || !nn) {
				/* Few distinct times so that ties are common. */
				uint64_t at = q.now + rng_below(&r, 8);

				sim_event_at(&q, at, 0, (uint32_t)seq, 0, 0);
				nv[nn++] = (struct naive){ at, seq, (uint32_t)seq };
				seq++;
			} else {
				struct sim_event ev;

				qsort(nv, nn, sizeof(*nv), cmp_naive);
				assert_true(sim_event_next(&q, &ev));
				assert_int_equal(ev.at, nv[0].at);
				assert_int_equal(ev.a, nv[0].a);
				assert_int_equal(q.now, ev.at);
				nv[0] = nv[--nn];
			}
		}
		assert_int_equal(q.n, nn);
		free(nv);
		sim_events_free(&q);
	}
}

static void test_fifo_and_empty(void **state)
{
	struct sim_events q;
	struct sim_event ev;

	(void)state;
	sim_events_init(&q, 1);
	assert_false(sim_event_next(&q, &ev));
	for (uint32_t i = 0; i < 100; i++)
		sim_event_at(&q, 5, 1, i, 0, 0);
	for (uint32_t i = 0; i < 100; i++) {
		assert_true(sim_event_next(&q, &ev));
		assert_int_equal(ev.a, i);
	}
	sim_event_after(&q, 10, 2, 7, 8, 9);
	assert_true(sim_event_next(&q, &ev));
	assert_int_equal(ev.at, 15);
	assert_int_equal(ev.type, 2);
	assert_int_equal(ev.c, 9);
	assert_int_equal(q.processed, 101);
	sim_events_free(&q);
}

static void test_jitter_and_replay(void **state)
{
	struct sim_events a, b;

	(void)state;
	sim_events_init(&a, 9);
	sim_events_init(&b, 9);
	for (int i = 0; i < 10000; i++) {
		uint64_t x = sim_jitter(&a, 1000, 0.2), y = sim_jitter(&b, 1000, 0.2);

		assert_int_equal(x, y);
		assert_true(x >= 800 && x <= 1200);
	}
	assert_int_equal(sim_jitter(&a, 1234, 0), 1234);
	sim_events_init(&b, 10);
	assert_int_not_equal(sim_jitter(&a, 1u << 30, 0.5), sim_jitter(&b, 1u << 30, 0.5));
	sim_events_free(&a);
	sim_events_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_naive),
		cmocka_unit_test(test_fifo_and_empty),
		cmocka_unit_test(test_jitter_and_replay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
