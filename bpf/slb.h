/* The server load balancer's data plane: every struct, map key, map and
 * constant shared by the eBPF program (slb.bpf.c) and user space (the loader,
 * `peregrine slb`, the Maglev builder in slb/).  docs/slb.md describes it.
 *
 * The flow hash lives here too, as a static inline function compiled into the
 * program and into user space, so that a table built by slb/maglev.c and a
 * lookup by the program agree by construction, and every SLB server of a
 * cluster picks the same backend for the same flow. */
#ifndef PEREGRINE_BPF_SLB_H
#define PEREGRINE_BPF_SLB_H

#include "wire/pgr.h"

enum pgr_slb_limits {
	/* Maglev table slots per VIP: a prime (Maglev's M), at least 65,537
	 * so that 1,000 backends each hold about 65 slots (imbalance <= 1.01) */
	PGR_SLB_RING = 65537,
	PGR_SLB_VIPS_MAX = 32,		/* (VIP, port, protocol) services: 32 tables
					 * of 65,537 slots is 8.4 MB of kernel memory */
	PGR_SLB_BACKENDS_MAX = 4096,	/* backend VMs over all VIPs */
	/* established flows (LRU; the kernel preallocates it: about 100 bytes
	 * an entry); the loader may size it */
	PGR_SLB_CONNS_MAX = 65536,
	PGR_SLB_CONNS_MIN = 1024,
	/* flows seen once (SYN, first datagram): a table of their own, so a
	 * flood of new flows evicts only other new flows (docs/slb.md) */
	PGR_SLB_NEW_MAX = 65536,
};

/* A Maglev slot that holds no backend (a VIP without backends). */
#define PGR_SLB_NONE 0xffffffffu

/* ---- services: (VIP, port, protocol) -> its table ----------------------- */

struct pgr_slb_vip_key {
	uint32_t ip;		/* network order */
	uint16_t port;		/* network order; 0 with proto 0: "this IP is a VIP" */
	uint8_t proto;		/* WIRE_IPPROTO_TCP or _UDP */
	uint8_t pad;
};

#define PGR_SLB_VIP_STICKY 0x01	/* hash the client address only */

struct pgr_slb_vip {
	uint32_t table;		/* which Maglev table: 0 .. PGR_SLB_VIPS_MAX-1 */
	uint32_t vdc;		/* every backend must be of this VDC */
	uint32_t flags;		/* PGR_SLB_VIP_* */
	uint32_t pad;
};

_Static_assert(sizeof(struct pgr_slb_vip_key) == 8, "vip key");
_Static_assert(sizeof(struct pgr_slb_vip) == 16, "vip");

/* ---- backends: index (what the Maglev slots hold) -> where it is -------- */

#define PGR_SLB_BE_DOWN 0x01	/* failed: its established flows are re-picked */

/* avail: which of the backend server's MACs may be used now */
#define PGR_SLB_AVAIL_PRI 0x01	/* im_mac[0], tree 1 */
#define PGR_SLB_AVAIL_BAK 0x02	/* im_mac[1], tree 2 */

struct pgr_slb_backend {
	uint8_t vm_mac[PGR_TREES][WIRE_MAC_LEN];	/* the VM's primary, backup MAC */
	uint8_t im_mac[PGR_TREES][WIRE_MAC_LEN];	/* its server's primary, backup */
	uint32_t egress_ifindex[PGR_TREES];	/* this SLB server's NIC per tree */
	uint32_t vdc;
	uint8_t avail;		/* PGR_SLB_AVAIL_* */
	uint8_t flags;		/* PGR_SLB_BE_* */
	uint16_t pad;
};

_Static_assert(sizeof(struct pgr_slb_backend) == 40, "backend");

/* ---- connections: the 5-tuple -> the backend it went to ----------------- */

struct pgr_slb_flow {
	uint32_t saddr, daddr;	/* network order */
	uint16_t sport, dport;	/* network order */
	uint8_t proto;
	uint8_t pad[3];
};

struct pgr_slb_conn {
	uint32_t backend;
	uint32_t pad;
};

struct pgr_slb_counter {
	uint64_t packets;
	uint64_t bytes;
};

_Static_assert(sizeof(struct pgr_slb_flow) == 16, "flow");
_Static_assert(sizeof(struct pgr_slb_counter) == 16, "counter");
_Static_assert(sizeof(struct pgr_slb_conn) == 8, "conn");

/* ---- read-only configuration -------------------------------------------- */

