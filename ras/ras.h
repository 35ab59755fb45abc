/* The Route Algorithm Server core: it keeps every switch's forwarding table
 * equal to the routes of route/ and tells the directory which intermediary
 * MACs may be used while it changes them.  No I/O: the shell (cmd/ras.c)
 * feeds it datagrams from the switches and clock ticks, and carries out what
 * it returns: datagrams to switches and availability changes for the
 * directory.  docs/ras.md describes the design.
 *
 * Per switch the core holds what the switch has (learnt from its dump at
 * start and from the acknowledgements of every FIB_OPS since) and reads what
 * it should have from route_egress().  Entries that may differ are "dirty";
 * reconciling them yields FIB_OPS batches, one batch in flight per switch,
 * retransmitted with the same sequence number until acknowledged.
 *
 * Server s (topology server index) owns the Peregrine MACs of node s + 1
 * (wire/pgr.h): tree 0 = primary, tree 1 = backup, as the lab assigns them.
 *
 * A link report (SWP_LINK) is acknowledged at once.  A link going down or
 * coming back first marks the intermediary MACs whose trees use the link
 * unavailable (ras_out.avail, avail = 0: the shell sends these to the
 * directory BEFORE the datagrams of the same call), then applies the route
 * change, reprograms the switches and, once every live switch acknowledged
 * everything, marks them available again.  A recovery (link or switch
 * back) runs in phases so that no server ever has both trees held: changes
 * that would hold a server's second tree wait until the first phase is
 * programmed (ras_stats.deferred_ops).  A switch whose every link is
 * down is failed (route_node_down); a report of one of its links coming back
 * revives it and its table is read again from a dump.
 *
 * Delivery to the directory (ras/avail.c): the core owns it.  The changes
 * are also listed in ras_out.avail (for tests and logs), but what carries
 * them is ras_out.dir: SET_AVAIL datagrams to cfg.dir, which the shell must
 * send BEFORE the switch datagrams of the same call.  Each request is
 * retransmitted until the directory answers; one that is never answered is
 * sent afresh with the latest value of each MAC.  The directory's replies
 * (to ras_input, from cfg.dir) carry its session id: a new one means it
 * restarted, and every MAC's latest value is asserted again.  An idle core
 * asks the directory for its counters every RAS_DIR_PROBE_MS to notice that.
 *
 * Direct routes (ras/direct.c): agents' TRAFFIC reports (wire/rasproto.h)
 * come in on the same socket and build the traffic matrix; every lb_ms the
 * heaviest pairs are routed by route_lb() and their entries (destination VM
 * MAC -> port) join what every switch should have.  Agents are told
 * (DIRECT on) only once every entry of that VM is acknowledged, told to stop
 * (DIRECT off) before any of its entries is removed or changed, and a route
 * a failure breaks is withdrawn that way.  MOVED updates where a VM lives.
 */
#ifndef PEREGRINE_RAS_RAS_H
#define PEREGRINE_RAS_RAS_H

#include "lib/auth.h"
#include "lib/common.h"
#include "lib/core.h"
#include "route/trees.h"
#include "wire/rasproto.h"
#include "wire/swproto.h"

enum ras_limits {
	RAS_RTO_MS = 30,		/* first FIB_OPS / DUMP_REQ retransmission */
	RAS_TRIES = 20,			/* transmissions before a switch is lost */
	RAS_RESYNC_MS = 1000,		/* a lost switch is dumped again this often */
	RAS_AUDIT_MS = 2000,		/* an idle switch's entry count is checked */
	RAS_MAX_FOREIGN = 4096,	/* unknown entries remembered per switch */
	RAS_LB_MS = 2000,		/* direct routes recomputed this often */
	RAS_MAX_PAIRS = 1000,		/* route_lb: at most this many heaviest pairs */
	RAS_DIRECT_RTO_MS = 50,		/* first DIRECT retransmission */
	RAS_MOVED_HOLD_MS = 5000,	/* after MOVED, reports of the old place are ignored */
	RAS_REPLAN_MS = 1000,		/* after a move or a broken route: recomputed this soon */
	/* Delivery of availability changes to the directory (ras/avail.c) */
	RAS_AVAIL_INFLIGHT = 64,	/* SET_AVAIL requests in flight (the
					 * client holds DIRC_MAX_PENDING) */
	RAS_AVAIL_RTO_MS = 20,		/* first SET_AVAIL retransmission, as the
					 * directory's first push retransmission */
	RAS_AVAIL_TRIES = 8,		/* 20 ms ... 1 s, about 3.3 s: then the
					 * records are queued and sent afresh */
	/* Several directory servers (a replicated directory, docs/ha.md):
	 * a request unanswered after these tries (20+40+80+160 ms) moves
	 * the RAS to the next server, and it moves again no sooner than
	 * RAS_DIR_MOVE_HOLD_MS later (requests still out to the old one
	 * time out meanwhile) */
	RAS_AVAIL_TRIES_HA = 4,
	RAS_DIR_MOVE_HOLD_MS = 500,
	RAS_MAX_MORE_DIRS = 7,
	RAS_DIR_PROBE_MS = 1000,	/* idle: the directory is asked (STATS)
					 * this often, to notice a restart */
};
#define RAS_MIN_MBPS 1.0		/* pairs below are never routed direct */

