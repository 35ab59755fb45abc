/* SPAIN-style VLANs as the simulator models them (spain and netlord schemes).
 *
 * SPAIN computes paths between edge switches and packs them into VLANs, each
 * a tree.  On the Clos-like fabrics here that packing gives one VLAN per
 * top-tier switch r: the union of the shortest paths from r down to every
 * edge switch.  A switch is in VLAN r when it lies on such a path; its tree
 * link is its lowest-port neighbour one hop nearer r inside the VLAN.  The
 * simulator uses this structural version until it switches to route/spain.c.
 */
#ifndef PEREGRINE_SIM_VLANS_H
#define PEREGRINE_SIM_VLANS_H

#include "sim/net.h"

struct sim_vlans {
	uint32_t k;		/* VLANs */
	uint32_t nnodes;
	uint32_t *root;		/* k top-tier switch node ids */
	uint32_t *carried;	/* node id -> VLANs the switch is in */
	/* With trees kept: k * nnodes, VLAN i's entries at [i * nnodes]. */
	uint8_t *member;
	uint32_t *hop;		/* next node towards the root, SIM_NONE at the root */
};

/* k VLANs rooted at the first k top-tier switches (k = 0: all of them).
 * keep_trees stores membership and tree links (k * nnodes each); without it
 * only `carried` is filled.  -EINVAL with a reason when k is too large. */
int sim_vlans_build(struct sim_vlans *v, const struct sim_net *n, uint32_t k,
		    bool keep_trees, char *err, size_t errlen);
void sim_vlans_free(struct sim_vlans *v);

static inline bool sim_vlan_has(const struct sim_vlans *v, uint32_t vlan, uint32_t node)
{
	return v->member[(size_t)vlan * v->nnodes + node];
}

static inline uint32_t sim_vlan_hop(const struct sim_vlans *v, uint32_t vlan, uint32_t node)
{
	return v->hop[(size_t)vlan * v->nnodes + node];
}

#endif
