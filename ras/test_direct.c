/* Unit tests of the RAS core's direct routes (ras/direct.c), with the real
 * switchd core as the switches and fake agents that apply DIRECT and answer
 * ACK.  Two checks run all the time:
 *   - when an agent applies DIRECT on, the switches carry the VM's MAC from
 *     every NIC of its server to the VM's server (a naive walk over the
 *     switches' tables);
 *   - after every switch operation, every (agent, VM) that is on still
 *     finds an entry at every live switch on its walk: no entry is removed
 *     or changed under an agent that sends direct.
 * And after the fact: the entries route_lb() computes for the same matrix
 * are on the switches, capacities hold, bad reports are counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/log.h"
#include "lib/rng.h"
#include "ras/ras.h"
#include "route/failover.h"
#include "route/lbtree.h"
#include "switchd/switchd.h"
#include "wire/pgr.h"
#include "wire/rasproto.h"

static const struct auth_key key = { { 7, 7, 1 } };
#define RAS_IP 0xac1f0001u
#define AGENT_IP 0x0a000001u
#define TOOL_IP 0x0b000001u
#define MS 1000000ull
enum { NVMS = 16, MAXSRV = 64 };

enum walk { W_RIGHT, W_OTHER, W_FAILED, W_HOLE, W_LOOP };

struct fagent {
	uint64_t seq, last_direct;
	uint8_t on[NVMS];
};

struct net {
	struct topo *t;
	struct ras_addr *addr;
	struct sw **sw;
	struct ras *r;
	struct ras_out o;
	struct sw_out *so;
	uint64_t now, next_report;
	struct rng rng;
	uint32_t loss_pct;
	uint8_t *cut, *dead;
	struct { struct ras_addr from; size_t len; uint8_t buf[SWP_MAX_DGRAM]; } *q;
	size_t nq, capq;
	/* the world */
	uint32_t vm_srv[NVMS];		/* server index */
	double rate[NVMS][NVMS];	/* Mbit/s */
	uint64_t moved_at;
	struct fagent ag[MAXSRV];
	uint64_t tool_acked;
	uint32_t applied_on, applied_off;
	bool allow_other;		/* a VM just moved: entries may lead to its old server */
};

static uint32_t vm_id(const struct net *n, uint32_t v)
{
	return pgr_id_of(n->t->nservers + 1 + v, 0);
}

static struct sw *new_switch(struct net *n, uint32_t node)
{
	struct sw_config c = { .id = node, .fib_cap = 1u << 20, .has_ras = true,
			       .ras = { RAS_IP, 7500 }, .seq_base = n->now, .key = key };
	struct sw *s = sw_new(&c);

	sw_out_reset(n->so);
	for (uint16_t p = 0; p < n->t->nodes[node].degree; p++) {
		const struct topo_adj *a = topo_port(n->t, node, p);

		sw_port(s, p, true, !n->cut[a->link] && !n->dead[a->peer], n->now, n->so);
	}
	return s;
}

static bool lost(struct net *n)
{
	return n->loss_pct && rng_below(&n->rng, 100) < n->loss_pct;
}

static void enqueue(struct net *n, struct ras_addr from, const uint8_t *buf, size_t len)
{
	if (n->nq == n->capq) {
		n->capq = n->capq ? n->capq * 2 : 64;
		n->q = realloc(n->q, n->capq * sizeof(*n->q));
	}
	n->q[n->nq].from = from;
	n->q[n->nq].len = len;
	memcpy(n->q[n->nq].buf, buf, len);
	n->nq++;
}

static void queue_sw_out(struct net *n, uint32_t node)
{
	for (int i = 0; i < n->so->ndg; i++)
		enqueue(n, n->addr[node], n->so->dg[i].buf, n->so->dg[i].len);
	sw_out_reset(n->so);
}

/* Follow VM v's MAC from server s's NIC p over the switches' tables. */
static enum walk walk_nic(const struct net *n, uint32_t s, uint32_t p, uint32_t v)
{
	const struct topo *t = n->t;
	uint32_t node = t->servers[s];
	const struct topo_adj *a = topo_port(t, node, p);
	uint8_t mac[6];

