/* Unit tests of the fail-over model (sim/failover.c): a timeline worked out
 * by hand, spanning-tree timers, replay from a seed, and the effect of loss
 * and of more directory servers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sim/failover.h"

struct fx {
	struct topo *t;
	struct sim_net n;
	struct sim_fo_result r;
};

static void run(struct fx *x, const char *spec, const struct sim_fo_params *p)
{
	char err[512];

	if (topo_from_spec(spec, &x->t, err, sizeof(err)))
		fail_msg("%s: %s", spec, err);
	if (sim_net_init(&x->n, x->t, err, sizeof(err)))
		fail_msg("%s", err);
	if (sim_failover_run(&x->n, p, &x->r, err, sizeof(err)))
		fail_msg("%s: %s", spec, err);
}

static void done(struct fx *x)
{
	sim_fo_result_free(&x->r);
	sim_net_free(&x->n);
	topo_free(x->t);
}

#define TINY "leafspine:spines=2,leaves=2,servers=1"

/* A triangle of switches a, b, c with server h1 on a and h2 on b: every
 * tree is forced (no ties), so the timeline can be worked out by hand.
 * The tree towards a carries h2's traffic over b-a, the tree towards b
 * h1's over a-b; c's links carry nothing (c has no servers). */
static const char triangle[] =
	"switches: [a, b, c]\n"
	"servers: [h1, h2]\n"
	"links: [[a, b], [b, c], [c, a], [h1, a], [h2, b]]\n";

static void run_buf(struct fx *x, const char *yaml, const struct sim_fo_params *p)
{
	char err[512];

	if (topo_load_buf("triangle", yaml, strlen(yaml), &x->t, err, sizeof(err)))
		fail_msg("%s", err);
	if (sim_net_init(&x->n, x->t, err, sizeof(err)))
		fail_msg("%s", err);
	if (sim_failover_run(&x->n, p, &x->r, err, sizeof(err)))
		fail_msg("%s", err);
}

/* Failing a-b breaks both servers' primaries (40 GARP entries at 20 VMs
 * each), and each agent caches an entry of the other server (its only
 * peer): 2 clients.  With no jitter and no loss:
 *   1000 us    both witnesses see the port down and send 2 traps each
 *   1100 us    the RAS has them; 2 affected trees cost 2 us
 *   1202 us    the directory has the news and marks 40 entries (40 us);
 *              client k is sent its notice after (k + 1) * 58.8 us more:
 *              at 1300.8 and 1359.6 us
 *   +100 us    each agent hears, and 50 us later has switched:
 *              1450.8 and 1509.6 us. */
static void test_peregrine_timeline(void **state)
{
	struct sim_fo_params p;
	struct fx x;

	(void)state;
	sim_fo_defaults(&p, SCHEME_PEREGRINE);
	p.target = "a-b";
	p.jitter = 0;
	run_buf(&x, triangle, &p);
	assert_string_equal(x.r.failed, "link a-b");
	assert_int_equal(x.r.affected_servers, 2);
	assert_int_equal(x.r.affected_entries, 40);
	assert_int_equal(x.r.clients, 2);
	assert_int_equal(x.r.ras_ns, 1100000);
	assert_int_equal(x.r.directory_ns, 1202000);
	assert_int_equal(x.r.p50_ns, 1450800);
	assert_int_equal(x.r.recovery_ns, 1509600);
	assert_int_equal(x.r.messages, 4 + 1 + 2);
	assert_true(x.r.in_use && x.r.recovered);
	done(&x);
	/* c-a carries nothing: nothing to recover. */
	p.target = "c-a";
	run_buf(&x, triangle, &p);
	assert_int_equal(x.r.affected_servers, 0);
	assert_false(x.r.in_use);
	assert_int_equal(x.r.recovery_ns, 0);
	done(&x);
	/* Failing switch c changes nothing either.  Failing a isolates h1, and
	 * h2's primary counts as broken: its tree's link a-b is gone (the RAS
	 * marks by tree, not by who still uses it). */
	p.fail = SIM_FAIL_SWITCH;
	p.target = "c";
	run_buf(&x, triangle, &p);
	assert_false(x.r.in_use);
	done(&x);
	p.target = "a";
	run_buf(&x, triangle, &p);
	assert_int_equal(x.r.isolated_servers, 1);
	assert_int_equal(x.r.affected_servers, 1);
	done(&x);
	/* With half the messages lost (seed 3 loses some on the way to the
	 * agents) every agent still switches, a retry timeout or more later. */
	p.fail = SIM_FAIL_LINK;
	p.target = "a-b";
	p.loss = 0.5;
	p.seed = 3;
	run_buf(&x, triangle, &p);
	assert_int_equal(x.r.clients, 2);
	assert_true(x.r.lost > 0);
	assert_true(x.r.recovery_ns >= 1509600 + 10000000);
	done(&x);
}

