/* Unit tests of the FIB model (sim/fib.c).
 *
 * Two kinds of check:
 *  - hand counts: small topologies where the entries of every switch are
 *    worked out in the comments and compared with the model;
 *  - an explicit installation: a deliberately naive enumerator that builds
 *    each scheme's forwarding state entry by entry (spanning trees flooded
 *    MAC by MAC, VLAN membership from all-pairs distances, Peregrine's two
 *    trees per server as BFS trees of this file's own) into a set per
 *    switch, and counts.  The model's closed forms must agree on every
 *    switch of a range of small topologies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/hash.h"
#include "sim/fib.h"
#include "sim/vlans.h"
#include "topo/analyze.h"

/* A topology file without tiers: a ring of four switches, two with
 * servers, one dual-homed; the top tier is then the switches without
 * servers (s2, s4). */
static const char ring[] =
	"switches: [s1, s2, s3, s4]\n"
	"servers: [h1, h2, h3]\n"
	"links: [[s1, s2], [s2, s3], [s3, s4], [s4, s1], [h1, s1], [h2, s3],\n"
	"        [h3, s1], [h3, s3]]\n";

static struct topo *spec(const char *s)
{
	struct topo *t;
	char err[512];

	if (!strcmp(s, "ring") ? topo_load_buf("ring", ring, strlen(ring), &t, err, sizeof(err))
			       : topo_from_spec(s, &t, err, sizeof(err)))
		fail_msg("%s: %s", s, err);
	return t;
}

struct run {
	struct topo *t;
	struct sim_net n;
	struct sim_fib_result r;
};

static void model(struct run *x, const char *s, enum sim_scheme sc, uint32_t v,
		  uint32_t cap, uint32_t heavy)
{
	struct sim_fib_params p = { .scheme = sc, .vms_per_server = v, .fib_cap = cap,
				    .heavy = heavy, .seed = 7 };
	char err[512];

	x->t = spec(s);
	if (sim_net_init(&x->n, x->t, err, sizeof(err)))
		fail_msg("%s: %s", s, err);
	if (sim_fib_model(&x->n, &p, &x->r, err, sizeof(err)))
		fail_msg("%s %s: %s", s, sim_scheme_name(sc), err);
}

static void done(struct run *x)
{
	sim_fib_result_free(&x->r);
	sim_net_free(&x->n);
	topo_free(x->t);
}

/* Entries of the switch called `name`. */
static uint64_t at(const struct run *x, const char *name)
{
	uint32_t node = topo_find(x->t, name);

	assert_int_not_equal(node, UINT32_MAX);
	return x->r.entries[x->t->nodes[node].index];
}

/* ---- hand counts -------------------------------------------------------- */

/* leafspine:spines=2,leaves=3,servers=2: S = 6 servers, 2 per leaf, every
 * leaf wired to both spines.  V = 3 VMs per server, so 6 * (3 + 1) = 24
 * MACs in all (each server's own and its VMs'). */
#define LS "leafspine:spines=2,leaves=3,servers=2"

static void test_hand_l2(void **state)
{
	struct run x;

	(void)state;
	/* Every switch learns all 24 MACs. */
	model(&x, LS, SCHEME_L2, 3, 0, 0);
	assert_int_equal(at(&x, "leaf0"), 24);
	assert_int_equal(at(&x, "spine1"), 24);
	assert_int_equal(x.r.fib_max, 24);
	assert_true(x.r.fib_mean == 24.0);
	assert_true(x.r.fits);
	done(&x);
	/* With room for 100 entries: here, 6 (V + 1) <= 100 gives V <= 15.
	 * Growing at V = 3, S' * 4 <= 100 gives S' <= 25, in steps of a leaf's
	 * 2 servers: 24 servers, 72 VMs. */
	model(&x, LS, SCHEME_L2, 3, 100, 0);
	assert_int_equal(x.r.max_vms_per_server, 15);
	assert_int_equal(x.r.max_servers, 24);
	assert_int_equal(x.r.max_vms, 72);
	done(&x);
	/* With room for 20 it overflows everywhere. */
	model(&x, LS, SCHEME_L2, 3, 20, 0);
	assert_false(x.r.fits);
	assert_int_equal(x.r.overflowing, 5);
	assert_int_equal(x.r.max_vms_per_server, 2);	/* 6 * 3 = 18 <= 20 */
	done(&x);
}

