/* The switch-side core: a forwarding table with a capacity, the ports and
 * their states, and the switchd protocol (wire/swproto.h).  No I/O: the shell
 * (cmd/switchd.c) feeds it datagrams, port changes from netlink and clock
 * ticks, and carries out what it returns: netlink operations on the bridge
 * and datagrams to send.
 *
 * A FIB_OPS request is handled in two steps so that the acknowledgement tells
 * the truth about the kernel:
 *
 *   sw_input()   checks each operation against the table in order (capacity,
 *                port, address), updates the table and returns one netlink
 *                operation per accepted entry;
 *   (the shell applies them and stores each result in nl[i].err)
 *   sw_commit()  undoes what the kernel refused and queues the ACK.
 *
 * Retransmitted requests (same sender, same seq) get the cached ACK again
 * without touching the table; older sequence numbers from a sender are
 * dropped as replays.  Port changes are reported to the RAS and retransmitted
 * until it acknowledges them.
 *
 * Uplink tracking (sw_uplink): a switch cut off from every other switch still
 * has live links to its servers, and a dual-homed server would go on sending
 * into it (its NIC is up) and lose everything that leaves the switch.  So
 * when every uplink is down the core asks the shell to set the server ports
 * administratively down (sw_out.admin); the servers' agents see their NIC
 * lose its link and send by their other NIC.  The ports it took down come
 * back once an uplink has stayed up for uplink_delay_ns: until the RAS has
 * reprogrammed this switch (it stops programming a switch cut off from every
 * other) and the one its uplink leads to (maybe just restarted, empty),
 * traffic sent into it would be lost.
 *
 * The core's contract (lib/core.h): input is (now, event): sw_port for a
 * link change, sw_input for a datagram, sw_commit for the netlink answers,
 * sw_tick for the timer, which returns the next deadline.
 */
#ifndef PEREGRINE_SWITCHD_SWITCHD_H
#define PEREGRINE_SWITCHD_SWITCHD_H

#include "lib/auth.h"
#include "lib/common.h"
#include "wire/swproto.h"

enum sw_limits {
	SW_MAX_PORTS = SWP_MAX_PORT + 1,
	SW_MAX_PEERS = 64,		/* controllers tracked for replay checks */
	SW_ACK_CACHE = 1024,		/* bytes: largest ACK (852) fits */
	SW_MAX_PENDING_LINK = 256,	/* unacknowledged link reports */
	SW_LINK_RETRIES = 50,		/* fast transmissions of one report */
	SW_OUT_DGRAMS = 64,		/* datagrams one call may queue */
	SW_OUT_ADMIN = 512,		/* port up/down requests one call may
					 * queue; more wait for the next call */
	/* the witness's notice to the directory (switchd/notice.h) */
	SW_MAX_DIRS = 8,		/* directory servers told */
	SW_MAX_NOTICES = 64,		/* notices waiting for answers; past
					 * it the oldest is dropped */
	SWN_MACS_PER_NOTICE = 29,	/* SET_AVAIL records per datagram
					 * (DIRP_MAX_RECORDS) */
	SW_NOTICE_TRIES = 5,		/* transmissions of one notice */
};

/* A notice unanswered by a directory server goes again after this. */
#define SW_NOTICE_RETRY_NS (20ull * 1000 * 1000)

/* Link reports are retransmitted every SW_LINK_RETRY_NS, SW_LINK_RETRIES
 * times, then every SW_LINK_SLOW_RETRY_NS, until acknowledged: a report is
 * never given up (a RAS that cannot hear for a while must still learn the
 * change when it can; the pending reports are bounded by
 * SW_MAX_PENDING_LINK, the oldest dropped past it, counted link_given_up). */
#define SW_LINK_RETRY_NS (20ull * 1000 * 1000)
#define SW_LINK_SLOW_RETRY_NS (1000ull * 1000 * 1000)

/* An IPv4 address and port, host byte order: the core names peers by these
 * numbers and never sees a socket. */
struct sw_addr {
	uint32_t ip;
	uint16_t port;
};

