/* The Peregrine data plane: every struct, map key, map and constant shared by
 * the eBPF programs (from_vm.bpf.c, from_net.bpf.c) and user space (the
 * loader, `peregrine dp`, the host agent).  docs/dataplane.md describes the
 * layout; the user-space agent fills the maps.
 *
 * Map definitions are compiled only for eBPF (__bpf__); user space reaches
 * the same maps through the skeletons or the pinned files, and sizes the keys
 * and values from the structs below, whose sizes are asserted. */
#ifndef PEREGRINE_BPF_DP_H
#define PEREGRINE_BPF_DP_H

#include "wire/pgr.h"

enum pgr_dp_limits {
	PGR_DP_GARP_MAX = 65536,	/* cached (VDC, IP) entries per server */
	PGR_DP_VMS_MAX = 4096,		/* local VM IDs (two per VM) */
	PGR_DP_PORTS_MAX = 2048,	/* local VM ports */
	PGR_DP_VIP_SRC_MAX = 4096,	/* (port, VIP) pairs a VM may answer from (docs/slb.md) */
	PGR_DP_TRAFFIC_MAX = 65536,	/* (src VM, dst VM) pairs counted (LRU); the
					 * loader may size it down (a lab's agents) */
	PGR_DP_TRAFFIC_MIN = 1024,	/* ... but not below this */
	PGR_DP_EVENTS_BYTES = 256 * 1024,	/* ring buffer to user space */
	PGR_DP_NICS = 2,		/* NICs per server */
	/* bytes: the longest frame an IPv4 miss copies to user space, a full
	 * frame of a VM's 1500-byte MTU; GSO super-frames are not copied */
	PGR_DP_HOLD_FRAME = 1514,
	/* bytes: a miss copies its frame only while the ring holds less than
	 * this unread, so that a flood of misses still leaves room for the
	 * plain events of other VMs */
	PGR_DP_HOLD_RING_FILL = PGR_DP_EVENTS_BYTES / 2,
	/* group replication (bpf/mcast.h, docs/multicast.md) */
	PGR_DP_MCAST_MAX = 4096,	/* (VDC, group) entries per server */
	PGR_MCAST_SERVERS = 28,		/* member servers a source copies to:
					 * DIRP_MAX_MEMBERS, one MEMBERS reply */
	PGR_MCAST_LOCAL = 16,		/* local member ports per group */
	/* group frames a VM may send: a bucket of this many (a second of a
	 * 10,000/s stream: a sender that stalls and catches up sends that
	 * many back to back) ... */
	PGR_MCAST_BURST = 10000,
	/* ... refilled at this rate per second (twice the stream;
	 * more is counted PGR_STAT_VM_DROP_GROUP_RATE) */
	PGR_MCAST_PER_S = 20000,
};

/* skb->mark of a held frame the agent sends back (AF_PACKET, SO_MARK) out of
 * a VM's port: to_vm turns it back to the port's ingress, where from_vm
 * checks it as it checks every frame.  A VM cannot set it: the mark is
 * scrubbed when a frame crosses from the VM's namespace. */
#define PGR_MARK_RESEND 0x50475248u	/* "PGRH" */

/* VDC 0 is the shared service-node range: a (VDC, IP) miss falls back to
 * (PGR_VDC_SERVICE, IP). */
#define PGR_VDC_SERVICE 0

/* ---- GARP map: (VDC, IPv4) -> where the destination is ------------------- */

struct pgr_garp_key {
	uint32_t vdc;
	uint32_t ip;		/* network order */
};

/* avail bits: which MACs may be used now (the directory's availability). */
#define PGR_AVAIL_VM_PRI 0x01	/* vm_mac[0] */
#define PGR_AVAIL_VM_BAK 0x02	/* vm_mac[1] */
#define PGR_AVAIL_IM_PRI 0x04	/* im_mac[0] */
#define PGR_AVAIL_IM_BAK 0x08	/* im_mac[1] */

/* flags */
#define PGR_GARP_DIRECT 0x01	/* send direct (heavy pair) instead of indirect */
#define PGR_GARP_LOCAL 0x02	/* the destination VM is on this server */

