/* The agent's part of group replication (docs/multicast.md, "Replication:
 * at the source"): for each (VDC, IPv4 group) this server sends to or has
 * local members of, the entry of the data plane's pgr_mcast map (bpf/dp.h):
 * the member servers other than this one, learnt from the directory's
 * MEMBERS, and the ports of the local member VMs.  No I/O: requests go
 * through the directory client, map writes through the env's callbacks.
 *
 * Member servers are held for the answer's lease (DIRGRP_LEASE_MS, 1 s).
 * Then the entry is marked stale: the data plane still replicates with it,
 * and the next frame sent to the group asks again (PGR_EV_GROUP_MISS), as a
 * used unicast entry is renewed; a group nobody has sent to for
 * AGENT_GRP_IDLE_MS loses its member servers (and its entry, if it has no
 * local member).  Local members come from the agent's own VMs: every VM is
 * in its VDC's broadcast group, and in the groups its reports joined
 * (agent/mcast.h).
 */
#ifndef PEREGRINE_AGENT_GRP_H
#define PEREGRINE_AGENT_GRP_H

#include "agent/mcast.h"
#include "bpf/dp.h"
#include "dir/client.h"

enum agent_grp_limits {
	AGENT_GRP_MAX = 1024,		/* groups held (sent to or with local members) */
	AGENT_GRP_IDLE_MS = 10000,	/* a group not sent to: member servers dropped */
};

#define AGENT_GRP_STATS(X)                                                    \
	X(misses, "group misses from the data plane")                      \
	X(miss_bad, "group misses dropped: not a group, unknown VM or VDC")   \
	X(members_sent, "MEMBERS requests sent")                           \
	X(members_fail, "MEMBERS requests not sent or never answered")     \
	X(members_bad, "MEMBERS answers dropped: malformed or another group") \
	X(written, "group entries written to the data plane")              \
	X(removed, "group entries removed from the data plane")            \
	X(full, "groups refused: AGENT_GRP_MAX held")                     \
	X(too_many_local, "local members left out: over PGR_MCAST_LOCAL") \
	X(map_errors, "group entry writes that failed")

enum agent_grp_stat {
#define AGENT_GRP_ENUM(name, desc) AGENT_GRP_##name,
	AGENT_GRP_STATS(AGENT_GRP_ENUM)
#undef AGENT_GRP_ENUM
	AGENT_GRP_COUNT
};

const char *agent_grp_stat_name(int s);
const char *agent_grp_stat_desc(int s);

/* One local VM as the group table sees it. */
struct agent_grp_vm {
	uint32_t vdc;
	uint32_t ifindex;		/* its port; 0: missing (skipped) */
	const struct agent_mcast_state *m;	/* its groups */
};

/* What the agent core lends: kept by the table (a MEMBERS answer arrives
 * outside any call), so it must outlive it; vms may change between calls. */
struct agent_grp_env {
	struct dirc *dirc;
	uint32_t node;			/* this server */
	unsigned nnics;
	const uint32_t *nic_ifindex;	/* nnics */
	const bool *nic_down;		/* nnics */
	/* the NIC index toward a server in tree t, or -1 (agent_tree_nic) */
	int (*tree_nic)(const void *arg, uint32_t node, unsigned tree);
	const void *tree_arg;
	int (*set)(void *arg, const struct pgr_mcast_key *k, const struct pgr_mcast_entry *e);
	int (*del)(void *arg, const struct pgr_mcast_key *k);
	void *arg;
	const struct agent_grp_vm *vms;
	unsigned nvms;
};

struct agent_grp;

struct agent_grps {
	struct agent_grp *g;		/* AGENT_GRP_MAX, allocated on first use */
	unsigned n;
	uint64_t now_ns;
	uint64_t st[AGENT_GRP_COUNT];
	const struct agent_grp_env *env;	/* the last call's */
};

void agent_grps_free(struct agent_grps *t);

/* A PGR_EV_GROUP_MISS for (vdc, group, network order) from a local VM of
 * that VDC: hold the group, ask MEMBERS unless asked and fresh. */
void agent_grps_miss(struct agent_grps *t, const struct agent_grp_env *env, uint32_t vdc,
		     uint32_t group, struct dir_now now);

/* Recompute every entry from the VMs' groups, lease and idle times, and
 * write the ones that changed: after a join or leave, a new configuration,
 * a NIC change, and every tick. */
void agent_grps_sync(struct agent_grps *t, const struct agent_grp_env *env, struct dir_now now);

/* Groups held, and one group's entry as last written (NULL: none). */
unsigned agent_grps_count(const struct agent_grps *t);
const struct pgr_mcast_entry *agent_grps_entry(const struct agent_grps *t, uint32_t vdc,
					       uint32_t group);

#endif
