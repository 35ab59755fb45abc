/* The forwarding schemes the simulator compares (docs/experiments.md). */
#ifndef PEREGRINE_SIM_SCHEME_H
#define PEREGRINE_SIM_SCHEME_H

#include "lib/common.h"

enum sim_scheme {
	SCHEME_L2,		/* plain Ethernet: learning, flooding, one spanning tree */
	SCHEME_SPAIN,		/* SPAIN: k paths per switch pair packed into VLAN trees */
	SCHEME_NETLORD,		/* NetLord: SPAIN paths, edge-switch MACs in the fabric */
	SCHEME_VL2,		/* VL2: VLB through a random intermediate, ToR locators */
	SCHEME_PEREGRINE,	/* Peregrine, indirect only: two tree MACs per server */
	SCHEME_PEREGRINE_DUAL,	/* Peregrine with direct entries for heavy pairs */
	SCHEME_BCUBE,		/* BCube source routing through servers */
	SCHEME_EVPN,		/* the baseline: VXLAN VTEPs on servers, eBGP underlay */
	SCHEME_COUNT
};

/* "l2", "spain", "netlord", "vl2", "peregrine", "peregrine-dual", "bcube",
 * "evpn";
 * -1 if unknown. */
int sim_scheme_parse(const char *s);
const char *sim_scheme_name(enum sim_scheme s);
/* "l2, spain, ..." for usage messages. */
const char *sim_scheme_list(void);

#endif
