/* Flooding under learning schemes (sim/flood.h). */
#include "sim/flood.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/rng.h"
#include "sim/fib.h"
#include "sim/lru.h"
#include "sim/vlans.h"

/* Addresses in the tables: a VLAN above a MAC number. */
#define KEY(vlan, mac) ((uint64_t)(vlan) << 44 | (mac))
#define EDGE_MAC(node) ((1ull << 42) | (node))
/* Deepest tree the packet walk handles (a Clos tree is a few levels). */
#define SIM_TREE_DEPTH 64

/* A tree over switches, with its links both ways. */
struct ftree {
	const uint32_t *hop;	/* towards the root, SIM_NONE at the root */
	uint32_t *depth;
	uint32_t *cstart, *child;	/* CSR: children of each node */
};

struct flow {
	uint32_t a, b;		/* VM ids */
};

struct fctx {
	const struct sim_net *n;
	const struct sim_flood_params *p;
	struct sim_flood_result *r;
	struct sim_lru *fib;	/* node id -> table (switches) */
	struct ftree *trees;
	uint32_t ntrees;
	uint32_t *stp_hop;	/* l2's spanning tree */
	struct sim_vlans vl;
	uint32_t *path, *onpath, plen;
	uint32_t *stack;	/* (node, from) pairs */
	bool count;		/* past the warm-up */
};

/* Depth below the root, SIM_NONE for a node the tree does not reach. */
static uint32_t depth_of(const uint32_t *hop, uint32_t *depth, uint32_t root, uint32_t v)
{
	uint32_t d;

	if (depth[v] != SIM_NONE || v == root)
		return v == root ? (depth[v] = 0) : depth[v];
	if (hop[v] == SIM_NONE)
		return SIM_NONE;
	d = depth_of(hop, depth, root, hop[v]);
	return d == SIM_NONE ? SIM_NONE : (depth[v] = d + 1);
}

static void ftree_build(struct ftree *tr, const struct topo *t, uint32_t root,
			const uint32_t *hop, const uint8_t *in)
{
	uint32_t nn = t->nnodes, *fill;

	tr->hop = hop;
	tr->depth = xmalloc(nn * sizeof(uint32_t));
	tr->cstart = xcalloc(nn + 1, sizeof(uint32_t));
	tr->child = xmalloc(nn * sizeof(uint32_t));
	memset(tr->depth, 0xff, nn * sizeof(uint32_t));
	for (uint32_t v = 0; v < nn; v++)
		if (in[v] && !topo_is_server(t, v) && hop[v] != SIM_NONE)
			tr->cstart[hop[v] + 1]++;
	for (uint32_t v = 0; v < nn; v++)
		tr->cstart[v + 1] += tr->cstart[v];
	fill = xmalloc(nn * sizeof(uint32_t));
	memcpy(fill, tr->cstart, nn * sizeof(uint32_t));
	for (uint32_t v = 0; v < nn; v++)
		if (in[v] && !topo_is_server(t, v) && hop[v] != SIM_NONE)
			tr->child[fill[hop[v]]++] = v;
	free(fill);
	for (uint32_t v = 0; v < nn; v++)
		if (in[v] && !topo_is_server(t, v))
			depth_of(hop, tr->depth, root, v);
}

static void ftree_free(struct ftree *tr)
{
	free(tr->depth);
	free(tr->cstart);
	free(tr->child);
}

/* The tree path from switch x to switch y, through their lowest common
 * ancestor; onpath[] holds each one's position + 1. */