struct pgr_garp_entry {
	uint8_t vm_mac[PGR_TREES][WIRE_MAC_LEN];	/* primary, backup */
	uint8_t im_mac[PGR_TREES][WIRE_MAC_LEN];	/* its server's primary, backup */
	uint32_t egress_ifindex[PGR_TREES];	/* this server's NIC toward each tree */
	uint8_t avail;
	uint8_t flags;
	uint16_t pad;
	uint32_t version;	/* the directory's version (user space only) */
};

/* (VDC, IPv6) -> the same entry as IPv4's (bpf/fwd6.h) */
struct pgr_garp6_key {
	uint32_t vdc;
	uint8_t ip[16];
};

_Static_assert(sizeof(struct pgr_garp_key) == 8, "garp key");
_Static_assert(sizeof(struct pgr_garp6_key) == 20, "garp6 key");
_Static_assert(sizeof(struct pgr_garp_entry) == 40, "garp entry");

/* ---- local VMs: by ID (both of a VM's IDs) and by port ifindex ---------- */

struct pgr_vm {
	uint8_t mac[WIRE_MAC_LEN];	/* the VM's interface MAC (its primary) */
	uint16_t flags;			/* PGR_VM_*: 0 for a tenant's VM */
	uint32_t ifindex;		/* the server-side end of its veth */
	uint32_t vdc;
	uint32_t ip;			/* network order */
	uint32_t id;			/* primary ID: traffic-matrix key */
};

_Static_assert(sizeof(struct pgr_vm) == 24, "vm");

/* pgr_vm.flags.  ROUTER: the port is a VDC's leg of the Internet gateway
 * (docs/edge.md): it forwards the VDC's traffic to and from outside
 * addresses, so its frames may carry any source IP (still its own MAC, and
 * still only to the VDC's own entries). */
enum { PGR_VM_ROUTER = 1 };

/* ---- VIPs a VM may answer from: direct server return (docs/slb.md) ------ *
 *
 * A VM that is a backend of a virtual cluster holds the VC's VIP and answers
 * the clients from it.  Such a frame (source IP the VIP, not the VM's own)
 * is allowed only when (the VM's port, the VIP) has an entry here whose VDC
 * is the VM's; it then goes straight to the Internet edge, a plain frame to
 * the edge's MAC on the first available tree (the VM addresses it so: its
 * route for the VIP's replies).  Every other source is still
 * PGR_STAT_VM_DROP_SRC_IP. */

struct pgr_vip_src_key {
	uint32_t ifindex;		/* the VM's port */
	uint32_t vip;			/* network order */
};

#define PGR_VIP_SRC_PRI 0x01	/* edge_mac[0] usable */
#define PGR_VIP_SRC_BAK 0x02	/* edge_mac[1] usable */

/* im_mac all zero: the frame leaves plain, to edge_mac (a gateway with a
 * port of its own in the fabric).  Otherwise the edge is a VM of the VDC (a
 * gateway leg, docs/edge.md) on the server whose MACs im_mac holds: the
 * frame is encapsulated to it like any indirect frame (DA := im_mac[tree],
 * destination ID := edge_mac[tree]'s), and that server's agent delivers it
 * to the leg. */
struct pgr_vip_src {
	uint8_t edge_mac[PGR_TREES][WIRE_MAC_LEN];	/* the Internet edge (gateway) */
	uint8_t im_mac[PGR_TREES][WIRE_MAC_LEN];	/* the leg's server; zero: plain */
	uint32_t egress_ifindex[PGR_TREES];		/* this server's NIC per tree */
	uint32_t vdc;			/* the VC's VDC: must be the VM's */
	uint8_t avail;			/* PGR_VIP_SRC_* */
	uint8_t pad[3];			/* must be 0 */
};

_Static_assert(sizeof(struct pgr_vip_src_key) == 8, "vip src key");
_Static_assert(sizeof(struct pgr_vip_src) == 40, "vip src");

/* ---- traffic matrix: (source VM, destination VM) primary IDs ------------ */

struct pgr_pair {
	uint32_t src_id;
	uint32_t dst_id;
};

struct pgr_counter {
	uint64_t packets;
	uint64_t bytes;
};

_Static_assert(sizeof(struct pgr_pair) == 8, "pair");
_Static_assert(sizeof(struct pgr_counter) == 16, "counter");

