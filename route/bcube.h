/* BCube source routing (the BCube paper, seeds/003): BCubeRouting,
 * BuildPathSet's k+1 parallel paths, and k+1 edge-disjoint one-to-all
 * spanning trees.  Servers are named by their BCube address, which is their
 * server index in the topology (topo_bcube_digits); results are paths over
 * the topology's node and link ids.  Pure functions: no I/O, no state. */
#ifndef PEREGRINE_ROUTE_BCUBE_H
#define PEREGRINE_ROUTE_BCUBE_H

#include "route/pathseq.h"

/* BCubeRouting: from server a to server b, correcting one differing digit
 * per server hop, in the order given: order[0] is corrected first, and order
 * holds each level 0..k once.  Every server hop is server -> level-l switch
 * -> server, two links.  Returns 0, or -EINVAL if t is not a BCube, a or b
 * is out of range, or order is not a permutation. */
int route_bcube_routing(const struct topo *t, uint32_t a, uint32_t b,
			const uint8_t *order, struct route_path *out);

/* BuildPathSet: k+1 parallel paths from a to b, paths[i] for level i.  Where
 * digit i of a and b differ, paths[i] is DCRouting (digits corrected in the
 * order i, i-1, .., i-k mod k+1): h server hops, h = Hamming distance.  Where
 * they agree, AltDCRouting: first to a's level-i neighbour c (digit i + 1 mod
 * n), then BCubeRouting from c in the order i-1, .., i-1-k: h + 2 hops.
 * The paths share no link.  Returns k+1, or 0 if a == b or the input is
 * invalid. */
uint32_t route_bcube_path_set(const struct topo *t, uint32_t a, uint32_t b,
			      struct route_path *paths);

/* The k+1 one-to-all spanning trees of a source.  Tree j reaches server x
 * from parent[j][x] through level[j][x]: parent -> level-l switch -> x.
 * Over all trees every directed link (server -> switch, switch -> server) is
 * used at most once, so the trees can carry k+1 copies at full rate (links
 * are full duplex; undirected edge-disjointness is impossible once a tree has
 * inner servers).  The root's parent is UINT32_MAX. */
struct route_bcube_trees {
	uint32_t root, ntrees, nservers;
	uint32_t *parent;	/* [tree * nservers + server] */
	uint8_t *level;		/* [tree * nservers + server] */
};

/* Returns 0 or -EINVAL (not a BCube, root out of range). */
int route_bcube_trees_build(const struct topo *t, uint32_t root,
			    struct route_bcube_trees *out);
void route_bcube_trees_free(struct route_bcube_trees *tr);

/* Append one server hop to p, whose last node must be a server: through its
 * NIC `level` to the level switch, then to server `to` (an address that
 * differs from the current one in digit `level` only).  False if not. */
bool route_bcube_hop(const struct topo *t, struct route_path *p, uint32_t level,
		     uint32_t to);

/* Number of digits in which two addresses differ. */
uint32_t route_bcube_hamming(const struct topo *t, uint32_t a, uint32_t b);

#endif
