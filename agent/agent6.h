/* The host agent's IPv6 control plane (docs/tenant-network.md, "IPv6"):
 * registering each VM's addresses under its VDC's prefix with the
 * directory (REGISTER6), and resolving the Neighbour Solicitations the
 * data plane could not answer (PGR_EV_ND_MISS) through LOOKUP6 into the
 * GARP6 map, then sending the NS back to be answered.  I/O-free: requests
 * go through the dirc, map writes and the NS through struct agent_ops.
 * The agent core (agent/agent.c) owns one and hands it its surroundings
 * in a struct agent6_env at every call. */
#ifndef PEREGRINE_AGENT_AGENT6_H
#define PEREGRINE_AGENT_AGENT6_H

#include "agent/config.h"
#include "bpf/dp.h"
#include "dir/client.h"

struct agent;
struct agent_ops;

enum agent6_limits {
	AGENT6_PENDING = 32,		/* NS frames waiting for LOOKUP6 */
	AGENT6_FRAME = 128,		/* an NS with its option is 86 bytes */
	/* Router advertisements to every VM with a prefix: AGENT6_RA_INITIAL
	 * of them AGENT6_RA_INITIAL_MS apart after each configuration (the
	 * lab's VMs are up before their agent starts: they have their address
	 * within a second), then every AGENT6_RA_MS (RFC 4861's default
	 * MaxRtrAdvInterval), so that a VM's traffic counters stay quiet. */
	AGENT6_RA_INITIAL = 3,
	AGENT6_RA_INITIAL_MS = 500,
	AGENT6_RA_MS = 600000,
	AGENT6_RA_LEN = 118,		/* Ethernet, IPv6, RA, SLLA, MTU, prefix */
	AGENT6_VALID_S = 86400,		/* the prefix's lifetimes */
	AGENT6_PREFERRED_S = 14400,
};

#define AGENT6_STATS(X)                                                        \
	X(nd_miss, "Neighbour Solicitations the data plane could not answer")  \
	X(nd_bad, "ND miss events dropped: not a well-formed NS from that VM") \
	X(nd_busy, "ND miss events dropped: AGENT6_PENDING lookups pending")   \
	X(nd_resolved, "NS targets found by LOOKUP6, written to GARP6")        \
	X(nd_not_found, "NS targets the directory does not hold")             \
	X(nd_timeouts, "LOOKUP6 requests the directory never answered")       \
	X(nd_map_fail, "GARP6 writes or NS resends that failed")              \
	X(registers6, "REGISTER6 requests sent")                              \
	X(ra_sent, "router advertisements sent to VMs")                       \
	X(ra_fail, "router advertisements the shell failed to send")          \
	X(register6_fail, "REGISTER6 records refused or unanswered")

struct agent6_stats {
#define X(n, d) uint64_t n;
	AGENT6_STATS(X)
#undef X
};

/* What the agent core lends at each call. */
struct agent6_env {
	const struct agent *a;		/* for agent_tree_nic */
	const struct agent_ops *ops;
	struct dirc *dirc;
	uint32_t node;			/* this server's Peregrine node */
	unsigned nnics;
	const uint32_t *nic_ifindex;
};

struct agent6_pending {
	bool used;
	uint32_t vdc, ifindex, len;
	int64_t req;
	uint8_t target[16];
	uint8_t frame[AGENT6_FRAME];
};

struct agent6 {
	struct agent6_env env;
	uint64_t next_ra_ns;
	unsigned ra_rounds;		/* since the last configuration */
	struct agent6_pending p[AGENT6_PENDING];
	struct agent6_stats st;
};

/* The VM's addresses: fe80::/64 and, with a prefix, prefix::/64, each with
 * the modified EUI-64 identifier of its primary MAC.  Returns how many (1
 * or 2) were written to out. */
unsigned agent6_vm_addrs(const struct agent_vm_cfg *v, uint8_t out[2][16]);

/* The router advertisement for the VM (its prefix6 set) from the server
 * node: to all nodes (33:33:00:00:00:01, ff02::1) from the server's primary
 * MAC and link-local address, hop limit 255, router lifetime 0 (the fabric
 * has no IPv6 router: no default route), MTU 1500, the prefix on-link and
 * autonomous (SLAAC).  Returns AGENT6_RA_LEN. */
size_t agent6_ra_frame(uint32_t node, const struct agent_vm_cfg *vm, uint8_t out[AGENT6_RA_LEN]);

/* A new configuration: the initial router advertisements again. */
void agent6_ra_restart(struct agent6 *s);
/* Router advertisements, on the schedule of AGENT6_RA_* (the first at the
 * first call):
 * if agent6_ra_due, the caller hands every VM to agent6_ra_vm, then
 * agent6_ra_done returns the next deadline (ns). */
bool agent6_ra_due(const struct agent6 *s, struct dir_now now);
void agent6_ra_vm(struct agent6 *s, const struct agent6_env *env, const struct agent_vm_cfg *vm);
uint64_t agent6_ra_done(struct agent6 *s, struct dir_now now);

/* REGISTER6 of every VM's addresses. */
void agent6_register(struct agent6 *s, const struct agent6_env *env, struct dir_now now,
		     const struct agent_vm_cfg *vms, unsigned nvms);

/* A PGR_EV_ND_MISS from the VM vm (NULL: unknown port) with its frame. */
void agent6_nd_miss(struct agent6 *s, const struct agent6_env *env, struct dir_now now,
		    const struct agent_vm_cfg *vm, const uint8_t *frame, size_t len);

#endif
