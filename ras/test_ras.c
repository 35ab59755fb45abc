/* Unit tests of the RAS core against the real switchd core (switchd/) as
 * fake switches, with a recorded directory:
 *   - start-up programs every switch with exactly a fresh computation and
 *     announces every server MAC available once that is done;
 *   - a link failure marks its users unavailable before any switch applies
 *     an operation, and available again only after the last one;
 *   - random link and switch failures and recoveries, with datagram loss,
 *     leave every live switch's table equal to a fresh computation with the
 *     same failure set;
 *   - a restart from the switches' dumps sends no operation when nothing
 *     changed (also with links down: their ports are read first), and
 *     exactly the repairs when something did;
 *   - a switch whose table was lost unseen is found by the entry-count
 *     audit and refilled, one with a wrong port by the table sum;
 *   - a switch the RAS cannot reach keeps its trees held;
 *   - trees are reprogrammed root outward: no table state between two
 *     batches of a single failure or recovery has a loop;
 *   - a link that changed while its switch's switchd was down (a fresh
 *     switchd does not report what it first sees) is found by the port
 *     audit, both ways, and the tables follow;
 *   - bad datagrams are counted and change nothing;
 *   - with the real directory core behind a lossy network, the directory
 *     ends holding every availability change the RAS made, also after it
 *     restarts having lost the writes it had not synced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dir/dir.h"
#include "lib/log.h"
#include "lib/rng.h"
#include "ras/ras.h"
#include "route/failover.h"
#include "switchd/switchd.h"
#include "wire/pgr.h"

static const struct auth_key key = { { 9, 1, 4 } };
#define RAS_IP 0xac1f0001u
#define DIR_IP 0xac1f00feu
#define DIR_PORT 7600
#define TOOL_ADDR 0x0a0000090001ull	/* dir_addr() of the test's own lookups */
#define WALL_MS 1700000000000ull

struct dir_rec {
	uint8_t mac[6];
	uint8_t avail;
	uint64_t applied;	/* switch operations applied before it was sent */
};

struct net {
	struct topo *t;
	struct ras_addr *addr;
	struct sw **sw;		/* per node; NULL for servers and failed switches */
	struct ras *r;
	struct ras_out o;
	struct sw_out *so;
	uint64_t now, applied;
	struct dir_rec *dir;
	size_t ndir, capdir;
	struct rng rng;
	uint32_t loss_pct;
	uint32_t dir_loss_pct;	/* datagrams to and from the directory */
	uint32_t dir_drop_next;	/* datagrams to the directory: drop these next */
	bool sw_mute;		/* the switches hear nothing from the RAS */
	uint32_t mute_node;	/* node + 1: this switch hears nothing (0: none) */
	bool check_loops;	/* after every batch a switch applies: no loop */
	uint64_t loop_checks;
	uint32_t ras_tries;	/* 0: the default */
	uint8_t *cut;		/* per link: cut by the test */
	uint8_t *dead;		/* per node: switch failed by the test */
	/* the directory core, when the test has one, and its store */
	struct dir *d;
	struct dir_out dout;
	struct dir_op *store;
	size_t nstore, capstore;
	/* datagrams from switches (and the directory) to the RAS */
	struct { struct ras_addr from; size_t len; uint8_t buf[SWP_MAX_DGRAM]; } *q;
	size_t nq, capq;
};

static struct topo *spec(const char *s)
{
	struct topo *t;
	char err[256];

	if (topo_from_spec(s, &t, err, sizeof(err)))
		fail_msg("%s: %s", s, err);
	return t;
}

static struct sw *new_switch(struct net *n, uint32_t node)
{
	struct sw_config c = { .id = node, .fib_cap = 1u << 20, .has_ras = true,
			       .ras = { RAS_IP, 7500 }, .seq_base = n->now, .key = key };
	struct sw *s = sw_new(&c);
	sw_out_reset(n->so);
	for (uint16_t p = 0; p < n->t->nodes[node].degree; p++) {
		const struct topo_adj *a = topo_port(n->t, node, p);
		bool up = !n->cut[a->link] && !n->dead[a->peer];

		sw_port(s, p, true, up, n->now, n->so);
	}
	assert_int_equal(n->so->ndg, 0);
	return s;
}

static void queue_sw_out(struct net *n, uint32_t node)
{
	for (int i = 0; i < n->so->ndg; i++) {
		if (n->nq == n->capq) {
			n->capq = n->capq ? n->capq * 2 : 64;
			n->q = realloc(n->q, n->capq * sizeof(*n->q));
		}
		assert_int_equal(n->so->dg[i].to.ip, RAS_IP);
		n->q[n->nq].from = n->addr[node];
		n->q[n->nq].len = n->so->dg[i].len;
		memcpy(n->q[n->nq].buf, n->so->dg[i].buf, n->so->dg[i].len);
		n->nq++;
	}
	sw_out_reset(n->so);
}


static bool lost(struct net *n)
{
	return n->loss_pct && rng_below(&n->rng, 100) < n->loss_pct;
}

static void queue_ras(struct net *n, struct ras_addr from, const uint8_t *buf, size_t len)
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

static bool dir_lost(struct net *n)
{
	return n->dir_loss_pct && rng_below(&n->rng, 100) < n->dir_loss_pct;
}

static struct dir_now dnow(const struct net *n)
{
	return (struct dir_now){ n->now, WALL_MS + n->now / 1000000 };
}

/* The directory's output: store writes kept, replies to the RAS queued. */
static void dir_carry(struct net *n)
{
	for (size_t i = 0; i < n->dout.nops; i++) {
		if (n->nstore == n->capstore) {
			n->capstore = n->capstore ? n->capstore * 2 : 64;
			n->store = realloc(n->store, n->capstore * sizeof(*n->store));
		}
		n->store[n->nstore++] = n->dout.ops[i];
	}
	for (size_t i = 0; i < n->dout.nsends; i++) {
		const struct dir_send *sd = &n->dout.sends[i];

		for (uint32_t k = 0; k < sd->ndst; k++)
			if (n->dout.dsts[sd->dst + k] == dir_addr(RAS_IP, 7500) && !dir_lost(n))
				queue_ras(n, (struct ras_addr){ DIR_IP, DIR_PORT },
					  n->dout.buf + sd->off, sd->len);
	}
	dir_out_reset(&n->dout);
}


