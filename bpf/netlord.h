/* The NetLord scheme's data plane (docs/netlord.md): structs, map keys,
 * maps and constants shared by bpf/netlord_switch.bpf.c (the commodity
 * switch), bpf/netlord_encap.bpf.c and bpf/netlord_decap.bpf.c (the NetLord
 * agent, NLA) and user space.  Map definitions are compiled only for eBPF
 * (__bpf__).
 *
 * A tenant frame leaves its server as (NetLord, SIGCOMM 2011, seeds/001):
 *
 *   outer Ethernet   dst = the destination edge switch's MAC
 *                    src = the source edge switch's MAC
 *   802.1Q tag       the SPAIN VLAN the NLA chose for the flow
 *   outer IPv4       dst = P.T: first octet the destination server's port
 *                          on its edge switch (7 bits, top bit 0), the other
 *                          three the tenant id (24 bits)
 *                    src = the sender's P.T likewise
 *                    protocol NL_IPPROTO (143, Ethernet): the payload is
 *   the tenant's frame, its Ethernet header unchanged.
 *
 * Switches forward on (VLAN, destination MAC) and learn per VLAN, so a
 * non-edge switch only ever sees edge switches' MACs.  The destination edge
 * switch finds its own MAC, removes the tag and Ethernet header, and
 * delivers on the outer IPv4 destination: out of port P, to the server's
 * MAC.  The NLA there delivers the inner frame by (tenant, VM MAC). */
#ifndef PEREGRINE_BPF_NETLORD_H
#define PEREGRINE_BPF_NETLORD_H

#include "wire/eth.h"
#include "wire/ipv4.h"

enum nl_limits {
	NL_FIB_MAX = 65536,		/* learned (VLAN, MAC) entries, a hard bound
					 * above any configured capacity */
	NL_VLAN_IDS = 4096,		/* 802.1Q: ids 1..4094 are usable */
	NL_VLAN_PORTS_MAX = 32,		/* member ports of one VLAN on one switch */
	NL_EDGE_PORTS = 128,		/* 7-bit port numbers, 1..127 */
	NL_DIR_MAX = 65536,		/* cached NL-ARP entries on a server */
	NL_PORTS_MAX = 2048,		/* local VM ports */
	NL_EDGES_MAX = 4096,		/* edge switches with a VLAN choice */
	NL_K_MAX = 8,			/* VLANs to choose from per edge pair */
	NL_EVENTS_BYTES = 64 * 1024,	/* ring buffer of misses to the NLA */
	NL_TAG_BYTES = 4,		/* 802.1Q */
	NL_HDR_BYTES = WIRE_ETH_HLEN + NL_TAG_BYTES + WIRE_IPV4_HLEN,	/* 38 on the wire */
	NL_UNDERLAY_MTU = 1500,
	/* the outer IPv4 packet carries the tenant's Ethernet header; the
	 * tag rides in 802.1Q's allowance (1518-byte frames) */
	NL_TENANT_MTU = NL_UNDERLAY_MTU - WIRE_IPV4_HLEN - WIRE_ETH_HLEN,	/* 1466 */
	NL_TTL = 64,
	NL_TENANT_MAX = (1 << 24) - 1,
};

#define NL_IPPROTO 143		/* IANA "Ethernet": an Ethernet frame follows */

/* P.T in network order from a port (1..127) and a tenant (1..2^24-1). */
#define NL_ADDR(port, tenant) \
	WIRE_HTONL(((uint32_t)((port) & 0x7f) << 24) | ((uint32_t)(tenant) & 0xffffff))
/* The port and tenant of a P.T address in network order. */
#define NL_ADDR_PORT(a) ((uint32_t)(WIRE_NTOHL(a) >> 24))
#define NL_ADDR_TENANT(a) ((uint32_t)(WIRE_NTOHL(a) & 0xffffff))

/* ---- the switch (netlord_switch) ------------------------------------------ */

/* Read-only configuration, set before load. */
struct nl_sw_config {
	uint8_t mac[6];		/* the switch's own MAC (an edge switch's is the
				 * outer destination of what it delivers) */
	uint16_t edge;		/* 1: deliver frames for its MAC on the outer IP */
	uint32_t fib_capacity;	/* learned entries it may hold */
	uint32_t pad;
};
_Static_assert(sizeof(struct nl_sw_config) == 16, "netlord switch config");

