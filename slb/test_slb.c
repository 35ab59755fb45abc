/* VC definitions (slb/vc.h) and the control core (slb/slb.h):
 *   - a good file reads back field by field; bad ones are refused with the
 *     file, line and field;
 *   - start writes every backend, table and service, tables as Maglev
 *     builds them; two cores given one file build the same tables;
 *   - a backend that stops answering is down within fails * interval (and
 *     not before), out of the tables, marked down; one answer brings it back;
 *   - draining: out of the tables, entry not marked down;
 *   - load sets weights (in steps), and a table follows them;
 *   - bad events are counted and change nothing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "slb/maglev.h"
#include "slb/slb.h"
#include "slb/vc.h"

static const char good[] =
	"vcs:\n"
	"  - name: web\n"
	"    vdc: 7\n"
	"    vip: 203.0.113.10\n"
	"    ports: [tcp/80, udp/53]\n"
	"    sticky: true\n"
	"    health: { interval_ms: 50, fails: 3 }\n"
	"    backends:\n"
	"      - { ip: 10.0.0.5, vm: 20, server: 5 }\n"
	"      - { ip: 10.0.0.6, vm: 21, server: 6, weight: 300 }\n"
	"      - { ip: 10.0.0.7, vm: 22, server: 6, drain: true }\n"
	"  - name: api\n"
	"    vdc: 8\n"
	"    vip: 203.0.113.11\n"
	"    ports: [tcp/443]\n"
	"    backends:\n"
	"      - { ip: 10.0.0.5, vm: 30, server: 7 }\n";

static void load_good(struct slb_config *c)
{
	char err[600];

	if (slb_config_load_buf(c, "slb.yaml", good, sizeof(good) - 1, err, sizeof(err)))
		fail_msg("%s", err);
}

static void test_config_good(void **state)
{
	struct slb_config c;

	(void)state;
	load_good(&c);
	assert_int_equal(c.nvcs, 2);
	assert_string_equal(c.vcs[0].name, "web");
	assert_int_equal(c.vcs[0].vdc, 7);
	assert_int_equal(c.vcs[0].vip, 0x0a7100cb);	/* 203.0.113.10, network order */
	assert_int_equal(c.vcs[0].nports, 2);
	assert_int_equal(c.vcs[0].ports[1].proto, 17);
	assert_int_equal(c.vcs[0].ports[1].port, 53);
	assert_true(c.vcs[0].sticky);
	assert_int_equal(c.vcs[0].health_interval_ms, 50);
	assert_int_equal(c.vcs[0].health_fails, 3);
	assert_int_equal(c.vcs[0].nbackends, 3);
	assert_int_equal(c.vcs[0].backends[0].weight, SLB_WEIGHT_DEFAULT);
	assert_int_equal(c.vcs[0].backends[1].weight, 300);
	assert_true(c.vcs[0].backends[2].drain);
	assert_false(c.vcs[1].sticky);
	assert_int_equal(c.vcs[1].health_interval_ms, SLB_HEALTH_INTERVAL_DEFAULT_MS);
	assert_int_equal(slb_config_services(&c), 3);
	slb_config_free(&c);
}

