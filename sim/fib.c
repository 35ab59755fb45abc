/* The forwarding-table model per scheme.  Each fill function writes one
 * switch's coefficients (sim/fib.h); docs/experiments.md explains every
 * term and sim/test_fib.c checks each against hand counts and against an
 * explicit installation of entries on small topologies. */
#include "sim/fib.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "lib/rng.h"
#include "sim/vlans.h"
#include "topo/analyze.h"

int sim_scheme_fits_topo(enum sim_scheme s, const struct topo *t, char *err, size_t errlen)
{
	bool bc = t->family == FAM_BCUBE;

	if (s == SCHEME_BCUBE && !bc) {
		snprintf(err, errlen, "scheme bcube needs a BCube topology (bcube:n=N,k=K)");
		return -EINVAL;
	}
	if (s != SCHEME_BCUBE && bc) {
		snprintf(err, errlen, "scheme %s needs a switch-centric topology: in a BCube "
			 "only servers forward between switches", sim_scheme_name(s));
		return -EINVAL;
	}
	return 0;
}

struct ctx {
	const struct sim_net *n;
	const struct sim_fib_params *p;
	struct sim_vlans vl;
	uint64_t *direct;	/* node id -> direct entries (peregrine-dual) */
};

/* Plain Ethernet: one spanning tree covers every switch and ARP broadcasts
 * reach all of it, so with all-to-all traffic every switch learns every
 * active MAC: each server's own and each of its VMs'.  All of them grow with
 * the data center, the switch's own servers included. */
static struct sim_fib_coef coef_l2(uint64_t S)
{
	return (struct sim_fib_coef){ .remote = (int64_t)S, .remote_vm = (int64_t)S };
}

/* EVPN's underlay (docs/evpn.md): a switch routes IP, and its table holds
 * a /32 per VTEP (every server), the loopback of every leaf but itself and
 * of every switch above the leaves outside its own tier (a tier shares an
 * ASN, RFC 7938, and takes none of its peers' routes), and its connected
 * /31s.  Tenants' MACs stay in the VTEPs: no term grows with V.  Exact on
 * a leaf-spine, as the lab's switches show (docs/evpn.md). */
static struct sim_fib_coef coef_evpn(const struct sim_net *n, uint32_t node)
{
	const struct topo *t = n->t;
	uint64_t S = t->nservers, E = n->nedge, upper = t->nswitches - n->nedge, tier = 0;
	bool edge = n->attached[node] > 0;

	for (uint32_t i = 0; !edge && i < t->nswitches; i++) {
		uint32_t m = t->switches[i];

		tier += !n->attached[m] && t->nodes[m].level == t->nodes[node].level;
	}
	return (struct sim_fib_coef){
		.remote = (int64_t)(S + E) - edge,
		.local = (int64_t)t->nodes[node].degree + (int64_t)upper - (int64_t)tier,
	};
}

static struct sim_fib_coef coef_for(const struct ctx *c, uint32_t node)
{
	const struct sim_net *n = c->n;
	uint64_t S = n->t->nservers, D = n->attached[node], E = n->nedge;
	int64_t vl = c->vl.carried ? c->vl.carried[node] : 0;
	bool edge = D > 0, top = n->is_top[node];
	struct sim_fib_coef k = { 0 };

