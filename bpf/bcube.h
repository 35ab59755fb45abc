/* The BCube scheme's data plane (docs/bcube.md): the BCube header, map
 * keys, maps and constants shared by bpf/bcube_send.bpf.c,
 * bpf/bcube_fwd.bpf.c and user space.  Map definitions are compiled only
 * for eBPF (__bpf__).
 *
 * A BCube packet carries, between its Ethernet header (ethertype
 * BCUBE_ETH_P) and the IPv4 packet, the header of the BCube paper (§6.1):
 * destination and source BCube addresses, an id, the protocol of what
 * follows, the header length, the next hop index (NHI) and the next hop
 * index array (NHA).  A server's BCube address is its index in the
 * topology: digits a_k..a_0 base n (topo_bcube_digits).  An NHA entry names
 * the next server by the one digit in which it differs from the current
 * one: the digit's position (DP, the level, high 3 bits) and its new value
 * (DV, low 5 bits).  The paper splits the byte 2:6; 3:5 here so that every
 * BCube the topology builder accepts (k <= 7) fits, for n <= 32.
 */
#ifndef PEREGRINE_BPF_BCUBE_H
#define PEREGRINE_BPF_BCUBE_H

#include "wire/eth.h"
#include "wire/ipv4.h"

enum bcube_limits {
	BCUBE_ETH_P = 0x88b5,		/* IEEE 802 local experimental ethertype 1 */
	BCUBE_NHA_MAX = 8,		/* the paper's: diameter at most 8 server hops */
	BCUBE_MAX_LEVELS = 8,		/* k + 1 <= 8: NICs of a server */
	BCUBE_MAX_N = 32,		/* switch ports: DV has 5 bits */
	BCUBE_DP_SHIFT = 5,
	BCUBE_DV_MASK = 0x1f,
	BCUBE_MAX_PATHS = BCUBE_MAX_LEVELS,	/* BuildPathSet: k + 1 */
	BCUBE_ROUTES_MAX = 65536,	/* destinations a server sends to */
	BCUBE_FLOWS_MAX = 16384,	/* flows bcube_send remembers the path of (LRU; about 1 MB) */
	BCUBE_EVENTS_BYTES = 64 * 1024,	/* ring buffer of misses */
	BCUBE_UNDERLAY_MTU = 1500,
	BCUBE_HDR_BYTES = 24,
	BCUBE_TENANT_MTU = BCUBE_UNDERLAY_MTU - BCUBE_HDR_BYTES,	/* 1476 */
	/* skb->mark of a frame whose header the destination strips on its
	 * second pass through bcube_fwd (docs/bcube.md says why two) */
	BCUBE_MARK_STRIP = 0x0bc0be00,
};
#define BCUBE_USED_NS 10000000ull	/* 10 ms */

/* The protocol field: what follows the BCube header. */
enum bcube_proto {
	BCUBE_P_IPV4 = 4,		/* an IPv4 packet: delivered to the stack */
	BCUBE_P_PROBE = 0xf0,		/* BSR probe, source -> destination */
	BCUBE_P_PROBE_REPLY = 0xf1,	/* its answer, on the reverse path */
	BCUBE_P_HELLO = 0xf2,		/* neighbour maintenance, one hop, dst all-ones */
};

#define BCUBE_ADDR_ALL 0xffffffffu	/* a hello's destination */

struct bcube_hdr {
	uint32_t dst;		/* network order: destination BCube address */
	uint32_t src;		/* network order: source BCube address */
	uint32_t id;		/* data: the flow's hash; probes: unused (0) */
	uint8_t proto;		/* enum bcube_proto */
	uint8_t hlen;		/* BCUBE_HDR_BYTES */
	uint8_t nhi;		/* the NHA entry the receiving server uses next */
	uint8_t nha_len;	/* entries in nha: server hops of the path */
	uint8_t nha[BCUBE_NHA_MAX];	/* DP << 5 | DV */
};
_Static_assert(sizeof(struct bcube_hdr) == BCUBE_HDR_BYTES, "bcube header");

/* What follows the header of a probe and of its reply.  Every relaying
 * server lowers bw_mbps to the available bandwidth of the NICs the probe
 * came in and goes out on (bcube_nics); the destination to that of its
 * incoming NIC; the reply carries the result back unchanged. */