/* No packet toward any server's tree loops among the switches' tables as
 * they are now (live links only). */
static void check_no_loop(struct net *n)
{
	for (uint32_t s = 0; s < n->t->nservers; s++) {
		for (unsigned tr = 0; tr < 2; tr++) {
			uint8_t mac[6];

			ras_server_mac(s, tr, mac);
			for (uint32_t start = 0; start < n->t->nnodes; start++) {
				uint32_t node = start, hops = 0;

				while (n->sw[node]) {
					int port = sw_fib_lookup(n->sw[node], mac);
					const struct topo_adj *a;

					if (port < 0 || port >= n->t->nodes[node].degree)
						break;
					a = topo_port(n->t, node, (uint16_t)port);
					if (n->cut[a->link])
						break;
					node = a->peer;
					if (++hops > n->t->nswitches)
						fail_msg("server %u tree %u loops from %s", s, tr,
							 n->t->nodes[start].name);
				}
			}
		}
	}
	n->loop_checks++;
}

/* Carry out the RAS's output: the directory first, then the switches. */
static void deliver(struct net *n)
{
	for (size_t i = 0; i < n->o.ndir; i++) {
		assert_true(n->o.dir[i].to.ip == DIR_IP && n->o.dir[i].to.port == DIR_PORT);
		if (n->dir_drop_next) {
			n->dir_drop_next--;
			continue;
		}
		if (!n->d || dir_lost(n))
			continue;
		dir_input(n->d, dnow(n), dir_addr(RAS_IP, 7500), n->o.dir[i].buf, n->o.dir[i].len,
			  &n->dout);
		dir_carry(n);
	}
	for (size_t i = 0; i < n->o.navail; i++) {
		struct dir_rec *d;

		if (n->ndir == n->capdir) {
			n->capdir = n->capdir ? n->capdir * 2 : 64;
			n->dir = realloc(n->dir, n->capdir * sizeof(*n->dir));
		}
		d = &n->dir[n->ndir++];
		memcpy(d->mac, n->o.avail[i].mac, 6);
		d->avail = n->o.avail[i].avail;
		d->applied = n->applied;
	}
	for (size_t i = 0; i < n->o.ndg; i++) {
		const struct ras_dgram *g = &n->o.dg[i];
		uint32_t node = UINT32_MAX;

		for (uint32_t k = 0; k < n->t->nnodes; k++)
			if (n->addr[k].ip == g->to.ip)
				node = k;
		assert_int_not_equal(node, UINT32_MAX);
		if (!n->sw[node] || n->sw_mute || node + 1 == n->mute_node || lost(n))
			continue;
		sw_out_reset(n->so);
		sw_input(n->sw[node], (struct sw_addr){ RAS_IP, 7500 }, g->buf, g->len, n->now,
			 n->so);
		if (n->so->pending) {
			for (uint16_t k = 0; k < n->so->nnl; k++)
				n->so->nl[k].err = 0;
			n->applied += n->so->nnl;
			sw_commit(n->sw[node], n->so);
			if (n->check_loops)
				check_no_loop(n);
		}
		queue_sw_out(n, node);
	}
	ras_out_reset(&n->o);
}

/* 10 ms pass: every core's timer. */
static void tick_all(struct net *n)
{
	n->now += 10 * 1000000ull;
	ras_tick(n->r, n->now, &n->o);
	if (n->d) {
		dir_tick(n->d, dnow(n), &n->dout);
		dir_carry(n);
	}
	for (uint32_t i = 0; i < n->t->nnodes; i++) {
		if (!n->sw[i])
			continue;
		sw_out_reset(n->so);
		sw_tick(n->sw[i], n->now, n->so);
		queue_sw_out(n, i);
	}
}

/* Run until nothing moves: every datagram delivered, retransmissions done. */
static void settle(struct net *n)
{
	for (int round = 0; round < 20000; round++) {
		deliver(n);
		if (n->nq) {
			size_t k = --n->nq;

			if (!lost(n))
				ras_input(n->r, n->q[k].from, n->q[k].buf, n->q[k].len, n->now, &n->o);
			continue;
		}
		if (ras_stats(n->r)->converged && !n->o.ndg && !n->o.ndir &&
		    !ras_stats(n->r)->avail_pending) {
			bool pending = false;

			for (uint32_t i = 0; i < n->t->nnodes; i++)
				pending |= n->sw[i] && sw_pending_links(n->sw[i]);
			if (!pending)
				return;
		}
		tick_all(n);
	}
	fail_msg("the RAS did not settle");
}

/* Run for ms of simulated time, whether or not anything settles. */
static void run_for(struct net *n, uint64_t ms)
{
	uint64_t end = n->now + ms * 1000000ull;

	while (n->now < end) {
		deliver(n);
		while (n->nq) {
			size_t k = --n->nq;

			if (!lost(n))
				ras_input(n->r, n->q[k].from, n->q[k].buf, n->q[k].len, n->now, &n->o);
			deliver(n);
		}
		tick_all(n);
	}
	deliver(n);
}

static void start_ras(struct net *n)
{
	struct ras_cfg c = { .t = n->t, .sw = n->addr, .key = key, .seq_base = n->now + 1 };
	char err[256];

	c.tries = n->ras_tries;
	if (n->d) {
		c.dir = (struct ras_addr){ DIR_IP, DIR_PORT };
		c.wall_offset_ms = (int64_t)WALL_MS;
	}
	assert_int_equal(ras_new(&c, n->now, &n->r, err, sizeof(err)), 0);
	ras_start(n->r, n->now, &n->o);
}

static void dir_start(struct net *n, uint64_t seed);

