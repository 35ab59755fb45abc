/* The host agent's core: one server's view of the fabric, with no I/O.
 *
 * Events in: the topology (agent_topology: the core computes the routing
 * trees and picks the NIC of each tree toward each server itself), the
 * configuration (agent_configure, again on SIGHUP), data-plane
 * miss events (agent_miss), directory replies and pushes (through the dirc
 * the caller gives it), the one-second timer with the traffic matrix
 * (agent_traffic_* and agent_tick), NIC link state (agent_nic_state) and
 * datagrams from the RAS (agent_ras_input).  Actions out: directory requests
 * (through the dirc), map writes, ARP replies and RAS datagrams through the
 * callbacks of struct agent_ops.  Time comes in as struct dir_now.
 * docs/agent.md describes the behaviour; agent/config.h the file.
 */
#ifndef PEREGRINE_AGENT_AGENT_H
#define PEREGRINE_AGENT_AGENT_H

#include "agent/agent6.h"
#include "agent/config.h"
#include "agent/dhcp.h"
#include "agent/failover.h"
#include "agent/grp.h"
#include "agent/mcast.h"
#include "bpf/dp.h"
#include "dir/client.h"
#include "lib/auth.h"
#include "lib/core.h"
#include "route/trees.h"

enum agent_limits {
	AGENT_CACHE_MAX = PGR_DP_GARP_MAX,	/* GARP entries held */
	AGENT_WAITERS = 4,		/* VMs answered per pending lookup */
	AGENT_REREG_MS = 10000,		/* REGISTER again this often */
	AGENT_RENEW_FRACTION = 2,	/* renew when 1/2 of the lease is left */
	AGENT_LOOKUP_RETRY_MS = 200,	/* a miss for an entry given up on */
	AGENT_TRAFFIC_MS = 1000,	/* traffic report interval */
	AGENT_ARP_LEN = 60,		/* an ARP reply padded to the Ethernet
					 * minimum, as wire_build_arp makes it */
	AGENT_ADOPT_MS = 3000,		/* an entry found in the map at start */
	/* Held frames: the IPv4 frames of a miss, kept until the directory
	 * answers and then sent back through the data plane (docs/agent.md). */
	AGENT_HOLD_PER_DST = 4,		/* frames per destination, oldest dropped
					 * first: a SYN or two, a few parallel
					 * connects (Linux's neighbour queue held 3) */
	AGENT_HOLD_MAX = 256,		/* frames held in all: the preallocated slots */
	AGENT_HOLD_BYTES = 128 * 1024,	/* bytes held in all (86 full frames) */
	AGENT_HOLD_MS = 1000,		/* age: older frames are dropped; by then
					 * the VM's TCP has sent its SYN again */
};

/* What the core asks of its shell.  Each returns 0 or -errno; failures are
 * counted by the core. */
struct agent_ops {
	void *arg;
	int (*garp_set)(void *arg, const struct pgr_garp_key *k, const struct pgr_garp_entry *g);
	int (*garp_del)(void *arg, const struct pgr_garp_key *k);
	/* A local VM (both IDs) into the VM tables and from_vm on its port. */
	int (*vm_add)(void *arg, const struct pgr_vm *vm, uint32_t backup_id);
	int (*vm_del)(void *arg, const struct pgr_vm *vm, uint32_t backup_id);
	/* Transmit frame into the VM behind port ifindex. */
	int (*arp_reply)(void *arg, uint32_t ifindex, const uint8_t *frame, size_t len);
	/* Send a held frame back into the data plane as if the VM behind port
	 * ifindex sent it now (from_vm checks and forwards it). */
	int (*resend)(void *arg, uint32_t ifindex, const uint8_t *frame, size_t len);
	int (*ras_send)(void *arg, const uint8_t *buf, size_t len);
	struct core_log log;	/* lib/core.h; zero: no log lines */
	/* (VDC, IPv6) into the GARP6 map (agent/agent6.h); NULL: none */
	int (*garp6_set)(void *arg, const struct pgr_garp6_key *k, const struct pgr_garp_entry *g);
	/* (VDC, IPv6) out of the GARP6 map; NULL: none */
	int (*garp6_del)(void *arg, const struct pgr_garp6_key *k);
	/* (VDC, IPv4 group) into and out of the replication map (agent/grp.h);
	 * NULL: no group is written */
	int (*mcast_set)(void *arg, const struct pgr_mcast_key *k, const struct pgr_mcast_entry *e);
	int (*mcast_del)(void *arg, const struct pgr_mcast_key *k);
	/* (VM port, VIP) into and out of the VIP sources (bpf/dp.h,
	 * pgr_vip_src): a local VM that is a backend of a VC may answer from
	 * its VIP (docs/slb.md).  NULL: none written */
	int (*vip_set)(void *arg, const struct pgr_vip_src_key *k, const struct pgr_vip_src *v);
	int (*vip_del)(void *arg, const struct pgr_vip_src_key *k);
};