struct bcube_probe {
	uint32_t seq;		/* network order */
	uint32_t bw_mbps;	/* network order */
	uint8_t path;		/* which of the source's paths */
	uint8_t pad[7];
	uint64_t sent_ns;	/* the source's clock, opaque to others */
};
_Static_assert(sizeof(struct bcube_probe) == 24, "bcube probe");

static inline uint8_t bcube_nha_entry(uint32_t level, uint32_t digit)
{
	return (uint8_t)(level << BCUBE_DP_SHIFT | digit);
}

/* Read-only configuration, set before load. */
struct bcube_config {
	uint32_t self;		/* network order: this server's BCube address */
	uint32_t self_ip;	/* network order: this server's IP address */
	uint32_t net;		/* network order: the BCube IP range ... */
	uint32_t mask;		/* ... and its mask: what bcube_send encapsulates */
	uint8_t n, k;		/* BCube(n, k) */
	uint8_t digits[BCUBE_MAX_LEVELS];	/* of self, least significant first */
	uint16_t pad;
};
_Static_assert(sizeof(struct bcube_config) == 28, "bcube config");

/* One NIC of this server, per level (array bcube_nics, index = level). */
struct bcube_nic {
	uint32_t ifindex;	/* 0: none */
	uint32_t avail_mbps;	/* available bandwidth, the daemon's estimate */
	uint8_t mac[6];
	uint16_t pad;
};
_Static_assert(sizeof(struct bcube_nic) == 16, "bcube nic");

/* A neighbour: the server that differs from this one in digit `level`
 * only, with value `digit` (array bcube_nbrs, index level * BCUBE_MAX_N +
 * digit).  Kept by the daemon's neighbour maintenance (hellos). */
struct bcube_nbr {
	uint8_t mac[6];
	uint8_t up;
	uint8_t pad;
};
_Static_assert(sizeof(struct bcube_nbr) == 8, "bcube nbr");

/* One source route: the NHA from this server to the destination. */
struct bcube_path {
	uint8_t nha_len;
	uint8_t nha[BCUBE_NHA_MAX];
};

/* bcube_routes: destination IP (network order) -> its BCube address and
 * the paths flows may take, the preferred first (BSR's own: DCRouting from
 * the highest differing digit).  A flow this server starts (a TCP SYN, a
 * UDP datagram not seen before) takes paths[flows % npaths] and flows goes
 * up by one: the first flow to a destination takes paths[0], the next ones
 * the others in turn; bcube_flows remembers its slot.  Other packets of no
 * remembered flow (a SYN-ACK and the acknowledgements of a connection the
 * other side started, ICMP) take paths[hash % npaths]. */
struct bcube_route {
	uint32_t dst;		/* network order */
	uint8_t npaths;		/* 1 .. BCUBE_MAX_PATHS */
	uint8_t pad[3];
	struct bcube_path paths[BCUBE_MAX_PATHS];
	/* bcube_send: when a packet last took the route (CLOCK_MONOTONIC ns,
	 * written at most every BCUBE_USED_NS): the daemon probes only the
	 * destinations in use */
	uint64_t used_ns;
	/* bcube_send: flows started to the destination so far (the next
	 * one's slot); plain increments, so two CPUs may give two flows the
	 * same slot: a path takes one more flow, nothing breaks */
	uint32_t flows;
	uint32_t pad2;
};
_Static_assert(sizeof(struct bcube_route) == 96, "bcube route");

/* bcube_flows: a flow (destination IP and the packet's hash) -> its slot
 * (the route's `flows` when it started; the path is paths[slot % npaths]). */
struct bcube_flow_key {
	uint32_t ip;		/* network order */
	uint32_t hash;
};

/* To the daemon (ring buffer bcube_events): a packet for an IP it has no
 * route to. */
struct bcube_event {
	uint32_t ip;		/* network order */
};

struct bcube_counter {
	uint64_t packets;
	uint64_t bytes;
};

/* Every verdict of both programs, X(name, description); index into the
 * per-CPU array bcube_stats. */