static void test_config_bad(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "vcs:\n  - name: a\n    vdc: 0\n    vip: 1.2.3.4\n    ports: [tcp/1]\n    backends: []\n",
		  "slb.yaml:3: vcs[].vdc" },
		{ "vcs:\n  - name: a\n    vdc: 1\n    vip: 224.0.0.1\n    ports: [tcp/1]\n    backends: []\n",
		  "slb.yaml:4: vcs[].vip: '224.0.0.1' is not a unicast host address" },
		{ "vcs:\n  - name: a\n    vdc: 1\n    vip: 1.2.3.4\n    ports: [sctp/1]\n    backends: []\n",
		  "slb.yaml:5: ports[]: expected tcp/PORT or udp/PORT, got 'sctp/1'" },
		{ "vcs:\n  - name: a\n    vdc: 1\n    vip: 1.2.3.4\n    ports: [tcp/0]\n    backends: []\n",
		  "slb.yaml:5: ports[]: 'tcp/0': port must be 1 to 65535" },
		{ "vcs:\n  - name: a\n    vdc: 1\n    vip: 1.2.3.4\n    ports: [tcp/1, tcp/1]\n    backends: []\n",
		  "slb.yaml:5: ports[1]: listed twice" },
		{ "vcs:\n  - name: a\n    vdc: 1\n    vip: 1.2.3.4\n    ports: [tcp/1]\n    backends:\n"
		  "      - { ip: 10.0.0.1, vm: 2, server: 3, weight: 0 }\n",
		  "slb.yaml:7: backends[].weight" },
		{ "vcs:\n  - name: a\n    vdc: 1\n    vip: 1.2.3.4\n    ports: [tcp/1]\n    backends:\n"
		  "      - { ip: 10.0.0.1, vm: 2 }\n",
		  "slb.yaml:7: backends[].server: missing" },
		{ "vcs:\n  - name: a\n    vdc: 1\n    vip: 1.2.3.4\n    ports: [tcp/1]\n    backends:\n"
		  "      - { ip: 10.0.0.1, vm: 2, server: 3 }\n      - { ip: 10.0.0.1, vm: 4, server: 3 }\n",
		  "slb.yaml:8: backends[1].ip: listed twice" },
		{ "vcs:\n  - name: a\n    vdc: 1\n    vip: 1.2.3.4\n    ports: [tcp/1]\n    backends:\n"
		  "      - { ip: 1.2.3.4, vm: 2, server: 3 }\n",
		  "slb.yaml:7: backends[0].ip: the VIP itself" },
		{ "vcs:\n  - name: a\n    vdc: 1\n    vip: 1.2.3.4\n    ports: [tcp/1]\n    backends:\n"
		  "      - { ip: 10.0.0.1, vm: 2, server: 3, drain: maybe }\n",
		  "slb.yaml:7: backends[].drain: expected true or false, got 'maybe'" },
		{ "vcs:\n  - name: a\n    vdc: 1\n    vip: 1.2.3.4\n    ports: [tcp/1]\n    backends: []\n"
		  "    health: { interval_ms: 1 }\n",
		  "slb.yaml:7: health.interval_ms" },
		{ "vcs:\n  - name: a\n    vdc: 1\n    vip: 1.2.3.4\n    ports: [tcp/1]\n    backends: []\n"
		  "    colour: red\n", "slb.yaml:7: vcs[]: unknown key 'colour'" },
		{ "vcs:\n  - name: a\n    vdc: 1\n    vip: 1.2.3.4\n    ports: [tcp/1]\n    backends: []\n"
		  "  - name: b\n    vdc: 1\n    vip: 1.2.3.4\n    ports: [tcp/2]\n    backends: []\n",
		  "slb.yaml:7: vcs[1].vip: another VC's VIP" },
		{ "vcs: 3\n", "slb.yaml:1: vcs: expected a list" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct slb_config c;
		char err[600];

		assert_int_equal(slb_config_load_buf(&c, "slb.yaml", bad[i].text, strlen(bad[i].text),
						     err, sizeof(err)), -EINVAL);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)))
			fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err, bad[i].err);
		assert_null(c.vcs);
	}
}

/* ---- the core -------------------------------------------------------------- */

#define MS 1000000ull

static size_t count(const struct slb_out *o, enum slb_action_type t)
{
	size_t n = 0;

	for (size_t i = 0; i < o->n; i++)
		n += o->acts[i].type == t;
	return n;
}

static const struct slb_action *find(const struct slb_out *o, enum slb_action_type t, uint32_t idx)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->acts[i].type == t && o->acts[i].index == idx)
			return &o->acts[i];
	return NULL;
}

static uint32_t slots_of(const uint32_t *table, uint32_t be)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < PGR_SLB_RING; i++)
		n += table[i] == be;
	return n;
}