static void test_hand_spain(void **state)
{
	struct run x;

	(void)state;
	/* One VLAN per spine; VLAN i holds spine i and all three leaves.  A
	 * leaf is in both VLANs: 2 * 24 = 48; a spine in its own: 24.  Mean
	 * (3 * 48 + 2 * 24) / 5 = 38.4. */
	model(&x, LS, SCHEME_SPAIN, 3, 0, 0);
	assert_int_equal(x.r.vlans, 2);
	assert_int_equal(at(&x, "leaf2"), 48);
	assert_int_equal(at(&x, "spine0"), 24);
	assert_int_equal(x.r.fib_max, 48);
	assert_true(x.r.fib_mean > 38.39 && x.r.fib_mean < 38.41);
	done(&x);
}

static void test_hand_netlord(void **state)
{
	struct run x;

	(void)state;
	/* E = 3 edge switches.  A leaf is in both VLANs and learns the 2
	 * other leaves' MACs in each (4) plus its 2 servers' MACs: 6.  A spine
	 * learns the 3 leaf MACs on its one VLAN: 3.  VMs add nothing. */
	model(&x, LS, SCHEME_NETLORD, 3, 0, 0);
	assert_int_equal(at(&x, "leaf1"), 6);
	assert_int_equal(at(&x, "spine1"), 3);
	assert_true(x.r.fib_mean > 4.79 && x.r.fib_mean < 4.81);
	assert_int_equal(x.r.max_vms_per_server, INT64_MAX);
	done(&x);
	/* Growing with 48-port switches (24 servers and 24 spine uplinks per
	 * leaf) and 64K entries: a leaf holds 24 (E - 1) + 24 = 24 E, so E <=
	 * 65536 / 24 = 2730 leaves, 65,520 servers; at 10 VMs per server
	 * 655,200 VMs: NetLord's "~650K VMs with 48-port 64K-FIB switches". */
	model(&x, "leafspine:spines=24,leaves=48,servers=24", SCHEME_NETLORD, 10, 0, 0);
	assert_int_equal(x.r.fib_max, 24 * 47 + 24);
	assert_int_equal(x.r.max_servers, 65520);
	assert_int_equal(x.r.max_vms, 655200);
	done(&x);
}

static void test_hand_vl2(void **state)
{
	struct run x;

	(void)state;
	/* Leaves are ToRs: routes to the 2 other ToR locators, 1 anycast
	 * route to the top tier, and 2 servers + 2 * 3 VMs delivered by
	 * address: 11.  Spines (top tier): the 3 ToR locators.
	 * Mean (3 * 11 + 2 * 3) / 5 = 7.8. */
	model(&x, LS, SCHEME_VL2, 3, 0, 0);
	assert_int_equal(at(&x, "leaf0"), 11);
	assert_int_equal(at(&x, "spine0"), 3);
	assert_true(x.r.fib_mean > 7.79 && x.r.fib_mean < 7.81);
	done(&x);
	/* VL2's own Clos, vl2:da=4,di=4,per_tor=2: 2 intermediates, 4 aggs,
	 * 4 ToRs, 8 servers.  ToR: 3 other ToRs + anycast + 2 * (1 + V), with
	 * V = 5: 16.  Agg: 4 ToRs + anycast = 5.  Intermediate: 4. */
	model(&x, "vl2:da=4,di=4,per_tor=2", SCHEME_VL2, 5, 0, 0);
	assert_int_equal(at(&x, "tor3"), 16);
	assert_int_equal(at(&x, "agg0"), 5);
	assert_int_equal(at(&x, "int1"), 4);
	done(&x);
}

