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
 */
#ifndef PEREGRINE_RAS_RAS_H
#define PEREGRINE_RAS_RAS_H

#include "lib/auth.h"
#include "lib/common.h"
#include "route/trees.h"
#include "wire/swproto.h"

enum ras_limits {
	RAS_RTO_MS = 30,		/* first FIB_OPS / DUMP_REQ retransmission */
	RAS_TRIES = 20,			/* transmissions before a switch is lost */
	RAS_RESYNC_MS = 1000,		/* a lost switch is dumped again this often */
	RAS_AUDIT_MS = 2000,		/* an idle switch's entry count is checked */
	RAS_MAX_FOREIGN = 4096,	/* unknown entries remembered per switch */
};

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
	struct ras_dgram *dg;
	size_t ndg, cap_dg;
	struct ras_avail *avail;
	size_t navail, cap_avail;
};

enum ras_drop {
	RAS_DROP_DECODE = 0,		/* + swp_err */
	RAS_DROP_UNEXPECTED = SWP_E_COUNT,	/* a type the RAS does not take */
	RAS_DROP_SENDER,		/* not a switch of the topology, or wrong address */
	RAS_DROP_PORT,			/* link report for a port without a link */
	RAS_DROP_STALE,			/* reply to nothing in flight */
	RAS_DROP_COUNT
};

struct ras_stats {
	uint64_t drops[RAS_DROP_COUNT];
	uint64_t link_reports, link_events, node_events;
	uint64_t old_reports;		/* older than one already applied */
	uint64_t batches, retransmits, lost;
	uint64_t ops_sent, ops_ok, ops_refused[SWP_STATUS_MAX + 1];
	uint64_t dumps, avail_down, avail_up;
	uint64_t deferred_ops;		/* recovery tree-1 changes run second */
	uint64_t audits, audits_failed;	/* entry counts checked, found wrong */
	/* The last event: when it came in and when the fabric was programmed. */
	uint64_t ev_at_ns, ev_done_ns, ev_ops;
	uint32_t ev_pairs;		/* (server, tree) pairs it marked unavailable */
	bool converged;			/* every live switch holds what it should */
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
/* A datagram from a switchd.  Bad ones are counted and dropped. */
void ras_input(struct ras *r, struct ras_addr from, const uint8_t *buf, size_t len,
	       uint64_t now, struct ras_out *o);
/* Retransmit and resynchronise; returns the next deadline (ns). */
uint64_t ras_tick(struct ras *r, uint64_t now, struct ras_out *o);

const struct ras_stats *ras_stats(const struct ras *r);
const struct route_trees *ras_routes(const struct ras *r);
const char *ras_drop_name(int reason);
/* The MAC of server index s on tree. */
void ras_server_mac(uint32_t s, unsigned tree, uint8_t mac[6]);

#endif
