/* SPAIN's VLANs as the simulator's models read them (spain and netlord
 * schemes).  The VLANs are route/spain.c's: k paths for every pair of edge
 * switches, packed greedily into VLAN trees (docs/routing-paths.md).  This
 * file only derives what the models need from them: which switches each VLAN
 * holds, a tree link per member towards a root (for flooding), how many
 * VLANs each switch is in and how many servers and edge switches those
 * VLANs reach, and which VLANs a pair of edge switches may use.
 */
#ifndef PEREGRINE_SIM_VLANS_H
#define PEREGRINE_SIM_VLANS_H

#include "route/spain.h"
#include "sim/net.h"

struct sim_vlans {
	uint32_t k;		/* VLANs */
	uint32_t paths;		/* SPAIN paths per edge-switch pair they hold */
	uint32_t nnodes;
	uint32_t *root;		/* per VLAN: the member its tree links point to
				 * (its lowest-numbered top-tier switch, else its
				 * lowest-numbered switch) */
	uint32_t *carried;	/* node id -> VLANs the switch is in */
	/* node id -> summed over the VLANs the switch is in: the servers with
	 * a switch in the VLAN (whose MACs it can learn there), and the edge
	 * switches in the VLAN */
	uint64_t *servers_seen;
	uint64_t *edges_seen;
	/* With trees kept: k * nnodes, VLAN i's entries at [i * nnodes]. */
	uint8_t *member;
	uint32_t *hop;		/* next node towards the root, SIM_NONE at the root */
	uint32_t *end_of;	/* node id -> index in sp.ends, or SIM_NONE */
	struct route_spain sp;
};

/* SPAIN's VLANs for `paths` paths per pair of edge switches (0: one per
 * top-tier switch, at most ROUTE_SPAIN_MAX_K).  keep_trees stores membership
 * and tree links (k * nnodes each); without it only `carried` is filled.
 * -EINVAL (or route_spain_build's error) with a reason in err. */
int sim_vlans_build(struct sim_vlans *v, const struct sim_net *n, uint32_t paths,
		    bool keep_trees, char *err, size_t errlen);
void sim_vlans_free(struct sim_vlans *v);

/* A VLAN a flow between edge switches a and b may use, chosen by hash: one
 * of the VLANs that hold a path of the pair, or for a == b one of the VLANs
 * that hold the switch.  SIM_NONE if none does. */
uint32_t sim_vlans_pick(const struct sim_vlans *v, uint32_t a, uint32_t b, uint64_t hash);

static inline bool sim_vlan_has(const struct sim_vlans *v, uint32_t vlan, uint32_t node)
{
	return v->member[(size_t)vlan * v->nnodes + node];
}

static inline uint32_t sim_vlan_hop(const struct sim_vlans *v, uint32_t vlan, uint32_t node)
{
	return v->hop[(size_t)vlan * v->nnodes + node];
}

#endif