static void test_core_start(void **state)
{
	struct slb_config cfg;
	struct slb_core *a, *b;
	struct slb_out oa = { 0 }, ob = { 0 };
	struct slb_event start = { .type = SLB_EV_START };
	const struct slb_action *t0, *t0b, *vip;

	(void)state;
	load_good(&cfg);
	a = slb_core_new(&cfg);
	b = slb_core_new(&cfg);
	assert_int_equal(slb_input(a, 1000, &start, &oa), 0);
	assert_int_equal(slb_input(b, 99999, &start, &ob), 0);
	assert_int_equal(count(&oa, SLB_ACT_BACKEND), 4);
	assert_int_equal(count(&oa, SLB_ACT_TABLE), 3);
	assert_int_equal(count(&oa, SLB_ACT_VIP), 3);
	assert_int_equal(count(&oa, SLB_ACT_PROBE), 4);
	/* backend 0: VM 20 on server 5, VDC 7 */
	assert_int_equal(find(&oa, SLB_ACT_BACKEND, 0)->be.vdc, 7);
	assert_int_equal(pgr_mac_id(find(&oa, SLB_ACT_BACKEND, 0)->be.vm_mac[1]), pgr_id_of(20, 1));
	assert_int_equal(pgr_mac_id(find(&oa, SLB_ACT_BACKEND, 0)->be.im_mac[0]), pgr_id_of(5, 0));
	vip = find(&oa, SLB_ACT_VIP, 1);
	assert_int_equal(vip->key.port, WIRE_HTONS(53));
	assert_int_equal(vip->key.proto, 17);
	assert_int_equal(vip->vip.flags, PGR_SLB_VIP_STICKY);
	assert_int_equal(vip->vip.table, 1);
	/* the same tables on two servers; weights 100:300, drained backend none */
	t0 = find(&oa, SLB_ACT_TABLE, 0);
	t0b = find(&ob, SLB_ACT_TABLE, 0);
	assert_memory_equal(t0->slots, t0b->slots, PGR_SLB_RING * sizeof(uint32_t));
	assert_int_equal(slots_of(t0->slots, 2), 0);
	assert_true(slots_of(t0->slots, 1) > 2.9 * slots_of(t0->slots, 0));
	assert_true(slots_of(t0->slots, 1) < 3.1 * slots_of(t0->slots, 0));
	assert_int_equal(slots_of(find(&oa, SLB_ACT_TABLE, 2)->slots, 3), PGR_SLB_RING);
	/* first deadline: the next probe, 50 ms on */
	assert_int_equal(oa.deadline_ns, 1000 + 50 * MS);
	assert_int_equal(slb_input(a, 2000, &start, &oa), -EINVAL);	/* twice */
	slb_out_free(&oa);
	slb_out_free(&ob);
	slb_core_free(a);
	slb_core_free(b);
	slb_config_free(&cfg);
}

/* Drive timers as a shell would, answering every probe but backend `dead`'s
 * after `stop`; returns when `dead` is down, the time. */
static uint64_t run_until_down(struct slb_core *c, struct slb_out *o, uint32_t dead,
			       uint64_t stop, uint64_t limit)
{
	uint64_t now = o->deadline_ns;

	while (now < limit) {
		struct slb_event tick = { .type = SLB_EV_TIMER };
		const struct slb_action *be;
		size_t nprobe;
		uint32_t probed[16];

		assert_int_equal(slb_input(c, now, &tick, o), 0);
		be = find(o, SLB_ACT_BACKEND, dead);
		if (be) {
			assert_true(be->be.flags & PGR_SLB_BE_DOWN);
			return now;
		}
		nprobe = 0;
		for (size_t i = 0; i < o->n; i++)
			if (o->acts[i].type == SLB_ACT_PROBE)
				probed[nprobe++] = o->acts[i].index;
		for (size_t i = 0; i < nprobe; i++) {
			struct slb_event ok = { .type = SLB_EV_PROBE_OK, .backend = probed[i] };

			if (probed[i] == dead && now >= stop)
				continue;
			assert_int_equal(slb_input(c, now + 1 * MS, &ok, o), 0);	/* 1 ms RTT */
		}
		now = o->deadline_ns;
	}
	return 0;
}

static void test_core_health(void **state)
{
	struct slb_config cfg;
	struct slb_core *c;
	struct slb_out o = { 0 };
	struct slb_event ev = { .type = SLB_EV_START };
	struct slb_backend_view v;
	const struct slb_action *t;
	uint64_t stop = 1000 * MS, down;

	(void)state;
	load_good(&cfg);
	c = slb_core_new(&cfg);
	assert_int_equal(slb_input(c, 0, &ev, &o), 0);
	down = run_until_down(c, &o, 0, stop, 10000 * MS);
	assert_true(down > 0);
	/* its last answer came at or before stop - 1 interval + 1 ms; down
	 * within fails (3) intervals of that, not before */
	assert_true(down >= stop - 50 * MS + 3 * 50 * MS);
	assert_true(down <= stop + 3 * 50 * MS + 1 * MS);
	t = find(&o, SLB_ACT_TABLE, 0);
	assert_non_null(t);
	assert_int_equal(slots_of(t->slots, 0), 0);
	assert_int_equal(slots_of(t->slots, 1), PGR_SLB_RING);	/* 2 drains */
	slb_core_backend(c, 0, &v);
	assert_int_equal(v.state, SLB_BE_DOWN);
	assert_int_equal(slb_core_counter(c, SLB_CTR_backend_down), 1);
	/* one answer: back, tables rebuilt */
	ev = (struct slb_event){ .type = SLB_EV_PROBE_OK, .backend = 0 };
	assert_int_equal(slb_input(c, down + 10 * MS, &ev, &o), 0);
	assert_int_equal(find(&o, SLB_ACT_BACKEND, 0)->be.flags, 0);
	assert_true(slots_of(find(&o, SLB_ACT_TABLE, 0)->slots, 0) > PGR_SLB_RING / 5);
	slb_out_free(&o);
	slb_core_free(c);
	slb_config_free(&cfg);
}

