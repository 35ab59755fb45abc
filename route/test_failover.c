/* Fail-over updates (route/failover.h) against computation from scratch:
 *   - after every single failure and recovery of every link and node, and
 *     along random sequences of events, the incrementally updated trees equal
 *     route_trees_new() given the same failure set, switch entry by switch
 *     entry and NIC by NIC;
 *   - the deltas are exact: applied in order to a plain table of the old
 *     entries (a delete must find its entry, an add an empty slot) they give
 *     the new tables;
 *   - every source whose NIC choice changed is reported;
 *   - the trees stay verified under failures.
 */
#include "route/test_common.h"

struct fo {
	const struct topo *t;
	struct route_trees *rt;
	uint16_t *fib;		/* [sw][owner][tree], plain table */
	uint16_t *nic;		/* [src][dst][tree] for servers, before the event */
	struct route_delta d;
};

static size_t fo_idx(const struct topo *t, uint32_t sw, uint32_t owner, unsigned tr)
{
	return ((size_t)sw * t->nnodes + owner) * 2 + tr;
}

static void fo_fill(void *arg, uint32_t sw, uint32_t owner, unsigned tree, uint16_t port)
{
	struct fo *f = arg;

	f->fib[fo_idx(f->t, sw, owner, tree)] = port;
}

static void fo_snapshot_nics(struct fo *f)
{
	const struct topo *t = f->t;

	for (uint32_t i = 0; i < t->nservers; i++)
		for (uint32_t j = 0; j < t->nservers; j++)
			for (unsigned tr = 0; tr < 2; tr++)
				f->nic[((size_t)i * t->nservers + j) * 2 + tr] =
					route_egress(f->rt, t->servers[i], t->servers[j], tr);
}

static void fo_init(struct fo *f, const struct topo *t)
{
	memset(f, 0, sizeof(*f));
	f->t = t;
	f->rt = tc_trees(t, NULL, NULL);
	f->fib = xmalloc((size_t)t->nnodes * t->nnodes * 2 * sizeof(uint16_t));
	memset(f->fib, 0xff, (size_t)t->nnodes * t->nnodes * 2 * sizeof(uint16_t));
	for (uint32_t v = 0; v < t->nnodes; v++)
		route_fib_foreach(f->rt, v, fo_fill, f);
	f->nic = xmalloc((size_t)t->nservers * t->nservers * 2 * sizeof(uint16_t));
	route_delta_init(&f->d);
}

static void fo_free(struct fo *f)
{
	route_trees_free(f->rt);
	free(f->fib);
	free(f->nic);
	route_delta_free(&f->d);
}

static void fo_apply(struct fo *f)
{
	for (size_t i = 0; i < f->d.nops; i++) {
		const struct route_fib_op *op = &f->d.ops[i];
		uint16_t *slot = &f->fib[fo_idx(f->t, op->sw, op->owner, op->tree)];

		if (op->op == ROUTE_OP_DEL) {
			if (*slot != op->port)
				fail_msg("%s: delete of %s/%s/%u port %u, table has %u", f->t->spec,
					 f->t->nodes[op->sw].name, f->t->nodes[op->owner].name,
					 op->tree, op->port, *slot);
			*slot = ROUTE_NO_PORT;
		} else {
			if (*slot != ROUTE_NO_PORT)
				fail_msg("%s: add of %s/%s/%u over an existing entry", f->t->spec,
					 f->t->nodes[op->sw].name, f->t->nodes[op->owner].name, op->tree);
			*slot = op->port;
		}
	}
}