static void net_init_dir(struct net *n, const char *s, uint64_t seed, bool with_dir)
{
	memset(n, 0, sizeof(*n));
	dir_out_init(&n->dout);
	if (with_dir) {
		dir_start(n, seed);
		n->ras_tries = 1000;	/* muted switches are not given up on */
	}
	n->t = spec(s);
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
		n->addr[i] = (struct ras_addr){ 0xac1f0002u + i, 7400 };
		n->sw[i] = new_switch(n, i);
	}
	start_ras(n);
	settle(n);
}

static void net_init(struct net *n, const char *s, uint64_t seed)
{
	net_init_dir(n, s, seed, false);
}

static void net_free(struct net *n)
{
	for (uint32_t i = 0; i < n->t->nnodes; i++)
		sw_free(n->sw[i]);
	ras_free(n->r);
	ras_out_free(&n->o);
	dir_free(n->d);
	dir_out_free(&n->dout);
	free(n->store);
	topo_free(n->t);
	free(n->so);
	free(n->addr);
	free(n->sw);
	free(n->cut);
	free(n->dead);
	free(n->dir);
	free(n->q);
}

/* Every live switch holds exactly a fresh computation's table. */
static void check_fibs(struct net *n)
{
	const struct route_trees *cur = ras_routes(n->r);
	struct route_trees *fresh;
	char err[256];

	assert_int_equal(route_trees_new(n->t, route_link_dead(cur), route_node_dead(cur), &fresh,
					 err, sizeof(err)), 0);
	for (uint32_t sw = 0; sw < n->t->nnodes; sw++) {
		/* A switch cut off from every other switch counts as failed; its
		 * table is read again when it comes back. */
		if (!n->sw[sw] || route_node_dead(cur)[sw])
			continue;
		for (uint32_t s = 0; s < n->t->nservers; s++) {
			for (unsigned tr = 0; tr < 2; tr++) {
				uint8_t mac[6];
				uint16_t want = route_egress(fresh, sw, n->t->servers[s], tr);

				ras_server_mac(s, tr, mac);
				if (sw_fib_lookup(n->sw[sw], mac) !=
				    (want == ROUTE_NO_PORT ? -1 : (int)want))
					fail_msg("%s: server %u tree %u: port %d, want %u",
						 n->t->nodes[sw].name, s, tr,
						 sw_fib_lookup(n->sw[sw], mac), want);
			}
		}
		assert_int_equal(sw_fib_used(n->sw[sw]), route_fib_count(fresh, sw));
	}
	route_trees_free(fresh);
}

/* A port of a live switch changes: it reports it. */
static void port_event(struct net *n, uint32_t node, uint32_t link, bool up)
{
	const struct topo_link *l = &n->t->links[link];

	if (!n->sw[node])
		return;
	sw_out_reset(n->so);
	sw_port(n->sw[node], node == l->a ? l->pa : l->pb, true, up, n->now, n->so);
	queue_sw_out(n, node);
}

static void link_set(struct net *n, uint32_t link, bool up)
{
	n->cut[link] = !up;
	port_event(n, n->t->links[link].a, link, up);
	port_event(n, n->t->links[link].b, link, up);
}

/* A switch fails (its table is gone) or comes back empty. */
static void switch_set(struct net *n, uint32_t node, bool up)
{
	const struct topo_node *nd = &n->t->nodes[node];

	n->dead[node] = !up;
	if (!up) {
		sw_free(n->sw[node]);
		n->sw[node] = NULL;
	} else {
		/* A restarted switchd numbers its reports from the wall clock. */
		n->now += 1000000000ull;
		n->sw[node] = new_switch(n, node);
	}
	for (uint32_t p = 0; p < nd->degree; p++) {
		const struct topo_adj *a = topo_port(n->t, node, p);

		if (!n->cut[a->link])
			port_event(n, a->peer, a->link, up);
	}
}

static void test_programs_fabric(void **state)
{
	struct net n;

	(void)state;
	net_init(&n, "leafspine:spines=2,leaves=4,servers=2,homing=2", 1);
	check_fibs(&n);
	for (uint32_t i = 0; i < n.t->nnodes; i++)
		if (n.sw[i])
			assert_int_equal(sw_fib_used(n.sw[i]), 2 * n.t->nservers);
	/* Every server MAC announced available, after the last operation. */
	assert_int_equal(n.ndir, 2 * n.t->nservers);
	for (size_t i = 0; i < n.ndir; i++) {
		assert_int_equal(n.dir[i].avail, 1);
		assert_int_equal(n.dir[i].applied, n.applied);
	}
	assert_int_equal(ras_stats(n.r)->ops_sent, n.applied);
	net_free(&n);
}

struct users {
	struct net *n;
	uint8_t *mask;
	uint32_t count;
};

static void user(void *arg, uint32_t owner, unsigned tree)
{
	struct users *u = arg;

	u->mask[u->n->t->nodes[owner].index * 2 + tree] = 1;
	u->count++;
}