/* Fencing of a standby RAS (docs/ha.md): the RAS processes of a replicated
 * control plane share one sender id and number their requests
 * term << SW_TERM_SHIFT | n, the term being the leader's etcd election
 * revision.  A new leader's requests are thus above every request of an
 * older one, and the replay check refuses the old leader's (counted in
 * sw_stats.fenced). */
enum { SW_TERM_SHIFT = 40 };

struct sw_config {
	uint32_t id;		/* this switch's node id: the sender of its messages */
	uint32_t fib_cap;	/* entries the FIB may hold */
	bool has_ras;		/* report link changes to `ras` */
	struct sw_addr ras;
	uint64_t seq_base;	/* first link-report seq (the shell: wall clock ns) */
	struct auth_key key;
	uint64_t uplink_delay_ns;	/* uplink tracking: up this long before the
					 * server ports come back */
	/* Several RAS processes, one leading: link reports go to the
	 * address that sent the FIB_OPS of the highest term so far
	 * (`ras` until then). */
	bool ras_follows_leader;
	uint32_t ras_id;	/* the RAS processes' shared sender id */
	/* The highest RAS term this switch accepted before it (re)started
	 * (the shell keeps it in a file: sw_out.save_term).  FIB_OPS of
	 * ras_id below it are refused as fenced, so a restart does not let
	 * a deposed leader in again.  0: none known. */
	uint64_t ras_term;
	/* The witness's own notice (switchd/notice.h): a port that goes
	 * down makes the switch tell these directory servers that the
	 * server MACs it forwarded out of the port are unavailable, so
	 * agents fail over without a RAS.  ndirs 0: off. */
	uint32_t ndirs;
	struct sw_addr dirs[SW_MAX_DIRS];
	int64_t wall_offset_ms;	/* wall clock minus `now`: message timestamps */
};

enum sw_nl_kind { SW_NL_ADD = 1, SW_NL_DEL = 2 };

/* One netlink operation for the shell: add (or replace) or delete a static
 * entry MAC -> port on the bridge.  The shell sets err (0 or -errno). */
struct sw_nl_op {
	uint8_t kind;
	uint16_t port;
	uint8_t mac[6];
	uint16_t op_index;	/* which operation of the request */
	int err;
};

struct sw_dgram {
	struct sw_addr to;
	size_t len;
	uint8_t buf[SWP_MAX_DGRAM];
};

/* Set a port administratively up or down (uplink tracking).  The shell sets
 * err (0 or -errno) and calls sw_admin_done(). */
struct sw_admin_op {
	uint16_t port;
	bool up;
	int err;
};

/* What one call asks the shell to do. */
struct sw_out {
	uint16_t nnl;
	struct sw_nl_op nl[SWP_MAX_OPS];
	bool pending;		/* a FIB_OPS waits for sw_commit() */
	/* Nonzero: a FIB_OPS raised the highest RAS term to this.  The shell
	 * stores it (sw_config.ras_term of the next start) before any
	 * datagram of this call leaves. */
	uint64_t save_term;
	int ndg;
	struct sw_dgram dg[SW_OUT_DGRAMS];
	uint16_t nadmin;
	struct sw_admin_op admin[SW_OUT_ADMIN];
};

enum sw_drop {
	SW_DROP_DECODE = 0,	/* + swp_err: SW_DROP_DECODE + e */
	SW_DROP_UNEXPECTED = SWP_E_COUNT,	/* a type switchd does not take */
	SW_DROP_REPLAY,		/* FIB_OPS with an old seq */
	SW_DROP_STALE_ACK,	/* LINK_ACK for nothing pending */
	SW_DROP_COUNT
};