static void test_hand_peregrine(void **state)
{
	struct run x;

	(void)state;
	/* Two MACs per server on every switch: 2 * 6 = 12, whatever V. */
	model(&x, LS, SCHEME_PEREGRINE, 1000, 0, 0);
	assert_int_equal(at(&x, "leaf0"), 12);
	assert_int_equal(at(&x, "spine1"), 12);
	assert_int_equal(x.r.max_vms_per_server, INT64_MAX);
	done(&x);
	/* Peregrine's claim: 1,000,000 VMs in 64K-entry switches.  vl2 with
	 * da=di=50 and 50 servers per ToR has 625 ToRs, 31,250 servers; 32
	 * VMs each is 1,000,000 VMs and every switch holds 62,500 entries.
	 * Growing: 2 S <= 65536 gives 32,768 servers, in steps of 50: 32,750
	 * servers, 1,048,000 VMs. */
	model(&x, "vl2:da=50,di=50,per_tor=50", SCHEME_PEREGRINE, 32, 0, 0);
	assert_int_equal(x.r.vms, 1000000);
	assert_int_equal(x.r.fib_max, 62500);
	assert_true(x.r.fits);
	assert_int_equal(x.r.max_vms, 1048000);
	done(&x);
	/* The same data center under plain Ethernet: 31,250 * 33 = 1,031,250
	 * entries on every switch, 16 times the capacity. */
	model(&x, "vl2:da=50,di=50,per_tor=50", SCHEME_L2, 32, 0, 0);
	assert_int_equal(x.r.fib_max, 1031250);
	assert_false(x.r.fits);
	assert_int_equal(x.r.overflowing, x.t->nswitches);
	done(&x);
}

static void test_hand_peregrine_dual(void **state)
{
	struct run x;

	(void)state;
	/* leafspine:spines=2,leaves=2,servers=1, V = 1, one heavy pair per
	 * server: server 0 sends to server 1's VM and back.  Pair 0: primary
	 * leaf0 -> spine0 (both spines empty, lowest port) -> leaf1; backup
	 * leaves leaf0 by the other spine: leaf0 -> spine1 -> leaf1.  Pair 1:
	 * primary leaf1 -> spine0 (tie, lowest port) -> leaf0, backup via
	 * spine1.  Each path puts one entry (its own MAC) on 3 switches: 12
	 * direct entries; leaves 4 each, spines 2 each.  Add 2 MACs per server
	 * everywhere (4): leaves 8, spines 6. */
	model(&x, "leafspine:spines=2,leaves=2,servers=1", SCHEME_PEREGRINE_DUAL, 1, 0, 1);
	assert_int_equal(x.r.direct_entries, 12);
	assert_int_equal(at(&x, "leaf0"), 8);
	assert_int_equal(at(&x, "leaf1"), 8);
	assert_int_equal(at(&x, "spine0"), 6);
	assert_int_equal(at(&x, "spine1"), 6);
	done(&x);
}

static void test_hand_bcube(void **state)
{
	struct run x;

	(void)state;
	/* bcube:n=4,k=1: 16 servers, 8 switches of 4 ports; a switch knows
	 * its 4 servers and nothing else, however many VMs. */
	model(&x, "bcube:n=4,k=1", SCHEME_BCUBE, 500, 0, 0);
	assert_int_equal(x.r.fib_max, 4);
	assert_true(x.r.fib_mean == 4.0);
	assert_int_equal(x.r.max_vms, UINT64_MAX);
	done(&x);
}

static void test_hand_evpn(void **state)
{
	struct run x;

	(void)state;
	/* leafspine:spines=2,leaves=4,servers=2,homing=2 (the default lab's):
	 * a spine routes 8 VTEPs, 4 leaf loopbacks, its 4 links: 16; a leaf 8
	 * VTEPs, 3 other leaves, 2 spines, 6 links: 19.  The EVPN lab's
	 * switches show these plus their management subnet (docs/evpn.md).
	 * VMs live in the VTEPs' bridges: 500 per server change nothing. */
	model(&x, "leafspine:spines=2,leaves=4,servers=2,homing=2", SCHEME_EVPN, 500, 0, 0);
	assert_int_equal(x.r.fib_max, 19);
	assert_true(x.r.fib_mean == (2 * 16 + 4 * 19) / 6.0);
	assert_int_equal(x.r.max_vms_per_server, INT64_MAX);
	done(&x);
}

static void test_hand_fattree_spain(void **state)
{
	struct run x;

	(void)state;
	/* fattree:k=4: 4 cores, 8 aggs, 8 edges, 16 servers, V = 1: 32 MACs.
	 * SPAIN's 4 paths per pair of edges (one per core) pack into 7 VLAN
	 * trees (route/spain.c; a later path that would close a loop in a
	 * VLAN opens another).  Every edge is in all 7 and every server
	 * reaches all 7: an edge holds 7 * 32 = 224.  core3 is in 4 VLANs
	 * (128), core2 in 1 (32), as route/test_spain.c's packing gives. */
	model(&x, "fattree:k=4", SCHEME_SPAIN, 1, 0, 0);
	assert_int_equal(x.r.vlans, 7);
	assert_int_equal(at(&x, "edge0"), 224);
	assert_int_equal(at(&x, "edge7"), 224);
	assert_int_equal(at(&x, "core3"), 128);
	assert_int_equal(at(&x, "core2"), 32);
	done(&x);
}