static void test_failover_order(void **state)
{
	struct net n;
	struct users u;
	uint64_t before;
	uint32_t link = UINT32_MAX, downs = 0, ups = 0;
	uint8_t *crossed;

	(void)state;
	net_init(&n, "leafspine:spines=2,leaves=4,servers=2,homing=2", 2);
	/* The first spine link. */
	for (uint32_t l = 0; l < n.t->nlinks && link == UINT32_MAX; l++)
		if (!topo_is_server(n.t, n.t->links[l].a) && !topo_is_server(n.t, n.t->links[l].b))
			link = l;
	u = (struct users){ &n, calloc(2 * n.t->nservers, 1), 0 };
	route_link_users(ras_routes(n.r), link, user, &u);
	assert_true(u.count > 0);
	/* the naive view: trees on which some server's path crosses the link */
	crossed = calloc(2 * n.t->nservers, 1);
	for (uint32_t d = 0; d < n.t->nservers; d++)
		for (uint32_t s = 0; s < n.t->nservers; s++)
			for (unsigned tr = 0; tr < 2 && s != d; tr++) {
				uint32_t path[64];
				uint32_t len = route_tree_path(ras_routes(n.r), n.t->servers[s],
							       n.t->servers[d], tr, path, 64);

				for (uint32_t k = 0; len != UINT32_MAX && k < len; k++)
					if (path[k] == link)
						crossed[d * 2 + tr] = 1;
			}
	n.ndir = 0;
	before = n.applied;
	link_set(&n, link, false);
	settle(&n);
	assert_true(n.applied > before);
	for (size_t i = 0; i < n.ndir; i++) {
		uint32_t id = pgr_mac_id(n.dir[i].mac);
		uint32_t idx = (pgr_id_node(id) - 1) * 2 + pgr_id_tree(id);

		if (!n.dir[i].avail) {
			downs++;
			/* before the first switch changed anything */
			assert_int_equal(n.dir[i].applied, before);
			u.mask[idx] = u.mask[idx] ? 2 : 3;
		} else {
			ups++;
			/* after the last */
			assert_int_equal(n.dir[i].applied, n.applied);
		}
	}
	/* Every tree some server's path of which crossed the link was marked
	 * unavailable (mask 2), none that did not use the link (3), and each
	 * came back.  A user whose entry on the link no path crossed (a
	 * spine's own entry) may stay available (1). */
	for (uint32_t i = 0; i < 2 * n.t->nservers; i++) {
		assert_int_not_equal(u.mask[i], 3);
		if (crossed[i])
			assert_int_equal(u.mask[i], 2);
	}
	assert_int_equal(downs, ups);
	assert_true(downs > 0);
	assert_true(downs + ras_stats(n.r)->pairs_spared >= u.count);
	check_fibs(&n);
	link_set(&n, link, true);
	settle(&n);
	check_fibs(&n);
	free(crossed);
	free(u.mask);
	net_free(&n);
}

static uint32_t link_between(const struct topo *t, const char *a, const char *b)
{
	uint32_t l = topo_link_between(t, topo_find(t, a), topo_find(t, b));

	if (l == UINT32_MAX)
		fail_msg("no link %s - %s", a, b);
	return l;
}

/* A recovery never holds both trees of a server at once.  The case: leaf0's
 * uplink to spine0 is cut and spine1 fails, so leaf0 counts as failed too;
 * then both come back, which moves both trees of many servers.  Tree 0 is
 * reprogrammed first, tree 1 after; the availability changes the directory
 * receives never leave a server without a tree, and every FIB ends equal to
 * a fresh computation. */
static void test_recovery_keeps_a_tree(void **state)
{
	struct net n;
	uint32_t uplink, spine1, leaf0, both = 0;
	uint8_t *held;
	size_t from;

	(void)state;
	net_init(&n, "leafspine:spines=2,leaves=4,servers=2,homing=2", 5);
	uplink = link_between(n.t, "leaf0", "spine0");
	spine1 = topo_find(n.t, "spine1");
	leaf0 = topo_find(n.t, "leaf0");
	held = calloc(2 * n.t->nservers, 1);
	link_set(&n, uplink, false);
	settle(&n);
	switch_set(&n, spine1, false);
	settle(&n);
	assert_true(route_node_dead(ras_routes(n.r))[leaf0]);
	check_fibs(&n);

	from = n.ndir;
	switch_set(&n, spine1, true);
	link_set(&n, uplink, true);
	settle(&n);
	assert_true(ras_stats(n.r)->deferred_ops > 0);
	for (size_t i = from; i < n.ndir; i++) {
		uint32_t id = pgr_mac_id(n.dir[i].mac);
		uint32_t s = pgr_id_node(id) - 1;

		held[s * 2 + pgr_id_tree(id)] = !n.dir[i].avail;
		if (held[s * 2] && held[s * 2 + 1])
			both++;
	}
	assert_int_equal(both, 0);
	for (uint32_t i = 0; i < 2 * n.t->nservers; i++)
		assert_int_equal(held[i], 0);	/* all released in the end */
	check_fibs(&n);
	free(held);
	net_free(&n);
}

/* A spine failure holds only the trees some server's path crossed the
 * spine on, not every tree the spine has an entry of (all of them, in a
 * leaf-spine): here each server has a tree the spine is not on, which stays
 * available, so its agents switch at once instead of waiting for the
 * fabric to be reprogrammed.  Every FIB ends equal to a fresh computation. */
static void test_spine_failure_keeps_a_tree(void **state)
{
	struct net n;
	uint32_t spine0, both = 0, nheld = 0;
	uint8_t *held, *crossed;

	(void)state;
	net_init(&n, "leafspine:spines=2,leaves=4,servers=2,homing=2", 3);
	spine0 = topo_find(n.t, "spine0");
	held = calloc(2 * n.t->nservers, 1);
	crossed = calloc(2 * n.t->nservers, 1);
	for (uint32_t d = 0; d < n.t->nservers; d++)
		for (uint32_t s = 0; s < n.t->nservers; s++)
			for (unsigned tr = 0; tr < 2 && s != d; tr++) {
				uint32_t path[64];
				uint32_t len = route_tree_path(ras_routes(n.r), n.t->servers[s],
							       n.t->servers[d], tr, path, 64);

				for (uint32_t k = 0; len != UINT32_MAX && k < len; k++)
					if (n.t->links[path[k]].a == spine0 || n.t->links[path[k]].b == spine0)
						crossed[d * 2 + tr] = 1;
			}
	n.ndir = 0;
	switch_set(&n, spine0, false);
	settle(&n);
	for (size_t i = 0; i < n.ndir; i++) {
		uint32_t id = pgr_mac_id(n.dir[i].mac);
		uint32_t idx = (pgr_id_node(id) - 1) * 2 + pgr_id_tree(id);

		if (!n.dir[i].avail && !held[idx]) {
			held[idx] = 1;
			nheld++;
			if (held[idx ^ 1])
				both++;
		}
	}
	for (uint32_t i = 0; i < 2 * n.t->nservers; i++)
		assert_int_equal(held[i], crossed[i]);	/* here exactly those */
	assert_int_equal(both, 0);
	assert_true(nheld > 0 && nheld < 2 * n.t->nservers);
	assert_true(ras_stats(n.r)->pairs_spared > 0);
	check_fibs(&n);
	switch_set(&n, spine0, true);
	settle(&n);
	check_fibs(&n);
	free(crossed);
	free(held);
	net_free(&n);
}

