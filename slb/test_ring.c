/* The cluster of SLB servers (slb/ring.h), several cores on a simulated
 * management network (1 ms per message, in order; a server that is off
 * neither sends nor receives), deterministic:
 *   - start: one master, every VIP owned by one live server, balanced;
 *   - a server fails: its watcher declares it dead within the heartbeat
 *     window, every survivor agrees, its VIPs move, others' VIPs stay;
 *   - the master fails: the next lowest id takes over, assignments go on;
 *   - a server comes back: it rejoins and VIPs move to it until balanced;
 *   - views that diverged converge: the lower id starts after the higher one
 *     declared it dead and took every VIP (with a higher version than the
 *     newcomer's first assignment), or a partition heals;
 *   - auto scaling: one more server above the high watermark, one fewer
 *     below the low one, never below the minimum;
 *   - bad messages are refused and counted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "slb/ring.h"

#define MS 1000000ull

enum { N = 5, VIPS = 20, QMAX = 65536, INTERVAL_MS = 10, MISSES = 3 };

struct inflight {
	uint64_t at;
	uint32_t to;
	struct slb_ring_msg msg;
};

struct sim {
	struct slb_ring *node[N + 1];
	struct slb_ring_out out[N + 1];
	uint64_t deadline[N + 1];
	uint32_t load[N + 1];
	struct inflight *q;
	size_t nq;
	uint64_t now;
	uint64_t members;
	uint64_t cut;		/* servers whose messages are lost both ways */
	int scale;		/* the last scaling step asked for, and by whom */
	uint32_t scale_id;
};

static struct slb_ring_cfg cfg_for(uint32_t id, uint64_t members, uint64_t live)
{
	return (struct slb_ring_cfg){ .self = id, .members = members, .live = live,
				      .interval_ns = INTERVAL_MS * MS, .misses = MISSES,
				      .nvips = VIPS, .high_pct = 80, .low_pct = 20, .hold = 5,
				      .min_live = 2 };
}

static void collect(struct sim *s, uint32_t id)
{
	struct slb_ring_out *o = &s->out[id];

	for (size_t i = 0; i < o->n; i++) {
		assert_true(s->nq < QMAX);
		s->q[s->nq++] = (struct inflight){ .at = s->now + 1 * MS, .to = o->sends[i].to,
						   .msg = o->sends[i].msg };
	}
	if (o->scale) {
		s->scale = o->scale;
		s->scale_id = o->scale_id;
	}
	s->deadline[id] = o->deadline_ns;
}

static void feed(struct sim *s, uint32_t id, const struct slb_ring_event *ev)
{
	slb_ring_input(s->node[id], s->now, ev, &s->out[id]);
	collect(s, id);
}

static void power_on(struct sim *s, uint32_t id, uint64_t live)
{
	struct slb_ring_cfg c = cfg_for(id, s->members, live);
	struct slb_ring_event start = { .type = SLB_RING_EV_START };

	s->node[id] = slb_ring_new(&c);
	assert_non_null(s->node[id]);
	feed(s, id, &start);
	if (s->load[id]) {
		struct slb_ring_event l = { .type = SLB_RING_EV_LOAD, .load_pct = s->load[id] };

		feed(s, id, &l);
	}
}

static void power_off(struct sim *s, uint32_t id)
{
	slb_ring_free(s->node[id]);
	s->node[id] = NULL;
	slb_ring_out_free(&s->out[id]);
}

static void set_load(struct sim *s, uint32_t pct)
{
	for (uint32_t id = 1; id <= N; id++) {
		struct slb_ring_event l = { .type = SLB_RING_EV_LOAD, .load_pct = pct };

		s->load[id] = pct;
		if (s->node[id])
			feed(s, id, &l);
	}
}

/* Run the network until `until`. */
static void run(struct sim *s, uint64_t until)
{
	while (s->now < until) {
		uint64_t next = until;

		for (uint32_t id = 1; id <= N; id++)
			if (s->node[id] && s->deadline[id] < next)
				next = s->deadline[id];
		for (size_t i = 0; i < s->nq; i++)
			if (s->q[i].at < next)
				next = s->q[i].at;
		s->now = next;
		for (size_t i = 0; i < s->nq;) {
			if (s->q[i].at > s->now) {
				i++;
				continue;
			}
			struct inflight m = s->q[i];

			memmove(&s->q[i], &s->q[i + 1], (s->nq - i - 1) * sizeof(s->q[0]));
			s->nq--;
			if (s->node[m.to] && !(s->cut & (1ull << (m.to - 1))) &&
			    !(s->cut & (1ull << (m.msg.from - 1)))) {
				struct slb_ring_event ev = { .type = SLB_RING_EV_MSG, .msg = m.msg };

				feed(s, m.to, &ev);
			}
		}
		for (uint32_t id = 1; id <= N; id++)
			if (s->node[id] && s->deadline[id] <= s->now) {
				struct slb_ring_event t = { .type = SLB_RING_EV_TIMER };

				feed(s, id, &t);
			}
	}
}