struct pgr_slb_config {
	uint8_t server_mac[PGR_TREES][WIRE_MAC_LEN];	/* this SLB server's MACs */
	uint32_t flags;		/* none yet: must be 0 */
};

_Static_assert(sizeof(struct pgr_slb_config) == 16, "slb config");

/* ---- counters: one per verdict ------------------------------------------ */
#define PGR_SLB_STATS(X)                                                             \
	X(FWD_ESTABLISHED, "forwarded: flow in the connection table")                \
	X(FWD_NEW, "forwarded: new flow, backend from the Maglev table")             \
	X(FWD_PROMOTED, "forwarded: a flow's second packet, now established")        \
	X(PASS, "passed to the stack: not IPv4 to a VIP")                            \
	X(DROP_SHORT, "drop: truncated header")                                      \
	X(DROP_GROUP, "drop: group destination or invalid source MAC")              \
	X(DROP_IP_BAD, "drop: malformed IPv4 header (version, length)")             \
	X(DROP_IP_OPTIONS, "drop: IPv4 options")                                    \
	X(DROP_FRAG, "drop: IPv4 fragment")                                          \
	X(DROP_SPOOF, "drop: martian source address, or the VIP itself")            \
	X(DROP_PROTO, "drop: to a VIP, neither TCP nor UDP")                         \
	X(DROP_NO_SERVICE, "drop: to a VIP, port not served")                        \
	X(DROP_L4_BAD, "drop: malformed TCP or UDP header, impossible TCP flags")   \
	X(DROP_NO_BACKEND, "drop: the VIP has no backend")                           \
	X(DROP_BAD_BACKEND, "drop: table slot names no backend, or one of another VDC") \
	X(DROP_NO_ROUTE, "drop: the backend's server is unreachable on both trees")

enum pgr_slb_stat {
#define PGR_SLB_STAT_ENUM(name, desc) PGR_SLB_STAT_##name,
	PGR_SLB_STATS(PGR_SLB_STAT_ENUM)
#undef PGR_SLB_STAT_ENUM
	PGR_SLB_STAT_COUNT
};

/* ---- the flow hash -------------------------------------------------------
 * murmur3's 32-bit finaliser over the tuple; deterministic (no per-server
 * seed), since every SLB server must pick the same slot. */
WIRE_INLINE uint32_t pgr_slb_mix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* The slot of a flow (all fields in network order); sticky VIPs hash the
 * client address alone. */
WIRE_INLINE uint32_t pgr_slb_slot(const struct pgr_slb_flow *f, bool sticky)
{
	uint32_t h = pgr_slb_mix(f->saddr ^ 0x5bd1e995u);

	if (!sticky) {
		h = pgr_slb_mix(h ^ f->daddr);
		h = pgr_slb_mix(h ^ ((uint32_t)f->sport << 16 | f->dport));
		h = pgr_slb_mix(h ^ f->proto);
	}
	return h % PGR_SLB_RING;
}

/* ---- the maps (eBPF side) ----------------------------------------------- */
#ifdef __bpf__
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PGR_SLB_VIPS_MAX * 4);	/* ports of the VIPs, and markers */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pgr_slb_vip_key);
	__type(value, struct pgr_slb_vip);
} slb_vips SEC(".maps");

/* Table t's slot s is element t * PGR_SLB_RING + s (Katran's layout). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PGR_SLB_VIPS_MAX * PGR_SLB_RING);
	__type(key, uint32_t);
	__type(value, uint32_t);
} slb_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PGR_SLB_BACKENDS_MAX);
	__type(key, uint32_t);
	__type(value, struct pgr_slb_backend);
} slb_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PGR_SLB_CONNS_MAX);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);	/* per-CPU LRU lists, no lock */
	__type(key, struct pgr_slb_flow);
	__type(value, struct pgr_slb_conn);
} slb_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PGR_SLB_NEW_MAX);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct pgr_slb_flow);
	__type(value, struct pgr_slb_conn);
} slb_new SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PGR_SLB_STAT_COUNT);
	__type(key, uint32_t);
	__type(value, struct pgr_slb_counter);
} slb_stats SEC(".maps");

/* per backend: what this SLB server sent it (the control plane's load) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PGR_SLB_BACKENDS_MAX);
	__type(key, uint32_t);
	__type(value, struct pgr_slb_counter);
} slb_backend_stats SEC(".maps");

#endif /* __bpf__ */

#endif
