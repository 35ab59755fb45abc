#include "sim/vlans.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo/analyze.h"

/* Mark the switches on shortest paths from the root to edge switches, walking
 * the BFS order backwards so that every node sees its successors first. */
static void mark_members(const struct sim_net *n, const uint32_t *dist,
			 const uint32_t *queue, uint32_t reached, uint8_t *mem)
{
	const struct topo *t = n->t;

	for (uint32_t q = reached; q-- > 0;) {
		uint32_t w = queue[q];
		const struct topo_node *nw = &t->nodes[w];

		if (topo_is_server(t, w))
			continue;
		mem[w] = n->attached[w] > 0;
		for (uint32_t p = 0; p < nw->degree && !mem[w]; p++) {
			uint32_t u = topo_port(t, w, p)->peer;

			mem[w] = !topo_is_server(t, u) && mem[u] && dist[u] == dist[w] + 1;
		}
	}
}

static void link_tree(const struct sim_net *n, const uint32_t *dist, const uint8_t *mem,
		      uint32_t root, uint32_t *hop)
{
	const struct topo *t = n->t;

	for (uint32_t w = 0; w < t->nnodes; w++) {
		const struct topo_node *nw = &t->nodes[w];

		hop[w] = SIM_NONE;
		if (!mem[w] || w == root)
			continue;
		for (uint32_t p = 0; p < nw->degree; p++) {
			uint32_t u = topo_port(t, w, p)->peer;

			if (mem[u] && !topo_is_server(t, u) && dist[u] + 1 == dist[w]) {
				hop[w] = u;
				break;
			}
		}
	}
}

int sim_vlans_build(struct sim_vlans *v, const struct sim_net *n, uint32_t k,
		    bool keep_trees, char *err, size_t errlen)
{
	const struct topo *t = n->t;
	uint32_t *dist, *queue, nroot = 0;
	uint8_t *mem;

	memset(v, 0, sizeof(*v));
	if (k > n->ntop) {
		snprintf(err, errlen, "%u VLANs asked for, but the topology has %u top-tier "
			 "switches to root them at", k, n->ntop);
		return -EINVAL;
	}
	v->k = k ? k : n->ntop;
	v->nnodes = t->nnodes;
	v->root = xmalloc(v->k * sizeof(*v->root));
	v->carried = xcalloc(t->nnodes, sizeof(*v->carried));
	for (uint32_t i = 0; i < t->nswitches && nroot < v->k; i++)
		if (n->is_top[t->switches[i]])
			v->root[nroot++] = t->switches[i];
	if (keep_trees) {
		v->member = xcalloc((size_t)v->k * t->nnodes, 1);
		v->hop = xmalloc((size_t)v->k * t->nnodes * sizeof(*v->hop));
	}
	dist = xmalloc(t->nnodes * sizeof(*dist));
	queue = xmalloc(t->nnodes * sizeof(*queue));
	mem = xmalloc(t->nnodes);
	for (uint32_t i = 0; i < v->k; i++) {
		uint32_t reached = topo_bfs(t, v->root[i], NULL, false, dist, queue);

		memset(mem, 0, t->nnodes);
		mark_members(n, dist, queue, reached, mem);
		mem[v->root[i]] = 1;
		for (uint32_t w = 0; w < t->nnodes; w++)
			v->carried[w] += mem[w];
		if (keep_trees) {
			memcpy(v->member + (size_t)i * t->nnodes, mem, t->nnodes);
			link_tree(n, dist, mem, v->root[i], v->hop + (size_t)i * t->nnodes);
		}
	}
	free(dist);
	free(queue);
	free(mem);
	return 0;
}

void sim_vlans_free(struct sim_vlans *v)
{
	free(v->root);
	free(v->carried);
	free(v->member);
	free(v->hop);
	memset(v, 0, sizeof(*v));
}
