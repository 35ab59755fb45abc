#include "topo/analyze.h"

#include <stdlib.h>
#include <string.h>

uint32_t topo_bfs(const struct topo *t, uint32_t src, const uint8_t *link_dead,
		  bool servers_relay, uint32_t *dist, uint32_t *queue)
{
	uint32_t head = 0, tail = 0;

	memset(dist, 0xff, (size_t)t->nnodes * sizeof(*dist));
	dist[src] = 0;
	queue[tail++] = src;
	while (head < tail) {
		uint32_t u = queue[head++];
		const struct topo_node *nu = &t->nodes[u];

		if (u != src && nu->kind == TOPO_SERVER && !servers_relay)
			continue;
		for (uint32_t p = 0; p < nu->degree; p++) {
			const struct topo_adj *a = &t->adj[nu->adj_start + p];

			if (link_dead && link_dead[a->link])
				continue;
			if (dist[a->peer] != TOPO_UNREACHED)
				continue;
			dist[a->peer] = dist[u] + 1;
			queue[tail++] = a->peer;
		}
	}
	return tail;
}

/* Iterative Tarjan bridge finding.  A DFS frame remembers the node, the link
 * it was entered by (so a parallel link to the parent is not mistaken for
 * the tree link) and the next port to look at. */
struct dfs_frame {
	uint32_t node, in_link, port;
};

uint32_t *topo_bridges(const struct topo *t, const uint8_t *link_dead, uint32_t *n)
{
	uint32_t *disc = xmalloc((size_t)t->nnodes * sizeof(*disc));
	uint32_t *low = xmalloc((size_t)t->nnodes * sizeof(*low));
	struct dfs_frame *stack = xmalloc((size_t)t->nnodes * sizeof(*stack));
	uint32_t *out = NULL, nout = 0, cap = 0, timer = 0;

	memset(disc, 0xff, (size_t)t->nnodes * sizeof(*disc));
	for (uint32_t root = 0; root < t->nnodes; root++) {
		uint32_t sp = 0;

		if (disc[root] != UINT32_MAX)
			continue;
		disc[root] = low[root] = timer++;
		stack[sp++] = (struct dfs_frame){ root, UINT32_MAX, 0 };
		while (sp) {
			struct dfs_frame *f = &stack[sp - 1];
			const struct topo_node *nu = &t->nodes[f->node];

			if (f->port < nu->degree) {
				const struct topo_adj *a = &t->adj[nu->adj_start + f->port++];

				if (a->link == f->in_link || (link_dead && link_dead[a->link]))
					continue;
				if (disc[a->peer] == UINT32_MAX) {
					disc[a->peer] = low[a->peer] = timer++;
					stack[sp++] = (struct dfs_frame){ a->peer, a->link, 0 };
				} else if (disc[a->peer] < low[f->node]) {
					low[f->node] = disc[a->peer];
				}
				continue;
			}
			/* Done with f: propagate low to the parent. */
			sp--;
			if (sp) {
				uint32_t parent = stack[sp - 1].node;

				if (low[f->node] < low[parent])
					low[parent] = low[f->node];
				if (low[f->node] > disc[parent]) {
					if (nout == cap) {
						cap = cap ? cap * 2 : 64;
						out = xreallocarray(out, cap, sizeof(*out));
					}
					out[nout++] = f->in_link;
				}
			}
		}
	}
	free(disc);
	free(low);
	free(stack);
	*n = nout;
	return out;
}

static uint32_t server_ecc(const struct topo *t, uint32_t src, uint32_t *dist,
			   uint32_t *queue, bool relay)
{
	uint32_t ecc = 0;

	topo_bfs(t, src, NULL, relay, dist, queue);
	for (uint32_t i = 0; i < t->nservers; i++) {
		uint32_t d = dist[t->servers[i]];

		if (d == TOPO_UNREACHED)
			return UINT32_MAX;
		if (d > ecc)
			ecc = d;
	}
	return ecc;
}

uint32_t topo_diameter_naive(const struct topo *t)
{
	uint32_t *dist = xmalloc((size_t)t->nnodes * sizeof(*dist));
	uint32_t *queue = xmalloc((size_t)t->nnodes * sizeof(*queue));
	uint32_t diam = 0;

	for (uint32_t i = 0; i < t->nservers && diam != UINT32_MAX; i++) {
		uint32_t e = server_ecc(t, t->servers[i], dist, queue, topo_servers_relay(t));

		diam = e > diam ? e : diam;
	}
	free(dist);
	free(queue);
	return diam;
}

/* Servers with the same neighbour set have the same distances to every other
 * node; one BFS per group suffices (and two servers of one group are 2 apart). */