static void tree_path(struct fctx *c, const struct ftree *tr, uint32_t x, uint32_t y)
{
	uint32_t up[SIM_TREE_DEPTH], down[SIM_TREE_DEPTH], nu = 0, nd = 0;

	assert(tr->depth[x] < SIM_TREE_DEPTH && tr->depth[y] < SIM_TREE_DEPTH);

	while (tr->depth[x] > tr->depth[y])
		up[nu++] = x, x = tr->hop[x];
	while (tr->depth[y] > tr->depth[x])
		down[nd++] = y, y = tr->hop[y];
	while (x != y) {
		up[nu++] = x, x = tr->hop[x];
		down[nd++] = y, y = tr->hop[y];
	}
	up[nu++] = x;
	c->plen = 0;
	for (uint32_t i = 0; i < nu; i++)
		c->path[c->plen++] = up[i];
	while (nd)
		c->path[c->plen++] = down[--nd];
	for (uint32_t i = 0; i < c->plen; i++)
		c->onpath[c->path[i]] = i + 1;
}

/* Where a switch that knows the destination sends the frame: along the
 * path, or towards it from off the path; SIM_NONE at the destination. */
static uint32_t next_toward(const struct fctx *c, const struct ftree *tr, uint32_t u,
			    uint32_t de)
{
	uint32_t i = c->onpath[u], x = de;

	if (i)
		return i < c->plen ? c->path[i] : SIM_NONE;
	while (tr->depth[x] > tr->depth[u] + 1)
		x = tr->hop[x];
	return tr->depth[x] == tr->depth[u] + 1 && tr->hop[x] == u ? x : tr->hop[u];
}

static void lookup_and_forward(struct fctx *c, const struct ftree *tr, uint64_t src,
			       uint64_t dst, uint32_t de, bool *flooded, uint32_t *sp)
{
	uint32_t u = c->stack[*sp - 2], from = c->stack[*sp - 1];

	*sp -= 2;
	sim_lru_learn(&c->fib[u], src);
	if (sim_lru_lookup(&c->fib[u], dst)) {
		uint32_t nx = next_toward(c, tr, u, de);

		if (nx != SIM_NONE && nx != from) {
			c->stack[(*sp)++] = nx;
			c->stack[(*sp)++] = u;
		}
		return;
	}
	*flooded = true;
	c->r->flooded += c->count;
	if (tr->hop[u] != SIM_NONE && tr->hop[u] != from) {
		c->stack[(*sp)++] = tr->hop[u];
		c->stack[(*sp)++] = u;
	}
	for (uint32_t k = tr->cstart[u]; k < tr->cstart[u + 1]; k++)
		if (tr->child[k] != from) {
			c->stack[(*sp)++] = tr->child[k];
			c->stack[(*sp)++] = u;
		}
}

/* One frame from edge switch se to edge switch de over tree tr. */
static void frame(struct fctx *c, const struct ftree *tr, uint64_t src, uint64_t dst,
		  uint32_t se, uint32_t de)
{
	bool flooded = false;
	uint32_t sp = 0;

	tree_path(c, tr, se, de);
	c->stack[sp++] = se;
	c->stack[sp++] = SIM_NONE;
	while (sp)
		lookup_and_forward(c, tr, src, dst, de, &flooded, &sp);
	for (uint32_t i = 0; i < c->plen; i++)
		c->onpath[c->path[i]] = 0;
	c->r->flooded_packets += flooded && c->count;
}

static void packet(struct fctx *c, const struct flow *f, bool reverse)
{
	const struct sim_net *n = c->n;
	uint32_t V = c->p->vms_per_server;
	uint32_t a = reverse ? f->b : f->a, b = reverse ? f->a : f->b;
	uint32_t se = n->edge_of[a / V], de = n->edge_of[b / V];
	/* SPAIN and NetLord pin a flow to a VLAN by hashing it: one of the
	 * VLANs that hold a path between its edge switches. */
	uint32_t vlan = c->p->scheme == SCHEME_L2 ? 0 :
			sim_vlans_pick(&c->vl, se, de, hash_u64((uint64_t)f->a << 32 | f->b, 0x7a11));

	assert(vlan != SIM_NONE);	/* route/spain.c gives every pair a path */
	c->r->packets += c->count;
	if (c->p->scheme == SCHEME_NETLORD) {
		/* The fabric sees edge-switch addresses; a frame between two
		 * VMs under one edge switch never enters it. */
		if (se != de)
			frame(c, &c->trees[vlan], KEY(vlan, EDGE_MAC(se)), KEY(vlan, EDGE_MAC(de)),
			      se, de);
		return;
	}
	frame(c, &c->trees[vlan], KEY(vlan, a), KEY(vlan, b), se, de);
}