static void test_scheme_topology_mismatch(void **state)
{
	struct sim_fib_params p = { .scheme = SCHEME_BCUBE, .vms_per_server = 1 };
	struct sim_fib_result r;
	struct sim_net n;
	struct topo *t = spec(LS);
	char err[256];

	(void)state;
	assert_int_equal(sim_net_init(&n, t, err, sizeof(err)), 0);
	assert_int_not_equal(sim_fib_model(&n, &p, &r, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "BCube"));
	p.scheme = SCHEME_SPAIN;
	p.vlans = ROUTE_SPAIN_MAX_K + 1;	/* more paths per pair than SPAIN takes */
	assert_int_not_equal(sim_fib_model(&n, &p, &r, err, sizeof(err)), 0);
	sim_net_free(&n);
	topo_free(t);
}

/* ---- the explicit installation ------------------------------------------ */

/* A forwarding table per switch: key -> port.  Installing the same key with
 * another port is a bug in a tree (a MAC has one way out of a switch). */
struct fibs {
	const struct topo *t;
	struct hmap *m;		/* node id -> table (switches only) */
};

static void fibs_init(struct fibs *f, const struct topo *t)
{
	f->t = t;
	f->m = calloc(t->nnodes, sizeof(*f->m));
	for (uint32_t i = 0; i < t->nnodes; i++)
		hmap_init(&f->m[i], 16, i);
}

static void fibs_free(struct fibs *f)
{
	for (uint32_t i = 0; i < f->t->nnodes; i++)
		hmap_free(&f->m[i]);
	free(f->m);
}

static void put(struct fibs *f, uint32_t sw, uint64_t key, uint64_t port)
{
	uint64_t *old = hmap_get(&f->m[sw], key);

	if (old && *old != port)
		fail_msg("switch %s: key %llx on ports %llu and %llu", f->t->nodes[sw].name,
			 (unsigned long long)key, (unsigned long long)*old,
			 (unsigned long long)port);
	hmap_put(&f->m[sw], key, port);
}

/* All-pairs hop counts over switches only (servers do not forward). */
static uint32_t *all_dist(const struct topo *t)
{
	uint32_t *d = malloc((size_t)t->nnodes * t->nnodes * sizeof(*d));
	uint32_t *q = malloc(t->nnodes * sizeof(*q));

	for (uint32_t s = 0; s < t->nnodes; s++)
		topo_bfs(t, s, NULL, false, d + (size_t)s * t->nnodes, q);
	free(q);
	return d;
}

#define DIST(d, t, a, b) ((d)[(size_t)(a) * (t)->nnodes + (b)])

/* Flood one frame with source MAC `key` from switch `from` over the tree
 * `in_tree` (a set of switches, tree links = BFS parent links among them
 * from `root`): every switch reached learns key -> its port towards `from`.
 * Recursive walk over switch neighbours in the tree, the naive way. */
struct tree {
	uint32_t *parent;	/* node id -> parent switch, UINT32_MAX root/out */
	uint8_t *in;
};

static void tree_build(struct tree *tr, const struct topo *t, uint32_t root,
		       const uint8_t *allowed, const uint32_t *d)
{
	tr->parent = malloc(t->nnodes * sizeof(uint32_t));
	tr->in = calloc(t->nnodes, 1);
	for (uint32_t v = 0; v < t->nnodes; v++) {
		tr->parent[v] = UINT32_MAX;
		if (topo_is_server(t, v) || !allowed[v])
			continue;
		tr->in[v] = 1;
		if (v == root)
			continue;
		/* Parent: the first neighbour in the set one hop nearer. */
		for (uint32_t p = 0; p < t->nodes[v].degree; p++) {
			uint32_t u = topo_port(t, v, p)->peer;

			if (!topo_is_server(t, u) && allowed[u] &&
			    DIST(d, t, root, u) + 1 == DIST(d, t, root, v)) {
				tr->parent[v] = u;
				break;
			}
		}
		assert_int_not_equal(tr->parent[v], UINT32_MAX);
	}
}

static void tree_free(struct tree *tr)
{
	free(tr->parent);
	free(tr->in);
}