/* Every server starts at 50% load: between the watermarks, no scaling. */
static void sim_init(struct sim *s, uint64_t members)
{
	memset(s, 0, sizeof(*s));
	s->q = calloc(QMAX, sizeof(*s->q));
	s->members = members;
	for (uint32_t id = 1; id <= N; id++)
		s->load[id] = 50;
}

static void sim_free(struct sim *s)
{
	for (uint32_t id = 1; id <= N; id++)
		if (s->node[id])
			power_off(s, id);
	free(s->q);
}

/* Every live server agrees on the live set, the master, and the owners; every
 * VIP is owned by a live server; counts differ by at most `spread`. */
static void check_agreement(struct sim *s, uint64_t want_live, uint32_t want_master, uint32_t spread)
{
	uint32_t ref = 0, count[N + 1] = { 0 }, lo = VIPS, hi = 0;

	for (uint32_t id = 1; id <= N; id++) {
		if (!s->node[id] || !(want_live & (1ull << (id - 1))))
			continue;
		if (slb_ring_live(s->node[id]) != want_live)
			fail_msg("server %u sees live %#llx, want %#llx", id,
				 (unsigned long long)slb_ring_live(s->node[id]),
				 (unsigned long long)want_live);
		assert_int_equal(slb_ring_master(s->node[id]), want_master);
		if (!ref)
			ref = id;
		for (uint32_t v = 0; v < VIPS; v++)
			assert_int_equal(slb_ring_owner(s->node[id], v), slb_ring_owner(s->node[ref], v));
	}
	for (uint32_t v = 0; v < VIPS; v++) {
		uint32_t o = slb_ring_owner(s->node[ref], v);

		assert_true(want_live & (1ull << (o - 1)));
		count[o]++;
	}
	for (uint32_t id = 1; id <= N; id++)
		if (want_live & (1ull << (id - 1))) {
			lo = count[id] < lo ? count[id] : lo;
			hi = count[id] > hi ? count[id] : hi;
		}
	if (hi - lo > spread)
		fail_msg("VIPs per server from %u to %u", lo, hi);
}

#define ALL4 0x0full	/* servers 1-4 */

/* Servers 1-4 (of members 1-5) powered on, each knowing the others, and
 * 100 ms for the ring to form. */
static void start_all4(struct sim *s)
{
	sim_init(s, 0x1f);
	for (uint32_t id = 1; id <= 4; id++)
		power_on(s, id, ALL4);
	run(s, 100 * MS);
}

static void test_start(void **state)
{
	struct sim s;

	(void)state;
	start_all4(&s);
	check_agreement(&s, ALL4, 1, 1);
	sim_free(&s);
}

/* When every survivor has dropped `dead` and no VIP is on it: the time. */
static uint64_t run_until_moved(struct sim *s, uint32_t dead, uint64_t limit)
{
	while (s->now < limit) {
		bool done = true;

		run(s, s->now + 1 * MS);
		for (uint32_t id = 1; id <= N && done; id++) {
			if (!s->node[id])
				continue;
			done = !(slb_ring_live(s->node[id]) & (1ull << (dead - 1)));
			for (uint32_t v = 0; v < VIPS && done; v++)
				done = slb_ring_owner(s->node[id], v) != dead;
		}
		if (done)
			return s->now;
	}
	fail_msg("server %u's VIPs not moved by %llu ms", dead, (unsigned long long)(limit / MS));
	return 0;
}