/* 802.1D, root bridge spine0.  Failing leaf1-spine0 cuts leaf1's root port;
 * the new tree takes leaf1-spine1, whose blocked end is spine1's (it was
 * farther from the root).  leaf1 sees the carrier go at 1 ms, its BPDU
 * reaches spine1 at 2 ms, and spine1's port listens 15 s and learns 15 s:
 * 30.002 s.  RSTP replaces the timers with one proposal/agreement, 2 ms:
 * 4 ms.  The root itself failing is seen only when its information ages
 * out (max age, 20 s): 20 s + 1 ms + 30 s. */
static void test_stp_timers(void **state)
{
	struct sim_fo_params p;
	struct fx x;

	(void)state;
	sim_fo_defaults(&p, SCHEME_L2);
	p.jitter = 0;
	p.target = "leaf1-spine0";
	run(&x, TINY, &p);
	assert_int_equal(x.r.new_ports, 1);
	assert_int_equal(x.r.recovery_ns, 30002000000ull);
	done(&x);
	p.stp = SIM_STP_RSTP;
	run(&x, TINY, &p);
	assert_int_equal(x.r.recovery_ns, 4000000);
	done(&x);
	p.stp = SIM_STP_8021D;
	p.fail = SIM_FAIL_SWITCH;
	p.target = "spine0";
	run(&x, TINY, &p);
	assert_int_equal(x.r.recovery_ns, 50001000000ull);
	done(&x);
	/* Links the tree does not use: spine1's blocked link to leaf1, and
	 * spine1's own root link, which no server's traffic crosses. */
	p.fail = SIM_FAIL_LINK;
	p.target = "leaf1-spine1";
	run(&x, TINY, &p);
	assert_false(x.r.in_use);
	assert_int_equal(x.r.recovery_ns, 0);
	done(&x);
	p.target = "leaf0-spine1";
	run(&x, TINY, &p);
	assert_false(x.r.in_use);
	assert_int_equal(x.r.recovery_ns, 0);
	done(&x);
}

#define MID "leafspine:spines=4,leaves=40,servers=20"

static void test_replay_and_loss(void **state)
{
	struct sim_fo_params p;
	struct fx a, b;

	(void)state;
	sim_fo_defaults(&p, SCHEME_PEREGRINE);
	p.seed = 5;
	p.loss = 0.05;
	run(&a, MID, &p);
	run(&b, MID, &p);
	assert_string_equal(a.r.failed, b.r.failed);
	assert_int_equal(a.r.recovery_ns, b.r.recovery_ns);
	assert_int_equal(a.r.lost, b.r.lost);
	assert_int_equal(a.r.events, b.r.events);
	assert_true(a.r.lost > 0);
	/* A lost invalidation costs its agent at least one retry timeout. */
	assert_true(a.r.recovery_ns >= (uint64_t)(SIM_FO_RETRY_US * 1000));
	done(&b);
	p.loss = 0;
	run(&b, MID, &p);
	assert_int_equal(b.r.lost, 0);
	assert_true(b.r.recovery_ns < a.r.recovery_ns);
	/* Every agent told has switched, and the percentiles are ordered. */
	assert_true(b.r.clients > 0);
	assert_true(b.r.p50_ns <= b.r.p99_ns && b.r.p99_ns <= b.r.recovery_ns);
	for (uint32_t i = 0; i < b.r.clients; i++)
		assert_true(b.r.agent_ns[i] > b.r.directory_ns);
	done(&a);
	done(&b);
}