static uint32_t port_to(const struct topo *t, uint32_t a, uint32_t b)
{
	for (uint32_t p = 0; p < t->nodes[a].degree; p++)
		if (topo_port(t, a, p)->peer == b)
			return p;
	fail_msg("%s and %s are not neighbours", t->nodes[a].name, t->nodes[b].name);
	return 0;
}

static bool tree_adjacent(const struct tree *tr, uint32_t a, uint32_t b)
{
	return tr->parent[a] == b || tr->parent[b] == a;
}

static void flood(struct fibs *f, const struct tree *tr, uint32_t at_sw, uint32_t came_from,
		  uint64_t key)
{
	const struct topo *t = f->t;

	put(f, at_sw, key, port_to(t, at_sw, came_from));
	for (uint32_t p = 0; p < t->nodes[at_sw].degree; p++) {
		uint32_t u = topo_port(t, at_sw, p)->peer;

		if (u != came_from && !topo_is_server(t, u) && tr->in[u] &&
		    tree_adjacent(tr, at_sw, u))
			flood(f, tr, u, at_sw, key);
	}
}

/* Keys: MAC number in the low 40 bits, VLAN above. */
#define KEY(vlan, mac) ((uint64_t)(vlan) << 40 | (mac))


/* A server's MACs: its own (number s) and its VMs'. */
static void flood_server_macs(struct fibs *f, const struct tree *tr, uint32_t vlan,
			      uint32_t s, uint32_t V)
{
	const struct topo *t = f->t;
	uint32_t node = t->servers[s], sw = topo_port(t, node, 0)->peer;

	for (uint32_t m = 0; m <= V; m++)
		flood(f, tr, sw, node, KEY(vlan, m == 0 ? s : t->nservers + (uint64_t)s * V + m - 1));
}

/* SPAIN's VLANs, computed here straight from route/spain.c with the
 * simulator's default (one path per top-tier switch), and a VLAN's tree: its
 * links, parent links by a search over them from the first member. */
static void spain_of(const struct topo *t, const struct sim_net *n, struct route_spain *sp)
{
	char err[256];

	assert_int_equal(route_spain_build(t, MIN(n->ntop, (uint32_t)ROUTE_SPAIN_MAX_K), sp, err,
					   sizeof(err)), 0);
}

static void tree_of_vlan(struct tree *tr, const struct topo *t, const struct route_spain *sp,
			 uint32_t v)
{
	uint8_t *in_vlan = calloc(t->nlinks, 1);
	uint32_t *queue = malloc(t->nnodes * sizeof(uint32_t)), head = 0, tail = 0;

	tr->parent = malloc(t->nnodes * sizeof(uint32_t));
	tr->in = calloc(t->nnodes, 1);
	for (uint32_t w = 0; w < t->nnodes; w++)
		tr->parent[w] = UINT32_MAX;
	for (uint32_t j = sp->vlan_off[v]; j < sp->vlan_off[v + 1]; j++) {
		in_vlan[sp->vlan_links[j]] = 1;
		tr->in[t->links[sp->vlan_links[j]].a] = 1;
		tr->in[t->links[sp->vlan_links[j]].b] = 1;
	}
	queue[tail++] = t->links[sp->vlan_links[sp->vlan_off[v]]].a;
	while (head < tail) {
		uint32_t u = queue[head++];

		for (uint32_t p = 0; p < t->nodes[u].degree; p++) {
			const struct topo_adj *a = topo_port(t, u, p);

			if (in_vlan[a->link] && a->peer != queue[0] &&
			    tr->parent[a->peer] == UINT32_MAX) {
				tr->parent[a->peer] = u;
				queue[tail++] = a->peer;
			}
		}
	}
	free(in_vlan);
	free(queue);
}

static uint32_t spain_vlans(const struct topo *t, const struct sim_net *n)
{
	struct route_spain sp;
	uint32_t k;

	spain_of(t, n, &sp);
	k = sp.nvlans;
	route_spain_free(&sp);
	return k;
}

/* A server's switch in the tree, or UINT32_MAX: it sends on a VLAN only if
 * one of its switches is in it. */
static uint32_t server_switch_in(const struct topo *t, const struct tree *tr, uint32_t s)
{
	uint32_t node = t->servers[s];

	for (uint32_t p = 0; p < t->nodes[node].degree; p++)
		if (tr->in[topo_port(t, node, p)->peer])
			return topo_port(t, node, p)->peer;
	return UINT32_MAX;
}