#define AGENT_STATS(X)                                                        \
	X(misses, "miss events from the data plane")                        \
	X(miss_bad, "miss events dropped: malformed or from an unknown port") \
	X(lookups, "LOOKUP requests sent")                                  \
	X(lookup_keys, "keys looked up")                                    \
	X(lookup_timeouts, "LOOKUP requests the directory never answered")  \
	X(not_found, "lookups answered NOT FOUND")                          \
	X(filled, "GARP entries written from a lookup")                     \
	X(arp_replies, "ARP replies sent to waiting VMs")                   \
	X(renews, "leases renewed (keys)")                                  \
	X(expired, "idle entries expired and removed")                      \
	X(pushes_applied, "pushed records applied")                         \
	X(pushes_stale, "pushed records ignored: not newer or not cached")  \
	X(registers, "REGISTER requests sent")                              \
	X(register_fail, "REGISTER records refused or timed out")           \
	X(map_errors, "map writes that failed")                             \
	X(dir_bad, "directory answers dropped: malformed record")           \
	X(ras_sent, "datagrams sent to the RAS")                            \
	X(ras_bad, "RAS datagrams dropped: bad, replayed or unexpected")    \
	X(direct_applied, "DIRECT records applied")                         \
	X(direct_moved, "direct routes dropped: the VM moved to another server") \
	X(nic_changes, "NIC link state changes")                            \
	X(both_held, "entries written while the directory held both trees") \
	X(held, "frames of IPv4 misses held until the directory answers")    \
	X(held_sent, "held frames sent back through the data plane")         \
	X(held_csum, "held frames whose TCP/UDP checksum was completed")     \
	X(held_bad, "held frames dropped: not IPv4 to the missed address")  \
	X(held_drop_full, "held frames dropped: destination's queue full (oldest)") \
	X(held_drop_pool, "held frames dropped: all slots or bytes in use")  \
	X(held_drop_age, "held frames dropped: older than AGENT_HOLD_MS")   \
	X(held_drop_unresolved, "held frames dropped: NOT FOUND, no answer or entry gone") \
	X(held_drop_send, "held frames the shell failed to send")             \
	X(failovers, "cached entries that lost a MAC (tree) to a failure")   \
	X(failbacks, "cached entries whose every MAC is available again")   \
	X(vips, "VIP sources written: a local VM may answer from a VC's VIP") \
	X(vips_removed, "VIP sources removed: the VM or its VC left")

struct agent_stats {
#define AGENT_STAT_FIELD(name, desc) uint64_t name;
	AGENT_STATS(AGENT_STAT_FIELD)
#undef AGENT_STAT_FIELD
	uint64_t dhcp[AGENT_DHCP_COUNT];	/* agent/dhcp.h: "dhcp_" NAME */
	uint64_t mcast[AGENT_MCAST_COUNT];	/* agent/mcast.h: "mcast_" NAME */
	uint64_t mcast_send_fail;		/* JOIN/LEAVE records not sent */
};

struct agent;

/* `dirc` is the caller's directory client (its pushes go to
 * agent_on_push); `key` authenticates RAS messages.  Both outlive the
 * agent.  now: the agent's start (it seeds the RAS sequence numbers). */
struct agent *agent_new(const struct agent_ops *ops, struct dirc *dirc,
			const struct auth_key *key, struct dir_now now);
void agent_free(struct agent *a);

/* The fabric this server is part of: `server` (its name in t) must be
 * server number `node` (the configuration's).  The core computes the routing
 * trees of t (route/trees.h, no failures: the directory's availability bits
 * carry the failures) and sends toward a server in tree k on the NIC that
 * tree leaves by.  t must outlive the agent.  0, or -EINVAL with a reason.
 * Without a topology no entry gets a NIC. */
int agent_topology(struct agent *a, const struct topo *t, const char *server, uint32_t node,
		   char *err, size_t errlen);
/* The same with the trees computed already (route_trees_new(t, NULL, NULL)),
 * shared by the agents of one process (the simulator runs thousands): the
 * agent reads them and never frees them; they must outlive it. */