	pgr_mac_make(mac, vm_id(n, v));
	for (uint32_t hops = 0; hops <= t->nnodes; hops++) {
		int port;

		if (n->cut[a->link])
			return W_FAILED;
		node = a->peer;
		if (topo_is_server(t, node))
			return t->nodes[node].index == n->vm_srv[v] ? W_RIGHT : W_OTHER;
		if (!n->sw[node])
			return W_FAILED;
		if ((port = sw_fib_lookup(n->sw[node], mac)) < 0)
			return W_HOLE;
		a = topo_port(t, node, (uint16_t)port);
	}
	return W_LOOP;
}

/* The worst over the server's NICs. */
static enum walk walk(const struct net *n, uint32_t s, uint32_t v)
{
	enum walk worst = W_RIGHT;

	for (uint32_t p = 0; p < n->t->nodes[n->t->servers[s]].degree; p++) {
		enum walk w = walk_nic(n, s, p, v);

		if (w > worst)
			worst = w;
	}
	return worst;
}

/* No entry an agent sends direct over is gone from a live switch. */
static void check_on_paths(const struct net *n)
{
	for (uint32_t s = 0; s < n->t->nservers; s++)
		for (uint32_t v = 0; v < NVMS; v++)
			if (n->ag[s].on[v] && walk(n, s, v) >= W_HOLE)
				fail_msg("server %u sends direct to VM %u: walk %d", s, v, walk(n, s, v));
}

static void agent_input(struct net *n, uint32_t s, const uint8_t *buf, size_t len)
{
	struct fagent *a = &n->ag[s];
	struct ras_addr me = { AGENT_IP + s, 9000 };
	struct rasp_hdr h = { RASP_ACK, s + 1, 0, 0 };
	struct rasp_msg m;
	uint8_t out[128];
	size_t olen;

	assert_int_equal(rasp_decode(buf, len, &key, &m), 0);
	if (m.h.type == RASP_ACK)
		return;
	assert_int_equal(m.h.type, RASP_DIRECT);
	if (m.h.seq > a->last_direct) {
		a->last_direct = m.h.seq;
		for (uint16_t i = 0; i < m.u.direct.n; i++) {
			struct rasp_direct d;
			uint32_t v;

			rasp_direct_at(&m, i, &d);
			v = pgr_id_node(d.vm_id) - n->t->nservers - 1;
			assert_true(v < NVMS);
			assert_int_equal(d.tree, 0);
			a->on[v] = d.on;
			if (d.on) {
				enum walk w = walk(n, s, v);

				n->applied_on++;
				if (w != W_RIGHT && !(w == W_OTHER && n->allow_other) && w != W_FAILED)
					fail_msg("DIRECT on for VM %u at server %u: walk %d", v, s, w);
			} else {
				n->applied_off++;
			}
		}
	}
	h.seq = ++a->seq;
	olen = rasp_enc_ack(out, sizeof(out), &h, m.h.seq, &key);
	enqueue(n, me, out, olen);
}

/* Carry out the RAS's output. */
static void deliver(struct net *n)
{
	for (size_t i = 0; i < n->o.ndg; i++) {
		const struct ras_dgram *g = &n->o.dg[i];
		uint32_t node = UINT32_MAX;

		if (lost(n))
			continue;
		if (g->to.ip >= AGENT_IP && g->to.ip < AGENT_IP + n->t->nservers) {
			agent_input(n, g->to.ip - AGENT_IP, g->buf, g->len);
			continue;
		}
		if (g->to.ip == TOOL_IP) {
			struct rasp_msg m;

			assert_int_equal(rasp_decode(g->buf, g->len, &key, &m), 0);
			assert_int_equal(m.h.type, RASP_ACK);
			n->tool_acked = m.u.ack.acked;
			continue;
		}
		for (uint32_t k = 0; k < n->t->nnodes; k++)
			if (n->addr[k].ip == g->to.ip)
				node = k;
		assert_int_not_equal(node, UINT32_MAX);
		if (!n->sw[node])
			continue;
		sw_out_reset(n->so);
		sw_input(n->sw[node], (struct sw_addr){ RAS_IP, 7500 }, g->buf, g->len, n->now, n->so);
		if (n->so->pending) {
			for (uint16_t k = 0; k < n->so->nnl; k++)
				n->so->nl[k].err = 0;
			sw_commit(n->sw[node], n->so);
			check_on_paths(n);
		}
		queue_sw_out(n, node);
	}
	ras_out_reset(&n->o);
}

