/* Valiant load balancing (VL2, seeds/002) and equal-cost shortest paths over
 * switch-centric topologies (leaf-spine, VL2 Clos, fat-tree, files with
 * switch levels).
 *
 * VLB bounces every flow off a random intermediate switch: one of the
 * switches of the highest level (VL2's intermediates, a fat-tree's cores, a
 * leaf-spine's spines).  The path climbs from the source server to it, each
 * hop to a higher level, and descends to the destination; where there are
 * several ways up or down (VL2's two aggregation switches per ToR) one is
 * drawn at random, as ECMP over the anycast address does.  Flows between
 * servers on a common switch go through that switch directly.
 *
 * Failures come in as a link mask (nonzero = dead, may be NULL); a failed
 * switch or server is one whose links are all dead.  Randomness comes from a
 * seeded generator passed in. */
#ifndef PEREGRINE_ROUTE_VLB_H
#define PEREGRINE_ROUTE_VLB_H

#include "lib/rng.h"
#include "route/pathseq.h"

enum route_vlb_limits {
	/* Random intermediates tried before falling back to checking all. */
	ROUTE_VLB_TRIES = 8,
};

struct route_vlb {
	const struct topo *t;
	uint32_t top_level;	/* level of the intermediates */
	uint32_t nints;
	uint32_t *ints;		/* node ids of the intermediates */
};

/* -EINVAL for topologies whose servers relay (BCube) or without switches. */
int route_vlb_init(struct route_vlb *v, const struct topo *t);
void route_vlb_free(struct route_vlb *v);

/* One flow from server index src to server index dst (src != dst).  Writes
 * the path (server to server) and the intermediate's node id, UINT32_MAX for
 * a flow kept under a common switch.  Returns 0, -EINVAL on bad arguments,
 * -ENOENT when failures leave no live VLB path. */
int route_vlb_path(const struct route_vlb *v, struct rng *r, uint32_t src, uint32_t dst,
		   const uint8_t *link_dead, struct route_path *out,
		   uint32_t *intermediate);

/* Every shortest path from node a to node b that relays through switches
 * only (servers may be the end points): the equal-cost set ECMP spreads
 * over, e.g. between two ToRs.  Writes up to max paths and returns how many
 * exist in all (which may be more than max).  dist_to_b[nnodes] is scratch. */
uint64_t route_ecmp_paths(const struct topo *t, uint32_t a, uint32_t b,
			  const uint8_t *link_dead, struct route_path *paths, uint32_t max,
			  uint32_t *dist_to_b);

/* One shortest path from node a to node b as hop-by-hop ECMP picks it: at
 * each node a uniformly random next hop among those one step closer.
 * dist_to_b must come from topo_bfs(t, b, link_dead, false, ...).  Returns
 * false if b is unreachable or the path would be too long. */
bool route_ecmp_walk(const struct topo *t, struct rng *r, uint32_t a, uint32_t b,
		     const uint8_t *link_dead, const uint32_t *dist_to_b,
		     struct route_path *out);

#endif