static void test_server_fails(void **state)
{
	struct sim s;
	uint32_t before[VIPS];
	uint64_t t0, t;

	(void)state;
	start_all4(&s);
	for (uint32_t v = 0; v < VIPS; v++)
		before[v] = slb_ring_owner(s.node[1], v);
	t0 = s.now;
	power_off(&s, 3);
	t = run_until_moved(&s, 3, t0 + 1000 * MS);
	print_message("  server 3 failed: its VIPs moved after %llu ms (window %d x %d ms)\n",
		      (unsigned long long)((t - t0) / MS), MISSES, INTERVAL_MS);
	/* the watcher's window plus one interval and the notices' delivery */
	assert_true(t - t0 <= (MISSES + 2) * INTERVAL_MS * MS + 3 * MS);
	assert_int_equal(slb_ring_counter(s.node[4], SLB_RING_CTR_declared_dead), 1);
	/* survivors' VIPs stayed where they were */
	for (uint32_t v = 0; v < VIPS; v++)
		if (before[v] != 3)
			assert_int_equal(slb_ring_owner(s.node[1], v), before[v]);
	run(&s, s.now + 200 * MS);
	check_agreement(&s, 0x0b, 1, 1);
	sim_free(&s);
}

static void test_master_fails(void **state)
{
	struct sim s;
	uint64_t t0, t, v0;

	(void)state;
	start_all4(&s);
	v0 = slb_ring_version(s.node[2]);
	t0 = s.now;
	power_off(&s, 1);
	t = run_until_moved(&s, 1, t0 + 1000 * MS);
	print_message("  master 1 failed: server 2 took over, VIPs moved after %llu ms\n",
		      (unsigned long long)((t - t0) / MS));
	assert_true(t - t0 <= (MISSES + 2) * INTERVAL_MS * MS + 3 * MS);
	assert_true(slb_ring_version(s.node[2]) > v0);
	run(&s, s.now + 200 * MS);
	check_agreement(&s, 0x0e, 2, 1);
	/* and the new master handles the next failure */
	power_off(&s, 4);
	run_until_moved(&s, 4, s.now + 1000 * MS);
	run(&s, s.now + 200 * MS);
	check_agreement(&s, 0x06, 2, 1);
	sim_free(&s);
}

static void test_rejoin(void **state)
{
	struct sim s;

	(void)state;
	start_all4(&s);
	power_off(&s, 3);
	run_until_moved(&s, 3, s.now + 1000 * MS);
	power_on(&s, 3, ALL4);	/* back, knowing the others */
	run(&s, s.now + 500 * MS);
	check_agreement(&s, ALL4, 1, 1);
	assert_true(slb_ring_counter(s.node[1], SLB_RING_CTR_rejoins) >= 1);
	sim_free(&s);
}

/* Servers 2 and 3 start first, declare 1 dead, then 3 fails: server 2, the
 * master now, has announced twice. Then 1 starts, is master by its id, and
 * announces with a lower version than 2's: both must still agree on one
 * assignment (a rejoin or a member's newer version makes the master
 * announce again, above every version seen). */
static void test_late_master(void **state)
{
	struct sim s;

	(void)state;
	sim_init(&s, 0x07);
	power_on(&s, 2, 0x07);
	power_on(&s, 3, 0x07);
	run(&s, 100 * MS);
	power_off(&s, 3);
	run(&s, s.now + 100 * MS);
	assert_int_equal(slb_ring_master(s.node[2]), 2);
	power_on(&s, 1, 0x03);
	assert_true(slb_ring_version(s.node[1]) < slb_ring_version(s.node[2]));
	run(&s, s.now + 200 * MS);
	check_agreement(&s, 0x03, 1, 1);
	sim_free(&s);
}

/* Server 1 (the master) is cut off: both sides assign on their own; when
 * the cut heals, one assignment wins everywhere. */
static void test_partition_heals(void **state)
{
	struct sim s;

	(void)state;
	start_all4(&s);
	s.cut = 0x01;
	run(&s, s.now + 300 * MS);
	assert_int_equal(slb_ring_master(s.node[2]), 2);
	for (uint32_t v = 0; v < VIPS; v++)
		assert_int_not_equal(slb_ring_owner(s.node[2], v), 1);
	s.cut = 0;
	run(&s, s.now + 300 * MS);
	check_agreement(&s, ALL4, 1, 1);
	sim_free(&s);
}

