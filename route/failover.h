/* Fail-over: links and nodes going down and coming back, and the exact
 * forwarding changes that follow.
 *
 * Each call updates a struct route_trees in place, recomputes only the tree
 * pairs that the event touches (found through the inverse map from links to
 * the trees that use them), and appends to a delta the forwarding operations
 * that turn the switches' old tables into the new ones: applied in order,
 * deletes and adds give exactly the tables a computation from scratch with
 * the same failure set would give.  A port change is a delete and an add.
 *
 * Host side: a source server's NIC choice per (destination, tree) can change
 * too.  The delta lists the destinations whose NIC choices changed for some
 * source (nic_dsts) and the servers whose own attachment changed, so that all
 * their choices may differ (nic_srcs); route_egress() gives the new values.
 */
#ifndef PEREGRINE_ROUTE_FAILOVER_H
#define PEREGRINE_ROUTE_FAILOVER_H

#include "route/trees.h"

enum route_op { ROUTE_OP_DEL = 0, ROUTE_OP_ADD = 1 };

struct route_fib_op {
	uint32_t sw;		/* switch (or relaying server) node id */
	uint32_t owner;		/* server node id whose MAC the entry matches */
	uint16_t port;
	uint8_t tree;		/* 0 primary MAC, 1 backup MAC */
	uint8_t op;		/* enum route_op */
};

struct route_delta {
	struct route_fib_op *ops;
	size_t nops, cap;
	uint32_t *nic_dsts, *nic_srcs;	/* server node ids, each at most once */
	uint32_t nnic_dsts, nnic_srcs, cap_dsts, cap_srcs;
	uint32_t recomputed;		/* tree pairs recomputed */
};

void route_delta_init(struct route_delta *d);
void route_delta_reset(struct route_delta *d);
void route_delta_free(struct route_delta *d);

/* Events.  Each appends to d (which may be NULL).  An event that changes
 * nothing (a link already down, say) appends nothing. */
void route_link_down(struct route_trees *rt, uint32_t link, struct route_delta *d);
void route_link_up(struct route_trees *rt, uint32_t link, struct route_delta *d);
void route_node_down(struct route_trees *rt, uint32_t node, struct route_delta *d);
void route_node_up(struct route_trees *rt, uint32_t node, struct route_delta *d);

/* Current failure flags (what route_trees_new would be given). */
const uint8_t *route_link_dead(const struct route_trees *rt);
const uint8_t *route_node_dead(const struct route_trees *rt);

#endif