static void report(struct net *n, uint32_t s, const uint8_t *buf, size_t len)
{
	enqueue(n, (struct ras_addr){ AGENT_IP + s, 9000 }, buf, len);
}

/* Every agent's TRAFFIC for the last second. */
static void reports(struct net *n)
{
	for (uint32_t s = 0; s < n->t->nservers; s++) {
		struct rasp_flow f[NVMS * NVMS];
		uint16_t nf = 0;
		uint8_t buf[RASP_MAX_DGRAM];
		struct rasp_hdr h = { RASP_TRAFFIC, s + 1, ++n->ag[s].seq, 0 };

		for (uint32_t a = 0; a < NVMS; a++)
			for (uint32_t b = 0; b < NVMS; b++)
				if (n->vm_srv[a] == s && n->rate[a][b] > 0)
					f[nf++] = (struct rasp_flow){
						vm_id(n, a), vm_id(n, b),
						(uint64_t)(n->rate[a][b] * 1e6 / 8), 1000,
						n->vm_srv[b] + 1 };
		if (nf)
			report(n, s, buf, rasp_enc_traffic(buf, sizeof(buf), &h, 1000, 0, 1, f, nf,
							   &key));
	}
}

/* Time passes in 10 ms steps; agents report every second. */
static void run(struct net *n, uint64_t ms)
{
	uint64_t end = n->now + ms * MS;

	while (n->now < end) {
		deliver(n);
		while (n->nq) {
			size_t k = --n->nq;
			struct ras_addr from = n->q[k].from;
			size_t len = n->q[k].len;
			uint8_t *buf = malloc(len);

			memcpy(buf, n->q[k].buf, len);
			if (!lost(n))
				ras_input(n->r, from, buf, len, n->now, &n->o);
			free(buf);
			deliver(n);
		}
		n->now += 10 * MS;
		if (n->now >= n->next_report) {
			reports(n);
			n->next_report = n->now + 1000 * MS;
		}
		ras_tick(n->r, n->now, &n->o);
		for (uint32_t i = 0; i < n->t->nnodes; i++) {
			if (!n->sw[i])
				continue;
			sw_out_reset(n->so);
			sw_tick(n->sw[i], n->now, n->so);
			queue_sw_out(n, i);
		}
	}
}

static void net_init(struct net *n, const char *spec, uint64_t seed, uint32_t fib_extra)
{
	struct ras_cfg c = { .key = key, .lb_ms = 2000 };
	char err[256];

	memset(n, 0, sizeof(*n));
	if (topo_from_spec(spec, &n->t, err, sizeof(err)))
		fail_msg("%s: %s", spec, err);
	assert_true(n->t->nservers <= MAXSRV);
	n->so = malloc(sizeof(*n->so));
	n->addr = calloc(n->t->nnodes, sizeof(*n->addr));
	n->sw = calloc(n->t->nnodes, sizeof(*n->sw));
	n->cut = calloc(n->t->nlinks, 1);
	n->dead = calloc(n->t->nnodes, 1);
	n->now = 1000000000ull;
	rng_seed(&n->rng, seed);
	ras_out_init(&n->o);
	for (uint32_t i = 0; i < n->t->nnodes; i++) {
		if (topo_is_server(n->t, i))
			continue;
		/* a capacity of the tree entries plus fib_extra (0: none) */
		n->t->nodes[i].fib_cap = fib_extra ? 2 * n->t->nservers + fib_extra : 0;
		n->addr[i] = (struct ras_addr){ 0xac1f0002u + i, 7400 };
		n->sw[i] = new_switch(n, i);
	}
	for (uint32_t v = 0; v < NVMS; v++)
		n->vm_srv[v] = v % n->t->nservers;
	for (uint32_t s = 0; s < MAXSRV; s++)
		n->ag[s].seq = 1000000000000ull * (s + 1);
	c.t = n->t;
	c.sw = n->addr;
	c.seq_base = n->now;
	assert_int_equal(ras_new(&c, n->now, &n->r, err, sizeof(err)), 0);
	ras_start(n->r, n->now, &n->o);
	run(n, 100);
}