static int cmp_sig(const void *a, const void *b, void *arg)
{
	const struct topo *t = arg;
	const struct topo_node *na = &t->nodes[*(const uint32_t *)a];
	const struct topo_node *nb = &t->nodes[*(const uint32_t *)b];

	if (na->degree != nb->degree)
		return na->degree < nb->degree ? -1 : 1;
	for (uint32_t p = 0; p < na->degree; p++) {
		uint32_t pa = t->adj[na->adj_start + p].peer, pb = t->adj[nb->adj_start + p].peer;

		if (pa != pb)
			return pa < pb ? -1 : 1;
	}
	return 0;
}

static uint32_t diameter_grouped(const struct topo *t)
{
	uint32_t *order = xmalloc((size_t)(t->nservers ? t->nservers : 1) * sizeof(*order));
	uint32_t *dist = xmalloc((size_t)t->nnodes * sizeof(*dist));
	uint32_t *queue = xmalloc((size_t)t->nnodes * sizeof(*queue));
	uint32_t diam = 0;
	bool relay = topo_servers_relay(t);

	for (uint32_t i = 0; i < t->nservers; i++)
		order[i] = t->servers[i];
	qsort_r(order, t->nservers, sizeof(*order), cmp_sig, (void *)t);
	for (uint32_t i = 0; i < t->nservers && diam != UINT32_MAX; i++) {
		uint32_t e;

		if (i > 0 && cmp_sig(&order[i - 1], &order[i], (void *)t) == 0) {
			if (t->nodes[order[i]].degree > 0 && diam < 2)
				diam = 2;
			continue;
		}
		e = server_ecc(t, order[i], dist, queue, relay);
		diam = e > diam ? e : diam;
	}
	free(order);
	free(dist);
	free(queue);
	return diam;
}

void topo_stats(const struct topo *t, struct topo_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->servers = t->nservers;
	st->switches = t->nswitches;
	st->links = t->nlinks;
	st->min_switch_degree = t->nswitches ? UINT32_MAX : 0;
	for (uint32_t i = 0; i < t->nnodes; i++) {
		const struct topo_node *n = &t->nodes[i];

		if (n->kind == TOPO_SERVER) {
			st->server_nics += n->degree;
			continue;
		}
		st->min_switch_degree = MIN(st->min_switch_degree, n->degree);
		st->max_switch_degree = MAX(st->max_switch_degree, n->degree);
	}
	if (t->nservers < 2) {
		st->diameter = 0;
	} else if (t->server_symmetric) {
		uint32_t *dist = xmalloc((size_t)t->nnodes * sizeof(*dist));
		uint32_t *queue = xmalloc((size_t)t->nnodes * sizeof(*queue));

		st->diameter = server_ecc(t, t->servers[0], dist, queue, topo_servers_relay(t));
		st->diameter_by_symmetry = true;
		free(dist);
		free(queue);
	} else {
		st->diameter = diameter_grouped(t);
	}
}

/* Mark the component of src in mark[] (no reset); returns its size. */
static uint32_t mark_component(const struct topo *t, uint32_t src, uint32_t *mark,
			       uint32_t *queue)
{
	uint32_t head = 0, tail = 0;

	mark[src] = 0;
	queue[tail++] = src;
	while (head < tail) {
		const struct topo_node *nu = &t->nodes[queue[head++]];

		for (uint32_t p = 0; p < nu->degree; p++) {
			uint32_t v = t->adj[nu->adj_start + p].peer;

			if (mark[v] == TOPO_UNREACHED) {
				mark[v] = 0;
				queue[tail++] = v;
			}
		}
	}
	return tail;
}

void topo_check(const struct topo *t, struct topo_check *c)
{
	uint32_t *dist = xmalloc((size_t)(t->nnodes ? t->nnodes : 1) * sizeof(*dist));
	uint32_t *queue = xmalloc((size_t)(t->nnodes ? t->nnodes : 1) * sizeof(*queue));
	uint32_t seen = 0;

	memset(c, 0, sizeof(*c));
	c->ports_ok = true;
	c->first_violation = UINT32_MAX;
	for (uint32_t i = 0; i < t->nnodes; i++) {
		if (t->nodes[i].degree > t->nodes[i].ports) {
			if (c->ports_ok)
				c->first_violation = i;
			c->ports_ok = false;
			c->port_violations++;
		}
	}
	/* Components: BFS through everything (connectivity is a property of the
	 * graph; whether servers forward is a property of the scheme). */
	memset(dist, 0xff, (size_t)t->nnodes * sizeof(*dist));
	for (uint32_t i = 0; i < t->nnodes && seen < t->nnodes; i++) {
		if (dist[i] != TOPO_UNREACHED)
			continue;
		c->components++;
		seen += mark_component(t, i, dist, queue);
	}
	c->connected = c->components <= 1;
	c->bridges = topo_bridges(t, NULL, &c->nbridges);
	c->two_edge_connected = c->connected && c->nbridges == 0;
	free(dist);
	free(queue);
}

void topo_check_free(struct topo_check *c)
{
	free(c->bridges);
	c->bridges = NULL;
}