	switch (c->p->scheme) {
	case SCHEME_L2:
		return coef_l2(S);
	case SCHEME_SPAIN:
		/* Every MAC is learnt once per VLAN the switch is in, if its
		 * server reaches that VLAN (on a leaf-spine every VLAN reaches
		 * every server: S per VLAN). */
		k.remote = (int64_t)c->vl.servers_seen[node];
		k.remote_vm = k.remote;
		return k;
	case SCHEME_NETLORD:
		/* The fabric sees only edge-switch MACs, once per VLAN, of the
		 * edge switches in that VLAN (on a leaf-spine all E); an edge
		 * switch also holds its own servers' MACs (it delivers to them
		 * after its L3 lookup), never a VM's. */
		k.remote = (int64_t)c->vl.edges_seen[node];
		k.local = (int64_t)D - (edge ? vl : 0);
		return k;
	case SCHEME_VL2:
		/* Switches route locators: one route per ToR, one anycast route
		 * to the intermediates; a ToR delivers by application address,
		 * one entry per local server and VM. */
		k.remote = (int64_t)E;
		k.local = (int64_t)D - edge + !top;
		k.local_vm = (int64_t)D;
		return k;
	case SCHEME_PEREGRINE:
	case SCHEME_PEREGRINE_DUAL:
		/* Two MACs per server, each on a spanning tree that spans every
		 * switch: one entry each per switch. */
		k.remote = 2 * (int64_t)S;
		if (c->direct)
			k.remote += (int64_t)c->direct[node];
		return k;
	case SCHEME_BCUBE:
		/* A BCube switch forwards to next-hop servers only: its own. */
		k.local = (int64_t)D;
		return k;
	case SCHEME_EVPN:
		return coef_evpn(n, node);
	case SCHEME_COUNT:
		break;
	}
	abort();
}

/* ---- peregrine-dual: direct entries for heavy pairs ----------------------- */

struct pair {
	uint32_t src;		/* server index */
	uint32_t dst;		/* server index of the destination VM */
	uint64_t vm;		/* destination VM id */
};

static int cmp_pair(const void *a, const void *b, void *arg)
{
	const struct sim_net *n = arg;
	const struct pair *x = a, *y = b;
	uint32_t ex = n->edge_of[x->dst], ey = n->edge_of[y->dst];

	if (ex != ey)
		return ex < ey ? -1 : 1;
	return x->dst < y->dst ? -1 : x->dst > y->dst;
}

static struct pair *heavy_pairs(const struct sim_net *n, const struct sim_fib_params *p,
				size_t *np)
{
	uint32_t S = n->t->nservers;
	struct pair *v;
	struct rng r;
	size_t k = 0;

	*np = 0;
	if (S < 2 || !p->vms_per_server || !p->heavy)
		return NULL;
	rng_seed(&r, p->seed);
	v = xmalloc((size_t)S * p->heavy * sizeof(*v));
	for (uint32_t s = 0; s < S; s++)
		for (uint32_t h = 0; h < p->heavy; h++) {
			uint32_t d = rng_below(&r, S - 1);

			d += d >= s;
			v[k++] = (struct pair){ s, d, (uint64_t)d * p->vms_per_server +
						       rng_below(&r, p->vms_per_server) };
		}
	qsort_r(v, k, sizeof(*v), cmp_pair, (void *)n);
	*np = k;
	return v;
}

/* The switch a server's second MAC is reached through: NIC 1's switch when
 * the server is dual-homed, else its edge switch again. */
static uint32_t backup_edge(const struct sim_net *n, uint32_t server)
{
	uint32_t node = n->t->servers[server];

	if (n->t->nodes[node].degree > 1) {
		uint32_t sw = topo_port(n->t, node, 1)->peer;

		if (!topo_is_server(n->t, sw))
			return sw;
	}
	return n->edge_of[server];
}

/* Heavy pairs are routed one at a time on shortest paths, each hop to the
 * candidate switch holding the fewest direct entries so far: the seed's
 * "weighted shortest path, then update the weights".  dist[] is the BFS
 * distance to the destination's edge switch; `avoid` (may be NULL) gives,
 * per switch, the next hop the primary path took there, which the backup
 * path avoids when it has another choice.  The switches are written to
 * path[], their number returned. */
#define SIM_PATH_MAX 64

static uint32_t route_pair(struct ctx *c, const uint32_t *dist, uint32_t from,
			   const uint32_t *avoid_at, const uint32_t *avoid_hop,
			   uint32_t navoid, uint32_t *path)
{
	const struct topo *t = c->n->t;
	uint32_t len = 0, w = from;

	while (w != SIM_NONE && len < SIM_PATH_MAX) {
		uint32_t best = SIM_NONE, skip = SIM_NONE;

		path[len++] = w;
		if (dist[w] == 0)
			break;
		for (uint32_t i = 0; i < navoid; i++)
			if (avoid_at[i] == w)
				skip = avoid_hop[i];
		for (uint32_t pass = 0; pass < 2 && best == SIM_NONE; pass++)
			for (uint32_t p = 0; p < t->nodes[w].degree; p++) {
				uint32_t u = topo_port(t, w, p)->peer;

				if (topo_is_server(t, u) || dist[u] + 1 != dist[w] ||
				    (pass == 0 && u == skip))
					continue;
				if (best == SIM_NONE || c->direct[u] < c->direct[best])
					best = u;
			}
		w = best;
	}
	return len;
}