/* nl_fib: (VLAN, MAC) -> port, learned from source addresses. */
struct nl_fib_key {
	uint16_t vid;
	uint8_t mac[6];
};
struct nl_fib_entry {
	uint32_t ifindex;
	uint32_t pad;
};
_Static_assert(sizeof(struct nl_fib_key) == 8, "netlord fib key");

/* nl_vlan_ports[vid]: the VLAN's member ports on this switch (ingress
 * filtering and flooding). */
struct nl_vlan_ports {
	uint32_t n;
	uint32_t ifindex[NL_VLAN_PORTS_MAX];
};

/* nl_downlinks[P]: an edge switch's port P (the servers' "gateway, port"
 * table of the paper: one L3 entry per downlink). */
struct nl_downlink {
	uint32_t ifindex;	/* 0: no server on P */
	uint8_t mac[6];		/* the server's NIC */
	uint16_t pad;
};
_Static_assert(sizeof(struct nl_downlink) == 12, "netlord downlink");

/* ---- the NLA (netlord_encap, netlord_decap) --------------------------------- */

struct nl_config {
	uint8_t edge_mac[6];	/* encap: this server's edge switch */
	uint8_t port;		/* this server's port on it */
	uint8_t pad;
	uint32_t nic_ifindex;	/* encap: where encapsulated frames leave */
	uint8_t nic_mac[6];	/* decap: what the edge switch delivers to */
	uint16_t pad2;
};
_Static_assert(sizeof(struct nl_config) == 20, "netlord config");

/* A local VM's port (key: the server-side ifindex). */
struct nl_port {
	uint32_t tenant;
	uint32_t ip;		/* network order: its only source address */
	uint8_t mac[6];		/* its only source MAC */
	uint16_t pad;
};
_Static_assert(sizeof(struct nl_port) == 16, "netlord port");

/* nl_dir: NL-ARP's table, (tenant, IP) -> the VM's MAC and where it is
 * (<VM-MAC, tenant> -> <SWITCH-MAC, PORT>). */
struct nl_dir_key {
	uint32_t tenant;
	uint32_t ip;		/* network order */
};
struct nl_dir_entry {
	uint8_t mac[6];		/* the VM's */
	uint8_t edge_mac[6];	/* its edge switch */
	uint8_t port;		/* its server's port there */
	uint8_t pad[3];
	uint32_t version;	/* the directory's (user space only) */
};
_Static_assert(sizeof(struct nl_dir_key) == 8, "netlord dir key");
_Static_assert(sizeof(struct nl_dir_entry) == 20, "netlord dir entry");

/* nl_paths: destination edge MAC -> the VLANs to spread its flows over. */
struct nl_edge_key {
	uint8_t mac[6];
	uint16_t pad;
};
struct nl_vlan_choice {
	uint32_t n;		/* 1..NL_K_MAX */
	uint16_t vid[NL_K_MAX];
};
_Static_assert(sizeof(struct nl_edge_key) == 8, "netlord edge key");
_Static_assert(sizeof(struct nl_vlan_choice) == 20, "netlord vlan choice");

/* nl_vms: (tenant, VM MAC) -> the VM's port, for delivery. */
struct nl_vm_key {
	uint32_t tenant;
	uint8_t mac[6];
	uint16_t pad;
};
_Static_assert(sizeof(struct nl_vm_key) == 12, "netlord vm key");

/* To the NLA (ring buffer nl_events): a VM asked for or sent to an address
 * of its tenant that the cache lacks. */
struct nl_event {
	uint32_t tenant;
	uint32_t ip;		/* network order */
	uint32_t ifindex;	/* the VM's port */
	uint32_t arp;		/* 1: its ARP request missed (the NLA answers it
				 * once the directory has) */
};
_Static_assert(sizeof(struct nl_event) == 16, "netlord event");

struct nl_counter {
	uint64_t packets;
	uint64_t bytes;
};

/* Every verdict of the three programs, X(name, description); index into the
 * per-CPU array nl_stats.  SW_LEARNED and SW_FIB_FULL count what learning
 * did to a frame that also has a verdict. */
