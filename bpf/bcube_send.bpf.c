/* BCube: tc egress of a server's NIC 0, where the kernel routes every
 * packet for the BCube IP range (docs/bcube.md).
 *
 * An IPv4 packet to an address in the range gets the BCube header of its
 * source route: the route (bcube_routes, filled by the server's daemon)
 * gives the destination's BCube address and up to k+1 paths; a flow this
 * server starts takes the next path in turn, the first flow the preferred
 * one (bcube_flows remembers which), other packets the path of their hash.  The sender takes the path's first hop itself (NHA entry
 * 0): out of its NIC on that level, to the neighbour's MAC, NHI = 1.  A
 * destination without a route is reported to the daemon and the packet
 * dropped (the daemon asks the directory and probes the paths).  Anything
 * else (the daemon's own BCube frames, ARP) passes as is. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/bcube.h"

char LICENSE[] SEC("license") = "GPL";

enum { TCP_SYN = 0x02, TCP_ACK = 0x10 };	/* flags, byte 13 of the TCP header */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BCUBE_ROUTES_MAX);
	__type(key, uint32_t);
	__type(value, struct bcube_route);
} bcube_routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BCUBE_FLOWS_MAX);
	__type(key, struct bcube_flow_key);
	__type(value, uint32_t);
} bcube_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, BCUBE_EVENTS_BYTES);
} bcube_events SEC(".maps");

struct bcube_front {
	struct wire_eth e;
	struct bcube_hdr h;
} __attribute__((packed));

/* Does this packet start a flow of this server's: a TCP SYN (not a
 * SYN-ACK: the answer to the other side's flow) or a UDP datagram?  TCP
 * with IP options counts as no start (its hash picks the path). */
static __always_inline bool flow_start(const struct wire_ipv4 *ip, const void *end)
{
	const uint8_t *l4 = (const void *)(ip + 1);

	if (ip->proto == WIRE_IPPROTO_UDP)
		return true;
	if (ip->proto != WIRE_IPPROTO_TCP || wire_ipv4_hlen(ip) != sizeof(*ip) ||
	    (const void *)(l4 + 14) > end)
		return false;
	return (l4[13] & (TCP_SYN | TCP_ACK)) == TCP_SYN;
}

/* The slot of the packet's flow in the route's paths (modulo npaths). */
static __always_inline uint32_t flow_slot(struct bcube_route *r, uint32_t daddr, uint32_t hash,
					  const struct wire_ipv4 *ip, const void *end)
{
	struct bcube_flow_key key = { daddr, hash };
	uint32_t *slot = bpf_map_lookup_elem(&bcube_flows, &key), s;

	if (slot)
		return *slot;
	if (!flow_start(ip, end))
		return hash;
	s = r->flows;
	r->flows = s + 1;
	bpf_map_update_elem(&bcube_flows, &key, &s, BPF_ANY);
	return s;
}

SEC("tc")
int bcube_send(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct bcube_front f = { 0 };
	struct wire_eth *e = data;
	struct bcube_route *r;
	struct bcube_path *p;
	struct bcube_nic *nic = NULL;
	struct bcube_nbr *nb;
	struct wire_ipv4 *ip;
	uint32_t daddr, hash, slot, i;
	bool down;

	if ((void *)(e + 1) > end)
		BCUBE_DROP(SEND_DROP_SHORT);
	if (e->type != WIRE_HTONS(WIRE_ETH_P_IPV4))
		return bcube_verdict(skb, BCUBE_STAT_SEND_PASS, TC_ACT_OK);
	ip = (void *)(e + 1);
	if ((void *)(ip + 1) > end)
		BCUBE_DROP(SEND_DROP_SHORT);
	daddr = ip->daddr;
	if ((daddr & bcube_cfg.mask) != bcube_cfg.net)
		return bcube_verdict(skb, BCUBE_STAT_SEND_PASS, TC_ACT_OK);
	if (!wire_ipv4_hlen(ip) || WIRE_NTOHS(ip->tot_len) + WIRE_ETH_HLEN > skb->len)
		BCUBE_DROP(SEND_DROP_BAD_IP);
	if (!skb->gso_size && WIRE_NTOHS(ip->tot_len) > BCUBE_TENANT_MTU)
		BCUBE_DROP(SEND_DROP_TOO_BIG);
	r = bpf_map_lookup_elem(&bcube_routes, &daddr);
	if (!r) {
		struct bcube_event ev = { daddr };

		bpf_ringbuf_output(&bcube_events, &ev, sizeof(ev), 0);
		BCUBE_DROP(SEND_MISS);
	}
	if (!r->npaths || r->npaths > BCUBE_MAX_PATHS)
		BCUBE_DROP(SEND_DROP_BAD_ROUTE);
	{
		uint64_t now = bpf_ktime_get_ns();

		if (now - r->used_ns > BCUBE_USED_NS)
			r->used_ns = now;
	}
	hash = bpf_get_hash_recalc(skb);
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	ip = data + WIRE_ETH_HLEN;
	if ((void *)(ip + 1) > end)
		BCUBE_DROP(SEND_DROP_SHORT);
	slot = flow_slot(r, daddr, hash, ip, end);
	p = &r->paths[(slot % r->npaths) & (BCUBE_MAX_PATHS - 1)];
	if (!p->nha_len || p->nha_len > BCUBE_NHA_MAX)
		BCUBE_DROP(SEND_DROP_BAD_ROUTE);
	nb = bcube_hop(p->nha[0], &nic, &down);
	if (!nb || !nic)
		BCUBE_DROP(SEND_DROP_NO_NBR);
	__builtin_memcpy(f.e.dst, nb->mac, 6);
	__builtin_memcpy(f.e.src, nic->mac, 6);
	f.e.type = WIRE_HTONS(BCUBE_ETH_P);
	f.h.dst = r->dst;
	f.h.src = bcube_cfg.self;
	f.h.id = WIRE_HTONL(hash);
	f.h.proto = BCUBE_P_IPV4;
	f.h.hlen = BCUBE_HDR_BYTES;
	f.h.nhi = 1;
	f.h.nha_len = p->nha_len;
	for (i = 0; i < BCUBE_NHA_MAX; i++)
		f.h.nha[i] = p->nha[i];
	if (bpf_skb_adjust_room(skb, BCUBE_HDR_BYTES, BPF_ADJ_ROOM_MAC, 0) ||
	    bpf_skb_store_bytes(skb, 0, &f, sizeof(f), 0))
		BCUBE_DROP(SEND_DROP_ROOM);
	if (nic->ifindex == skb->ifindex)
		return bcube_verdict(skb, BCUBE_STAT_SEND_SENT, TC_ACT_OK);
	return bcube_verdict(skb, BCUBE_STAT_SEND_SENT, (int)bpf_redirect(nic->ifindex, 0));
}