static bool fo_listed(const uint32_t *v, uint32_t n, uint32_t x)
{
	for (uint32_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* The incremental state against a computation from scratch. */
static void fo_compare(struct fo *f, const char *what)
{
	const struct topo *t = f->t;
	struct route_trees *full = tc_trees(t, route_link_dead(f->rt), route_node_dead(f->rt));
	struct route_verify v;

	for (uint32_t i = 0; i < t->nservers; i++) {
		uint32_t P = t->servers[i];

		for (uint32_t n = 0; n < t->nnodes; n++)
			for (unsigned tr = 0; tr < 2; tr++) {
				uint16_t a = route_egress(f->rt, n, P, tr), b = route_egress(full, n, P, tr);

				if (a != b)
					fail_msg("%s after %s: %s toward %s tree %u: incremental %u, "
						 "full %u", t->spec, what, t->nodes[n].name, t->nodes[P].name,
						 tr, a, b);
				if ((!topo_is_server(t, n) || topo_servers_relay(t)) &&
				    f->fib[fo_idx(t, n, P, tr)] != b)
					fail_msg("%s after %s: table at %s for %s tree %u: deltas give "
						 "%u, full %u", t->spec, what, t->nodes[n].name,
						 t->nodes[P].name, tr, f->fib[fo_idx(t, n, P, tr)], b);
			}
	}
	/* every changed NIC choice is reported */
	for (uint32_t i = 0; i < t->nservers; i++)
		for (uint32_t j = 0; j < t->nservers; j++)
			for (unsigned tr = 0; tr < 2; tr++) {
				uint32_t S = t->servers[i], P = t->servers[j];

				if (topo_servers_relay(t) ||
				    f->nic[((size_t)i * t->nservers + j) * 2 + tr] ==
				    route_egress(f->rt, S, P, tr))
					continue;
				if (!fo_listed(f->d.nic_dsts, f->d.nnic_dsts, P) &&
				    !fo_listed(f->d.nic_srcs, f->d.nnic_srcs, S))
					fail_msg("%s after %s: NIC of %s toward %s changed unreported",
						 t->spec, what, t->nodes[S].name, t->nodes[P].name);
			}
	route_verify(f->rt, &v);
	if (!v.ok)
		fail_msg("%s after %s: %s", t->spec, what, v.first_error);
	route_verify_free(&v);
	route_trees_free(full);
}

enum fo_ev { EV_LINK_DOWN, EV_LINK_UP, EV_NODE_DOWN, EV_NODE_UP };

static void fo_event(struct fo *f, enum fo_ev ev, uint32_t x)
{
	char what[96];

	fo_snapshot_nics(f);
	route_delta_reset(&f->d);
	switch (ev) {
	case EV_LINK_DOWN: route_link_down(f->rt, x, &f->d); break;
	case EV_LINK_UP: route_link_up(f->rt, x, &f->d); break;
	case EV_NODE_DOWN: route_node_down(f->rt, x, &f->d); break;
	case EV_NODE_UP: route_node_up(f->rt, x, &f->d); break;
	}
	fo_apply(f);
	snprintf(what, sizeof(what), "%s %u",
		 (const char *[]){ "link down", "link up", "node down", "node up" }[ev], x);
	fo_compare(f, what);
}

/* Every single failure and its recovery, from the intact state. */
static void check_single_events(const struct topo *t)
{
	struct fo f;

	fo_init(&f, t);
	for (uint32_t l = 0; l < t->nlinks; l++) {
		fo_event(&f, EV_LINK_DOWN, l);
		fo_event(&f, EV_LINK_UP, l);
	}
	for (uint32_t n = 0; n < t->nnodes; n++) {
		fo_event(&f, EV_NODE_DOWN, n);
		fo_event(&f, EV_NODE_UP, n);
	}
	fo_free(&f);
}

/* A random walk through failure sets. */
static void check_random_events(const struct topo *t, uint64_t seed, int steps)
{
	struct fo f;
	struct rng r;

	rng_seed(&r, seed);
	fo_init(&f, t);
	for (int i = 0; i < steps; i++) {
		enum fo_ev ev = rng_below(&r, 4);
		uint32_t x = rng_below(&r, ev < EV_NODE_DOWN ? t->nlinks : t->nnodes);

		fo_event(&f, ev, x);
	}
	fo_free(&f);
}

static const char *const fo_specs[] = {
	"leafspine:spines=2,leaves=4,servers=2,homing=2",
	"leafspine:spines=3,leaves=4,servers=2,homing=1",
	"leafspine:spines=1,leaves=2,servers=2,homing=2",
	"vl2:da=4,di=4,per_tor=2",
	"fattree:k=4",
	"bcube:n=3,k=1",
	"bcube:n=2,k=2",
};

static void test_single_events_builders(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(fo_specs); i++) {
		struct topo *t = tc_spec(fo_specs[i]);

		check_single_events(t);
		topo_free(t);
	}
}

static void test_random_events_builders(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(fo_specs); i++) {
		struct topo *t = tc_spec(fo_specs[i]);

		check_random_events(t, i + 1, 120);
		topo_free(t);
	}
}

static void test_random_graphs(void **state)
{
	struct rng r;

	(void)state;
	rng_seed(&r, 77);
	for (int round = 0; round < 120; round++) {
		struct topo *t = tc_random(&r, round % 3 == 0, round % 4 == 1);

		if (round % 5 == 0)
			check_single_events(t);
		check_random_events(t, (uint64_t)round * 31 + 1, 40);
		topo_free(t);
	}
}

/* Starting from a failure set equals reaching it event by event (the other
 * direction of the same rule), on a larger fabric with several failures. */
static void test_many_failures(void **state)
{
	struct topo *t = tc_spec("leafspine:spines=4,leaves=8,servers=3,homing=2");
	struct fo f;
	struct rng r;

	(void)state;
	rng_seed(&r, 3);
	fo_init(&f, t);
	for (int i = 0; i < 40; i++)
		fo_event(&f, i % 5 == 4 ? EV_LINK_UP : EV_LINK_DOWN, rng_below(&r, t->nlinks));
	for (uint32_t l = 0; l < t->nlinks; l++)
		fo_event(&f, EV_LINK_UP, l);
	/* all healed: back to the trees of the intact graph, nothing recomputed */
	assert_int_equal(f.d.recomputed <= 1, true);
	fo_free(&f);
	topo_free(t);
}

/* An access link failure touches only that server's own entries. */
static void test_access_failure_is_local(void **state)
{
	struct topo *t = tc_spec("leafspine:spines=2,leaves=4,servers=3,homing=2");
	struct route_trees *rt = tc_trees(t, NULL, NULL);
	struct route_delta d;
	uint32_t s = topo_find(t, "srv4"), l = topo_port(t, s, 0)->link;

	(void)state;
	route_delta_init(&d);
	route_link_down(rt, l, &d);
	assert_true(d.nops > 0);
	assert_int_equal(d.recomputed, 0);
	for (size_t i = 0; i < d.nops; i++)
		assert_int_equal(d.ops[i].owner, s);
	assert_int_equal(d.nnic_srcs, 1);
	assert_int_equal(d.nic_srcs[0], s);
	/* both trees of srv4 now enter through its other NIC */
	assert_int_equal(route_egress(rt, t->servers[0], s, 0) != ROUTE_NO_PORT, true);
	route_delta_free(&d);
	route_trees_free(rt);
	topo_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_events_builders),
		cmocka_unit_test(test_random_events_builders),
		cmocka_unit_test(test_random_graphs),
		cmocka_unit_test(test_many_failures),
		cmocka_unit_test(test_access_failure_is_local),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