static void install_l2_spain(struct fibs *f, const struct sim_net *n, const uint32_t *d,
			     bool spain, uint32_t V)
{
	const struct topo *t = f->t;
	uint8_t *all = malloc(t->nnodes);

	if (!spain) {
		/* 802.1D: one tree from the root bridge, switch 0. */
		struct tree tr;

		memset(all, 1, t->nnodes);
		tree_build(&tr, t, t->switches[0], all, d);
		for (uint32_t s = 0; s < t->nservers; s++)
			flood_server_macs(f, &tr, 0, s, V);
		tree_free(&tr);
	}
	if (spain) {
		struct route_spain sp;

		spain_of(t, n, &sp);
		for (uint32_t v = 0; v < sp.nvlans; v++) {
			struct tree tr;

			tree_of_vlan(&tr, t, &sp, v);
			for (uint32_t s = 0; s < t->nservers; s++) {
				uint32_t sw = server_switch_in(t, &tr, s);

				for (uint32_t m = 0; sw != UINT32_MAX && m <= V; m++)
					flood(f, &tr, sw, t->servers[s],
					      KEY(v, m == 0 ? s : t->nservers + (uint64_t)s * V + m - 1));
			}
			tree_free(&tr);
		}
		route_spain_free(&sp);
	}
	free(all);
}

static bool has_servers(const struct topo *t, uint32_t sw)
{
	for (uint32_t p = 0; p < t->nodes[sw].degree; p++)
		if (topo_is_server(t, topo_port(t, sw, p)->peer))
			return true;
	return false;
}

static void install_netlord(struct fibs *f, const struct sim_net *n)
{
	const struct topo *t = f->t;
	struct route_spain sp;

	spain_of(t, n, &sp);
	for (uint32_t v = 0; v < sp.nvlans; v++) {
		struct tree tr;

		tree_of_vlan(&tr, t, &sp, v);
		/* Each edge switch's MAC, flooded from the edge switch itself:
		 * everyone else on the VLAN learns it; the switch itself does
		 * not need an entry for its own address. */
		for (uint32_t e = 0; e < t->nswitches; e++) {
			uint32_t sw = t->switches[e];

			if (!has_servers(t, sw) || !tr.in[sw])
				continue;
			for (uint32_t p = 0; p < t->nodes[sw].degree; p++) {
				uint32_t u = topo_port(t, sw, p)->peer;

				if (!topo_is_server(t, u) && tr.in[u] && tree_adjacent(&tr, sw, u))
					flood(f, &tr, u, sw, KEY(v, 1ull << 39 | sw));
			}
		}
		tree_free(&tr);
	}
	route_spain_free(&sp);
	/* Local servers at their edge switches. */
	for (uint32_t s = 0; s < t->nservers; s++) {
		uint32_t node = t->servers[s];

		for (uint32_t p = 0; p < t->nodes[node].degree; p++) {
			uint32_t sw = topo_port(t, node, p)->peer;

			put(f, sw, KEY(4095, s), port_to(t, sw, node));
		}
	}
}

static void install_vl2(struct fibs *f, const struct sim_net *n, uint32_t V)
{
	const struct topo *t = f->t;

	for (uint32_t i = 0; i < t->nswitches; i++) {
		uint32_t w = t->switches[i];

		/* A locator route per other ToR, an anycast one to the top. */
		for (uint32_t j = 0; j < t->nswitches; j++)
			if (has_servers(t, t->switches[j]) && j != i)
				put(f, w, KEY(1, t->switches[j]), 0);
		if (!n->is_top[w])
			put(f, w, KEY(2, 0), 0);
	}
	for (uint32_t s = 0; s < t->nservers; s++) {
		uint32_t node = t->servers[s];

		for (uint32_t p = 0; p < t->nodes[node].degree; p++) {
			uint32_t sw = topo_port(t, node, p)->peer;

			for (uint32_t m = 0; m <= V; m++)
				put(f, sw, KEY(3, (uint64_t)s * (V + 1) + m), port_to(t, sw, node));
		}
	}
}

/* Peregrine: for every server P, two BFS trees of this file's own towards
 * P: the first breaks ties on the lowest port, the second on the highest
 * and, for a dual-homed server, starts from its second NIC.  Each puts
 * P's MAC with the port towards P on every switch it reaches. */