struct sw_stats {
	uint64_t drops[SW_DROP_COUNT];
	uint64_t requests, duplicates, dumps;
	uint64_t ops_ok, ops_refused[SWP_STATUS_MAX + 1];
	uint64_t link_reports, link_retransmits, link_given_up;
	uint64_t entries_lost;	/* dropped with a port that vanished */
	/* uplink tracking */
	uint64_t isolations;	/* every uplink went down */
	uint64_t restores;	/* an uplink stayed up: server ports raised */
	uint64_t ports_shut, ports_raised, admin_errors;
	uint64_t shut_found;	/* server ports found down at start, raised later */
	/* FIB_OPS of an older leader's term (also in drops[SW_DROP_REPLAY]) */
	uint64_t fenced;
	uint64_t leader_changes;	/* ras_follows_leader: moves to a new term */
	/* the witness's notices to the directory (switchd/notice.h) */
	uint64_t notices;		/* made (one per SWN_MACS_PER_NOTICE MACs) */
	uint64_t notice_macs;		/* MACs they carried */
	uint64_t notices_sent;		/* datagrams, one per server and try */
	uint64_t notice_retransmits;	/* tries after the first */
	uint64_t notice_replies;	/* answers from a directory server */
	uint64_t notice_ras_acked;	/* stopped: a RAS took the link report */
	uint64_t notice_unanswered;	/* ended with a server not answering */
	uint64_t notice_late_replies;	/* answers to nothing pending */
	uint64_t notice_bad_replies;	/* from a server: unreadable or no reply */
};

struct sw;

struct sw *sw_new(const struct sw_config *c);
void sw_free(struct sw *s);
void sw_out_reset(struct sw_out *o);

/* An entry found in the kernel at start-up (counts towards the capacity). */
void sw_adopt(struct sw *s, const uint8_t mac[6], uint16_t port);
/* A port appeared, changed or vanished.  The first sighting of a port is
 * not reported; every later change of its up/down state is.  A port that
 * vanishes takes its entries with it (the bridge flushes them too). */
void sw_port(struct sw *s, uint16_t port, bool present, bool up, uint64_t now,
	     struct sw_out *o);
/* A datagram from `from`.  Bad ones are counted and dropped. */
void sw_input(struct sw *s, struct sw_addr from, const uint8_t *buf, size_t len,
	      uint64_t now, struct sw_out *o);
/* After the shell applied o->nl[]: finish the pending FIB_OPS. */
void sw_commit(struct sw *s, struct sw_out *o);
/* Port `port` leads to another switch (uplink tracking).  Call before
 * sw_start; a switch with no uplink marked does no tracking. */
void sw_uplink(struct sw *s, uint16_t port);
/* A server port found administratively down at start-up, before sw_start:
 * a switchd that crashed while cut off left it so (the kernel keeps the
 * state; one that stops cleanly raises its ports, sw_release).  The core
 * takes it as shut by its own tracking and raises it by the same rule: once
 * an uplink has been up for uplink_delay_ns.  Ignored for an uplink, after
 * sw_start, or on a switch with no uplink marked. */
void sw_port_shut_found(struct sw *s, uint16_t port);
/* After the first sightings of the ports (sw_port at start-up): begin
 * tracking.  A switch that starts cut off takes its server ports down. */
void sw_start(struct sw *s, uint64_t now, struct sw_out *o);
/* After the shell applied o->admin[]: a port it failed to take down is not
 * raised again by the core. */
void sw_admin_done(struct sw *s, struct sw_out *o);
/* Shutting down: raise every port the tracking took down (nobody would know
 * to raise them once the daemon is gone).  Up to SW_OUT_ADMIN per call;
 * true when none is left. */
bool sw_release(struct sw *s, struct sw_out *o);
/* Retransmit due link reports, raise server ports whose uplink has been up
 * long enough.  Returns the next deadline (ns; UINT64_MAX: none). */
uint64_t sw_tick(struct sw *s, uint64_t now, struct sw_out *o);
/* Uplink tracking: every uplink down, server ports taken down. */
bool sw_isolated(const struct sw *s);

uint32_t sw_fib_used(const struct sw *s);
/* The table sum FIB_ACK and DUMP_FIB carry (wire/swproto.h). */
uint64_t sw_fib_sum(const struct sw *s);
uint32_t sw_fib_cap(const struct sw *s);
/* The highest RAS term accepted (sw_config.ras_term at start). */
uint64_t sw_ras_term(const struct sw *s);
/* Port: -1 absent, 0 down, 1 up. */
int sw_port_state(const struct sw *s, uint16_t port);
/* The entry for mac: its port, or -1. */
int sw_fib_lookup(const struct sw *s, const uint8_t mac[6]);
const struct sw_stats *sw_stats(const struct sw *s);
uint32_t sw_pending_links(const struct sw *s);
const char *sw_drop_name(int reason);

#endif
