/* The directory's group table: (VDC, group) -> the member VMs and their
 * servers (docs/directory-protocol.md, "Groups"; docs/multicast.md).
 *
 * Part of the directory's core (dir/dir.c hands it JOIN, LEAVE and MEMBERS
 * requests and their reply writer); I/O-free like the rest.  Membership is
 * soft state the agents hold: they JOIN again every AGENT_GRP_REFRESH (the
 * agent's refresh), so a restarted directory has its groups back within one
 * refresh and nothing is written to the store.  Answers carry a short
 * untracked lease (DIRGRP_LEASE_MS): a sender sees a new member within it.
 *
 * Every limit is counted and refused (status FULL), never grown past:
 * groups per VDC, member VMs per group, member servers per group (all of
 * which one MEMBERS reply lists).
 */
#ifndef PEREGRINE_DIR_DIRGRP_H
#define PEREGRINE_DIR_DIRGRP_H

#include "lib/common.h"
#include "wire/dirproto.h"

enum dirgrp_limits {
	DIRGRP_LEASE_MS = 1000,		/* untracked: how stale a member list may get */
	DIRGRP_MAX_PER_VDC = 64,	/* groups a VDC may have (its broadcast included) */
	DIRGRP_MAX_VMS = 64,		/* member VMs per group */
	DIRGRP_MAX_SERVERS = DIRP_MAX_MEMBERS,	/* member servers: one reply */
	DIRGRP_MAX_GROUPS = 1 << 20,	/* groups in all */
};

struct dirgrp_stats {
	uint64_t joins, leaves, lookups, misses, invalid, full_vdc, full_group, full_table;
};

struct dirgrp;

struct dirgrp *dirgrp_new(uint64_t seed, uint32_t neg_lease_ms);
void dirgrp_free(struct dirgrp *t);
size_t dirgrp_count(const struct dirgrp *t);		/* groups */
size_t dirgrp_members(const struct dirgrp *t);		/* (group, VM) memberships */
size_t dirgrp_mem_bytes(const struct dirgrp *t);
const struct dirgrp_stats *dirgrp_stats(const struct dirgrp *t);

/* One request of type DIRP_JOIN, DIRP_LEAVE or DIRP_MEMBERS: the reply's
 * records into w (begun with the reply type).  JOIN and LEAVE answer each
 * record with its status; MEMBERS lists the group's member servers, each
 * with the MAC of its first member VM there (a sender's replicas carry its
 * ID, which names the VDC on that server), or one NOT_FOUND record with the
 * negative lease. */
void dirgrp_request(struct dirgrp *t, const struct dirp_msg *m, struct dirp_writer *w);

#endif
