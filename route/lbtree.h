/* Load-balanced direct routes for the heaviest pairs (the seed's approximate
 * load-balancing algorithm, docs/routing.md).
 *
 * Every pair starts on its base route (by default the destination server's
 * primary tree, which is how indirect Peregrine traffic travels).  Then the
 * heaviest pairs, in decreasing order of rate, up to max_pairs of them or a
 * share of all traffic, are each routed by a weighted shortest path with
 * weight = (expected load + the pair's rate) / capacity on every link
 * direction, the loads being updated after each choice.
 *
 * Switches forward on the destination MAC alone, so all direct routes toward
 * one MAC must form a tree: a pair's path toward MAC M may leave its source
 * freely but, once it reaches a node already on M's direct tree, follows that
 * tree.  A direct route costs one forwarding entry on each node it adds to
 * the tree; nodes whose table is full are avoided, and a pair that finds no
 * path is skipped.  A route is taken only if its most loaded link direction
 * ends up no more loaded than the base route's would, so the maximum link
 * utilisation never grows.
 */
#ifndef PEREGRINE_ROUTE_LBTREE_H
#define PEREGRINE_ROUTE_LBTREE_H

#include "route/trees.h"

struct route_lb_pair {
	uint32_t src, dst;	/* server node ids */
	uint32_t mac;		/* the destination MAC (a VM on dst) direct entries match */
	double rate;		/* Mbit/s */
};

enum route_lb_base {
	ROUTE_LB_TREES,		/* the destination's primary tree (backup if cut) */
	ROUTE_LB_SHORTEST,	/* a breadth-first shortest-path tree per destination */
};

struct route_lb_opts {
	uint32_t max_pairs;	/* N: at most this many pairs (0: no limit) */
	double share;		/* Z: stop when the pairs taken carry this fraction
				 * of all traffic (0 or >= 1: no limit) */
	enum route_lb_base base;
	const uint32_t *fib_used;	/* per node id: entries already held; NULL:
					 * the tree entries (route_fib_count) */
};

struct route_lb_entry {
	uint32_t node;		/* switch (or relaying server) */
	uint32_t mac;
	uint16_t port;
};

struct route_lb_result {
	double max_before, mean_before;	/* link-direction utilisation, base routes */
	double max_after, mean_after;
	uint32_t considered;	/* pairs within N and Z */
	uint32_t routed;	/* given a direct route */
	uint32_t kept;		/* a direct route would not have helped */
	uint32_t skipped_fib;	/* no path with room in the forwarding tables */
	uint32_t unreachable;	/* no route at all */
	double routed_share;	/* of all traffic, on direct routes */
	struct route_lb_entry *entries;	/* the direct forwarding entries */
	uint32_t nentries;
	/* every input pair's final route: links path[path_start[i] ..
	 * path_start[i + 1]), from its source; direct[i] says which kind */
	uint32_t *path_start, *path;
	uint8_t *direct;
	double *load;		/* Mbit/s per link direction: [2 * l] a->b, [2 * l + 1] b->a */
};

/* Returns 0, or -EINVAL with a reason in err (a bad pair: not servers, the
 * same MAC on two destinations, a negative rate). */
int route_lb(const struct route_trees *rt, const struct route_lb_pair *pairs, uint32_t n,
	     const struct route_lb_opts *o, struct route_lb_result *res, char *err, size_t errlen);
void route_lb_result_free(struct route_lb_result *res);

#endif
