/* BCube: tc ingress of every NIC of a server (docs/bcube.md).
 *
 * A BCube frame for another server is relayed in place: NHA[NHI] names the
 * next server (the level, so the NIC, and its digit there), the Ethernet
 * addresses become this NIC's and the neighbour's, NHI moves on, and the
 * frame leaves by the other NIC (bpf_redirect), never through the stack.
 * A probe's available bandwidth is lowered on the way.  A data packet for
 * this server goes in two passes: the kernel will not shrink a frame
 * whose protocol is not IP, so the first pass relabels the frame IPv4,
 * marks it and sends it back into this NIC, where eth_type_trans sees
 * IPv4; the second strips the header and hands the packet to the stack.
 * Probes, replies and hellos for this server go up to the daemon's packet
 * sockets; anything that is not a BCube frame passes as is. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bpf/bcube.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline uint32_t avail_of(uint32_t level)
{
	struct bcube_nic *nic = bpf_map_lookup_elem(&bcube_nics, &level);

	return nic ? nic->avail_mbps : 0;
}

/* Lower a probe's bandwidth to what the NICs on `in` and `out` (levels;
 * out > k: none) have available. */
static __always_inline int probe_bw(struct __sk_buff *skb, uint32_t in, uint32_t out)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct bcube_probe *pr = data + WIRE_ETH_HLEN + sizeof(struct bcube_hdr);
	uint32_t bw, a;

	if ((void *)(pr + 1) > end)
		return -1;
	bw = WIRE_NTOHL(pr->bw_mbps);
	a = avail_of(in);
	if (a < bw)
		bw = a;
	if (out <= bcube_cfg.k) {
		a = avail_of(out);
		if (a < bw)
			bw = a;
	}
	pr->bw_mbps = WIRE_HTONL(bw);
	return 0;
}

/* Second pass of a delivery: the frame says IPv4, the header is still in. */
static __always_inline int strip(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct bcube_hdr *h = data + WIRE_ETH_HLEN;

	skb->mark = 0;
	if ((void *)(h + 1) > end)
		BCUBE_DROP(FWD_DROP_SHORT);
	if (h->dst != bcube_cfg.self || h->hlen != BCUBE_HDR_BYTES)
		BCUBE_DROP(FWD_DROP_BAD_HDR);
	if (bpf_skb_adjust_room(skb, -(int32_t)BCUBE_HDR_BYTES, BPF_ADJ_ROOM_MAC, 0))
		BCUBE_DROP(FWD_DROP_ROOM);
	return bcube_verdict(skb, BCUBE_STAT_FWD_STRIPPED, TC_ACT_OK);
}

SEC("tc")
int bcube_fwd(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct wire_eth *e = data;
	struct bcube_nic *nic = NULL;
	struct bcube_nbr *nb;
	struct bcube_hdr *h;
	uint32_t in, out;
	uint8_t entry;
	bool down;

	if ((void *)(e + 1) > end)
		BCUBE_DROP(FWD_DROP_SHORT);
	if (skb->mark == BCUBE_MARK_STRIP && e->type == WIRE_HTONS(WIRE_ETH_P_IPV4))
		return strip(skb);
	if (e->type != WIRE_HTONS(BCUBE_ETH_P))
		return bcube_verdict(skb, BCUBE_STAT_FWD_PASS, TC_ACT_OK);
	h = (void *)(e + 1);
	if ((void *)(h + 1) > end)
		BCUBE_DROP(FWD_DROP_SHORT);
	if (h->hlen != BCUBE_HDR_BYTES || h->nha_len > BCUBE_NHA_MAX || h->nhi > h->nha_len)
		BCUBE_DROP(FWD_DROP_BAD_HDR);
	/* the level this frame came in on: that of the hop that brought it */
	in = h->nhi ? (uint32_t)bcube_nha_at(h, h->nhi - 1u) >> BCUBE_DP_SHIFT : 0;
	if (h->dst == BCUBE_ADDR_ALL)
		return bcube_verdict(skb, BCUBE_STAT_FWD_LOCAL, TC_ACT_OK);
	if (h->dst == bcube_cfg.self) {
		if (h->proto == BCUBE_P_PROBE && probe_bw(skb, in, BCUBE_MAX_LEVELS))
			BCUBE_DROP(FWD_DROP_SHORT);
		if (h->proto != BCUBE_P_IPV4)
			return bcube_verdict(skb, BCUBE_STAT_FWD_LOCAL, TC_ACT_OK);
		e->type = WIRE_HTONS(WIRE_ETH_P_IPV4);
		skb->mark = BCUBE_MARK_STRIP;
		return bcube_verdict(skb, BCUBE_STAT_FWD_DELIVER,
				     (int)bpf_redirect(skb->ifindex, BPF_F_INGRESS));
	}
	if (h->nhi == h->nha_len)
		BCUBE_DROP(FWD_DROP_NOT_MINE);
	entry = bcube_nha_at(h, h->nhi);
	nb = bcube_hop(entry, &nic, &down);
	if (!nb || !nic) {
		if (down)
			BCUBE_DROP(FWD_DROP_NO_NBR);
		BCUBE_DROP(FWD_DROP_BAD_HOP);
	}
	out = entry >> BCUBE_DP_SHIFT;
	h->nhi++;
	__builtin_memcpy(e->dst, nb->mac, 6);
	__builtin_memcpy(e->src, nic->mac, 6);
	if (h->proto == BCUBE_P_PROBE && probe_bw(skb, in, out))
		BCUBE_DROP(FWD_DROP_SHORT);
	return bcube_verdict(skb, BCUBE_STAT_FWD_RELAY, (int)bpf_redirect(nic->ifindex, 0));
}