static void random_run(const char *s, uint64_t seed, uint32_t loss, int events)
{
	struct net n;
	uint8_t *down;

	net_init(&n, s, seed);
	n.loss_pct = loss;
	down = n.dead;
	for (int e = 0; e < events; e++) {
		uint32_t pick = rng_below(&n.rng, 4);

		if (pick == 0) {
			uint32_t sw = n.t->switches[rng_below(&n.rng, n.t->nswitches)];

			switch_set(&n, sw, down[sw]);
		} else {
			uint32_t l = rng_below(&n.rng, n.t->nlinks);
			bool up = n.cut[l];

			if (down[n.t->links[l].a] || down[n.t->links[l].b])
				continue;
			link_set(&n, l, up);
		}
		settle(&n);
		check_fibs(&n);
	}
	/* Everything back: the tables of a failure-free computation. */
	for (uint32_t i = 0; i < n.t->nnodes; i++)
		if (down[i])
			switch_set(&n, i, true);
	settle(&n);
	for (uint32_t l = 0; l < n.t->nlinks; l++)
		if (n.cut[l])
			link_set(&n, l, true);
	settle(&n);
	for (uint32_t l = 0; l < n.t->nlinks; l++)
		if (route_link_dead(ras_routes(n.r))[l])
			fail_msg("%s seed %llu: link %s-%s still down", s, (unsigned long long)seed,
				 n.t->nodes[n.t->links[l].a].name, n.t->nodes[n.t->links[l].b].name);
	check_fibs(&n);
	net_free(&n);
}

static void test_random_failures(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 6; seed++) {
		random_run("leafspine:spines=2,leaves=4,servers=2,homing=2", seed, 0, 40);
		random_run("leafspine:spines=3,leaves=4,servers=3,homing=2", seed, 15, 30);
		random_run("fattree:k=4", seed, 10, 30);
	}
}

static void restart(struct net *n)
{
	ras_free(n->r);
	n->r = NULL;
	n->now += 1000000000ull;
	start_ras(n);
	settle(n);
}

static void test_restart(void **state)
{
	struct net n;
	uint64_t before;
	uint8_t buf[SWP_MAX_DGRAM], mac[6];
	struct swp_op ops[2];
	uint32_t leaf = UINT32_MAX;

	(void)state;
	net_init(&n, "leafspine:spines=2,leaves=4,servers=2,homing=2", 3);
	before = n.applied;
	n.ndir = 0;
	restart(&n);
	assert_int_equal(ras_stats(n.r)->ops_sent, 0);
	/* one empty request per switch: it carries the new RAS's sequence
	 * numbers (a new leader's term), so that the switch fences the old
	 * one and reports links here even when nothing had to change */
	assert_int_equal(ras_stats(n.r)->batches, n.t->nswitches);
	assert_int_equal(n.applied, before);
	check_fibs(&n);
	/* Someone changed a switch meanwhile: a foreign entry and a wrong port. */
	for (uint32_t i = 0; i < n.t->nnodes && leaf == UINT32_MAX; i++)
		if (n.sw[i] && n.t->nodes[i].degree > 2)
			leaf = i;
	ras_server_mac(0, 0, mac);
	ops[0] = (struct swp_op){ .kind = SWP_OP_ADD,
				  .port = (uint16_t)((sw_fib_lookup(n.sw[leaf], mac) + 1) %
						     n.t->nodes[leaf].degree) };
	memcpy(ops[0].mac, mac, 6);
	ops[1] = (struct swp_op){ .kind = SWP_OP_ADD, .port = 0,
				  .mac = { 0x02, 0x50, 0x47, 0, 0, 1 } };
	{
		struct swp_hdr h = { .type = SWP_FIB_OPS, .sender = 77, .seq = 1 };
		size_t len = swp_enc_fib_ops(buf, sizeof(buf), &h, ops, 2, &key);

		sw_out_reset(n.so);
		sw_input(n.sw[leaf], (struct sw_addr){ 1, 1 }, buf, len, n.now, n.so);
		sw_commit(n.sw[leaf], n.so);
	}
	restart(&n);
	assert_int_equal(ras_stats(n.r)->ops_sent, 2);	/* the repair, the delete */
	check_fibs(&n);
	/* Restarted while a spine link and a server link are down: the ports
	 * are read first, so again nothing changes. */
	{
		uint32_t cutl[2] = { UINT32_MAX, UINT32_MAX };

		for (uint32_t l = 0; l < n.t->nlinks; l++) {
			bool srv = topo_is_server(n.t, n.t->links[l].a) ||
				   topo_is_server(n.t, n.t->links[l].b);

			if (cutl[srv] == UINT32_MAX)
				cutl[srv] = l;
		}
		link_set(&n, cutl[0], false);
		link_set(&n, cutl[1], false);
		settle(&n);
		check_fibs(&n);
		before = n.applied;
		restart(&n);
		assert_true(route_link_dead(ras_routes(n.r))[cutl[0]]);
		assert_true(route_link_dead(ras_routes(n.r))[cutl[1]]);
		assert_int_equal(ras_stats(n.r)->ops_sent, 0);
		assert_int_equal(n.applied, before);
		check_fibs(&n);
		link_set(&n, cutl[0], true);
		link_set(&n, cutl[1], true);
		settle(&n);
		check_fibs(&n);
	}
	/* A switchd restarts empty and nobody reports it: the periodic count
	 * check finds it and the table is read and refilled. */
	sw_free(n.sw[leaf]);
	n.now += 1000000000ull;
	n.sw[leaf] = new_switch(&n, leaf);
	assert_int_equal(sw_fib_used(n.sw[leaf]), 0);
	n.now += (RAS_AUDIT_MS + 100) * 1000000ull;
	ras_tick(n.r, n.now, &n.o);
	settle(&n);
	assert_int_equal(ras_stats(n.r)->audits_failed, 1);
	check_fibs(&n);
	net_free(&n);
}