#define BCUBE_STATS(X)                                                                  \
	X(SEND_SENT, "send: header pushed, out of the first hop's NIC")                 \
	X(SEND_MISS, "send: no route to the destination IP: dropped, the daemon asked")  \
	X(SEND_PASS, "send: not IPv4 to the BCube range: as is")                        \
	X(SEND_DROP_SHORT, "send: truncated frame")                                     \
	X(SEND_DROP_BAD_IP, "send: malformed IPv4 header")                              \
	X(SEND_DROP_BAD_ROUTE, "send: a route entry the program cannot use")            \
	X(SEND_DROP_NO_NBR, "send: the first hop is not up")                            \
	X(SEND_DROP_TOO_BIG, "send: longer than the tenant MTU")                        \
	X(SEND_DROP_ROOM, "send: no room for the header")                               \
	X(FWD_RELAY, "fwd: relayed to the next server, out of another NIC")             \
	X(FWD_DELIVER, "fwd: for this server: ethertype IPv4, back in for stripping")   \
	X(FWD_STRIPPED, "fwd: second pass: header removed, up the stack")               \
	X(FWD_LOCAL, "fwd: probe, reply or hello for this server: to the daemon")       \
	X(FWD_PASS, "fwd: not a BCube frame: as is")                                    \
	X(FWD_DROP_SHORT, "fwd: truncated frame")                                       \
	X(FWD_DROP_BAD_HDR, "fwd: header length, NHA length or NHI out of range")       \
	X(FWD_DROP_NOT_MINE, "fwd: path ended here but the destination is another")    \
	X(FWD_DROP_BAD_HOP, "fwd: NHA entry names no neighbour of this server")         \
	X(FWD_DROP_NO_NBR, "fwd: the next server is not up")                            \
	X(FWD_DROP_ROOM, "fwd: the header could not be removed")

enum bcube_stat {
#define BCUBE_STAT_ENUM(name, desc) BCUBE_STAT_##name,
	BCUBE_STATS(BCUBE_STAT_ENUM)
#undef BCUBE_STAT_ENUM
	BCUBE_STAT_COUNT
};

#ifdef __bpf__
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BCUBE_MAX_LEVELS);
	__type(key, uint32_t);
	__type(value, struct bcube_nic);
} bcube_nics SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BCUBE_MAX_LEVELS * BCUBE_MAX_N);
	__type(key, uint32_t);
	__type(value, struct bcube_nbr);
} bcube_nbrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BCUBE_STAT_COUNT);
	__type(key, uint32_t);
	__type(value, struct bcube_counter);
} bcube_stats SEC(".maps");

const volatile struct bcube_config bcube_cfg = {};

static __always_inline int bcube_verdict(struct __sk_buff *skb, enum bcube_stat s, int act)
{
	uint32_t key = s;
	struct bcube_counter *c = bpf_map_lookup_elem(&bcube_stats, &key);

	if (c) {
		c->packets++;
		c->bytes += skb->len;
	}
	return act;
}

/* NHA entry i (masked to the array) of a header in the packet: read as one
 * 8-byte word, since the verifier refuses a variable offset into a packet. */
static __always_inline uint8_t bcube_nha_at(const struct bcube_hdr *h, uint32_t i)
{
	uint64_t v;

	__builtin_memcpy(&v, h->nha, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (uint8_t)(v >> (8 * (i & (BCUBE_NHA_MAX - 1))));
#else
	return (uint8_t)(v >> (56 - 8 * (i & (BCUBE_NHA_MAX - 1))));
#endif
}

#define BCUBE_DROP(reason) return bcube_verdict(skb, BCUBE_STAT_##reason, TC_ACT_SHOT)

/* The hop an NHA entry names: this server's NIC on the entry's level and
 * the neighbour there; NULL if the entry names no neighbour (level > k,
 * digit >= n or equal to this server's own) or it is not up (*down). */
static __always_inline struct bcube_nbr *bcube_hop(uint8_t e, struct bcube_nic **nic, bool *down)
{
	uint32_t level = e >> BCUBE_DP_SHIFT, digit = e & BCUBE_DV_MASK, key;
	struct bcube_nbr *nb;

	*down = false;
	if (level > bcube_cfg.k || digit >= bcube_cfg.n ||
	    digit == bcube_cfg.digits[level & (BCUBE_MAX_LEVELS - 1)])
		return NULL;
	key = level;
	*nic = bpf_map_lookup_elem(&bcube_nics, &key);
	key = level * BCUBE_MAX_N + digit;
	nb = bpf_map_lookup_elem(&bcube_nbrs, &key);
	if (!*nic || !nb || !(*nic)->ifindex || !nb->up) {
		*down = true;
		return NULL;
	}
	return nb;
}
#endif

#endif