static void test_autoscale(void **state)
{
	struct sim s;
	uint64_t ups;

	(void)state;
	sim_init(&s, 0x1f);
	power_on(&s, 1, 0x03);
	power_on(&s, 2, 0x03);
	run(&s, 100 * MS);
	set_load(&s, 50);
	run(&s, s.now + 200 * MS);
	assert_int_equal(s.scale, 0);	/* between the watermarks */
	set_load(&s, 90);
	run(&s, s.now + 200 * MS);
	assert_int_equal(s.scale, +1);
	assert_int_equal(s.scale_id, 3);
	ups = slb_ring_counter(s.node[1], SLB_RING_CTR_scale_up);	/* asked again until on */
	s.scale = 0;
	power_on(&s, 3, 0x07);	/* "power on" */
	set_load(&s, 50);	/* three servers share it */
	run(&s, s.now + 300 * MS);
	check_agreement(&s, 0x07, 1, 1);
	assert_int_equal(s.scale, 0);
	assert_int_equal(slb_ring_counter(s.node[1], SLB_RING_CTR_scale_up), ups);
	set_load(&s, 5);
	run(&s, s.now + 200 * MS);
	assert_int_equal(s.scale, -1);
	assert_int_equal(s.scale_id, 3);
	power_off(&s, 3);	/* "power off": its VIPs had moved already */
	s.scale = 0;
	run(&s, s.now + 300 * MS);
	check_agreement(&s, 0x03, 1, 1);
	assert_int_equal(s.scale, 0);	/* never below min_live (2) */
	assert_int_equal(slb_ring_counter(s.node[1], SLB_RING_CTR_scale_down), 1);
	sim_free(&s);
}

/* A daemon's own load: new flows per second against its capacity. */
static void test_load_pct(void **state)
{
	(void)state;
	assert_int_equal(slb_ring_load_pct(50, 100 * MS, 1000), 50);	/* 500/s of 1,000 */
	assert_int_equal(slb_ring_load_pct(0, 100 * MS, 1000), 0);
	assert_int_equal(slb_ring_load_pct(9, 100 * MS, 1000), 9);
	assert_int_equal(slb_ring_load_pct(1, 1000 * MS, 1000), 0);	/* 0.1%: down */
	assert_int_equal(slb_ring_load_pct(200, 100 * MS, 1000), 100);	/* capped */
	assert_int_equal(slb_ring_load_pct(UINT64_MAX, 1, 1), 100);
	assert_int_equal(slb_ring_load_pct(5, 0, 1000), 0);
	assert_int_equal(slb_ring_load_pct(5, 100 * MS, 0), 0);
}

static void test_bad(void **state)
{
	struct slb_ring_cfg c = cfg_for(1, 0x0f, 0x0f);
	struct slb_ring *r;
	struct slb_ring_out o = { 0 };
	struct slb_ring_event ev = { .type = SLB_RING_EV_START };

	(void)state;
	c.self = 9;
	assert_null(slb_ring_new(&c));	/* not a member */
	c = cfg_for(1, 0x0f, 0x0f);
	r = slb_ring_new(&c);
	assert_int_equal(slb_ring_input(r, 0, &ev, &o), 0);
	ev = (struct slb_ring_event){ .type = SLB_RING_EV_MSG,
				      .msg = { .type = SLB_RING_HB, .from = 7 } };	/* not a member */
	assert_int_equal(slb_ring_input(r, 1, &ev, &o), -EINVAL);
	ev.msg.from = 2;
	ev.msg.load_pct = 101;
	assert_int_equal(slb_ring_input(r, 1, &ev, &o), -EINVAL);
	ev.msg = (struct slb_ring_msg){ .type = SLB_RING_DEAD, .from = 2, .who = 64 };
	assert_int_equal(slb_ring_input(r, 1, &ev, &o), -EINVAL);
	ev.msg = (struct slb_ring_msg){ .type = SLB_RING_ASSIGN, .from = 2, .version = 1 << 20 };
	assert_int_equal(slb_ring_input(r, 1, &ev, &o), -EINVAL);	/* owners 0 */
	ev.msg = (struct slb_ring_msg){ .type = (enum slb_ring_msg_type)9, .from = 2 };
	assert_int_equal(slb_ring_input(r, 1, &ev, &o), -EINVAL);
	assert_int_equal(slb_ring_counter(r, SLB_RING_CTR_bad_msg), 5);
	assert_int_equal(slb_ring_live(r), 0x0f);
	slb_ring_out_free(&o);
	slb_ring_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start),
		cmocka_unit_test(test_server_fails),
		cmocka_unit_test(test_master_fails),
		cmocka_unit_test(test_rejoin),
		cmocka_unit_test(test_late_master),
		cmocka_unit_test(test_partition_heals),
		cmocka_unit_test(test_autoscale),
		cmocka_unit_test(test_load_pct),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