/* Restart leaf's switchd after `link` (one of its server links) changed
 * while it was down: nobody reports the change. */
static void switchd_restart_with(struct net *n, uint32_t leaf, uint32_t link, bool up)
{
	sw_free(n->sw[leaf]);
	n->sw[leaf] = NULL;
	n->cut[link] = !up;
	n->now += 1000000000ull;
	n->sw[leaf] = new_switch(n, leaf);
}

static void test_port_audit(void **state)
{
	struct net n;
	uint32_t leaf = UINT32_MAX, link = UINT32_MAX;
	uint64_t wrong;

	(void)state;
	net_init(&n, "leafspine:spines=2,leaves=4,servers=2,homing=2", 5);
	for (uint32_t l = 0; l < n.t->nlinks && link == UINT32_MAX; l++)
		if (topo_is_server(n.t, n.t->links[l].a) != topo_is_server(n.t, n.t->links[l].b)) {
			link = l;
			leaf = topo_is_server(n.t, n.t->links[l].a) ? n.t->links[l].b : n.t->links[l].a;
		}
	assert_true(link != UINT32_MAX);
	/* down while its switchd was away */
	switchd_restart_with(&n, leaf, link, false);
	settle(&n);
	assert_false(route_link_dead(ras_routes(n.r))[link]);	/* unseen so far */
	wrong = ras_stats(n.r)->ports_wrong;
	run_for(&n, 2 * RAS_AUDIT_MS + 100);	/* a count audit, then a port audit */
	settle(&n);
	assert_true(route_link_dead(ras_routes(n.r))[link]);
	assert_int_equal(ras_stats(n.r)->ports_wrong, wrong + 1);
	assert_true(ras_stats(n.r)->port_audits >= 1);
	check_fibs(&n);
	/* and back up while it was away again */
	switchd_restart_with(&n, leaf, link, true);
	run_for(&n, 2 * RAS_AUDIT_MS + 100);
	settle(&n);
	assert_false(route_link_dead(ras_routes(n.r))[link]);
	assert_int_equal(ras_stats(n.r)->ports_wrong, wrong + 2);
	check_fibs(&n);
	/* a steady fabric: audits find nothing */
	run_for(&n, 4 * RAS_AUDIT_MS);
	assert_int_equal(ras_stats(n.r)->ports_wrong, wrong + 2);
	net_free(&n);
}

/* The last availability the directory was told for (server, tree) idx: 1,
 * 0, or -1 if none. */
static int last_avail(const struct net *n, uint32_t idx)
{
	int v = -1;

	for (size_t i = 0; i < n->ndir; i++) {
		uint32_t id = pgr_mac_id(n->dir[i].mac);

		if ((pgr_id_node(id) - 1) * 2 + pgr_id_tree(id) == idx)
			v = n->dir[i].avail;
	}
	return v;
}

/* A switch the RAS cannot reach (RS_LOST) keeps forwarding with its old
 * table.  A failure that changes its entries must leave those trees held
 * until it is read and reprogrammed: released while it still sends them
 * the old way, they loop (chaos seeds 52 and 171 of --faults=all did:
 * leaf1 kept a tree's uplink that spine1 now sent back down to it). */
static void test_lost_switch_holds(void **state)
{
	struct net n;
	struct route_trees *after;
	uint8_t *dead;
	uint32_t link, x = UINT32_MAX, stale = 0;
	char err[256];

	(void)state;
	net_init(&n, "leafspine:spines=2,leaves=4,servers=2,homing=2", 6);
	link = link_between(n.t, "leaf1", "spine0");
	dead = calloc(n.t->nlinks, 1);
	dead[link] = 1;
	assert_int_equal(route_trees_new(n.t, dead, NULL, &after, err, sizeof(err)), 0);
	/* a switch other than the link's ends whose entries the failure moves */
	for (uint32_t sw = 0; sw < n.t->nnodes && x == UINT32_MAX; sw++) {
		if (!n.sw[sw] || sw == n.t->links[link].a || sw == n.t->links[link].b)
			continue;
		for (uint32_t i = 0; i < 2 * n.t->nservers; i++)
			if (route_egress(after, sw, n.t->servers[i / 2], i % 2) !=
			    route_egress(ras_routes(n.r), sw, n.t->servers[i / 2], i % 2))
				x = sw;
	}
	assert_int_not_equal(x, UINT32_MAX);
	n.mute_node = x + 1;
	link_set(&n, link, false);
	run_for(&n, 6000);	/* x is given up on (RAS_TRIES) */
	assert_true(ras_stats(n.r)->lost >= 1);
	for (uint32_t i = 0; i < 2 * n.t->nservers; i++) {
		uint8_t mac[6];
		uint16_t want = route_egress(after, x, n.t->servers[i / 2], i % 2);

		ras_server_mac(i / 2, i % 2, mac);
		if (sw_fib_lookup(n.sw[x], mac) == (want == ROUTE_NO_PORT ? -1 : (int)want))
			continue;
		stale++;
		assert_int_equal(last_avail(&n, i), 0);	/* still held */
	}
	assert_true(stale > 0);
	/* x answers again: read, reprogrammed, and the trees given back */
	n.mute_node = 0;
	run_for(&n, RAS_RESYNC_MS + 500);
	settle(&n);
	check_fibs(&n);
	for (uint32_t i = 0; i < 2 * n.t->nservers; i++)
		assert_int_equal(last_avail(&n, i), 1);
	route_trees_free(after);
	free(dead);
	net_free(&n);
}

/* A switch whose table holds the right number of entries with a wrong port
 * (a divergence the entry count cannot see): the table sum in the audit
 * finds it, the table is read again and repaired. */