/* Each VM's peers: VMs on other servers. */
static struct flow *make_flows(const struct sim_net *n, const struct sim_flood_params *p,
			       uint64_t *nflows)
{
	uint64_t S = n->t->nservers, V = p->vms_per_server, k = 0;
	struct flow *f = xmalloc(S * V * p->peers * sizeof(*f));
	struct rng r;

	rng_seed(&r, p->seed);
	for (uint64_t vm = 0; vm < S * V; vm++)
		for (uint32_t q = 0; q < p->peers; q++) {
			uint64_t srv = vm / V, d = rng_below(&r, (uint32_t)(S - 1));

			d += d >= srv;
			f[k++] = (struct flow){ (uint32_t)vm,
						(uint32_t)(d * V + rng_below(&r, (uint32_t)V)) };
		}
	*nflows = k;
	return f;
}

static int build_trees(struct fctx *c, char *err, size_t errlen)
{
	const struct topo *t = c->n->t;
	uint8_t *all;
	int ret;

	if (c->p->scheme == SCHEME_L2) {
		uint32_t *dist = xmalloc(t->nnodes * sizeof(uint32_t));
		uint32_t *queue = xmalloc(t->nnodes * sizeof(uint32_t));

		c->stp_hop = xmalloc(t->nnodes * sizeof(uint32_t));
		sim_tree_toward(c->n, t->switches[0], NULL, SIM_NONE, c->stp_hop, dist, queue);
		free(dist);
		free(queue);
		all = xmalloc(t->nnodes);
		memset(all, 1, t->nnodes);
		c->ntrees = 1;
		c->trees = xcalloc(1, sizeof(*c->trees));
		ftree_build(&c->trees[0], t, t->switches[0], c->stp_hop, all);
		free(all);
		return 0;
	}
	if ((ret = sim_vlans_build(&c->vl, c->n, c->p->vlans, true, err, errlen)))
		return ret;
	c->ntrees = c->vl.k;
	c->r->vlans = c->vl.k;
	c->trees = xcalloc(c->ntrees, sizeof(*c->trees));
	for (uint32_t i = 0; i < c->ntrees; i++)
		ftree_build(&c->trees[i], t, c->vl.root[i], c->vl.hop + (size_t)i * t->nnodes,
			    c->vl.member + (size_t)i * t->nnodes);
	return 0;
}

/* Every switch a tree must hold is reached by it. */
static int trees_reach_edges(const struct fctx *c, char *err, size_t errlen)
{
	const struct topo *t = c->n->t;

	for (uint32_t i = 0; i < c->ntrees; i++)
		for (uint32_t k = 0; k < t->nswitches; k++) {
			uint32_t s = t->switches[k];
			/* the spanning tree must hold every edge switch; a SPAIN
			 * VLAN, the switches of its paths (a flow uses only a
			 * VLAN that holds both of its edge switches) */
			bool needed = c->p->scheme == SCHEME_L2 ? c->n->attached[s] > 0 :
				      sim_vlan_has(&c->vl, i, s);

			if (needed && c->trees[i].depth[s] == SIM_NONE) {
				snprintf(err, errlen, "switch %s cannot be reached from the others",
					 t->nodes[s].name);
				return -EINVAL;
			}
		}
	return 0;
}

static void free_ctx(struct fctx *c)
{
	const struct topo *t = c->n->t;

	for (uint32_t i = 0; i < c->ntrees; i++)
		ftree_free(&c->trees[i]);
	free(c->trees);
	free(c->stp_hop);
	sim_vlans_free(&c->vl);
	if (c->fib)
		for (uint32_t i = 0; i < t->nswitches; i++)
			sim_lru_free(&c->fib[t->switches[i]]);
	free(c->fib);
	free(c->path);
	free(c->onpath);
	free(c->stack);
}