static void test_core_drain_and_load(void **state)
{
	struct slb_config cfg;
	struct slb_core *c;
	struct slb_out o = { 0 };
	struct slb_event ev = { .type = SLB_EV_START };
	const struct slb_action *t;
	uint32_t s0, s1;

	(void)state;
	load_good(&cfg);
	c = slb_core_new(&cfg);
	assert_int_equal(slb_input(c, 0, &ev, &o), 0);
	/* drain backend 1: out of the tables, its entry untouched */
	ev = (struct slb_event){ .type = SLB_EV_DRAIN, .backend = 1, .on = true };
	assert_int_equal(slb_input(c, 1 * MS, &ev, &o), 0);
	assert_null(find(&o, SLB_ACT_BACKEND, 1));
	t = find(&o, SLB_ACT_TABLE, 0);
	assert_int_equal(slots_of(t->slots, 1), 0);
	assert_int_equal(slots_of(t->slots, 0), PGR_SLB_RING);
	ev.on = false;
	assert_int_equal(slb_input(c, 2 * MS, &ev, &o), 0);
	/* load: backend 1 (weight 300) at 80% CPU -> 300 * 20%; backend 0 at 0 */
	ev = (struct slb_event){ .type = SLB_EV_LOAD, .backend = 1, .cpu_pct = 80, .net_pct = 10 };
	assert_int_equal(slb_input(c, 3 * MS, &ev, &o), 0);
	t = find(&o, SLB_ACT_TABLE, 0);
	assert_non_null(t);
	s0 = slots_of(t->slots, 0);
	s1 = slots_of(t->slots, 1);
	assert_true(s1 > 0.55 * s0 && s1 < 0.65 * s0);	/* 60 : 100 */
	/* a small change within the same step: no rebuild */
	ev.cpu_pct = 75;
	assert_int_equal(slb_input(c, 4 * MS, &ev, &o), 0);
	assert_int_equal(count(&o, SLB_ACT_TABLE), 0);
	/* network load counts too */
	ev.cpu_pct = 0;
	ev.net_pct = 95;
	assert_int_equal(slb_input(c, 5 * MS, &ev, &o), 0);
	t = find(&o, SLB_ACT_TABLE, 0);
	assert_true(slots_of(t->slots, 1) < 0.35 * slots_of(t->slots, 0));	/* 30 : 100 */
	slb_out_free(&o);
	slb_core_free(c);
	slb_config_free(&cfg);
}

static void test_core_bad_events(void **state)
{
	struct slb_config cfg;
	struct slb_core *c;
	struct slb_out o = { 0 };
	struct slb_event ev = { .type = SLB_EV_PROBE_OK, .backend = 0 };

	(void)state;
	load_good(&cfg);
	c = slb_core_new(&cfg);
	assert_int_equal(slb_input(c, 0, &ev, &o), -EINVAL);	/* before start */
	ev.type = SLB_EV_START;
	assert_int_equal(slb_input(c, 0, &ev, &o), 0);
	ev = (struct slb_event){ .type = SLB_EV_LOAD, .backend = 4 };
	assert_int_equal(slb_input(c, 1, &ev, &o), -EINVAL);	/* no such backend */
	ev = (struct slb_event){ .type = SLB_EV_LOAD, .backend = 0, .cpu_pct = 101 };
	assert_int_equal(slb_input(c, 1, &ev, &o), -EINVAL);
	ev = (struct slb_event){ .type = (enum slb_event_type)77, .backend = 0 };
	assert_int_equal(slb_input(c, 1, &ev, &o), -EINVAL);
	assert_int_equal(count(&o, SLB_ACT_TABLE) + count(&o, SLB_ACT_BACKEND), 0);
	assert_int_equal(slb_core_counter(c, SLB_CTR_bad_event), 4);
	assert_string_equal(slb_counter_name(SLB_CTR_bad_event), "bad_event");
	slb_out_free(&o);
	slb_core_free(c);
	slb_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_good),
		cmocka_unit_test(test_config_bad),
		cmocka_unit_test(test_core_start),
		cmocka_unit_test(test_core_health),
		cmocka_unit_test(test_core_drain_and_load),
		cmocka_unit_test(test_core_bad_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
