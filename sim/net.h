/* The structure the simulator's models share, read off a topology: which
 * switches have servers attached (the edge), which are the top tier, and
 * BFS trees towards a node.
 *
 * Trees here are the simulator's own deterministic BFS trees.  Peregrine's
 * real tree pairs come from route/ (route/trees.c); the FIB model needs only
 * the structural fact that a spanning tree puts exactly one entry for its MAC
 * on every switch it spans, which sim/test_fib.c checks against these trees.
 */
#ifndef PEREGRINE_SIM_NET_H
#define PEREGRINE_SIM_NET_H

#include "topo/topo.h"

#define SIM_NONE UINT32_MAX

struct sim_net {
	const struct topo *t;
	uint32_t *attached;	/* node id -> servers attached (switches) */
	uint32_t *edge_of;	/* server index -> switch on its NIC 0 */
	uint8_t *is_top;	/* node id -> top-tier switch (SPAIN VLAN roots) */
	uint32_t nedge;		/* switches with servers attached */
	uint32_t ntop;
	bool relay;		/* servers forward (BCube) */
};

/* Fails (-EINVAL, reason in err) when a server has no switch on NIC 0. */
int sim_net_init(struct sim_net *n, const struct topo *t, char *err, size_t errlen);
void sim_net_free(struct sim_net *n);

/* Servers per edge switch when every edge switch has the same number, else 1:
 * the step in which a data center of this shape grows. */
uint32_t sim_net_growth_unit(const struct sim_net *n);

/* A BFS tree towards root: hop[v] is the node id v forwards to (SIM_NONE
 * for the root and unreached nodes), dist[v] the hop count.  Unless
 * n->relay (BCube), servers other than the root are not part of the tree
 * (their hop is SIM_NONE): a tree's entries live on switches.  Among equally near next hops a
 * node takes the one numbered hash(rot, its distance) mod their count, in
 * port order: every node of a tier makes the same choice, so the tree
 * towards a root funnels through one switch of each tier above it (as a
 * spanning tree in a Clos naturally does), while different roots (rot =
 * the root's number) spread over the fabric as a load-balancing route
 * server would spread them.  rot = SIM_NONE takes the lowest port, as
 * 802.1D does.
 * dead (may be NULL) marks failed links.  queue: nnodes of scratch, left
 * holding the reached nodes in BFS order; returns their number. */
uint32_t sim_tree_toward(const struct sim_net *n, uint32_t root, const uint8_t *dead,
			 uint32_t rot, uint32_t *hop, uint32_t *dist, uint32_t *queue);

/* After sim_tree_toward (its hop, queue and return value): carries[v] = 1
 * when the link from switch v to hop[v] lies on the path of some switch
 * with servers, i.e. carries traffic towards the root. */
void sim_tree_carries(const struct sim_net *n, const uint32_t *hop, const uint32_t *queue,
		      uint32_t reached, uint8_t *carries);

#endif