static void net_free(struct net *n)
{
	for (uint32_t i = 0; i < n->t->nnodes; i++)
		sw_free(n->sw[i]);
	ras_free(n->r);
	ras_out_free(&n->o);
	topo_free(n->t);
	free(n->so);
	free(n->addr);
	free(n->sw);
	free(n->cut);
	free(n->dead);
	free(n->q);
}

static void link_set(struct net *n, uint32_t link, bool up)
{
	const struct topo_link *l = &n->t->links[link];
	uint32_t ends[2] = { l->a, l->b };

	n->cut[link] = !up;
	for (int i = 0; i < 2; i++) {
		if (!n->sw[ends[i]])
			continue;
		sw_out_reset(n->so);
		sw_port(n->sw[ends[i]], ends[i] == l->a ? l->pa : l->pb, true, up, n->now, n->so);
		queue_sw_out(n, ends[i]);
	}
}

/* ---- what the RAS reports ------------------------------------------------------------ */
struct dinfo {
	uint32_t vms, sources, entries;
	uint32_t *per_sw;		/* direct entries per switch */
	uint32_t vm_sw[NVMS][8];	/* the first entries of each VM */
	uint32_t vm_n[NVMS];
	const struct net *n;
};

static void collect(void *arg, const struct ras_direct_info *i)
{
	struct dinfo *d = arg;
	uint32_t v = pgr_id_node(i->vm_id) - d->n->t->nservers - 1;

	assert_true(v < NVMS);
	d->vms += i->nsources > 0;
	d->sources += i->nsources;
	d->entries += i->nentries;
	for (uint32_t k = 0; k < i->nentries; k++) {
		d->per_sw[i->entry_sw[k]]++;
		if (d->vm_n[v] < 8)
			d->vm_sw[v][d->vm_n[v]++] = i->entry_sw[k];
	}
}

static void direct_info(const struct net *n, struct dinfo *d)
{
	memset(d, 0, sizeof(*d));
	d->n = n;
	d->per_sw = calloc(n->t->nnodes, sizeof(*d->per_sw));
	ras_direct_foreach(n->r, collect, d);
}

/* Every switch: the tree entries plus the direct ones the RAS reports. */
static void check_counts(const struct net *n)
{
	struct dinfo d;

	direct_info(n, &d);
	for (uint32_t sw = 0; sw < n->t->nnodes; sw++) {
		if (!n->sw[sw] || route_node_dead(ras_routes(n->r))[sw])
			continue;
		assert_int_equal(sw_fib_used(n->sw[sw]),
				 route_fib_count(ras_routes(n->r), sw) + d.per_sw[sw]);
		if (n->t->nodes[sw].fib_cap)
			assert_true(sw_fib_used(n->sw[sw]) <= n->t->nodes[sw].fib_cap);
	}
	assert_int_equal(d.entries, ras_stats(n->r)->entries_direct);
	free(d.per_sw);
}

/* The pairs of the world as route_lb pairs. */
static uint32_t world_pairs(const struct net *n, struct route_lb_pair *lp)
{
	uint32_t k = 0;

	for (uint32_t a = 0; a < NVMS; a++)
		for (uint32_t b = 0; b < NVMS; b++)
			if (n->rate[a][b] >= RAS_MIN_MBPS && n->vm_srv[a] != n->vm_srv[b])
				lp[k++] = (struct route_lb_pair){ n->t->servers[n->vm_srv[a]],
								  n->t->servers[n->vm_srv[b]],
								  vm_id(n, b), n->rate[a][b] };
	return k;
}

