/* The VL2 agent's core (agent/vl2.c): misses become lookups once, answers
 * and pushes become cache updates, held entries are renewed before their
 * lease ends. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/vl2.h"

#define MS 1000000ull

static struct dirp_entry entry(uint32_t vdc, uint32_t ip, uint32_t la, uint32_t lease_ms)
{
	return (struct dirp_entry){ .vdc = vdc, .ip = ip, .server = la, .lease_ms = lease_ms,
				    .version = 7 };
}

static void test_miss_lookup_answer(void **state)
{
	struct vl2a *a = calloc(1, sizeof(*a));
	struct vl2a_out out = { 0 };
	struct dirp_entry e = entry(1, 0x0a000008, 0x0a70000a, 30000);

	(void)state;
	vl2a_init(a);
	vl2a_on_miss(a, 1000 * MS, 1, htonl(0x0a000008), &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.a[0].kind, VL2A_LOOKUP);
	assert_int_equal(out.a[0].aa, htonl(0x0a000008));
	/* the same miss again at once: suppressed; after the retry time: asked */
	out.n = 0;
	vl2a_on_miss(a, 1000 * MS + 10 * MS, 1, htonl(0x0a000008), &out);
	assert_int_equal(out.n, 0);
	vl2a_on_miss(a, 1000 * MS + (VL2A_RETRY_MS + 1) * MS, 1, htonl(0x0a000008), &out);
	assert_int_equal(out.n, 1);
	/* the answer: cache (vdc, aa) -> the ToR LA, both in network order */
	out.n = 0;
	vl2a_on_entry(a, 1300 * MS, &e, false, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.a[0].kind, VL2A_SET);
	assert_int_equal(out.a[0].tor_la, htonl(0x0a70000a));
	assert_int_equal(out.a[0].version, 7);
	/* not found (another tenant's AA): forget it */
	out.n = 0;
	e = entry(2, 0x0a000008, 0, 1000);
	e.status = DIRP_NOT_FOUND;
	vl2a_on_entry(a, 1300 * MS, &e, false, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.a[0].kind, VL2A_DEL);
	assert_int_equal(out.a[0].vdc, 2);
	free(a);
}

static void test_renewal_and_push(void **state)
{
	struct vl2a *a = calloc(1, sizeof(*a));
	struct vl2a_out out = { 0 };
	struct dirp_entry e = entry(1, 0x0a000008, 0x0a70000a, 30000), moved;
	uint64_t t0 = 5000 * MS;

	(void)state;
	vl2a_init(a);
	vl2a_on_entry(a, t0, &e, false, &out);
	out.n = 0;
	/* nothing due before 80% of the lease */
	assert_int_equal(vl2a_tick(a, t0 + 23999 * MS, &out), t0 + 24000 * MS);
	assert_int_equal(out.n, 0);
	/* then a lookup, and again a retry later while unanswered */
	vl2a_tick(a, t0 + 24000 * MS, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.a[0].kind, VL2A_LOOKUP);
	out.n = 0;
	vl2a_tick(a, t0 + 24000 * MS + VL2A_RETRY_MS * MS, &out);
	assert_int_equal(out.n, 1);
	/* a push (a migration: new ToR LA, no lease) updates the cache and
	 * keeps the renewal time */
	out.n = 0;
	moved = entry(1, 0x0a000008, 0x0a700008, 0);
	vl2a_on_entry(a, t0 + 24500 * MS, &moved, false, &out);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.a[0].kind, VL2A_SET);
	assert_int_equal(out.a[0].tor_la, htonl(0x0a700008));
	/* an INVALIDATE forgets it and ends the renewals */
	out.n = 0;
	vl2a_on_entry(a, t0 + 25000 * MS, &moved, true, &out);
	assert_int_equal(out.a[0].kind, VL2A_DEL);
	out.n = 0;
	assert_int_equal(vl2a_tick(a, t0 + 100000 * MS, &out), UINT64_MAX);
	assert_int_equal(out.n, 0);
	free(a);
}

static void test_pending_bounded(void **state)
{
	struct vl2a *a = calloc(1, sizeof(*a));
	struct vl2a_out out = { 0 };

	(void)state;
	vl2a_init(a);
	for (uint32_t i = 0; i < VL2A_PENDING + 10; i++) {
		out.n = 0;
		vl2a_on_miss(a, 1 * MS, 1, htonl(0x0a000000 + i), &out);
	}
	assert_int_equal(a->st.lookups, VL2A_PENDING);
	assert_int_equal(a->st.busy, 10);
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_miss_lookup_answer),
		cmocka_unit_test(test_renewal_and_push),
		cmocka_unit_test(test_pending_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