static void test_sum_audit(void **state)
{
	struct net n;
	uint32_t leaf;
	uint8_t mac[6];
	int port;

	(void)state;
	net_init(&n, "leafspine:spines=2,leaves=4,servers=2,homing=2", 7);
	leaf = topo_find(n.t, "leaf1");
	ras_server_mac(0, 0, mac);
	port = sw_fib_lookup(n.sw[leaf], mac);
	assert_true(port >= 0);
	/* behind the RAS's back: same count, another port */
	sw_adopt(n.sw[leaf], mac, (uint16_t)((port + 1) % n.t->nodes[leaf].degree));
	run_for(&n, RAS_AUDIT_MS + 100);
	settle(&n);
	assert_int_equal(ras_stats(n.r)->audits_sum_failed, 1);
	assert_int_equal(ras_stats(n.r)->audits_failed, 1);
	assert_int_equal(sw_fib_lookup(n.sw[leaf], mac), port);
	check_fibs(&n);
	/* a steady fabric: every audit agrees */
	run_for(&n, 3 * RAS_AUDIT_MS);
	assert_int_equal(ras_stats(n.r)->audits_failed, 1);
	net_free(&n);
}

/* Trees are reprogrammed from the root outward (wait_parent): after every
 * batch any switch applies, during single failures and recoveries of every
 * link between switches, no tree loops. */
static void test_no_loop_while_reprogramming(void **state)
{
	static const char *const specs[] = {
		"leafspine:spines=2,leaves=4,servers=2,homing=2",
		"leafspine:spines=3,leaves=6,servers=1,homing=2",
	};

	(void)state;
	for (size_t k = 0; k < sizeof(specs) / sizeof(specs[0]); k++) {
		struct net n;

		net_init(&n, specs[k], 8 + k);
		n.check_loops = true;
		for (uint32_t l = 0; l < n.t->nlinks; l++) {
			if (topo_is_server(n.t, n.t->links[l].a) || topo_is_server(n.t, n.t->links[l].b))
				continue;
			link_set(&n, l, false);
			settle(&n);
			link_set(&n, l, true);
			settle(&n);
			check_fibs(&n);
		}
		assert_true(n.loop_checks > 0);
		net_free(&n);
	}
}

static void test_bad_input(void **state)
{
	struct net n;
	uint8_t buf[SWP_MAX_DGRAM] = { 0x50, 0x53, SWP_VERSION, SWP_LINK };
	struct auth_key other = { { 1 } };
	struct swp_hdr h = { .type = SWP_LINK, .sender = 0, .seq = 5 };
	const struct ras_stats *st;
	uint64_t decode_drops = 0;
	size_t len;

	(void)state;
	net_init(&n, "leafspine:spines=2,leaves=2,servers=1", 4);
	st = ras_stats(n.r);
	ras_input(n.r, n.addr[0], buf, 3, n.now, &n.o);
	ras_input(n.r, n.addr[0], buf, 40, n.now, &n.o);
	len = swp_enc_link(buf, sizeof(buf), &h, 0, SWP_PORT_DOWN, 1, &other);
	ras_input(n.r, n.addr[0], buf, len, n.now, &n.o);	/* wrong key */
	len = swp_enc_link(buf, sizeof(buf), &h, 0, SWP_PORT_DOWN, 1, &key);
	ras_input(n.r, (struct ras_addr){ 0x01020304, 1 }, buf, len, n.now, &n.o);
	h.sender = 4000;
	len = swp_enc_link(buf, sizeof(buf), &h, 0, SWP_PORT_DOWN, 1, &key);
	ras_input(n.r, n.addr[0], buf, len, n.now, &n.o);	/* no such node */
	h.sender = 0;
	len = swp_enc_link(buf, sizeof(buf), &h, 999, SWP_PORT_DOWN, 1, &key);
	ras_input(n.r, n.addr[0], buf, len, n.now, &n.o);	/* no such port */
	h.type = SWP_FIB_ACK;
	len = swp_enc_fib_ack(buf, sizeof(buf), &h, 0, 10, 0, (const uint8_t *)"\0", 1, &key);
	ras_input(n.r, n.addr[0], buf, len, n.now, &n.o);	/* acks nothing */
	assert_int_equal(st->drops[RAS_DROP_DECODE + SWP_E_SHORT], 1);
	assert_true(st->drops[RAS_DROP_DECODE + SWP_E_AUTH] >= 1);
	for (int i = 0; i < SWP_E_COUNT; i++)
		decode_drops += st->drops[RAS_DROP_DECODE + i];
	assert_int_equal(decode_drops, 3);
	assert_int_equal(st->drops[RAS_DROP_SENDER], 2);
	assert_int_equal(st->drops[RAS_DROP_PORT], 1);
	assert_int_equal(st->drops[RAS_DROP_STALE], 1);
	assert_int_equal(st->link_reports, 0);
	assert_int_equal(n.o.ndg + n.o.navail, 0);
	check_fibs(&n);
	net_free(&n);
}

/* ---- delivery to the real directory core ------------------------------------- */
/* A directory (re)started from the store; `synced` only: the writes a crash
 * may lose (availability, written without a sync) are lost. */
static void dir_restart(struct net *n, uint64_t seed, bool synced)
{
	struct dir_cfg dc = { .key = &key, .seed = seed };

	dir_free(n->d);
	n->d = dir_new(&dc);
	for (size_t i = 0; i < n->nstore; i++)
		if (!n->store[i].del && !(synced && n->store[i].soft))
			assert_int_equal(dir_restore(n->d, n->store[i].key, DIR_STORE_KEY_LEN,
						     n->store[i].val, DIR_STORE_VAL_LEN), 0);
}