/* The fan-out dominates: with D directory servers sharing it, the last
 * agent hears about D times sooner. */
static void test_directories_share_fanout(void **state)
{
	struct sim_fo_params p;
	struct fx one, four;
	double t1, t4;

	(void)state;
	sim_fo_defaults(&p, SCHEME_PEREGRINE);
	p.jitter = 0;
	run(&one, MID, &p);
	p.directories = 4;
	run(&four, MID, &p);
	assert_int_equal(one.r.clients, four.r.clients);
	t1 = (double)(one.r.recovery_ns - one.r.directory_ns);
	t4 = (double)(four.r.recovery_ns - four.r.directory_ns);
	assert_true(one.r.clients > 100);
	assert_true(t4 < t1 / 3 && t4 > t1 / 5);
	done(&one);
	done(&four);
}

/* Scoped notification tells a subset of the agents the seed's design
 * tells, never sooner-finishing in the seed's design.  On the triangle,
 * each server's path to the other crosses a-b: both are still told. */
static void test_scope_sources(void **state)
{
	struct sim_fo_params p;
	struct fx tree, src;

	(void)state;
	sim_fo_defaults(&p, SCHEME_PEREGRINE);
	p.jitter = 0;
	p.target = "a-b";
	p.scope = SIM_SCOPE_SOURCES;
	run_buf(&src, triangle, &p);
	assert_int_equal(src.r.clients, 2);
	/* Each agent's 10 cached entries all belong to the other server. */
	assert_int_equal(src.r.affected_entries, 20);
	done(&src);
	p.target = NULL;
	for (uint64_t seed = 1; seed <= 6; seed++) {
		p.seed = seed;
		p.scope = SIM_SCOPE_TREE;
		run(&tree, MID, &p);
		p.scope = SIM_SCOPE_SOURCES;
		run(&src, MID, &p);
		assert_string_equal(tree.r.failed, src.r.failed);
		assert_int_equal(tree.r.affected_servers, src.r.affected_servers);
		assert_true(src.r.clients <= tree.r.clients);
		assert_true(src.r.recovery_ns <= tree.r.recovery_ns);
		if (tree.r.clients)
			assert_true(src.r.clients > 0);
		done(&tree);
		done(&src);
	}
}

static void test_bad_input(void **state)
{
	struct sim_fo_params p;
	struct sim_fo_result r;
	struct sim_net n;
	struct topo *t;
	char err[256];

	(void)state;
	assert_int_equal(topo_from_spec(TINY, &t, err, sizeof(err)), 0);
	assert_int_equal(sim_net_init(&n, t, err, sizeof(err)), 0);
	sim_fo_defaults(&p, SCHEME_PEREGRINE);
	p.target = "leaf0-leaf1";
	assert_int_not_equal(sim_failover_run(&n, &p, &r, err, sizeof(err)), 0);
	p.target = "nosuch";
	assert_int_not_equal(sim_failover_run(&n, &p, &r, err, sizeof(err)), 0);
	p.target = NULL;
	p.scheme = SCHEME_VL2;
	assert_int_not_equal(sim_failover_run(&n, &p, &r, err, sizeof(err)), 0);
	sim_net_free(&n);
	topo_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peregrine_timeline),
		cmocka_unit_test(test_stp_timers),
		cmocka_unit_test(test_replay_and_loss),
		cmocka_unit_test(test_directories_share_fanout),
		cmocka_unit_test(test_scope_sources),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