/* Controller id in switchd messages (lab tools use 0xffffff00). */
#define RAS_SENDER_ID 0xfffffe00u

struct ras_addr {
	uint32_t ip;		/* host order; 0: no such switch */
	uint16_t port;
};

struct ras_cfg {
	const struct topo *t;		/* must outlive the core */
	const struct ras_addr *sw;	/* per node id: the switchd address */
	struct auth_key key;
	uint32_t id;			/* sender id; 0: RAS_SENDER_ID */
	uint64_t seq_base;		/* first seq (the shell: wall clock ns) */
	uint32_t rto_ms, tries;		/* 0: the defaults above */
	/* direct routes; 0: the defaults above */
	uint32_t lb_ms;			/* period of route_lb */
	uint32_t max_pairs;		/* route_lb's N */
	double min_mbps;		/* lighter pairs are never direct */
	double share;			/* route_lb's Z (0: no limit) */
	bool no_direct;			/* count traffic, route nothing direct */
	/* The directory (ip 0: none; changes only listed in ras_out.avail) */
	struct ras_addr dir;
	/* more directory servers of a replicated directory, tried in turn
	 * after dir when it stops answering */
	struct ras_addr more_dirs[RAS_MAX_MORE_DIRS];
	unsigned nmore_dirs;
	/* Message timestamps for the directory: wall clock ms = now / 1e6 +
	 * wall_offset_ms (the shell: wall clock minus monotonic clock). */
	int64_t wall_offset_ms;
	struct core_log log;		/* lib/core.h; zero: no log lines */
};

struct ras_dgram {
	struct ras_addr to;
	size_t len;
	uint8_t buf[SWP_MAX_DGRAM];
};

/* An availability change for the directory: SET_AVAIL, scope intermediary. */
struct ras_avail {
	uint8_t mac[6];
	uint8_t avail;
};

struct ras_out {
	struct ras_dgram *dg;		/* to switches and agents */
	size_t ndg, cap_dg;
	struct ras_avail *avail;	/* availability changes made (a record) */
	size_t navail, cap_avail;
	struct ras_dgram *dir;		/* to the directory: send these first */
	size_t ndir, cap_dir;
};

enum ras_drop {
	RAS_DROP_DECODE = 0,		/* + swp_err */
	RAS_DROP_UNEXPECTED = SWP_E_COUNT,	/* a type the RAS does not take */
	RAS_DROP_SENDER,		/* not a switch of the topology, or wrong address */
	RAS_DROP_PORT,			/* link report for a port without a link */
	RAS_DROP_STALE,			/* reply to nothing in flight */
	RAS_DROP_RASP,			/* + rasp_err: a RAS-protocol datagram */
	RAS_DROP_REPLAY = RAS_DROP_RASP + RASP_E_COUNT,	/* seq not above the last */
	RAS_DROP_AGENT,			/* TRAFFIC or ACK from no server of the topology */
	RAS_DROP_VM,			/* a VM id that is no VM, a server that is none */
	RAS_DROP_RASP_TYPE,		/* a type the RAS does not take (DIRECT) */
	RAS_DROP_ACK,			/* ACK of no DIRECT in flight */
	RAS_DROP_DIR,			/* from the directory: bad or stale (a late reply: STALE) */
	RAS_DROP_COUNT
};

/* Upper bounds (ms) of the buckets of the reprogramming-time histogram:
 * from a link or switch event to the fabric programmed (ev_hist). */
#define RAS_EV_BUCKETS_MS { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000 }
enum { RAS_EV_BUCKETS = 11 };

