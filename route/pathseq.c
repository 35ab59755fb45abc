/* Node/link sequences over the topology model. */
#include "route/pathseq.h"

void route_path_start(struct route_path *p, uint32_t node)
{
	p->len = 0;
	p->nodes[0] = node;
}

bool route_path_step_link(const struct topo *t, struct route_path *p, uint32_t l)
{
	uint32_t at = route_path_last(p);

	if (p->len >= ROUTE_PATH_MAX_LINKS || l >= t->nlinks ||
	    (t->links[l].a != at && t->links[l].b != at))
		return false;
	p->links[p->len] = l;
	p->nodes[++p->len] = topo_other(t, l, at);
	return true;
}

bool route_path_step(const struct topo *t, struct route_path *p, uint32_t port)
{
	uint32_t at = route_path_last(p);

	if (port >= t->nodes[at].degree)
		return false;
	return route_path_step_link(t, p, topo_port(t, at, port)->link);
}

bool route_path_valid(const struct topo *t, const struct route_path *p)
{
	if (p->len > ROUTE_PATH_MAX_LINKS || p->nodes[0] >= t->nnodes)
		return false;
	for (uint32_t i = 0; i < p->len; i++) {
		uint32_t l = p->links[i];

		if (l >= t->nlinks || p->nodes[i + 1] >= t->nnodes)
			return false;
		if (!((t->links[l].a == p->nodes[i] && t->links[l].b == p->nodes[i + 1]) ||
		      (t->links[l].b == p->nodes[i] && t->links[l].a == p->nodes[i + 1])))
			return false;
	}
	return true;
}

bool route_path_simple(const struct route_path *p)
{
	for (uint32_t i = 0; i <= p->len; i++)
		for (uint32_t j = i + 1; j <= p->len; j++)
			if (p->nodes[i] == p->nodes[j])
				return false;
	return true;
}

bool route_path_link_disjoint(const struct route_path *a, const struct route_path *b)
{
	for (uint32_t i = 0; i < a->len; i++)
		for (uint32_t j = 0; j < b->len; j++)
			if (a->links[i] == b->links[j])
				return false;
	return true;
}