/* ---- group replication: (VDC, group) -> member servers and local ports --- *
 *
 * One entry per (VDC, IPv4 group) this server sends to or has members of
 * (the broadcast 255.255.255.255 included), written by the agent: the
 * member servers other than this one (from the directory's MEMBERS answer)
 * and the ports of the local member VMs.  from_vm sends one encapsulated
 * copy per member server and one plain copy per local member (the sender's
 * own port excepted); from_net delivers a replica to the local ports only.
 * docs/multicast.md, "Replication: at the source". */

struct pgr_mcast_key {
	uint32_t vdc;
	uint32_t group;			/* IPv4, network order */
};

struct pgr_mcast_srv {
	uint8_t im_mac[PGR_TREES][WIRE_MAC_LEN];	/* the server's primary, backup */
	uint8_t vm_mac[WIRE_MAC_LEN];	/* a member VM there: the replica's DST_ID */
	uint8_t avail;			/* PGR_AVAIL_IM_PRI, PGR_AVAIL_IM_BAK */
	uint8_t pad;
	uint32_t egress_ifindex[PGR_TREES];	/* this server's NIC per tree */
};

/* flags */
#define PGR_MCAST_STALE 0x01	/* the member servers' lease ran out: still
				 * used, and a use asks the agent again
				 * (PGR_EV_GROUP_MISS) */
#define PGR_MCAST_NO_SERVERS 0x02	/* never asked yet: local members only */

struct pgr_mcast_entry {
	uint8_t nsrv;			/* at most PGR_MCAST_SERVERS */
	uint8_t nlocal;			/* at most PGR_MCAST_LOCAL */
	uint8_t flags;			/* PGR_MCAST_* */
	uint8_t pad;
	uint32_t local_ifindex[PGR_MCAST_LOCAL];
	struct pgr_mcast_srv srv[PGR_MCAST_SERVERS];
};

/* A VM's group frames: a token bucket (the data plane's clock) */
struct pgr_mcast_rate {
	uint64_t at_ns;
	uint64_t tokens;
};

_Static_assert(sizeof(struct pgr_mcast_key) == 8, "mcast key");
_Static_assert(sizeof(struct pgr_mcast_srv) == 28, "mcast server");
_Static_assert(sizeof(struct pgr_mcast_entry) == 4 + 4 * PGR_MCAST_LOCAL + 28 * PGR_MCAST_SERVERS,
	       "mcast entry");
_Static_assert(sizeof(struct pgr_mcast_rate) == 16, "mcast rate");

/* ---- events to user space (ring buffer) ---------------------------------- */

enum pgr_event_type {
	PGR_EV_ARP_MISS = 1,	/* a VM asked for (vdc, ip) and the GARP map missed */
	PGR_EV_IP_MISS = 2,	/* a VM sent IPv4 to (vdc, ip) with no entry */
	PGR_EV_DHCP = 3,	/* a VM's DHCP message, with its frame (bpf/dhcp.h);
				 * ip: the frame's source address */
	PGR_EV_ND_MISS = 4,	/* a VM's Neighbour Solicitation for a target not
				 * in GARP6, with its frame (bpf/fwd6.h); ip 0 */
	PGR_EV_MCAST = 5,	/* a VM's IGMP or MLD message, with its frame
				 * (bpf/mcast.h); ip 0 */
	PGR_EV_RS = 6,		/* a VM's Router Solicitation, with its frame
				 * (bpf/fwd6.h); ip 0 */
	PGR_EV_GROUP_MISS = 7,	/* a VM sent to (vdc, IPv4 group ip) whose member
				 * servers are unknown or stale (bpf/mcast.h) */
};

struct pgr_event {
	uint32_t type;
	uint32_t vdc;
	uint32_t ip;		/* network order */
	uint32_t vm_id;		/* the asking VM's primary ID */
	uint32_t ifindex;	/* its port */
	uint32_t frame_len;	/* bytes of the missed frame that follow (0: none) */
};

_Static_assert(sizeof(struct pgr_event) == 24, "event");

/* An IPv4 miss with its frame: the record in the ring is the event followed
 * by frame_len bytes (the scratch buffer from_vm builds it in). */
struct pgr_held {
	struct pgr_event ev;
	uint8_t frame[PGR_DP_HOLD_FRAME];
};

_Static_assert(sizeof(struct pgr_held) == 24 + PGR_DP_HOLD_FRAME + 2, "held frame record");

/* ---- read-only configuration (set by the loader before load) ------------ */