/* One entry for the MAC `key` on each switch of the path, shared with any
 * earlier path that put the same MAC on the same switch. */
static void install(struct ctx *c, struct hmap *seen, const uint32_t *path, uint32_t len,
		    uint64_t key)
{
	for (uint32_t i = 0; i < len; i++) {
		uint64_t k = key << 23 | c->n->t->nodes[path[i]].index;

		if (hmap_get(seen, k))
			continue;
		hmap_put(seen, k, 1);
		c->direct[path[i]]++;
	}
}

struct trees {
	uint32_t *dist1, *dist2, *queue;
	uint32_t root1, root2;
};

static void direct_for_pair(struct ctx *c, struct trees *tr, struct hmap *seen,
			    const struct pair *pr)
{
	const struct sim_net *n = c->n;
	uint32_t e1 = n->edge_of[pr->dst], e2 = backup_edge(n, pr->dst);
	uint32_t p1[SIM_PATH_MAX], p2[SIM_PATH_MAX], n1, n2;

	if (tr->root1 != e1) {
		topo_bfs(n->t, e1, NULL, false, tr->dist1, tr->queue);
		tr->root1 = e1;
	}
	if (tr->root2 != e2) {
		topo_bfs(n->t, e2, NULL, false, tr->dist2, tr->queue);
		tr->root2 = e2;
	}
	n1 = route_pair(c, tr->dist1, n->edge_of[pr->src], NULL, NULL, 0, p1);
	install(c, seen, p1, n1, pr->vm << 1);
	/* The backup leaves each switch by another link than the primary. */
	n2 = route_pair(c, tr->dist2, n->edge_of[pr->src], p1, p1 + 1, n1 ? n1 - 1 : 0, p2);
	install(c, seen, p2, n2, pr->vm << 1 | 1);
}

static void direct_entries(struct ctx *c)
{
	const struct topo *t = c->n->t;
	struct trees tr = { .root1 = SIM_NONE, .root2 = SIM_NONE };
	struct pair *pairs;
	struct hmap seen;
	size_t np;

	c->direct = xcalloc(t->nnodes, sizeof(*c->direct));
	pairs = heavy_pairs(c->n, c->p, &np);
	if (!np)
		return;
	tr.dist1 = xmalloc(t->nnodes * sizeof(uint32_t));
	tr.dist2 = xmalloc(t->nnodes * sizeof(uint32_t));
	tr.queue = xmalloc(t->nnodes * sizeof(uint32_t));
	hmap_init(&seen, np * 8, c->p->seed ^ 0x5eedu);
	for (size_t i = 0; i < np; i++)
		direct_for_pair(c, &tr, &seen, &pairs[i]);
	hmap_free(&seen);
	free(tr.dist1);
	free(tr.dist2);
	free(tr.queue);
	free(pairs);
}

/* ---- summaries -------------------------------------------------------------- */

static uint32_t cap_of(const struct sim_net *n, const struct sim_fib_params *p, uint32_t node)
{
	return p->fib_cap ? p->fib_cap : n->t->nodes[node].fib_cap;
}

/* The largest V this switch takes on this topology. */
static int64_t max_v(const struct sim_fib_coef *k, int64_t cap)
{
	int64_t fixed = k->remote + k->local, per = k->remote_vm + k->local_vm;

	if (fixed > cap)
		return -1;
	return per > 0 ? (cap - fixed) / per : INT64_MAX;
}

/* The most servers a data center of this shape can have before this switch
 * overflows, at V VMs per server: remote entries scale with the servers. */
