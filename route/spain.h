/* SPAIN path sets and their packing into VLANs (SPAIN, NSDI 2010, which
 * NetLord runs on: seeds/001).
 *
 * For every pair of edge switches (switches with servers attached; every
 * switch if none has), k paths that avoid each other's links where the
 * topology allows: each is a shortest path under link weights that grow by
 * ROUTE_SPAIN_PENALTY with every earlier path of the pair on the link, and
 * a path longer than the pair's shortest by more than ROUTE_SPAIN_STRETCH
 * links is not taken.  Servers never relay.
 *
 * The paths are then packed greedily into VLANs: each path goes into the
 * first VLAN that it touches (shares a switch with) and in which it closes
 * no loop, or opens a new one.  Every VLAN is therefore a tree: connected
 * and loop-free (two paths of a pair never share one, as together they would
 * close a loop).  Paths are packed in rounds, every pair's first path, then
 * every pair's second, so the first VLANs hold the shortest paths. */
#ifndef PEREGRINE_ROUTE_SPAIN_H
#define PEREGRINE_ROUTE_SPAIN_H

#include "route/pathseq.h"

enum route_spain_limits {
	ROUTE_SPAIN_MAX_K = 64,		/* paths per pair: one per spine of a
					 * leaf-spine of 128-port switches */
	ROUTE_SPAIN_MAX_VLANS = 4094,	/* 802.1Q VLAN ids 1..4094 */
	ROUTE_SPAIN_MAX_PAIRS = 1u << 20,
	ROUTE_SPAIN_PENALTY = 4,	/* extra weight per earlier use of a link */
	ROUTE_SPAIN_STRETCH = 2,	/* links beyond the pair's shortest */
};

struct route_spain {
	uint32_t k;
	uint32_t nends;		/* edge switches */
	uint32_t *ends;		/* their node ids */
	uint32_t npairs;	/* nends * (nends - 1) / 2, pair (i, j) with i < j */
	uint32_t *pair_off;	/* paths of pair p: [pair_off[p], pair_off[p + 1]) */
	uint32_t npaths;
	struct route_path *paths;	/* from ends[i] to ends[j] */
	uint16_t *path_vlan;	/* VLAN index (0-based) of each path */
	uint32_t nvlans;
	uint32_t *vlan_off;	/* links of VLAN v: vlan_links[vlan_off[v] ..] */
	uint32_t *vlan_links;
};

/* Compute the path sets and the VLANs.  Returns 0, or -EINVAL / -E2BIG with
 * a one-line reason in err (servers relay, k out of range, too many pairs or
 * VLANs). */
int route_spain_build(const struct topo *t, uint32_t k, struct route_spain *out,
		      char *err, size_t errlen);
void route_spain_free(struct route_spain *s);

/* Index of the pair (ends[i], ends[j]), i != j, in either order. */
uint32_t route_spain_pair(const struct route_spain *s, uint32_t i, uint32_t j);

/* The greedy packing alone: paths in the given order into VLANs, writing
 * each path's VLAN into vlan_of.  Returns the number of VLANs, or 0 if more
 * than max_vlans would be needed. */
uint32_t route_spain_pack(const struct topo *t, const struct route_path *paths,
			  uint32_t npaths, uint32_t max_vlans, uint16_t *vlan_of);

#endif