static void peregrine_tree(struct fibs *f, uint32_t P, uint32_t nic, bool high,
			   uint64_t key)
{
	const struct topo *t = f->t;
	uint32_t root = t->servers[P], first = topo_port(t, root, nic)->peer;
	uint32_t *dist = malloc(t->nnodes * sizeof(*dist)), *q = malloc(t->nnodes * sizeof(*q));
	uint32_t head = 0, tail = 0;

	for (uint32_t i = 0; i < t->nnodes; i++)
		dist[i] = UINT32_MAX;
	dist[first] = 0;
	q[tail++] = first;
	put(f, first, key, port_to(t, first, root));
	while (head < tail) {
		uint32_t u = q[head++], deg = t->nodes[u].degree;

		for (uint32_t k = 0; k < deg; k++) {
			uint32_t v = topo_port(t, u, high ? deg - 1 - k : k)->peer;

			if (topo_is_server(t, v) || dist[v] != UINT32_MAX)
				continue;
			dist[v] = dist[u] + 1;
			put(f, v, key, port_to(t, v, u));
			q[tail++] = v;
		}
	}
	free(dist);
	free(q);
}

static void install_peregrine(struct fibs *f)
{
	const struct topo *t = f->t;

	for (uint32_t P = 0; P < t->nservers; P++) {
		uint32_t nics = t->nodes[t->servers[P]].degree;

		peregrine_tree(f, P, 0, false, KEY(0, P));
		peregrine_tree(f, P, nics > 1 ? 1 : 0, true, KEY(1, P));
	}
}

static void install_bcube(struct fibs *f)
{
	const struct topo *t = f->t;

	for (uint32_t s = 0; s < t->nservers; s++) {
		uint32_t node = t->servers[s];

		for (uint32_t p = 0; p < t->nodes[node].degree; p++) {
			uint32_t sw = topo_port(t, node, p)->peer;

			put(f, sw, KEY(0, s), port_to(t, sw, node));
		}
	}
}

static void explicit_vs_model(const char *s, enum sim_scheme sc, uint32_t V)
{
	struct run x;
	struct fibs f;
	uint32_t *d;

	model(&x, s, sc, V, 0, 0);
	fibs_init(&f, x.t);
	d = all_dist(x.t);
	switch (sc) {
	case SCHEME_L2: install_l2_spain(&f, &x.n, d, false, V); break;
	case SCHEME_SPAIN:
		install_l2_spain(&f, &x.n, d, true, V);
		assert_int_equal(x.r.vlans, spain_vlans(x.t, &x.n));
		break;
	case SCHEME_NETLORD: install_netlord(&f, &x.n); break;
	case SCHEME_VL2: install_vl2(&f, &x.n, V); break;
	case SCHEME_PEREGRINE: install_peregrine(&f); break;
	case SCHEME_BCUBE: install_bcube(&f); break;
	default: fail_msg("no explicit installer for %s", sim_scheme_name(sc));
	}
	for (uint32_t i = 0; i < x.t->nswitches; i++) {
		uint32_t node = x.t->switches[i];

		if (f.m[node].count != x.r.entries[i])
			fail_msg("%s %s V=%u: switch %s holds %zu entries installed one by "
				 "one, the model says %llu", s, sim_scheme_name(sc), V,
				 x.t->nodes[node].name, f.m[node].count,
				 (unsigned long long)x.r.entries[i]);
	}
	free(d);
	fibs_free(&f);
	done(&x);
}

static void test_explicit(void **state)
{
	static const char *const specs[] = {
		"leafspine:spines=2,leaves=3,servers=2",
		"leafspine:spines=3,leaves=4,servers=3,homing=2",
		"leafspine:spines=1,leaves=5,servers=1",
		"vl2:da=4,di=4,per_tor=3",
		"vl2:da=6,di=4,per_tor=2",
		"fattree:k=4",
		"ring",
	};
	static const enum sim_scheme schemes[] = {
		SCHEME_L2, SCHEME_SPAIN, SCHEME_NETLORD, SCHEME_VL2, SCHEME_PEREGRINE,
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++)
		for (size_t j = 0; j < ARRAY_SIZE(schemes); j++)
			for (uint32_t V = 0; V <= 3; V += 3)
				explicit_vs_model(specs[i], schemes[j], V);
	explicit_vs_model("bcube:n=3,k=1", SCHEME_BCUBE, 4);
	explicit_vs_model("bcube:n=2,k=3", SCHEME_BCUBE, 1);
}