#define NL_STATS(X)                                                                      \
	X(SW_FORWARD, "switch: (VLAN, destination) learned: out of its port")             \
	X(SW_FLOOD, "switch: destination unknown or a group: to the VLAN's other ports")  \
	X(SW_DELIVER, "switch: to its own MAC: delivered on the outer IP to port P")      \
	X(SW_DROP_SHORT, "switch: truncated frame")                                       \
	X(SW_DROP_UNTAGGED, "switch: no 802.1Q tag")                                      \
	X(SW_DROP_NOT_MEMBER, "switch: the ingress port is not in the frame's VLAN")      \
	X(SW_DROP_BAD_SRC, "switch: a group source address")                              \
	X(SW_DROP_SAME_PORT, "switch: the destination was learned on the ingress port")   \
	X(SW_DROP_NOT_IP, "switch: to its own MAC but not IPv4")                          \
	X(SW_DROP_BAD_IP, "switch: to its own MAC, malformed IPv4 header")                \
	X(SW_DROP_NO_PORT, "switch: to its own MAC, no server on the port P")             \
	X(SW_DROP_TTL, "switch: to its own MAC, TTL exhausted")                           \
	X(SW_DROP_ROOM, "switch: the tag could not be removed")                           \
	X(SW_LEARNED, "switch: a source learned or moved (not a verdict)")                \
	X(SW_FIB_FULL, "switch: a source not learned, the FIB is full (not a verdict)")   \
	X(ENC_ARP_REPLY, "encap: a VM's ARP request answered by NL-ARP")                  \
	X(ENC_ARP_MISS, "encap: ARP request for an address not cached: dropped")         \
	X(ENC_SENT, "encap: encapsulated to the destination's edge switch")               \
	X(ENC_MISS, "encap: destination not cached: dropped")                             \
	X(ENC_DROP_SHORT, "encap: truncated frame")                                       \
	X(ENC_DROP_NOT_IP, "encap: neither IPv4 nor ARP")                                 \
	X(ENC_DROP_BAD_IP, "encap: malformed IPv4 header")                                \
	X(ENC_DROP_NO_PORT, "encap: not from a known VM port")                            \
	X(ENC_DROP_SPOOF, "encap: source MAC or IP not the VM's own")                     \
	X(ENC_DROP_WRONG_MAC, "encap: destination MAC not NL-ARP's for the IP")           \
	X(ENC_DROP_NO_VLAN, "encap: no VLAN to the destination's edge switch")            \
	X(ENC_DROP_TOO_BIG, "encap: longer than the tenant MTU")                          \
	X(ENC_DROP_ROOM, "encap: no room for the headers")                                \
	X(DEC_DELIVER, "decap: outer headers removed, to the VM by (tenant, MAC)")        \
	X(DEC_PASS, "decap: not NetLord for this server: passed as is")                   \
	X(DEC_DROP_SHORT, "decap: truncated frame")                                       \
	X(DEC_DROP_BAD_IP, "decap: malformed outer IPv4 header")                          \
	X(DEC_DROP_NO_VM, "decap: no VM of the tenant with the inner destination MAC")    \
	X(DEC_DROP_ROOM, "decap: the headers could not be removed")

enum nl_stat {
#define NL_STAT_ENUM(name, desc) NL_STAT_##name,
	NL_STATS(NL_STAT_ENUM)
#undef NL_STAT_ENUM
	NL_STAT_COUNT
};

#ifdef __bpf__
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NL_STAT_COUNT);
	__type(key, uint32_t);
	__type(value, struct nl_counter);
} nl_stats SEC(".maps");

static __always_inline void nl_count(struct __sk_buff *skb, enum nl_stat s)
{
	uint32_t key = s;
	struct nl_counter *c = bpf_map_lookup_elem(&nl_stats, &key);

	if (c) {
		c->packets++;
		c->bytes += skb->len;
	}
}

static __always_inline int nl_verdict(struct __sk_buff *skb, enum nl_stat s, int act)
{
	nl_count(skb, s);
	return act;
}

#define NL_DROP(reason) return nl_verdict(skb, NL_STAT_##reason, TC_ACT_SHOT)

/* An IPv4 header at ip: version 4 without options (NetLord sends none),
 * total length within the packet. */
static __always_inline bool nl_ipv4_ok(struct __sk_buff *skb, const struct wire_ipv4 *ip,
				       uint32_t offset)
{
	uint32_t tot = WIRE_NTOHS(ip->tot_len);

	return ip->ver_ihl == 0x45 && tot >= WIRE_IPV4_HLEN && offset + tot <= skb->len;
}

static __always_inline void nl_mac_from_cfg(uint8_t *dst, const volatile uint8_t *src)
{
	/* byte by byte through the volatile: a memcpy from the read-only
	 * section would be folded to its zero initialiser */
#pragma unroll
	for (int i = 0; i < 6; i++)
		dst[i] = src[i];
}
#endif

#endif
