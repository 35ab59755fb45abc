/* A route as the topology sees it: the node ids and the link ids it crosses,
 * in order.  Used by the path algorithms of route/ (VLB, BCube, SPAIN) and
 * by the simulator, which turns link ids into loads.
 *
 * A path of len links has len + 1 nodes: nodes[0] is where it starts,
 * nodes[len] where it ends, and links[i] joins nodes[i] and nodes[i + 1].
 * Paths are small fixed arrays so that computing one never allocates. */
#ifndef PEREGRINE_ROUTE_PATHSEQ_H
#define PEREGRINE_ROUTE_PATHSEQ_H

#include "topo/topo.h"

enum route_path_limits {
	/* Links in one path.  The longest the algorithms build is a BCube
	 * AltDCRouting path: (k + 3) server hops of 2 links, at most 20 for
	 * TOPO_BCUBE_MAX_K; VLB paths have at most 6. */
	ROUTE_PATH_MAX_LINKS = 32,
};

struct route_path {
	uint32_t len;				/* links */
	uint32_t nodes[ROUTE_PATH_MAX_LINKS + 1];
	uint32_t links[ROUTE_PATH_MAX_LINKS];
};

/* An empty path standing at node. */
void route_path_start(struct route_path *p, uint32_t node);
/* Extend the path through port `port` of its last node; false (path
 * unchanged) if the port does not exist or the path is full. */
bool route_path_step(const struct topo *t, struct route_path *p, uint32_t port);
/* Extend the path over link l, which must touch its last node. */
bool route_path_step_link(const struct topo *t, struct route_path *p, uint32_t l);
static inline uint32_t route_path_last(const struct route_path *p)
{
	return p->nodes[p->len];
}

/* The path is well formed: every links[i] joins nodes[i] and nodes[i+1]. */
bool route_path_valid(const struct topo *t, const struct route_path *p);
/* No node appears twice. */
bool route_path_simple(const struct route_path *p);
/* The two paths share no link. */
bool route_path_link_disjoint(const struct route_path *a, const struct route_path *b);
/* Directed link index of hop i: 2 * link + (direction b -> a).  Full-duplex
 * capacity is per direction, so loads are counted on these. */
static inline uint32_t route_path_dirlink(const struct topo *t, const struct route_path *p,
					  uint32_t i)
{
	uint32_t l = p->links[i];

	return 2 * l + (t->links[l].a == p->nodes[i] ? 0u : 1u);
}

#endif