static void run_packets(struct fctx *c, const struct flow *flows, uint64_t nflows)
{
	const struct topo *t = c->n->t;
	uint64_t warm = nflows * c->p->warmup;
	struct rng r;

	rng_seed(&r, c->p->seed ^ 0x9ac4e7);
	for (uint64_t i = 0; i < warm + c->p->packets; i++) {
		uint64_t x = rng_next(&r);

		c->count = i >= warm;
		packet(c, &flows[(x >> 1) % nflows], x & 1);
	}
	for (uint32_t i = 0; i < t->nswitches; i++) {
		struct sim_lru *l = &c->fib[t->switches[i]];

		c->r->evictions += l->evictions;
		c->r->table_max = MAX(c->r->table_max, l->n);
	}
}

static int run_learning(const struct sim_net *n, const struct sim_flood_params *p,
			struct sim_flood_result *r, char *err, size_t errlen)
{
	const struct topo *t = n->t;
	struct fctx c = { .n = n, .p = p, .r = r };
	struct flow *flows;
	int ret;

	if (t->nservers < 2 || !p->vms_per_server || !p->peers) {
		snprintf(err, errlen, "flooding needs two servers, VMs and peers");
		return -EINVAL;
	}
	if ((uint64_t)t->nservers * p->vms_per_server * p->peers > SIM_FLOOD_MAX_FLOWS) {
		snprintf(err, errlen, "%llu flows: more than the %u this model keeps",
			 (unsigned long long)t->nservers * p->vms_per_server * p->peers,
			 SIM_FLOOD_MAX_FLOWS);
		return -EINVAL;
	}
	if ((ret = build_trees(&c, err, errlen)) || (ret = trees_reach_edges(&c, err, errlen))) {
		free_ctx(&c);
		return ret;
	}
	c.fib = xcalloc(t->nnodes, sizeof(*c.fib));
	for (uint32_t i = 0; i < t->nswitches; i++) {
		uint32_t s = t->switches[i];

		sim_lru_init(&c.fib[s], p->fib_cap ? p->fib_cap : MAX(t->nodes[s].fib_cap, 1u),
			     p->seed + s);
	}
	c.path = xmalloc(2 * SIM_TREE_DEPTH * sizeof(uint32_t));
	c.onpath = xcalloc(t->nnodes, sizeof(uint32_t));
	c.stack = xmalloc(4 * (size_t)t->nnodes * sizeof(uint32_t));
	flows = make_flows(n, p, &r->flows);
	run_packets(&c, flows, r->flows);
	free(flows);
	free_ctx(&c);
	return 0;
}

int sim_flood_run(const struct sim_net *n, const struct sim_flood_params *p,
		  struct sim_flood_result *r, char *err, size_t errlen)
{
	int ret;

	memset(r, 0, sizeof(*r));
	if ((ret = sim_scheme_fits_topo(p->scheme, n->t, err, errlen)))
		return ret;
	r->vms = (uint64_t)n->t->nservers * p->vms_per_server;
	r->learning = p->scheme == SCHEME_L2 || p->scheme == SCHEME_SPAIN ||
		      p->scheme == SCHEME_NETLORD;
	if (r->learning)
		return run_learning(n, p, r, err, errlen);
	{
		struct sim_fib_params fp = { .scheme = p->scheme, .vms_per_server = p->vms_per_server,
					     .fib_cap = p->fib_cap, .heavy = SIM_FIB_DEFAULT_HEAVY,
					     .seed = p->seed };
		struct sim_fib_result fr;

		if ((ret = sim_fib_model(n, &fp, &fr, err, errlen)))
			return ret;
		r->fits = fr.fits;
		r->table_max = fr.fib_max;
		r->packets = p->packets;
		sim_fib_result_free(&fr);
	}
	return 0;
}