#define PGR_CFG_PASS_FOREIGN 0x01	/* NIC: pass frames not for us to the stack */
#define PGR_CFG_PEER 0x02	/* deliver with bpf_redirect_peer (VM ports are veths) */
#define PGR_CFG_NIC_PEER 0x04	/* NICs are veths: transmit with bpf_redirect_peer */

struct pgr_config {
	uint8_t server_mac[PGR_TREES][WIRE_MAC_LEN];
	uint32_t flags;
};

_Static_assert(sizeof(struct pgr_config) == 16, "config");

/* ---- counters: one per verdict -------------------------------------------
 * X(name, description).  Index into the per-CPU array map pgr_stats. */
#define PGR_STATS(X)                                                                 \
	X(VM_ARP_REPLY, "vm: ARP request answered from the GARP map")                \
	X(VM_ARP_MISS, "vm: ARP request missed, event to user space")                \
	X(VM_MISS_HELD, "vm: IPv4 miss, frame copied to user space to send once resolved") \
	X(VM_INDIRECT, "vm: sent indirect (encapsulated)")                           \
	X(VM_DIRECT, "vm: sent direct")                                              \
	X(VM_LOCAL, "vm: delivered to a VM on this server")                          \
	X(VM_DROP_NO_PORT, "vm drop: port is not a known VM")                        \
	X(VM_DROP_SHORT, "vm drop: truncated header")                                \
	X(VM_DROP_SRC_MAC, "vm drop: source MAC is not the VM's own")                \
	X(VM_DROP_SRC_IP, "vm drop: source IP is not the VM's own")                  \
	X(VM_DROP_DST_MAC, "vm drop: destination MAC does not match the GARP entry") \
	X(VM_DROP_NO_GARP, "vm drop: no GARP entry for the destination IP")          \
	X(VM_DROP_RESEND_MISS, "vm drop: a held frame sent back missed again")       \
	X(VM_DROP_NO_ROUTE, "vm drop: no available MAC for the destination")         \
	X(VM_DROP_BAD_ENTRY, "vm drop: GARP entry or VM MAC is not Peregrine's")     \
	X(VM_DROP_LOCAL_MISS, "vm drop: local destination VM not in the VM table")   \
	X(VM_DROP_ARP_BAD, "vm drop: ARP not a well-formed request from the VM")     \
	X(VM_DROP_IP_BAD, "vm drop: malformed IPv4 header")                          \
	X(VM_DROP_GROUP, "vm drop: broadcast/multicast other than ARP")              \
	X(VM_DROP_IPV6, "vm drop: malformed IPv6 header")                            \
	X(VM_DROP_ETHERTYPE, "vm drop: other EtherType")                             \
	X(VM_DHCP, "vm: DHCP message copied to the agent")                           \
	X(VM_DROP_DHCP, "vm drop: DHCP message longer than a frame, or sent back")  \
	X(VM_DROP_DHCP_LOST, "vm drop: DHCP message not copied (ring busy or full)") \
	X(VM_ND_REPLY, "vm: Neighbour Solicitation answered from the GARP6 map")      \
	X(VM_ND_MISS, "vm: Neighbour Solicitation for an address not in GARP6, to the agent")  \
	X(VM_ND_DAD, "vm drop: duplicate address detection probe (left unanswered)")  \
	X(VM_DROP_ND_BAD, "vm drop: Neighbour Solicitation malformed or not the VM's") \
	X(VM_DROP_SRC_IP6, "vm drop: IPv6 source is not the VM's (interface id)")     \
	X(VM_DROP_NO_GARP6, "vm drop: no GARP6 entry for the IPv6 destination")      \
	X(VM_MCAST_REPORT, "vm: IGMP/MLD message copied to the agent")               \
	X(VM_DROP_MCAST, "vm drop: IGMP/MLD message longer than a frame, or sent back") \
	X(VM_DROP_MCAST_LOST, "vm drop: IGMP/MLD message not copied (ring busy or full)") \
	X(VM_GROUP_SENT, "vm: group frame replicated (one count per frame sent)")   \
	X(VM_GROUP_COPY, "vm: group copies to member servers")                    \
	X(VM_GROUP_LOCAL, "vm: group copies to local members")                    \
	X(VM_DROP_GROUP_NONE, "vm drop: group frame, no members known (asked the agent)") \
	X(VM_DROP_GROUP_RATE, "vm drop: group frame over the VM's rate (PGR_MCAST_PER_S)") \
	X(VM_DROP_GROUP_MAC, "vm drop: group frame whose MAC is not its group address's") \
	X(VM_DROP_GROUP_COPY, "vm drop: a group copy the kernel refused")          \
	X(NET_GROUP_LOCAL, "net: replica copies to local members")                  \
	X(NET_DROP_GROUP_NONE, "net drop: replica of a group with no local member")  \
	X(NET_DECAP, "net: indirect frame decapsulated and delivered")               \
	X(NET_DIRECT, "net: direct frame delivered")                                 \
	X(NET_PASS, "net: foreign frame passed to the stack")                        \
	X(NET_DROP_SHORT, "net drop: truncated header")                              \
	X(NET_DROP_GROUP, "net drop: broadcast/multicast destination")               \
	X(NET_DROP_BAD_ENCAP, "net drop: to a server MAC but not encapsulated")      \
	X(NET_DROP_NO_VM, "net drop: destination ID is not a VM here")               \
	X(NET_DROP_BAD_SRC, "net drop: direct frame with a non-Peregrine source")    \
	X(NET_DROP_FOREIGN, "net drop: not addressed to this server or its VMs")     \
	X(PORT_RESEND, "port: a held frame the agent sent back, to from_vm again")  \
	X(PORT_OUT, "port: a frame to the VM")                                      \
	X(EVENT_LOST, "events lost: ring buffer full")                               \
	X(VM_VIP_OUT, "vm: sent from a VIP of its VCs to the Internet edge (DSR)")    \
	X(VM_DROP_VIP_DST, "vm drop: from a VIP, but not to the Internet edge's MAC") \
	X(VM_RS, "vm: Router Solicitation copied to the agent")                    \
	X(VM_DROP_RS, "vm drop: Router Solicitation malformed, too long, sent back or not copied")

