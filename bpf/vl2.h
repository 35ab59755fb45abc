/* The VL2 scheme's data plane (docs/vl2.md): structs, map keys, maps and
 * constants shared by bpf/vl2_encap.bpf.c, bpf/vl2_decap.bpf.c and user
 * space.  Map definitions are compiled only for eBPF (__bpf__).
 *
 * A tenant packet leaves its server inside two IPv4 headers (protocol 4,
 * IP-in-IP): the outer one to the intermediates' anycast address, the
 * middle one to the LA of the destination's ToR, both from the server's
 * LA.  An intermediate strips the outer header, the ToR the middle one. */
#ifndef PEREGRINE_BPF_VL2_H
#define PEREGRINE_BPF_VL2_H

#include "wire/ipv4.h"

enum vl2_limits {
	VL2_AA_MAX = 65536,		/* cached (tenant, AA) -> ToR LA entries */
	VL2_EVENTS_BYTES = 64 * 1024,	/* ring buffer of misses to the agent */
	VL2_PORTS_MAX = 2048,		/* local VM ports */
	VL2_HDR_BYTES = 2 * WIRE_IPV4_HLEN,	/* what a tenant packet gains */
	VL2_UNDERLAY_MTU = 1500,
	VL2_TENANT_MTU = VL2_UNDERLAY_MTU - VL2_HDR_BYTES,	/* 1460 */
	VL2_TTL = 64,
};

#define VL2_IPPROTO_IPIP 4

/* Read-only configuration, set before load. */
struct vl2_config {
	uint32_t self_la;	/* network order: this server's LA (outer source) */
	uint32_t anycast;	/* network order: the intermediates' address; in
				 * vl2_decap, 0 unless this switch is one */
	uint32_t nic_ifindex;	/* vl2_encap: where encapsulated packets leave */
	uint32_t flags;		/* none yet */
	uint8_t gw_mac[6];	/* vl2_encap: the MAC ARP answers give VMs */
	uint16_t pad;
};
_Static_assert(sizeof(struct vl2_config) == 24, "vl2 config");

/* A local VM's port (key: the server-side ifindex). */
struct vl2_port {
	uint32_t vdc;		/* its tenant: the AA space it resolves in */
	uint32_t aa;		/* network order: its only source address */
};

/* The directory cache: (tenant, AA) -> the LA of the ToR above it. */
struct vl2_aa_key {
	uint32_t vdc;
	uint32_t aa;		/* network order */
};
struct vl2_aa_entry {
	uint32_t tor_la;	/* network order */
	uint32_t version;	/* the directory's (user space only) */
};
_Static_assert(sizeof(struct vl2_port) == 8, "vl2 port");
_Static_assert(sizeof(struct vl2_aa_key) == 8, "vl2 aa key");
_Static_assert(sizeof(struct vl2_aa_entry) == 8, "vl2 aa entry");

/* To the agent (ring buffer vl2_events): a VM asked for an AA of its
 * tenant that the cache lacks (ARP) or sent to one (IPv4). */
struct vl2_event {
	uint32_t vdc;
	uint32_t aa;		/* network order */
};
_Static_assert(sizeof(struct vl2_event) == 8, "vl2 event");

/* The gateway MAC the encapsulation answers ARP with (locally
 * administered, "VL2"). */
#define VL2_GW_MAC { 0x02, 0x56, 0x4c, 0x32, 0x00, 0x01 }

struct vl2_counter {
	uint64_t packets;
	uint64_t bytes;
};

/* Every verdict of both programs, X(name, description); index into the
 * per-CPU array vl2_stats. */
