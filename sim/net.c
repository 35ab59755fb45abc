#include "sim/net.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "topo/analyze.h"

static void mark_top(struct sim_net *n)
{
	const struct topo *t = n->t;
	uint8_t top = 0;
	bool levels_differ = false;

	for (uint32_t i = 0; i < t->nswitches; i++) {
		uint8_t l = t->nodes[t->switches[i]].level;

		levels_differ |= i && l != top;
		top = MAX(top, l);
	}
	/* Builders give tiers levels; a file does not, so there the top tier
	 * is every switch without servers, or every switch if none is. */
	for (uint32_t i = 0; i < t->nswitches; i++) {
		uint32_t s = t->switches[i];

		n->is_top[s] = levels_differ ? t->nodes[s].level == top : !n->attached[s];
	}
	n->ntop = 0;
	for (uint32_t i = 0; i < t->nswitches; i++)
		n->ntop += n->is_top[t->switches[i]];
	if (!n->ntop) {
		for (uint32_t i = 0; i < t->nswitches; i++)
			n->is_top[t->switches[i]] = 1;
		n->ntop = t->nswitches;
	}
}

/* Every model assumes one fabric: every node reachable from every other. */
static bool connected(const struct sim_net *n, char *err, size_t errlen)
{
	const struct topo *t = n->t;
	uint32_t *dist, *queue, far = SIM_NONE;

	if (!t->nswitches || !t->nservers) {
		snprintf(err, errlen, "the topology needs switches and servers");
		return false;
	}
	dist = xmalloc(t->nnodes * sizeof(*dist));
	queue = xmalloc(t->nnodes * sizeof(*queue));
	topo_bfs(t, t->switches[0], NULL, n->relay, dist, queue);
	for (uint32_t v = 0; v < t->nnodes && far == SIM_NONE; v++)
		if (dist[v] == TOPO_UNREACHED)
			far = v;
	if (far != SIM_NONE)
		snprintf(err, errlen, "the topology is not connected: %s cannot reach %s",
			 t->nodes[t->switches[0]].name, t->nodes[far].name);
	free(dist);
	free(queue);
	return far == SIM_NONE;
}

int sim_net_init(struct sim_net *n, const struct topo *t, char *err, size_t errlen)
{
	memset(n, 0, sizeof(*n));
	n->t = t;
	n->relay = topo_servers_relay(t);
	n->attached = xcalloc(t->nnodes, sizeof(*n->attached));
	n->edge_of = xcalloc(t->nservers, sizeof(*n->edge_of));
	n->is_top = xcalloc(t->nnodes, 1);
	for (uint32_t i = 0; i < t->nservers; i++) {
		uint32_t s = t->servers[i];
		const struct topo_node *ns = &t->nodes[s];

		if (!ns->degree || topo_is_server(t, topo_port(t, s, 0)->peer)) {
			snprintf(err, errlen, "server %s has no switch on NIC 0", ns->name);
			sim_net_free(n);
			return -EINVAL;
		}
		n->edge_of[i] = topo_port(t, s, 0)->peer;
		for (uint32_t p = 0; p < ns->degree; p++) {
			uint32_t sw = topo_port(t, s, p)->peer;

			if (!topo_is_server(t, sw))
				n->attached[sw]++;
		}
	}
	for (uint32_t i = 0; i < t->nswitches; i++)
		n->nedge += n->attached[t->switches[i]] > 0;
	mark_top(n);
	if (!connected(n, err, errlen)) {
		sim_net_free(n);
		return -EINVAL;
	}
	return 0;
}

void sim_net_free(struct sim_net *n)
{
	free(n->attached);
	free(n->edge_of);
	free(n->is_top);
	memset(n, 0, sizeof(*n));
}

uint32_t sim_net_growth_unit(const struct sim_net *n)
{
	const struct topo *t = n->t;
	uint32_t per = 0;

	for (uint32_t i = 0; i < t->nswitches; i++) {
		uint32_t a = n->attached[t->switches[i]];

		if (!a)
			continue;
		if (per && a != per)
			return 1;
		per = a;
	}
	/* A dual-homed server counts on both of its switches. */
	return per && n->nedge && (uint64_t)per * n->nedge == t->nservers ? per : 1;
}

/* BFS hop counts from root.  Where servers do not relay they are end
 * points only, so they are left out altogether (a tree's entries live on
 * switches): in a large Clos that skips nine nodes in ten. */
static uint32_t bfs(const struct sim_net *n, uint32_t root, const uint8_t *dead,
		    uint32_t *dist, uint32_t *queue)
{
	const struct topo *t = n->t;
	uint32_t head = 0, tail = 0;

	memset(dist, 0xff, (size_t)t->nnodes * sizeof(*dist));
	dist[root] = 0;
	queue[tail++] = root;
	while (head < tail) {
		uint32_t u = queue[head++];
		const struct topo_node *nu = &t->nodes[u];

		if (u != root && nu->kind == TOPO_SERVER && !n->relay)
			continue;
		for (uint32_t p = 0; p < nu->degree; p++) {
			const struct topo_adj *a = &t->adj[nu->adj_start + p];

			if ((dead && dead[a->link]) || dist[a->peer] != TOPO_UNREACHED ||
			    (!n->relay && t->nodes[a->peer].kind == TOPO_SERVER))
				continue;
			dist[a->peer] = dist[u] + 1;
			queue[tail++] = a->peer;
		}
	}
	return tail;
}

uint32_t sim_tree_toward(const struct sim_net *n, uint32_t root, const uint8_t *dead,
			 uint32_t rot, uint32_t *hop, uint32_t *dist, uint32_t *queue)
{
	const struct topo *t = n->t;
	uint32_t reached = bfs(n, root, dead, dist, queue);

	for (uint32_t i = 0; i < t->nnodes; i++)
		hop[i] = SIM_NONE;
	/* queue[0..reached) holds the reached nodes in BFS order. */
	for (uint32_t q = 1; q < reached; q++) {
		uint32_t v = queue[q], ncand = 0, pick = 0, want = 0;
		const struct topo_node *nv = &t->nodes[v];

		/* Two passes: count the candidates, then take the chosen one. */
		for (uint32_t pass = 0; pass < 2; pass++, want = rot == SIM_NONE ? 0 :
				(uint32_t)(hash_u64((uint64_t)rot << 8 | (dist[v] & 0xff), 0) %
					   MAX(ncand, 1u)))
			for (uint32_t p = 0; p < nv->degree; p++) {
				const struct topo_adj *a = topo_port(t, v, p);
				uint32_t u = a->peer;

				if ((dead && dead[a->link]) || dist[u] + 1 != dist[v] ||
				    (u != root && topo_is_server(t, u) && !n->relay))
					continue;
				if (pass == 0)
					ncand++;
				else if (pick++ == want)
					hop[v] = u;
			}
		assert(hop[v] != SIM_NONE);
	}
	return reached;
}

void sim_tree_carries(const struct sim_net *n, const uint32_t *hop, const uint32_t *queue,
		      uint32_t reached, uint8_t *carries)
{
	const struct topo *t = n->t;

	for (uint32_t q = 0; q < reached; q++)
		carries[queue[q]] = 0;
	/* Backwards through the BFS order: children before parents. */
	for (uint32_t q = reached; q-- > 1;) {
		uint32_t v = queue[q];

		if (topo_is_server(t, v))
			continue;
		if (n->attached[v])
			carries[v] = 1;
		if (carries[v] && hop[v] != SIM_NONE)
			carries[hop[v]] |= 1;
	}
}