enum pgr_stat {
#define PGR_STAT_ENUM(name, desc) PGR_STAT_##name,
	PGR_STATS(PGR_STAT_ENUM)
#undef PGR_STAT_ENUM
	PGR_STAT_COUNT
};

/* ---- the maps (eBPF side) -----------------------------------------------
 * Hash maps written only by user space are not preallocated: a lab runs
 * hundreds of agents, and a preallocated 65,536-entry GARP map costs each
 * about 7 MB of kernel memory before it holds anything (docs/lab.md).  The
 * traffic matrix is an LRU map, which the kernel always preallocates; its
 * size is set at load time (pgr_dp_opts.traffic_max). */
#ifdef __bpf__
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PGR_DP_GARP_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory as entries come */
	__type(key, struct pgr_garp_key);
	__type(value, struct pgr_garp_entry);
} pgr_garp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PGR_DP_GARP_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory as entries come */
	__type(key, struct pgr_garp6_key);
	__type(value, struct pgr_garp_entry);
} pgr_garp6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PGR_DP_VMS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory as entries come */
	__type(key, uint32_t);			/* ID */
	__type(value, struct pgr_vm);
} pgr_vms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PGR_DP_PORTS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory as entries come */
	__type(key, uint32_t);			/* ifindex */
	__type(value, struct pgr_vm);
} pgr_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PGR_DP_VIP_SRC_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory as entries come */
	__type(key, struct pgr_vip_src_key);
	__type(value, struct pgr_vip_src);
} pgr_vip_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, PGR_DP_TRAFFIC_MAX);
	__type(key, struct pgr_pair);
	__type(value, struct pgr_counter);
} pgr_traffic SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PGR_STAT_COUNT);
	__type(key, uint32_t);
	__type(value, struct pgr_counter);
} pgr_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PGR_DP_MCAST_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory as entries come */
	__type(key, struct pgr_mcast_key);
	__type(value, struct pgr_mcast_entry);
} pgr_mcast SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PGR_DP_PORTS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory as entries come */
	__type(key, uint32_t);			/* the VM's port */
	__type(value, struct pgr_mcast_rate);
} pgr_mcast_rate SEC(".maps");

/* from_vm's scratch space for a held frame's ring record (one per CPU) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, uint32_t);
	__type(value, struct pgr_held);
} pgr_hold_buf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PGR_DP_EVENTS_BYTES);
} pgr_events SEC(".maps");

#endif /* __bpf__ */

#endif
