/* Peregrine's routes: for every server P, two spanning trees rooted at P whose
 * paths to P are link-disjoint from every node (edge-independent spanning
 * trees).  Tree 0 carries P's primary MAC, tree 1 its backup MAC.
 *
 * A tree is what the switches hold: for every switch, the egress port toward
 * P.  A server that is not P never relays in switch-centric fabrics (leaf-spine,
 * VL2, fat-tree, files); for it the "egress" is the NIC it sends on, chosen so
 * that its two paths start on different NICs.  In BCube servers relay and sit
 * inside the trees like switches.
 *
 * Servers with the same set of live neighbour switches share the switch part
 * of their trees ("attachment groups"): only the last hop differs, and it is
 * resolved per server when an entry is read.  So the computation costs one
 * tree pair per group, not per server, and a server's access link failing
 * touches only that server's own entries.
 *
 * The structure is deterministic: the same topology and failure set always
 * give the same trees, whether reached by incremental updates
 * (route/failover.h) or computed from scratch.  It does no I/O.  See
 * docs/routing.md for the algorithm and its costs.
 */
#ifndef PEREGRINE_ROUTE_TREES_H
#define PEREGRINE_ROUTE_TREES_H

#include "topo/topo.h"

enum route_limits {
	ROUTE_TREES = 2,			/* tree 0 primary, tree 1 backup */
	ROUTE_MAX_ATT = TOPO_MAX_SERVER_NICS,	/* links of one server */
	ROUTE_MAX_PORT = 0xFFEF,		/* ports above are reserved codes */
	ROUTE_MAX_GROUPS = 1u << 22,		/* attachment groups */
	ROUTE_SHOW_ERRORS = 160,		/* length of the first error text */
};

/* Trees take 4 bytes per relay node per group; where every server is its own
 * group (BCube) refuse topologies that would need more than this. */
#define ROUTE_MAX_TREE_BYTES (4ull << 30)

#define ROUTE_NO_PORT 0xFFFFu

struct route_trees;

/* Compute the tree pairs of every server of t, which must outlive the result.
 * link_dead / node_dead (either may be NULL) give the failures to start from:
 * the result is the same as starting clean and failing them one by one.
 * Returns 0, or -EINVAL with a reason in err (a topology the routing cannot
 * encode, such as a switch with more than ROUTE_MAX_PORT ports). */
int route_trees_new(const struct topo *t, const uint8_t *link_dead,
		    const uint8_t *node_dead, struct route_trees **out,
		    char *err, size_t errlen);
void route_trees_free(struct route_trees *rt);
const struct topo *route_topo(const struct route_trees *rt);

/* Whether servers relay (BCube): then they are inside the trees. */
bool route_servers_relay(const struct route_trees *rt);

/* The egress port of `node` in tree `tree` toward server `dst` (node ids).
 * For a switch (or a relaying server) the port of its forwarding entry; for
 * a non-relaying source server the NIC it sends on.  ROUTE_NO_PORT when the
 * node holds no entry (unreachable, failed, or node == dst). */
uint16_t route_egress(const struct route_trees *rt, uint32_t node, uint32_t dst,
		      unsigned tree);

/* The attachment group of server s (servers of one group share their trees
 * but for the last hop), or UINT32_MAX.  Ids stay valid until the next
 * event. */
uint32_t route_server_group(const struct route_trees *rt, uint32_t s);

/* The links of the tree path from src to dst, in order, into links[max].
 * Returns the number of links, or UINT32_MAX if src does not reach dst in
 * that tree (or the path is longer than max). */
uint32_t route_tree_path(const struct route_trees *rt, uint32_t src, uint32_t dst,
			 unsigned tree, uint32_t *links, uint32_t max);

/* The forwarding table of a switch: one entry per (owner server, tree). */
typedef void route_fib_fn(void *arg, uint32_t sw, uint32_t owner, unsigned tree,
			  uint16_t port);
void route_fib_foreach(const struct route_trees *rt, uint32_t sw, route_fib_fn *fn,
		       void *arg);
uint32_t route_fib_count(const struct route_trees *rt, uint32_t sw);

/* The inverse map: every (owner server, tree) whose tree has a forwarding
 * entry that sends over link l (a switch link, or an access link on which
 * the owner's tree delivers to it).  Returns how many; fn may be NULL. */
typedef void route_user_fn(void *arg, uint32_t owner, unsigned tree);
uint64_t route_link_users(const struct route_trees *rt, uint32_t l, route_user_fn *fn,
			  void *arg);

/* ---- verification and figures ------------------------------------------- */

struct route_verify {
	bool ok;
	uint64_t sources;	/* (source, destination) pairs checked */
	uint32_t loops;		/* paths that loop or end elsewhere */
	uint32_t unspanned;	/* nodes connected to P that a tree misses */
	uint32_t avoidable;	/* links shared by both paths that need not be */
	uint32_t nshared;	/* links both trees of some pair must share */
	uint32_t *shared;	/* their ids, ascending (malloc'd) */
	char first_error[ROUTE_SHOW_ERRORS];
};

/* Check every tree pair by walking it: every node reaches its root with no
 * loop, every node connected to the root is in both trees, and the two paths
 * from every source share only links whose loss would cut that source off
 * anyway (checked by a search without the link). */
void route_verify(const struct route_trees *rt, struct route_verify *v);
void route_verify_free(struct route_verify *v);

struct route_stats {
	uint32_t servers;	/* servers with trees */
	uint32_t groups;	/* attachment groups with members */
	uint32_t repaired;	/* groups whose trees were recomputed for failures */
	uint32_t fib_max;	/* forwarding entries on the fullest switch */
	double fib_mean;	/* over live switches */
	double hops[ROUTE_TREES];	/* mean switch-to-root path length */
	uint64_t bytes;		/* memory held by the structure */
};

void route_stats(const struct route_trees *rt, struct route_stats *st);

#endif