#define VL2_STATS(X)                                                              \
	X(ENC_ARP_REPLY, "encap: a VM's ARP request answered from the cache")     \
	X(ENC_ARP_MISS, "encap: ARP request for an AA not in the cache: dropped") \
	X(ENC_SENT, "encap: encapsulated to the anycast address and the ToR")     \
	X(ENC_MISS, "encap: no ToR LA cached for the destination: dropped")       \
	X(ENC_DROP_SHORT, "encap: truncated frame")                               \
	X(ENC_DROP_NOT_IP, "encap: neither IPv4 nor ARP")                         \
	X(ENC_DROP_BAD_IP, "encap: malformed IPv4 header")                        \
	X(ENC_DROP_NO_PORT, "encap: not from a known VM port")                    \
	X(ENC_DROP_SPOOF, "encap: source address not the VM's own AA")            \
	X(ENC_DROP_TOO_BIG, "encap: longer than the tenant MTU")                  \
	X(ENC_DROP_ROOM, "encap: no room for the headers")                        \
	X(DEC_DECAP, "decap: IP-in-IP for this switch: outer header removed")     \
	X(DEC_PASS, "decap: not for this switch, or not IP-in-IP: routed as is")  \
	X(DEC_DROP_SHORT, "decap: truncated frame")                               \
	X(DEC_DROP_BAD_IP, "decap: malformed outer IPv4 header")                  \
	X(DEC_DROP_BAD_INNER, "decap: malformed inner IPv4 header")               \
	X(DEC_DROP_ROOM, "decap: the header could not be removed")

enum vl2_stat {
#define VL2_STAT_ENUM(name, desc) VL2_STAT_##name,
	VL2_STATS(VL2_STAT_ENUM)
#undef VL2_STAT_ENUM
	VL2_STAT_COUNT
};

#ifdef __bpf__
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VL2_PORTS_MAX);
	__type(key, uint32_t);
	__type(value, struct vl2_port);
} vl2_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VL2_AA_MAX);
	__type(key, struct vl2_aa_key);
	__type(value, struct vl2_aa_entry);
} vl2_aa SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, VL2_EVENTS_BYTES);
} vl2_events SEC(".maps");

/* Tell the agent about a miss; a full ring loses the event (the VM asks
 * again). */
static __always_inline void vl2_miss(uint32_t vdc, uint32_t aa)
{
	struct vl2_event ev = { vdc, aa };

	bpf_ringbuf_output(&vl2_events, &ev, sizeof(ev), 0);
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VL2_STAT_COUNT);
	__type(key, uint32_t);
	__type(value, struct vl2_counter);
} vl2_stats SEC(".maps");

const volatile struct vl2_config vl2_cfg = {};

static __always_inline int vl2_verdict(struct __sk_buff *skb, enum vl2_stat s, int act)
{
	uint32_t key = s;
	struct vl2_counter *c = bpf_map_lookup_elem(&vl2_stats, &key);

	if (c) {
		c->packets++;
		c->bytes += skb->len;
	}
	return act;
}

/* An IPv4 header at ip: version 4, option length within the linear data,
 * total length within the packet (skb->len: a frame from a veth may carry
 * most of its bytes outside the linear part, which data_end bounds). */
static __always_inline bool vl2_ipv4_ok(struct __sk_buff *skb, const struct wire_ipv4 *ip,
					const void *end, uint32_t offset)
{
	uint32_t hlen = wire_ipv4_hlen(ip), tot = WIRE_NTOHS(ip->tot_len);

	return hlen && (const uint8_t *)ip + hlen <= (const uint8_t *)end && tot >= hlen &&
	       offset + tot <= skb->len;
}

#define VL2_DROP(reason) return vl2_verdict(skb, VL2_STAT_##reason, TC_ACT_SHOT)

/* The checksum of an option-less IPv4 header with these fields (all in
 * network order; id 0), summed from the values rather than read back
 * through another type, which the compiler may reorder. */
static __always_inline uint16_t vl2_csum(uint16_t w0, uint16_t tot, uint16_t frag,
					 uint16_t ttl_proto, uint32_t s, uint32_t d)
{
	uint32_t sum = (uint32_t)w0 + tot + frag + ttl_proto + (s & 0xffff) + (s >> 16) +
		       (d & 0xffff) + (d >> 16);

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}
#endif

#endif