/* ---- tests --------------------------------------------------------------------------------- */
#define DEFAULT_LAB "leafspine:spines=2,leaves=4,servers=2,homing=2"

/* One heavy pair: route_lb's entries are installed, then (and only then)
 * the agent is told, and its traffic reaches the VM's server. */
static void test_heavy_pair_goes_direct(void **state)
{
	struct route_lb_pair lp[NVMS * NVMS];
	struct route_lb_result res;
	struct route_lb_opts o = { .max_pairs = RAS_MAX_PAIRS, .base = ROUTE_LB_TREES };
	const struct ras_stats *st;
	struct net n;
	char err[256];
	uint32_t np;

	(void)state;
	net_init(&n, DEFAULT_LAB, 1, 0);
	st = ras_stats(n.r);
	n.rate[0][5] = 400;		/* VM 0 on srv0 -> VM 5 on srv5 */
	run(&n, 1500);
	assert_int_equal(st->lb_runs, 0);
	assert_int_equal(n.ag[0].on[5], 0);
	run(&n, 1500);
	assert_int_equal(st->lb_runs, 1);
	assert_int_equal(n.ag[0].on[5], 1);
	assert_int_equal(walk(&n, 0, 5), W_RIGHT);
	assert_int_equal(st->pairs_direct, 1);
	assert_int_equal(st->vms_direct, 1);
	assert_true(st->traffic_reports >= 2 && st->acks_sent >= 2);
	assert_int_equal(st->direct_on, 1);
	/* route_lb on the same matrix: each of its entries is on the switches */
	np = world_pairs(&n, lp);
	assert_int_equal(route_lb(ras_routes(n.r), lp, np, &o, &res, err, sizeof(err)), 0);
	assert_int_equal(res.direct[0], 1);
	assert_true(res.nentries > 0);
	for (uint32_t i = 0; i < res.nentries; i++) {
		uint8_t mac[6];

		pgr_mac_make(mac, res.entries[i].mac);
		assert_int_equal(sw_fib_lookup(n.sw[res.entries[i].node], mac), res.entries[i].port);
	}
	assert_true(st->entries_direct >= res.nentries);
	route_lb_result_free(&res);
	check_counts(&n);
	/* Steady traffic: nothing changes at the next computations. */
	{
		uint64_t ops = st->dops_sent, sent = st->direct_sent;

		run(&n, 4500);
		assert_true(st->lb_runs >= 3);
		assert_int_equal(st->dops_sent, ops);
		assert_int_equal(st->direct_sent, sent);
	}
	net_free(&n);
}

/* The pair goes quiet: DIRECT off first, the entries go only after the ACK
 * (check_on_paths would fail otherwise), nothing is left behind. */
static void test_withdraw_order(void **state)
{
	const struct ras_stats *st;
	struct net n;

	(void)state;
	net_init(&n, DEFAULT_LAB, 2, 0);
	st = ras_stats(n.r);
	n.rate[1][6] = 300;
	n.rate[2][6] = 300;		/* two sources, one VM */
	run(&n, 3500);
	assert_int_equal(n.ag[1].on[6] + n.ag[2].on[6], 2);
	assert_int_equal(st->pairs_direct, 2);
	assert_int_equal(st->vms_direct, 1);
	n.rate[1][6] = 0;		/* one source stops: the other stays */
	run(&n, 2500);
	assert_int_equal(n.ag[1].on[6], 0);
	assert_int_equal(n.ag[2].on[6], 1);
	assert_int_equal(walk(&n, 2, 6), W_RIGHT);
	n.rate[2][6] = 0.5;		/* below the threshold: not heavy */
	run(&n, 4500);
	assert_int_equal(n.ag[2].on[6], 0);
	assert_int_equal(st->pairs_direct, 0);
	assert_int_equal(st->entries_direct, 0);
	assert_int_equal(st->direct_off, 2);
	check_counts(&n);
	net_free(&n);
}

/* MOVED: acknowledged; the VM's routes are withdrawn and rebuilt toward
 * its new server. */
