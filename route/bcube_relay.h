/* The relay plan of BCube's one-to-all transfer (the BCube paper, seeds/003,
 * "one-to-all"): the source splits the data into one part per tree and sends
 * part j down tree j; every server relays what its parent in tree j sends it
 * to its own children in tree j.  This file turns the trees of
 * route_bcube_trees_build into that plan: per tree and server, whom it
 * receives from and whom it sends to, each one server hop (one NIC, one
 * switch) away.  Pure functions: no I/O, no state. */
#ifndef PEREGRINE_ROUTE_BCUBE_RELAY_H
#define PEREGRINE_ROUTE_BCUBE_RELAY_H

#include <stdint.h>

#include "route/bcube.h"
#include "topo/topo.h"

enum route_bcube_relay_limits {
	/* children per server per tree: every hop x -> x + e_l corrects one
	 * level l, so at most one child per level */
	ROUTE_BCUBE_RELAY_MAX_CHILDREN = TOPO_BCUBE_MAX_K + 1,
};

/* One server's part in one tree. */
struct route_bcube_relay {
	uint32_t tree, server;
	uint32_t parent;	/* UINT32_MAX for the root */
	uint8_t level;		/* the parent's NIC (and this server's) the part comes in by */
	uint32_t nchildren;
	uint32_t child[ROUTE_BCUBE_RELAY_MAX_CHILDREN];
	uint8_t child_level[ROUTE_BCUBE_RELAY_MAX_CHILDREN];	/* this server's NIC to it */
};

/* The plan of `server` in tree `tree` of tr, children in increasing level.
 * 0, or -EINVAL if tree or server is out of range. */
int route_bcube_relay_plan(const struct route_bcube_trees *tr, uint32_t tree,
			   uint32_t server, struct route_bcube_relay *out);

/* Part `part` of `nparts` of a transfer of `bytes`: [*offset, *offset + *len).
 * The parts are contiguous, cover every byte, and differ in size by at most
 * one byte. */
void route_bcube_relay_part(uint64_t bytes, uint32_t nparts, uint32_t part,
			    uint64_t *offset, uint64_t *len);

#endif
