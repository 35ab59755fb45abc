/* Flooding when the VM count outgrows the forwarding tables (the shape of
 * NetLord's flood figure).
 *
 * Learning schemes (l2, spain, netlord) are run packet by packet: every
 * switch on a frame's way learns its source address and looks up its
 * destination in a table of the switch's capacity with least-recently-used
 * eviction; a miss floods the frame over the tree (the spanning tree, or
 * the flow's VLAN), and every switch the copy reaches learns and looks up
 * in turn.  Traffic: each VM talks to `peers` VMs on other servers, chosen
 * with the seed; every packet is a random one of these flows in a random
 * direction (data one way, acknowledgements the other).
 *
 * Schemes whose entries are installed (peregrine, peregrine-dual, vl2,
 * bcube) never flood: the run reports zero floods and, from the FIB model,
 * whether every entry fits.
 */
#ifndef PEREGRINE_SIM_FLOOD_H
#define PEREGRINE_SIM_FLOOD_H

#include "sim/limits.h"
#include "sim/net.h"
#include "sim/scheme.h"

struct sim_flood_params {
	enum sim_scheme scheme;
	uint32_t vms_per_server;
	uint32_t fib_cap;	/* 0: each switch's own from the topology */
	uint32_t vlans;		/* spain, netlord: 0 = one per top-tier switch */
	uint32_t peers;
	uint32_t warmup;	/* packets per flow, on average, not counted */
	uint64_t packets;	/* counted packets */
	uint64_t seed;
};

struct sim_flood_result {
	bool learning;		/* the scheme learns (else nothing floods) */
	uint64_t vms, flows, packets;
	uint64_t flooded;	/* floods: a switch sending a frame out of every
				 * tree port but the one it came in on */
	uint64_t flooded_packets; /* packets flooded by at least one switch */
	uint64_t evictions;	/* table entries pushed out, all switches */
	uint64_t table_max;	/* fullest table at the end */
	uint32_t vlans;
	bool fits;		/* installed schemes: every entry fits */
};

/* 0, or -EINVAL with a one-line reason. */
int sim_flood_run(const struct sim_net *n, const struct sim_flood_params *p,
		  struct sim_flood_result *r, char *err, size_t errlen);

#endif