struct ras_stats {
	uint64_t drops[RAS_DROP_COUNT];
	uint64_t link_reports, link_events, node_events;
	uint64_t old_reports;		/* older than one already applied */
	uint64_t batches, retransmits, lost;
	uint64_t ops_sent, ops_ok, ops_refused[SWP_STATUS_MAX + 1];
	uint64_t dumps, avail_down, avail_up;
	uint64_t deferred_ops;		/* recovery tree-1 changes run second */
	uint64_t audits, audits_failed;	/* tables checked, found wrong (count or sum) */
	uint64_t audits_sum_failed;	/* of those: the count right, the entries not */
	uint64_t port_audits, ports_wrong;	/* port states read, found not as we held */
	/* The last event: when it came in and when the fabric was programmed. */
	uint64_t ev_at_ns, ev_done_ns, ev_ops;
	uint32_t ev_pairs;		/* (server, tree) pairs it marked unavailable */
	/* (server, tree) pairs whose entry crossed a failed link and that were
	 * not held for it: that entry's switch carries none of the tree's
	 * traffic (ras.c carries) */
	uint64_t pairs_spared;
	bool converged;			/* every live switch holds what it should */
	/* every event's time to converge: per bucket (not cumulative), count
	 * and sum */
	uint64_t ev_hist[RAS_EV_BUCKETS], ev_count, ev_sum_ns;
	/* traffic and direct routes (ras/direct.c) */
	uint64_t traffic_reports, traffic_flows, moved, acks_sent;
	uint64_t lb_runs;		/* direct routes computed (route_lb runs) */
	uint32_t lb_considered, lb_routed, lb_skipped_fib, lb_kept;	/* the last run */
	uint32_t lb_no_attach;		/* last run: pairs whose source NIC could not join */
	uint64_t direct_sent, direct_retransmits, direct_acked;	/* DIRECT datagrams */
	uint64_t direct_on, direct_off;	/* records acknowledged */
	uint64_t agents_lost, agent_restarts;
	uint64_t withdrawn_broken, withdrawn_moved, replans;
	uint64_t dops_sent, dops_refused;	/* direct entry operations */
	/* now */
	uint32_t matrix_pairs;		/* (source VM, destination VM) pairs in the window */
	uint32_t vms_direct;		/* destination VMs some agent sends direct to */
	uint32_t pairs_direct;		/* (source server, VM) pairs acknowledged on */
	uint32_t entries_direct;	/* direct entries the switches hold */
	uint32_t agents_known;
	/* delivery to the directory (ras/avail.c) */
	uint64_t avail_requests;	/* SET_AVAIL requests sent (not counting
					 * retransmissions) */
	uint64_t avail_records, avail_acked;	/* records sent, acknowledged */
	uint64_t avail_timeouts;	/* requests never answered: sent afresh */
	uint64_t dir_restarts;		/* the directory's session changed */
	uint64_t dir_moves;		/* moved to another directory server */
	uint64_t avail_acked_ns;	/* when the last SET_AVAIL was answered */
	uint32_t avail_pending;		/* now: MACs queued or in flight */
};

struct ras;

/* 0 and *out, or -EINVAL with a reason (routes cannot be computed). */
int ras_new(const struct ras_cfg *c, uint64_t now, struct ras **out, char *err,
	    size_t errlen);
void ras_free(struct ras *r);
void ras_out_init(struct ras_out *o);
void ras_out_reset(struct ras_out *o);
void ras_out_free(struct ras_out *o);

/* Begin: ask every switch for its table (start-up and restart alike). */
void ras_start(struct ras *r, uint64_t now, struct ras_out *o);
/* A datagram from a switchd, an agent or a tool (the RAS protocol, told
 * apart by its magic).  Bad ones are counted and dropped. */
void ras_input(struct ras *r, struct ras_addr from, const uint8_t *buf, size_t len,
	       uint64_t now, struct ras_out *o);
/* Retransmit and resynchronise; returns the next deadline (ns). */
uint64_t ras_tick(struct ras *r, uint64_t now, struct ras_out *o);

const struct ras_stats *ras_stats(const struct ras *r);
const struct route_trees *ras_routes(const struct ras *r);
const char *ras_drop_name(int reason);
/* The direct routes now, for status output: one call per destination VM
 * with its server, its entries (switch node, port), the servers told to
 * send direct (acknowledged) and its rate at the last computation. */
struct ras_direct_info {
	uint32_t vm_id, server;		/* VM primary id, topology node */
	double mbps;
	uint32_t nentries, nsources;
	const uint32_t *entry_sw;
	const uint16_t *entry_port;
	const uint32_t *sources;	/* topology nodes, acknowledged on */
	bool installed;			/* every entry acknowledged */
};
typedef void (*ras_direct_fn)(void *arg, const struct ras_direct_info *i);
void ras_direct_foreach(const struct ras *r, ras_direct_fn fn, void *arg);

/* The MAC of server index s on tree. */
void ras_server_mac(uint32_t s, unsigned tree, uint8_t mac[6]);

#endif