static void dir_request(struct net *n, uint8_t type, const void *rec, struct dirp_msg *m,
			uint8_t *reply)
{
	static uint64_t seq, req;
	struct dirp_hdr h = { .type = type, .session = 77, .seq = ++seq,
			      .time_ms = dnow(n).wall_ms, .req_id = ++req };
	uint8_t buf[DIRP_MAX_DGRAM];
	struct dirp_writer w;

	dirp_begin(&w, buf, sizeof(buf), &h);
	if (type == DIRP_REGISTER)
		dirp_put_entry(&w, rec);
	else
		dirp_put_key(&w, rec);
	dir_out_reset(&n->dout);
	dir_input(n->d, dnow(n), TOOL_ADDR, buf, dirp_finish(&w, &key), &n->dout);
	for (size_t i = 0; i < n->dout.nsends; i++) {
		const struct dir_send *sd = &n->dout.sends[i];

		if (sd->ndst != 1 || n->dout.dsts[sd->dst] != TOOL_ADDR)
			continue;
		memcpy(reply, n->dout.buf + sd->off, sd->len);
		assert_int_equal(dirp_decode(reply, sd->len, &key, m), 0);
		if (m->h.type == (type | DIRP_REPLY_BIT))
			break;
	}
	assert_int_equal(m->h.type, type | DIRP_REPLY_BIT);
	dir_carry(n);
}

/* One VM per server (VDC 1, 10.0.x.y), behind the server's two MACs. */
static void dir_start(struct net *n, uint64_t seed)
{
	struct topo *t = spec("leafspine:spines=2,leaves=4,servers=2,homing=2");

	dir_restart(n, seed, false);
	for (uint32_t s = 0; s < t->nservers; s++) {
		struct dirp_entry e = { .vdc = 1, .ip = 0x0a000001 + s, .avail = DIRP_AVAIL_ALL,
					.server = s + 1 };
		uint8_t buf[DIRP_MAX_DGRAM];
		struct dirp_msg m;

		wire_put48(e.mac[DIRP_VM_PRI], 0x020000100000ull + 2 * s);
		wire_put48(e.mac[DIRP_VM_BAK], 0x020000100001ull + 2 * s);
		ras_server_mac(s, 0, e.mac[DIRP_IM_PRI]);
		ras_server_mac(s, 1, e.mac[DIRP_IM_BAK]);
		dir_request(n, DIRP_REGISTER, &e, &m, buf);
	}
	topo_free(t);
}

/* The directory holds, for every server MAC, the last value the RAS gave
 * it; returns how many are unavailable. */
static unsigned check_dir_avail(struct net *n)
{
	unsigned down = 0;

	for (uint32_t s = 0; s < n->t->nservers; s++) {
		struct dirp_key k = { 1, 0x0a000001 + s };
		uint8_t buf[DIRP_MAX_DGRAM];
		struct dirp_entry e;
		struct dirp_msg m;

		dir_request(n, DIRP_LOOKUP, &k, &m, buf);
		dirp_get_entry(&m, 0, &e);
		for (unsigned tr = 0; tr < 2; tr++) {
			uint8_t mac[6], want = 1;

			ras_server_mac(s, tr, mac);
			for (size_t i = 0; i < n->ndir; i++)
				if (!memcmp(n->dir[i].mac, mac, 6))
					want = n->dir[i].avail;
			if (!!(e.avail & (1u << (DIRP_IM_PRI + tr))) != want)
				fail_msg("server %u tree %u: the directory holds %u, the RAS said %u",
					 s, tr, !want, want);
			down += !want;
		}
	}
	return down;
}

static void test_directory_delivery(void **state)
{
	struct net n;
	unsigned down;

	(void)state;
	net_init_dir(&n, "leafspine:spines=2,leaves=4,servers=2,homing=2", 11, true);
	assert_int_equal(check_dir_avail(&n), 0);
	assert_true(ras_stats(n.r)->avail_acked >= 2 * n.t->nservers);
	/* A link fails while the switches hear nothing from the RAS (so the
	 * MACs stay unavailable) and the directory hears nothing for longer
	 * than the requests are retransmitted, then loses half of what comes
	 * and goes: the directory still ends holding every change. */
	n.sw_mute = true;
	n.dir_loss_pct = 100;
	link_set(&n, 0, false);
	run_for(&n, 4000);
	n.dir_loss_pct = 50;
	run_for(&n, 3000);
	n.dir_loss_pct = 0;
	run_for(&n, 2000);
	assert_int_equal(ras_stats(n.r)->avail_pending, 0);
	assert_true(ras_stats(n.r)->avail_timeouts > 0);
	down = check_dir_avail(&n);
	assert_true(down > 0);
	/* The directory restarts and loses what it had not synced: the RAS
	 * notices the new session within a probe period and says it all again. */
	dir_restart(&n, 12, true);
	run_for(&n, 2 * RAS_DIR_PROBE_MS);
	assert_int_equal(ras_stats(n.r)->dir_restarts, 1);
	assert_int_equal(check_dir_avail(&n), down);
	/* The switches hear again: everything comes back, and the directory
	 * hears that too. */
	n.sw_mute = false;
	settle(&n);
	assert_int_equal(check_dir_avail(&n), 0);
	/* A link fails and its users are marked unavailable, then available
	 * again once the switches are reprogrammed, while the first request
	 * is lost: its retransmission lands after the second value, and the
	 * MAC is sent once more with its latest value. */
	for (uint32_t l = 0; l < 6; l++) {
		n.dir_drop_next = 1;
		link_set(&n, l, false);
		settle(&n);
		assert_int_equal(check_dir_avail(&n), 0);
		link_set(&n, l, true);
		settle(&n);
	}
	/* Garbage "from the directory" is counted, not taken. */
	{
		uint8_t junk[40] = { 0x50, 0x44, 1 };

		ras_input(n.r, (struct ras_addr){ DIR_IP, DIR_PORT }, junk, sizeof(junk), n.now, &n.o);
		assert_int_equal(ras_stats(n.r)->drops[RAS_DROP_DIR], 1);
	}
	net_free(&n);
}

int main(void)
{
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_programs_fabric),
		cmocka_unit_test(test_failover_order),
		cmocka_unit_test(test_spine_failure_keeps_a_tree),
		cmocka_unit_test(test_recovery_keeps_a_tree),
		cmocka_unit_test(test_random_failures),
		cmocka_unit_test(test_port_audit),
		cmocka_unit_test(test_lost_switch_holds),
		cmocka_unit_test(test_sum_audit),
		cmocka_unit_test(test_no_loop_while_reprogramming),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_directory_delivery),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