/* The structural fact the Peregrine count rests on: a tree for a MAC puts
 * exactly one entry on every switch it spans (put() fails on a second,
 * different one), and the trees span every switch. */
static void test_peregrine_trees_span(void **state)
{
	static const char *const specs[] = {
		"leafspine:spines=4,leaves=6,servers=2,homing=2", "vl2:da=6,di=6,per_tor=2",
		"fattree:k=6",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
		struct topo *t = spec(specs[i]);
		struct fibs f;

		fibs_init(&f, t);
		install_peregrine(&f);
		for (uint32_t s = 0; s < t->nswitches; s++) {
			struct hmap *m = &f.m[t->switches[s]];

			assert_int_equal(m->count, 2 * t->nservers);
			for (uint32_t P = 0; P < t->nservers; P++) {
				assert_non_null(hmap_get(m, KEY(0, P)));
				assert_non_null(hmap_get(m, KEY(1, P)));
			}
		}
		fibs_free(&f);
		topo_free(t);
	}
}

/* sim/vlans.c against route/spain.c read naively: a VLAN's members are the
 * ends of its links, every member's tree link is one of those links and its
 * hops reach the root, `carried` counts the VLANs, and a pair of edge
 * switches is always sent on a VLAN that holds both. */
static void test_vlans_from_spain(void **state)
{
	static const char *const specs[] = {
		"fattree:k=6", "vl2:da=8,di=6,per_tor=1", "leafspine:spines=3,leaves=2,servers=1",
		"leafspine:spines=4,leaves=6,servers=2,homing=2",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
		struct topo *t = spec(specs[i]);
		struct sim_vlans v;
		struct sim_net n;
		struct route_spain sp;
		uint32_t *carried = calloc(t->nnodes, sizeof(uint32_t));
		char err[256];

		assert_int_equal(sim_net_init(&n, t, err, sizeof(err)), 0);
		assert_int_equal(sim_vlans_build(&v, &n, 0, true, err, sizeof(err)), 0);
		spain_of(t, &n, &sp);
		assert_int_equal(v.k, sp.nvlans);
		for (uint32_t k = 0; k < v.k; k++) {
			struct tree tr;

			tree_of_vlan(&tr, t, &sp, k);
			assert_true(tr.in[v.root[k]]);
			for (uint32_t w = 0; w < t->nnodes; w++) {
				uint32_t h = w, steps = 0;

				assert_int_equal(sim_vlan_has(&v, k, w), tr.in[w]);
				carried[w] += tr.in[w];
				if (!tr.in[w])
					continue;
				while (h != v.root[k] && steps++ < t->nnodes) {
					uint32_t up = sim_vlan_hop(&v, k, h);

					assert_true(tree_adjacent(&tr, h, up));
					h = up;
				}
				assert_int_equal(h, v.root[k]);
			}
			tree_free(&tr);
		}
		for (uint32_t w = 0; w < t->nnodes; w++)
			assert_int_equal(v.carried[w], carried[w]);
		for (uint32_t a = 0; a < sp.nends; a++)
			for (uint32_t b = 0; b < sp.nends; b++)
				for (uint64_t h = 0; h < 8; h++) {
					uint32_t k = sim_vlans_pick(&v, sp.ends[a], sp.ends[b],
								    h * 0x9e3779b97f4a7c15ull);

					assert_int_not_equal(k, SIM_NONE);
					assert_true(sim_vlan_has(&v, k, sp.ends[a]));
					assert_true(sim_vlan_has(&v, k, sp.ends[b]));
				}
		route_spain_free(&sp);
		sim_vlans_free(&v);
		sim_net_free(&n);
		free(carried);
		topo_free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hand_l2),
		cmocka_unit_test(test_hand_spain),
		cmocka_unit_test(test_hand_netlord),
		cmocka_unit_test(test_hand_vl2),
		cmocka_unit_test(test_hand_peregrine),
		cmocka_unit_test(test_hand_peregrine_dual),
		cmocka_unit_test(test_hand_bcube),
		cmocka_unit_test(test_hand_fattree_spain),
		cmocka_unit_test(test_scheme_topology_mismatch),
		cmocka_unit_test(test_hand_evpn),
		cmocka_unit_test(test_explicit),
		cmocka_unit_test(test_peregrine_trees_span),
		cmocka_unit_test(test_vlans_from_spain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
