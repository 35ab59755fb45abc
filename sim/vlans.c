#include "sim/vlans.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Members of VLAN i: the ends of its links.  in_vlan (nlinks bytes) is left
 * marking its links. */
static void vlan_members(const struct sim_vlans *v, const struct topo *t, uint32_t i,
			 uint8_t *mem, uint8_t *in_vlan)
{
	const struct route_spain *s = &v->sp;

	memset(mem, 0, t->nnodes);
	memset(in_vlan, 0, t->nlinks);
	for (uint32_t j = s->vlan_off[i]; j < s->vlan_off[i + 1]; j++) {
		const struct topo_link *l = &t->links[s->vlan_links[j]];

		in_vlan[s->vlan_links[j]] = 1;
		mem[l->a] = mem[l->b] = 1;
	}
}

/* What a member of the VLAN sees in it: servers with a switch in it, and
 * edge switches. */
static void vlan_reach(const struct sim_net *n, const uint8_t *mem, uint64_t *servers,
		       uint64_t *edges)
{
	const struct topo *t = n->t;

	*servers = *edges = 0;
	for (uint32_t i = 0; i < t->nswitches; i++)
		*edges += mem[t->switches[i]] && n->attached[t->switches[i]];
	for (uint32_t i = 0; i < t->nservers; i++) {
		const struct topo_node *ns = &t->nodes[t->servers[i]];
		bool in = false;

		for (uint32_t p = 0; p < ns->degree && !in; p++)
			in = mem[topo_port(t, t->servers[i], p)->peer];
		*servers += in;
	}
}

static uint32_t vlan_root(const struct sim_net *n, const uint8_t *mem)
{
	const struct topo *t = n->t;
	uint32_t low = SIM_NONE;

	for (uint32_t i = 0; i < t->nswitches; i++) {
		uint32_t w = t->switches[i];

		if (!mem[w])
			continue;
		if (n->is_top[w])
			return w;
		if (low == SIM_NONE)
			low = w;
	}
	return low;
}

/* hop[w]: w's neighbour towards root over the VLAN's links (a tree, so the
 * search finds the one path). */
static void link_tree(const struct topo *t, const uint8_t *in_vlan, uint32_t root,
		      uint32_t *hop, uint32_t *queue)
{
	uint32_t head = 0, tail = 0;

	for (uint32_t w = 0; w < t->nnodes; w++)
		hop[w] = SIM_NONE;
	queue[tail++] = root;
	while (head < tail) {
		uint32_t u = queue[head++];

		for (uint32_t p = 0; p < t->nodes[u].degree; p++) {
			const struct topo_adj *a = topo_port(t, u, p);

			if (!in_vlan[a->link] || a->peer == root || hop[a->peer] != SIM_NONE)
				continue;
			hop[a->peer] = u;
			queue[tail++] = a->peer;
		}
	}
}

static int default_paths(const struct sim_net *n, uint32_t paths)
{
	if (paths)
		return (int)paths;
	return (int)MIN(n->ntop, (uint32_t)ROUTE_SPAIN_MAX_K);
}

int sim_vlans_build(struct sim_vlans *v, const struct sim_net *n, uint32_t paths,
		    bool keep_trees, char *err, size_t errlen)
{
	const struct topo *t = n->t;
	uint8_t *mem, *in_vlan;
	uint32_t *queue;
	int ret;

	memset(v, 0, sizeof(*v));
	v->paths = (uint32_t)default_paths(n, paths);
	if (v->paths > ROUTE_SPAIN_MAX_K) {
		snprintf(err, errlen, "SPAIN takes 1 to %u paths per pair of edge switches, "
			 "%u asked for", ROUTE_SPAIN_MAX_K, v->paths);
		return -EINVAL;
	}
	if ((ret = route_spain_build(t, v->paths, &v->sp, err, errlen)))
		return ret;
	if (!v->sp.nvlans) {
		snprintf(err, errlen, "SPAIN needs at least two edge switches");
		route_spain_free(&v->sp);
		return -EINVAL;
	}
	v->k = v->sp.nvlans;
	v->nnodes = t->nnodes;
	v->root = xmalloc(v->k * sizeof(*v->root));
	v->carried = xcalloc(t->nnodes, sizeof(*v->carried));
	v->servers_seen = xcalloc(t->nnodes, sizeof(*v->servers_seen));
	v->edges_seen = xcalloc(t->nnodes, sizeof(*v->edges_seen));
	v->end_of = xmalloc(t->nnodes * sizeof(*v->end_of));
	memset(v->end_of, 0xff, t->nnodes * sizeof(*v->end_of));
	for (uint32_t i = 0; i < v->sp.nends; i++)
		v->end_of[v->sp.ends[i]] = i;
	if (keep_trees) {
		v->member = xcalloc((size_t)v->k * t->nnodes, 1);
		v->hop = xmalloc((size_t)v->k * t->nnodes * sizeof(*v->hop));
	}
	mem = xmalloc(t->nnodes);
	in_vlan = xmalloc(t->nlinks);
	queue = xmalloc(t->nnodes * sizeof(*queue));
	for (uint32_t i = 0; i < v->k; i++) {
		uint64_t servers, edges;

		vlan_members(v, t, i, mem, in_vlan);
		v->root[i] = vlan_root(n, mem);
		vlan_reach(n, mem, &servers, &edges);
		for (uint32_t w = 0; w < t->nnodes; w++) {
			v->carried[w] += mem[w];
			v->servers_seen[w] += mem[w] ? servers : 0;
			v->edges_seen[w] += mem[w] ? edges : 0;
		}
		if (keep_trees) {
			memcpy(v->member + (size_t)i * t->nnodes, mem, t->nnodes);
			link_tree(t, in_vlan, v->root[i], v->hop + (size_t)i * t->nnodes, queue);
		}
	}
	free(mem);
	free(in_vlan);
	free(queue);
	return 0;
}

void sim_vlans_free(struct sim_vlans *v)
{
	free(v->root);
	free(v->carried);
	free(v->servers_seen);
	free(v->edges_seen);
	free(v->member);
	free(v->hop);
	free(v->end_of);
	if (v->k)
		route_spain_free(&v->sp);
	memset(v, 0, sizeof(*v));
}

/* A VLAN that holds switch a: the VLANs of a's paths, counted then picked,
 * in VLAN order. */
static uint32_t pick_holding(const struct sim_vlans *v, uint32_t a, uint64_t hash)
{
	uint32_t n = 0, want;

	for (uint32_t i = 0; i < v->k; i++)
		n += v->member ? sim_vlan_has(v, i, a) : 0;
	if (!n)
		return SIM_NONE;
	want = (uint32_t)(hash % n);
	for (uint32_t i = 0; i < v->k; i++)
		if (sim_vlan_has(v, i, a) && want-- == 0)
			return i;
	return SIM_NONE;
}

uint32_t sim_vlans_pick(const struct sim_vlans *v, uint32_t a, uint32_t b, uint64_t hash)
{
	const struct route_spain *s = &v->sp;
	uint32_t ia = v->end_of[a], ib = v->end_of[b], p, np;

	if (a == b)
		return pick_holding(v, a, hash);
	if (ia == SIM_NONE || ib == SIM_NONE)
		return SIM_NONE;
	p = route_spain_pair(s, ia, ib);
	np = s->pair_off[p + 1] - s->pair_off[p];
	return np ? s->path_vlan[s->pair_off[p] + (uint32_t)(hash % np)] : SIM_NONE;
}