static uint64_t max_servers(const struct sim_fib_coef *k, int64_t cap, uint64_t S, uint64_t V)
{
	__int128 grow = (__int128)k->remote + (__int128)k->remote_vm * V;
	__int128 fixed = (__int128)k->local + (__int128)k->local_vm * V;

	if (fixed > cap)
		return 0;
	if (grow <= 0)
		return UINT64_MAX;
	return (uint64_t)MIN((__int128)UINT64_MAX - 1, (__int128)S * (cap - fixed) / grow);
}

static void summarise(const struct sim_net *n, const struct sim_fib_params *p,
		      struct sim_fib_result *r)
{
	const struct topo *t = n->t;
	uint64_t S = t->nservers, V = p->vms_per_server, unit = sim_net_growth_unit(n);

	r->fits = true;
	r->max_servers = UINT64_MAX;
	r->max_vms_per_server = INT64_MAX;
	r->vms = S * V;
	for (uint32_t i = 0; i < r->nswitches; i++) {
		uint32_t node = t->switches[i];
		int64_t cap = cap_of(n, p, node), e = sim_fib_at(&r->coef[i], V);
		struct sim_fib_role *ro = &r->roles[t->nodes[node].role];

		assert(e >= 0);
		r->entries[i] = (uint64_t)e;
		r->fib_total += (uint64_t)e;
		if (r->entries[i] > r->fib_max || i == 0)
			r->fib_max = r->entries[i], r->argmax = i;
		if (e > cap)
			r->fits = false, r->overflowing++;
		r->max_servers = MIN(r->max_servers, max_servers(&r->coef[i], cap, S, V));
		r->max_vms_per_server = MIN(r->max_vms_per_server, max_v(&r->coef[i], cap));
		ro->switches++;
		ro->max = MAX(ro->max, (uint64_t)e);
		ro->mean += (double)e;
	}
	for (int ro = 0; ro < ROLE_COUNT; ro++)
		if (r->roles[ro].switches)
			r->roles[ro].mean /= r->roles[ro].switches;
	r->fib_mean = r->nswitches ? (double)r->fib_total / r->nswitches : 0;
	if (r->max_servers != UINT64_MAX)
		r->max_servers -= r->max_servers % unit;
	r->max_vms = r->max_servers == UINT64_MAX ? UINT64_MAX : r->max_servers * V;
}

int sim_fib_model(const struct sim_net *n, const struct sim_fib_params *p,
		  struct sim_fib_result *r, char *err, size_t errlen)
{
	const struct topo *t = n->t;
	struct ctx c = { .n = n, .p = p };
	int ret;

	memset(r, 0, sizeof(*r));
	if ((ret = sim_scheme_fits_topo(p->scheme, t, err, errlen)))
		return ret;
	if (p->scheme == SCHEME_SPAIN || p->scheme == SCHEME_NETLORD) {
		if ((ret = sim_vlans_build(&c.vl, n, p->vlans, false, err, errlen)))
			return ret;
		r->vlans = c.vl.k;
	}
	if (p->scheme == SCHEME_PEREGRINE_DUAL) {
		/* Direct entries are keyed by VM number and switch number. */
		if ((uint64_t)t->nservers * p->vms_per_server >= SIM_FIB_MAX_DUAL_VMS) {
			snprintf(err, errlen, "peregrine-dual models at most %llu VMs",
				 (unsigned long long)SIM_FIB_MAX_DUAL_VMS);
			return -EINVAL;
		}
		direct_entries(&c);
	}
	r->nswitches = t->nswitches;
	r->coef = xcalloc(t->nswitches, sizeof(*r->coef));
	r->entries = xcalloc(t->nswitches, sizeof(*r->entries));
	for (uint32_t i = 0; i < t->nswitches; i++) {
		r->coef[i] = coef_for(&c, t->switches[i]);
		if (c.direct)
			r->direct_entries += c.direct[t->switches[i]];
	}
	summarise(n, p, r);
	sim_vlans_free(&c.vl);
	free(c.direct);
	return 0;
}

void sim_fib_result_free(struct sim_fib_result *r)
{
	free(r->coef);
	free(r->entries);
	memset(r, 0, sizeof(*r));
}
