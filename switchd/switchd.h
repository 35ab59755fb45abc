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
 */
#ifndef PEREGRINE_SWITCHD_SWITCHD_H
#define PEREGRINE_SWITCHD_SWITCHD_H

#include "lib/auth.h"
#include "lib/common.h"
#include "wire/swproto.h"

enum sw_limits {
	SW_MAX_PORTS = SWP_MAX_PORT + 1,
	SW_MAX_PEERS = 64,		/* controllers tracked for replay checks */
	SW_ACK_CACHE = 1024,		/* bytes: largest ACK (844) fits */
	SW_MAX_PENDING_LINK = 256,	/* unacknowledged link reports */
	SW_LINK_RETRIES = 50,		/* transmissions of one report */
	SW_OUT_DGRAMS = 64,		/* datagrams one call may queue */
};

/* Link reports are retransmitted every SW_LINK_RETRY_NS until acknowledged. */
#define SW_LINK_RETRY_NS (20ull * 1000 * 1000)

/* An IPv4 address and port, host byte order: the core names peers by these
 * numbers and never sees a socket. */
struct sw_addr {
	uint32_t ip;
	uint16_t port;
};

struct sw_config {
	uint32_t id;		/* this switch's node id: the sender of its messages */
	uint32_t fib_cap;	/* entries the FIB may hold */
	bool has_ras;		/* report link changes to `ras` */
	struct sw_addr ras;
	uint64_t seq_base;	/* first link-report seq (the shell: wall clock ns) */
	struct auth_key key;
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

/* What one call asks the shell to do. */
struct sw_out {
	uint16_t nnl;
	struct sw_nl_op nl[SWP_MAX_OPS];
	bool pending;		/* a FIB_OPS waits for sw_commit() */
	int ndg;
	struct sw_dgram dg[SW_OUT_DGRAMS];
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
/* Retransmit due link reports. */
void sw_tick(struct sw *s, uint64_t now, struct sw_out *o);

uint32_t sw_fib_used(const struct sw *s);
uint32_t sw_fib_cap(const struct sw *s);
/* Port: -1 absent, 0 down, 1 up. */
int sw_port_state(const struct sw *s, uint16_t port);
/* The entry for mac: its port, or -1. */
int sw_fib_lookup(const struct sw *s, const uint8_t mac[6]);
const struct sw_stats *sw_stats(const struct sw *s);
uint32_t sw_pending_links(const struct sw *s);
const char *sw_drop_name(int reason);

#endif