int agent_topology_shared(struct agent *a, struct route_trees *rt, const char *server,
			  uint32_t node, char *err, size_t errlen);
/* The NIC (index into the configuration's) toward server Peregrine node
 * number `pgr_node` in tree t, or -1. */
int agent_tree_nic(const struct agent *a, uint32_t pgr_node, unsigned tree);

/* Apply a configuration: attach the VMs it lists that are not attached,
 * detach those it no longer lists, register the new ones.  ifindex of each
 * VM must be filled in (0: its port is missing; the VM is skipped and
 * counted).  The first call also registers everything. */
void agent_configure(struct agent *a, const struct agent_config *cfg, struct dir_now now);

/* A data-plane miss event; an IPv4 miss may carry its frame (frame, len;
 * NULL, 0: none), which is held until the directory answers: sent back
 * through resend() once the entry is written, dropped on NOT FOUND, on no
 * answer and after AGENT_HOLD_MS. */
void agent_miss(struct agent *a, const struct pgr_event *ev, const uint8_t *frame, size_t len,
		struct dir_now now);
/* Send the LOOKUPs the misses since the last flush call for, batched. */
void agent_flush(struct agent *a, struct dir_now now);

/* A pushed record (dirc's on_push). */
void agent_on_push(struct agent *a, uint8_t type, const struct dirp_entry *e, struct dir_now now);
/* A pushed IPv6 record (the dirc's on_push6; agent/agent6.h). */
void agent_on_push6(struct agent *a, const struct dirp_entry6 *e);

/* The traffic matrix: begin, one call per (src, dst) pair with the
 * cumulative counter, end (sends the deltas to the RAS). */
void agent_traffic_begin(struct agent *a);
void agent_traffic_pair(struct agent *a, const struct pgr_pair *p, const struct pgr_counter *c);
void agent_traffic_end(struct agent *a, struct dir_now now);

/* Leases (renew used entries, expire idle ones), held frames' age,
 * re-registration.  Call at least every AGENT_TRAFFIC_MS, after a traffic
 * round: entries' renewals and expiries are judged at that granularity (an
 * entry is renewed if it was used since the last tick).  Returns the next
 * deadline: the next round or the next registration, whichever is first. */
uint64_t agent_tick(struct agent *a, struct dir_now now);

/* NIC i (index in the configuration) went up or down. */
void agent_nic_state(struct agent *a, unsigned nic, bool up);

/* An entry found in the (pinned) GARP map at start: held as if looked up,
 * refreshed at the next tick, expired after AGENT_ADOPT_MS if unused.
 * Call after agent_configure. */
void agent_adopt(struct agent *a, const struct pgr_garp_key *k, const struct pgr_garp_entry *g,
		 struct dir_now now);

/* The time, before feeding the directory client (replies have no clock). */
void agent_clock(struct agent *a, struct dir_now now);

/* The directory client moved to another server of a replicated directory
 * (docs/ha.md): every cached entry is renewed at the next agent_tick, so
 * that the new server holds our leases and pushes their changes to us. */
void agent_directory_changed(struct agent *a, struct dir_now now);

/* A datagram from the RAS. */
void agent_ras_input(struct agent *a, const uint8_t *buf, size_t len, struct dir_now now);

const struct agent_stats *agent_get_stats(const struct agent *a);
/* How long cached entries ran on fewer trees (agent/failover.h). */
const struct agent_failover_hist *agent_get_failover_hist(const struct agent *a);
/* Entries held, VMs attached, frames and bytes held. */
size_t agent_cache_size(const struct agent *a);
size_t agent_held_frames(const struct agent *a);
size_t agent_held_bytes(const struct agent *a);
size_t agent_vm_count(const struct agent *a);
/* The entry held for (vdc, ip host order), or NULL. */
const struct pgr_garp_entry *agent_cached(const struct agent *a, uint32_t vdc, uint32_t ip);
/* Each counter's name and description, for printing (the DHCP server's
 * as "dhcp_" NAME). */
typedef void (*agent_stat_fn)(void *arg, const char *name, const char *desc, uint64_t v);
void agent_stats_foreach(const struct agent *a, agent_stat_fn fn, void *arg);

/* The group replication table (agent/grp.h): its counters, entries. */
const struct agent_grps *agent_groups(const struct agent *a);

/* The IPv6 control plane's counters (agent/agent6.h). */
const struct agent6_stats *agent_stats6(const struct agent *a);

#endif