static void test_moved(void **state)
{
	uint8_t buf[256];
	struct rasp_hdr h = { RASP_MOVED, 0xffffff00u, 77, 0 };
	struct rasp_moved mv;
	const struct ras_stats *st;
	struct net n;
	size_t len;

	(void)state;
	net_init(&n, DEFAULT_LAB, 3, 0);
	st = ras_stats(n.r);
	n.rate[0][5] = 300;
	run(&n, 3500);
	assert_int_equal(n.ag[0].on[5], 1);
	/* VM 5 goes from srv5 to srv7 */
	mv = (struct rasp_moved){ vm_id(&n, 5), n.t->servers[5], n.t->servers[7] };
	n.vm_srv[5] = 7;
	n.allow_other = true;
	len = rasp_enc_moved(buf, sizeof(buf), &h, &mv, &key);
	ras_input(n.r, (struct ras_addr){ TOOL_IP, 4000 }, buf, len, n.now, &n.o);
	deliver(&n);
	assert_int_equal(n.tool_acked, 77);
	assert_int_equal(st->moved, 1);
	/* the retransmission (the ACK was lost) is acknowledged, not applied */
	n.tool_acked = 0;
	ras_input(n.r, (struct ras_addr){ TOOL_IP, 4000 }, buf, len, n.now, &n.o);
	deliver(&n);
	assert_int_equal(n.tool_acked, 77);
	assert_int_equal(st->moved, 1);
	assert_int_equal(st->withdrawn_moved, 1);
	run(&n, 300);
	assert_int_equal(n.ag[0].on[5], 0);	/* off while the routes change */
	n.allow_other = false;
	run(&n, 3000);
	assert_int_equal(n.ag[0].on[5], 1);
	assert_int_equal(walk(&n, 0, 5), W_RIGHT);
	check_counts(&n);
	/* a bad MOVED: a server that is a switch */
	mv.new_server = n.t->switches[0];
	h.seq = 78;
	len = rasp_enc_moved(buf, sizeof(buf), &h, &mv, &key);
	ras_input(n.r, (struct ras_addr){ TOOL_IP, 4000 }, buf, len, n.now, &n.o);
	assert_int_equal(st->drops[RAS_DROP_VM], 1);
	net_free(&n);
}

/* A link on the direct path fails: withdrawn (agent off first), then
 * routed again around the failure; back to normal when it returns. */
static void test_link_failure(void **state)
{
	const struct ras_stats *st;
	struct dinfo d;
	struct net n;
	uint32_t link = UINT32_MAX;

	(void)state;
	net_init(&n, DEFAULT_LAB, 4, 0);
	st = ras_stats(n.r);
	n.rate[0][5] = 300;
	run(&n, 3500);
	assert_int_equal(n.ag[0].on[5], 1);
	/* a switch-to-switch link out of one of VM 5's entries that the walk
	 * from srv0 uses */
	direct_info(&n, &d);
	for (uint32_t k = 0; k < d.vm_n[5] && link == UINT32_MAX; k++) {
		uint32_t sw = d.vm_sw[5][k];
		uint8_t mac[6];
		int port;

		pgr_mac_make(mac, vm_id(&n, 5));
		port = sw_fib_lookup(n.sw[sw], mac);
		if (port >= 0 && !topo_is_server(n.t, topo_port(n.t, sw, (uint16_t)port)->peer))
			link = topo_port(n.t, sw, (uint16_t)port)->link;
	}
	free(d.per_sw);
	assert_int_not_equal(link, UINT32_MAX);
	link_set(&n, link, false);
	run(&n, 200);
	assert_int_equal(st->withdrawn_broken, 1);
	assert_int_equal(n.ag[0].on[5], 0);
	run(&n, 3000);
	assert_int_equal(n.ag[0].on[5], 1);	/* around the failure */
	assert_int_equal(walk(&n, 0, 5), W_RIGHT);
	check_counts(&n);
	link_set(&n, link, true);
	run(&n, 5000);
	assert_int_equal(n.ag[0].on[5], 1);
	assert_int_equal(walk(&n, 0, 5), W_RIGHT);
	check_counts(&n);
	net_free(&n);
}

