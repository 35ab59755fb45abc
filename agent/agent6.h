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
	/* GARP6 entries the agent wrote, each renewed (LOOKUP6) at half its
	 * lease and removed when the lease ends unanswered or the directory
	 * no longer holds it; when all are in use the one closest to its end
	 * is removed to make room (counted nd_evicted). */
	AGENT6_CACHE = 1024,
	AGENT6_RENEW_RETRY_MS = 250,	/* a renewal that timed out, again */
	/* Router solicitations answered at once, per VM at most
	 * AGENT6_RS_BURST at once, then one every AGENT6_RS_MS: a VM sends 3
	 * at boot (RFC 4861), a flooding one costs one parse per second. */
	AGENT6_RS_BURST = 3,
	AGENT6_RS_MS = 1000,
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
	X(register6_fail, "REGISTER6 records refused or unanswered")         \
	X(nd_renewed, "GARP6 leases renewed (LOOKUP6 answered)")               \
	X(nd_updated, "GARP6 entries rewritten: the directory's record changed") \
	X(nd_expired, "GARP6 entries removed: lease ended or entry gone")      \
	X(nd_evicted, "GARP6 entries removed to make room (AGENT6_CACHE)")     \
	X(nd_pushed, "pushed IPv6 records applied to GARP6 (changed or removed)") \
	X(nd_push_stale, "pushed IPv6 records ignored: not newer or not written") \
	X(rs_answered, "router solicitations answered with an advertisement")   \
	X(rs_bad, "router solicitation events dropped: not a well-formed RS")  \
	X(rs_rate, "router solicitations over the VM's rate, not answered")

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
	uint64_t ask_ns;		/* the lease runs from the request */
	uint8_t target[16];
	uint8_t frame[AGENT6_FRAME];
};

/* A GARP6 entry the agent wrote, and its lease. */
struct agent6_cached {
	bool used;
	uint32_t vdc, version;
	uint8_t ip6[16];
	int64_t req;			/* its renewal in flight, 0: none */
	uint64_t ask_ns;		/* when that renewal left */
	uint64_t renew_ns, expire_ns;
};

/* A VM's router solicitations: a token bucket. */
struct agent6_rs_bucket {
	uint64_t at_ns;
	uint32_t tokens;
	bool started;
};

struct agent6 {
	struct agent6_env env;
	uint64_t next_ra_ns;
	unsigned ra_rounds;		/* since the last configuration */
	struct agent6_pending p[AGENT6_PENDING];
	struct agent6_cached c[AGENT6_CACHE];
	unsigned ncached;
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

/* Renew the GARP6 entries due (LOOKUP6, up to DIRP_MAX_RECORDS6 keys a
 * request) and remove those whose lease ended.  Returns the next deadline
 * (ns), UINT64_MAX with nothing cached.  A renewal's answer rewrites the
 * entry if the record changed (the VM moved, a tree failed), removes it if
 * NOT FOUND. */
uint64_t agent6_tick(struct agent6 *s, const struct agent6_env *env, struct dir_now now);

/* A record the directory pushed (DIRP_UPDATE6): the GARP6 entry rewritten
 * if the record is newer than the one written, removed if NOT_FOUND; its
 * lease is kept. */
void agent6_on_push(struct agent6 *s, const struct dirp_entry6 *r);

/* A PGR_EV_RS from the VM vm (NULL: unknown port) with its frame: the VM's
 * router advertisement at once, within the VM's rate (b). */
void agent6_rs(struct agent6 *s, const struct agent6_env *env, struct dir_now now,
	       const struct agent_vm_cfg *vm, struct agent6_rs_bucket *b,
	       const uint8_t *frame, size_t len);

#endif
