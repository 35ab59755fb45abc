/* The RAS core's internals, shared by ras/ras.c (the switches: tree
 * entries, dumps, failures) and ras/direct.c (traffic, direct routes, the
 * agents).  Not for use outside ras/. */
#ifndef PEREGRINE_RAS_RAS_INT_H
#define PEREGRINE_RAS_RAS_INT_H

#include "lib/hash.h"
#include "lib/core.h"
#include "ras/ras.h"
#include "route/failover.h"
#include "wire/rasproto.h"

enum ras_sw_state {
	RS_NONE = 0,	/* not a switch, or no address: never programmed */
	RS_DUMPING,	/* reading its table */
	RS_READY,	/* its table is known: reconcile dirty entries */
	RS_LOST,	/* stopped answering: dumped again later */
	RS_DEAD,	/* failed (route_node_down) */
};

enum { RAS_CARRY_DEPTH = 8 };	/* hops from a source that carries() follows */

enum { RS_IDLE = 0, RS_FIB_OPS, RS_DUMP, RS_AUDIT, RS_PORTS, RS_PORT_AUDIT };
#define RAS_FOREIGN UINT32_MAX	/* op on an entry that is no server's */

struct ras_sw {
	uint8_t state;
	uint8_t busy;			/* RS_IDLE, RS_FIB_OPS, RS_DUMP */
	uint16_t *have;			/* per (server, tree): its port or NO_PORT */
	uint32_t nhave;			/* entries in have[] */
	/* the table sum (wire/swproto.h) of what we believe it holds: have[],
	 * dhave and foreign[] */
	uint64_t sum;
	bool ports_known;		/* start-up: its port states are read */
	/* a request of ours was sent to it (empty if nothing differed): it
	 * carries our term, so the switch fences an older leader from then
	 * on and sends link reports here (docs/ha.md) */
	bool claimed;
	uint64_t audit_at;
	uint8_t *is_dirty;
	uint32_t *dirty, ndirty;
	uint64_t *port_seq;		/* per port: the newest link report's seq */
	uint64_t *port_at;		/* per port: when that report came in */
	bool audit_ports;		/* the next audit reads the port states */
	uint64_t audit_sent;		/* when the port audit in flight was sent */
	uint32_t audit_port_off;	/* the port audit's next page */
	uint64_t *foreign;		/* entries of no server nor VM: to delete
					 * (port << 48 | MAC) */
	/* direct entries (VM MACs, ras/direct.c): what it has, what may differ */
	struct hmap dhave;		/* VM id -> port + 1 */
	struct hmap dmark;		/* VM id in ddirty */
	uint32_t *ddirty, nddirty, capddirty;
	uint32_t nforeign;
	uint32_t dump_offset;
	uint64_t seq, due, resync_at;
	uint32_t tries;
	uint16_t nops;
	uint32_t op_idx[SWP_MAX_OPS];	/* (server, tree), RAS_FOREIGN or RAS_DOP | VM id */
	struct swp_op ops[SWP_MAX_OPS];
	size_t len;
	uint8_t buf[SWP_MAX_DGRAM];
};

struct ras {
	struct ras_cfg c;
	const struct topo *t;
	struct route_trees *rt;
	struct route_trees *base;	/* with no failure: the agents' NIC choices */
	struct hmap carry;		/* (group, switch, tree) -> carries (ras.c) */
	struct route_delta delta;
	uint32_t nidx;			/* 2 per server */
	struct ras_sw **sw;		/* per node id; NULL for servers */
	uint8_t *held;			/* per (server, tree): marked unavailable */
	/* A recovery's tree-1 changes of servers whose tree 0 changes too,
	 * applied once tree 0 is programmed (see apply_delta). */
	struct route_fib_op *deferred;
	size_t ndeferred, capdeferred;
	uint8_t *owner_t0;		/* per server, scratch: tree 0 changes now */
	uint32_t ports_pending;		/* start-up: switches whose ports are unknown */
	uint64_t seq;
	struct ras_stats st;
	struct log_rl rl;
	struct ras_direct *d;		/* ras/direct.c */
	struct ras_avq *av;		/* ras/avail.c */
};

#define RAS_DOP 0x80000000u		/* op_idx of a direct entry: | VM id */

/* ras/ras.c for ras/direct.c */
struct ras_dgram *ras_out_dgram(struct ras_out *o, struct ras_addr to);
void ras_drop(struct ras *r, int reason, uint64_t now);
/* A direct entry of switch node may differ from what it should be. */
void ras_dmark(struct ras *r, uint32_t node, uint32_t vm_id);
/* Reconcile every switch (after direct entries were marked). */
void ras_reconcile_all(struct ras *r, uint64_t now, struct ras_out *o);
/* A switch that can be programmed: has an address and is not dead. */
bool ras_sw_usable(const struct ras *r, uint32_t node);

/* ras/direct.c for ras/ras.c */
struct ras_direct *rd_new(struct ras *r, uint64_t now);
void rd_free(struct ras_direct *d);
/* The port switch node should have for VM id, or ROUTE_NO_PORT. */
uint16_t rd_want(const struct ras *r, uint32_t node, uint32_t vm_id);
/* A dump page of switch node holds VM id's entry. */
void rd_dumped(struct ras *r, uint32_t node, uint32_t vm_id, uint16_t port);
/* The dump of switch node is complete: mark what it should have. */
void rd_dump_done(struct ras *r, uint32_t node);
/* A RAS-protocol datagram (agents, tools). */
void rd_input(struct ras *r, struct ras_addr from, const uint8_t *buf, size_t len,
	      uint64_t now, struct ras_out *o);
/* The routes changed (failure or recovery): withdraw broken direct routes. */
void rd_routes_changed(struct ras *r, uint64_t now, struct ras_out *o);
/* Move things along after any event; returns the next deadline. */
uint64_t rd_step(struct ras *r, uint64_t now, struct ras_out *o);

/* ras/avail.c for ras/ras.c: delivery of availability changes */
struct ras_avq *ra_new(struct ras *r);
void ra_free(struct ras_avq *av);
/* MAC (server, tree) idx should now be marked avail in the directory. */
void ra_want(struct ras *r, uint32_t idx, bool avail);
/* A datagram from the directory?  Then it is handled: true. */
bool ra_input(struct ras *r, struct ras_addr from, const uint8_t *buf, size_t len,
	      uint64_t now, struct ras_out *o);
/* Send what is queued (after an input). */
void ra_flush(struct ras *r, uint64_t now, struct ras_out *o);
/* Retransmit, send what is queued, probe; returns the next deadline. */
uint64_t ra_step(struct ras *r, uint64_t now, struct ras_out *o);

#endif