/* Capacity: room for 3 direct entries per switch; many heavy pairs.  No
 * switch refuses an entry: the RAS stays within the tables itself. */
static void test_fib_capacity(void **state)
{
	const struct ras_stats *st;
	struct net n;

	(void)state;
	net_init(&n, DEFAULT_LAB, 5, 3);
	st = ras_stats(n.r);
	for (uint32_t v = 0; v < 8; v++)
		n.rate[v][(v + 3) % 8] = 100 + 10 * v;
	run(&n, 3500);
	check_counts(&n);
	assert_true(st->pairs_direct > 0);
	assert_true(st->pairs_direct < 8);
	assert_true(st->lb_skipped_fib > 0);
	assert_int_equal(st->dops_refused, 0);
	for (uint32_t s = 0; s < 8; s++)
		for (uint32_t v = 0; v < NVMS; v++)
			if (n.ag[s].on[v])
				assert_int_equal(walk(&n, s, v), W_RIGHT);
	net_free(&n);
}

/* Bad, replayed and misaddressed reports are counted and change nothing. */
static void test_bad_reports(void **state)
{
	const struct ras_stats *st;
	struct rasp_flow f = { 0, 0, 1000, 10, 6 };
	struct rasp_hdr h = { RASP_TRAFFIC, 1, 5, 0 };
	struct auth_key other = { { 1 } };
	struct ras_addr from = { AGENT_IP, 9000 };
	uint8_t buf[512];
	struct net n;
	size_t len;

	(void)state;
	net_init(&n, DEFAULT_LAB, 6, 0);
	st = ras_stats(n.r);
	f.src_id = vm_id(&n, 0);
	f.dst_id = vm_id(&n, 5);
	len = rasp_enc_traffic(buf, sizeof(buf), &h, 1000, 0, 1, &f, 1, &other);
	ras_input(n.r, from, buf, len, n.now, &n.o);	/* wrong key */
	assert_int_equal(st->drops[RAS_DROP_RASP + RASP_E_AUTH], 1);
	ras_input(n.r, from, buf, 30, n.now, &n.o);	/* truncated */
	assert_int_equal(st->drops[RAS_DROP_RASP + RASP_E_SHORT], 1);
	h.sender = 0;					/* no server */
	len = rasp_enc_traffic(buf, sizeof(buf), &h, 1000, 0, 1, &f, 1, &key);
	ras_input(n.r, from, buf, len, n.now, &n.o);
	h.sender = n.t->nservers + 1;
	len = rasp_enc_traffic(buf, sizeof(buf), &h, 1000, 0, 1, &f, 1, &key);
	ras_input(n.r, from, buf, len, n.now, &n.o);
	assert_int_equal(st->drops[RAS_DROP_AGENT], 2);
	h.sender = 1;
	len = rasp_enc_traffic(buf, sizeof(buf), &h, 1000, 0, 1, &f, 1, &key);
	ras_input(n.r, from, buf, len, n.now, &n.o);	/* good */
	ras_input(n.r, from, buf, len, n.now, &n.o);	/* replayed */
	assert_int_equal(st->drops[RAS_DROP_REPLAY], 1);
	assert_int_equal(st->traffic_reports, 1);
	f.src_id = pgr_id_of(3, 0);			/* a server's id, not a VM's */
	h.seq = 6;
	len = rasp_enc_traffic(buf, sizeof(buf), &h, 1000, 0, 1, &f, 1, &key);
	ras_input(n.r, from, buf, len, n.now, &n.o);
	assert_int_equal(st->drops[RAS_DROP_VM], 1);
	assert_int_equal(st->traffic_flows, 1);
	h = (struct rasp_hdr){ RASP_DIRECT, 1, 7, 0 };	/* DIRECT is not for the RAS */
	len = rasp_enc_direct(buf, sizeof(buf), &h, &(struct rasp_direct){ f.dst_id, 0, 1 }, 1,
			      &key);
	ras_input(n.r, from, buf, len, n.now, &n.o);
	assert_int_equal(st->drops[RAS_DROP_RASP_TYPE], 1);
	h = (struct rasp_hdr){ RASP_ACK, 1, 8, 0 };	/* an ACK of nothing */
	len = rasp_enc_ack(buf, sizeof(buf), &h, 12345, &key);
	ras_input(n.r, from, buf, len, n.now, &n.o);
	assert_int_equal(st->drops[RAS_DROP_ACK], 1);
	assert_string_equal(ras_drop_name(RAS_DROP_RASP + RASP_E_AUTH), "bad-tag");
	assert_string_equal(ras_drop_name(RAS_DROP_REPLAY), "replayed");
	/* only the good report counted: 8 kbit/s, below RAS_MIN_MBPS, so
	 * nothing goes direct */
	ras_out_reset(&n.o);
	run(&n, 2500);
	assert_int_equal(st->pairs_direct, 0);
	net_free(&n);
}

/* Random traffic, moves and link failures with datagram loss: the two
 * invariants hold throughout; at the end every heavy pair that is on
 * reaches its VM. */
static void random_run(const char *spec, uint64_t seed, uint32_t loss)
{
	struct net n;

	net_init(&n, spec, seed, seed % 2 ? 6 : 0);
	n.loss_pct = loss;
	for (int e = 0; e < 25; e++) {
		uint32_t pick = rng_below(&n.rng, 5);

		if (pick <= 1) {
			uint32_t a = rng_below(&n.rng, NVMS), b = rng_below(&n.rng, NVMS);

			n.rate[a][b] = rng_below(&n.rng, 3) ? 50 + rng_below(&n.rng, 500) : 0;
		} else if (pick == 2) {
			uint32_t v = rng_below(&n.rng, NVMS), to = rng_below(&n.rng, n.t->nservers);
			struct rasp_moved mv = { vm_id(&n, v), n.t->servers[n.vm_srv[v]],
						 n.t->servers[to] };
			struct rasp_hdr h = { RASP_MOVED, 0xffffff00u, n.now, 0 };
			uint8_t buf[256];
			size_t len = rasp_enc_moved(buf, sizeof(buf), &h, &mv, &key);

			if (to == n.vm_srv[v])
				continue;
			n.vm_srv[v] = to;
			n.allow_other = true;
			n.moved_at = n.now;
			enqueue(&n, (struct ras_addr){ TOOL_IP, 4000 }, buf, len);
		} else {
			uint32_t l = rng_below(&n.rng, n.t->nlinks);

			link_set(&n, l, n.cut[l]);
		}
		if (getenv("TD_TRACE"))
			fprintf(stderr, "%s seed %llu event %d pick %u\n", spec,
				(unsigned long long)seed, e, pick);
		run(&n, 100 + rng_below(&n.rng, 2000));
		if (n.now > n.moved_at + 6000 * MS)
			n.allow_other = false;
	}
	for (uint32_t l = 0; l < n.t->nlinks; l++)
		if (n.cut[l])
			link_set(&n, l, true);
	n.loss_pct = 0;
	run(&n, 7000);
	n.allow_other = false;
	run(&n, 5000);
	check_counts(&n);
	for (uint32_t s = 0; s < n.t->nservers; s++)
		for (uint32_t v = 0; v < NVMS; v++)
			if (n.ag[s].on[v] && walk(&n, s, v) != W_RIGHT)
				fail_msg("seed %llu: server %u direct to VM %u: walk %d",
					 (unsigned long long)seed, s, v, walk(&n, s, v));
	assert_true(ras_stats(n.r)->pairs_direct > 0);
	net_free(&n);
}

static void test_random(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 4; seed++) {
		random_run(DEFAULT_LAB, seed, 0);
		random_run("leafspine:spines=3,leaves=4,servers=3,homing=2", seed, 10);
		random_run("fattree:k=4", seed, 10);
	}
}

int main(void)
{
	log_set_level(LOG_ERR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heavy_pair_goes_direct),
		cmocka_unit_test(test_withdraw_order),
		cmocka_unit_test(test_moved),
		cmocka_unit_test(test_link_failure),
		cmocka_unit_test(test_fib_capacity),
		cmocka_unit_test(test_bad_reports),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
